"""Slurm's ResumeProgram on an AWS head node: ``python -m corral.providers.aws.resume HOSTLIST``.

Launches the nodes with EC2 CreateFleet in the batches the cluster's ``ScalingStrategy`` calls for
(``_fleet.strategy_batches``), and sets every node that got no instance DOWN with pcluster's reason,
``(Code:InsufficientInstanceCapacity)Failure when resuming nodes``, so Slurm requeues its job at
once and the reconciler sees why.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence

from corral.errors import CorralError
from corral.providers.aws import _fleet
from corral.providers.aws.provider import AwsProvider
from corral.providers.base import Instance, LaunchFailure, LaunchResult
from corral.slurm import hostlist


def resume(provider: AwsProvider, cluster: str, node_names: Sequence[str]) -> LaunchResult:
    """Launch ``node_names`` following the plan's scaling strategy; every node ends up in exactly
    one of ``launched``/``failed`` (a batch that raises fails all its nodes with the error)."""
    plan = provider.plan(cluster)
    launched: list[Instance] = []
    failed: list[LaunchFailure] = []
    for names, all_or_nothing in _fleet.strategy_batches(plan, node_names):
        try:
            result = provider.launch_batch(cluster, names, all_or_nothing=all_or_nothing)
        except CorralError as exc:
            code = getattr(exc, "reason_code", "") or exc.code
            failed.extend(LaunchFailure(n, code, exc.message) for n in names)
            continue
        launched.extend(result.launched)
        failed.extend(result.failed)
    return LaunchResult(tuple(launched), tuple(failed))


def down_commands(failed: Sequence[LaunchFailure]) -> list[list[str]]:
    """The ``scontrol update`` argv that set the failed nodes DOWN, one per distinct reason. Pure."""
    by_reason: dict[str, list[str]] = {}
    for failure in failed:
        by_reason.setdefault(_fleet.failure_reason(failure.code or "LaunchFailure"), []).append(
            failure.node_name
        )
    return [
        ["scontrol", "update", f"nodename={hostlist.compress(names)}", "state=down", f"reason={reason}"]
        for reason, names in by_reason.items()
    ]


def main(argv: list[str]) -> int:
    from corral.providers.aws._program import context, log

    provider, cluster = context()
    names = hostlist.expand(argv[0]) if argv else []
    log("resume", f"launching {len(names)} node(s): {argv[0] if argv else ''}")
    result = resume(provider, cluster, names)
    for failure in result.failed:
        log("resume", f"{failure.node_name}: ({failure.code}) {failure.message}")
    for command in down_commands(result.failed):
        subprocess.run(command, check=False)
    log("resume", f"done ({len(result.launched)} launched, {len(result.failed)} failed)")
    return 1 if result.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

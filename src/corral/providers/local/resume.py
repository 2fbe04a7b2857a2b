"""Slurm's ResumeProgram for local clusters: ``python -m corral.providers.local.resume HOSTLIST``.

Launches every node of the hostlist; a node that cannot be launched is marked DOWN with the reason,
so that Slurm requeues its job instead of waiting for ResumeTimeout.
"""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor

from corral.errors import CorralError
from corral.providers.local import _daemons
from corral.providers.local._program import context, log
from corral.providers.local.provider import LAUNCH_WORKERS
from corral.slurm import hostlist


def main(argv: list[str]) -> int:
    provider, cluster = context()
    names = hostlist.expand(argv[0]) if argv else []
    log("resume", f"launching {len(names)} node(s): {argv[0] if argv else ''}")

    def launch(name: str) -> tuple[str, str] | None:
        try:
            provider.launch(cluster, [name])
        except CorralError as exc:
            return name, str(exc)
        return None

    with ThreadPoolExecutor(max_workers=LAUNCH_WORKERS) as pool:
        failed = [f for f in pool.map(launch, names) if f]
    layout = provider.layout(cluster)
    for name, reason in failed:
        log("resume", f"{name}: launch failed: {reason}")
        _daemons.scontrol(layout, "update", f"NodeName={name}", "State=DOWN", f"Reason={reason[:200]}")
    log("resume", f"done ({len(names) - len(failed)} launched)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

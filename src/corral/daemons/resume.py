"""Slurm's ResumeProgram: ``python -m corral.daemons.resume HOSTLIST``, run by slurmctld on the head.

It reads the request (``SLURM_RESUME_FILE`` when Slurm provides it, else the hostlist as one job),
refuses to launch anything while the reconciler's heartbeat is stale, launches per the cluster's
scaling strategy (``corral.daemons.scaling``), terminates the instances the strategy discards and
marks every node that did not come up DOWN with ParallelCluster's reason, so that Slurm requeues
its job at once instead of waiting for ResumeTimeout, and powers them down again (the reason stays:
the reconciler takes a compute resource without capacity out, ``corral.daemons.capacity``).

The environment (set by the provider's wrapper; slurmctld gives its programs none):

- ``CORRAL_STATE_DIR``, ``CORRAL_CLUSTER_NAME``, ``CORRAL_PROVIDER`` (default ``local``);
- ``SLURM_RESUME_FILE``: the job-to-node mapping Slurm writes (22.05+);
- ``CORRAL_SCALING_STRATEGY``: ``Scheduling/ScalingStrategy`` (default ``all-or-nothing``);
- ``CORRAL_HEARTBEAT_FILE`` and ``CORRAL_HEARTBEAT_TIMEOUT_S`` (``corral.runtime.heartbeat``). A
  heartbeat file that does not exist yet means the reconciler has not started (the cluster is
  being created and its static nodes come up first): launches go ahead.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from corral.daemons.scaling import (
    FAILURE_REASON,
    ResumeDecision,
    ResumeRequest,
    ScalingStrategy,
    decide,
    parse_resume_file,
    plan_launches,
    refuse_all,
)
from corral.errors import CorralError
from corral.providers.base import NodeFleet
from corral.runtime import heartbeat
from corral.runtime.proclog import logger
from corral.slurm import hostlist

MarkDown = Callable[[Sequence[str], str], None]
Log = Callable[[str], None]
STALE_REASON = f"{FAILURE_REASON} (no recent reconciler heartbeat)"


log = logger("resume")


def read_request(argv_hostlist: str, resume_file: str | None, log: Log = log) -> ResumeRequest:
    """The request from Slurm's resume file, or from the hostlist alone when there is none (or it
    cannot be read: the hostlist is what Slurm is waiting for in any case)."""
    names = hostlist.expand(argv_hostlist) if argv_hostlist else []
    if resume_file:
        text = ""
        try:
            text = Path(resume_file).read_text()
            request = parse_resume_file(text)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log(
                f"cannot read SLURM_RESUME_FILE {resume_file}: {exc}; treating the hostlist as one job"
                + (f"\n  it reads: {text[:400]!r}" if text else "")
            )
        else:
            missing = [n for n in names if n not in set(request.nodes)]
            return ResumeRequest((*request.nodes, *missing), request.jobs) if missing else request
    return ResumeRequest.from_hostlist(names)


def heartbeat_refusal(path: Path | None, now: datetime, threshold_s: float) -> str | None:
    """Why launching is refused (the reconciler's heartbeat is stale), or None to go ahead."""
    if path is None:
        return None
    age = heartbeat.heartbeat_age_s(path, now)
    if age is None:
        return None if not path.exists() else f"unreadable reconciler heartbeat {path}"
    if age > threshold_s:
        return f"reconciler heartbeat {path} is {age:.0f} s old (limit {threshold_s:.0f} s)"
    return None


def resume(
    provider: NodeFleet,
    cluster: str,
    request: ResumeRequest,
    strategy: ScalingStrategy,
    *,
    mark_down: MarkDown,
    log: Log = log,
) -> ResumeDecision:
    """Launch per the strategy, terminate what it discards, mark the rest DOWN; returns the decision."""
    launched: set[str] = set()
    failed: dict[str, str] = {}
    for step in plan_launches(request, strategy):
        started = time.monotonic()
        result = provider.launch_batch(cluster, step.nodes, all_or_nothing=step.all_or_nothing)
        launched.update(result.launched_names())
        for failure in result.failed:
            failed[failure.node_name] = failure.code
        what = f"job {step.job_id}" if step.job_id is not None else "nodes"
        mode = "all-or-nothing" if step.all_or_nothing else "best-effort"
        log(
            f"{what}: {mode} launch of {hostlist.compress(list(step.nodes))}: {len(result.launched)} up,"
            f" {len(result.failed)} failed in {time.monotonic() - started:.2f} s"
            + "".join(f"\n  {f.node_name}: {f.code or 'error'}: {f.message}" for f in result.failed[:5])
        )
    decision = decide(request, strategy, launched, failed)
    apply(provider, cluster, decision, mark_down=mark_down, log=log)
    return decision


def apply(
    provider: NodeFleet, cluster: str, decision: ResumeDecision, *, mark_down: MarkDown, log: Log
) -> None:
    """Terminate the discarded instances first (they must not run), then mark nodes DOWN."""
    if decision.terminate:
        log(f"terminating {hostlist.compress(list(decision.terminate))}: their job cannot get all its nodes")
        try:
            provider.terminate(cluster, list(decision.terminate))
        except CorralError as exc:
            log(f"terminate failed: {exc}")
    for reason, nodes in decision.down_by_reason().items():
        log(f"marking DOWN {hostlist.compress(nodes)}: {reason}")
        mark_down(nodes, reason)


def scontrol_down(nodes: Sequence[str], reason: str) -> None:
    """Fail the nodes in Slurm: DOWN (their jobs are requeued at once), then POWER_DOWN_FORCE with
    the same reason, so they are reset to powered-down IDLE after SuspendTimeout instead of
    waiting out ResumeTimeout (ParallelCluster's fail-over does the same). The reason stays, and
    the reconciler reads its code. Runs beside slurmctld, with the wrapper's SLURM_CONF."""
    names = f"NodeName={hostlist.compress(list(nodes))}"
    for state in ("DOWN", "POWER_DOWN_FORCE"):
        argv = ["scontrol", "update", names, f"State={state}", f"Reason={reason}"]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
        if result.returncode != 0:
            log(f"{' '.join(argv[:4])} failed: {result.stderr.strip()}")


def main(
    argv: list[str], environ: Mapping[str, str] | None = None, mark_down: MarkDown = scontrol_down
) -> int:
    env = os.environ if environ is None else environ
    state_dir, cluster = env.get("CORRAL_STATE_DIR"), env.get("CORRAL_CLUSTER_NAME")
    if not state_dir or not cluster:
        log("CORRAL_STATE_DIR and CORRAL_CLUSTER_NAME must be set (run through the cluster's wrapper)")
        return 2
    request = read_request(argv[0] if argv else "", env.get("SLURM_RESUME_FILE"))
    strategy = ScalingStrategy.parse(env.get("CORRAL_SCALING_STRATEGY"))
    log(
        f"launching {len(request.nodes)} node(s): {argv[0] if argv else ''}"
        f" ({len(request.jobs)} job(s), strategy {strategy.value})"
    )
    beat = env.get("CORRAL_HEARTBEAT_FILE")
    threshold = heartbeat.stale_after_s(dict(env))
    refusal = heartbeat_refusal(Path(beat) if beat else None, datetime.now(UTC), threshold)
    if refusal is not None:
        log(f"not launching: {refusal}")
        decision = refuse_all(request, STALE_REASON)
        for reason, nodes in decision.down_by_reason().items():
            mark_down(nodes, reason)
        return 0
    from corral.providers import DEFAULT_PROVIDER, get_provider

    os.chdir("/")
    started = time.monotonic()
    try:
        provider = get_provider(env.get("CORRAL_PROVIDER", DEFAULT_PROVIDER), Path(state_dir))
        decision = resume(provider, cluster, request, strategy, mark_down=mark_down)
    except Exception:
        # Whatever broke, Slurm must not wait ResumeTimeout for these nodes: fail them now.
        log("resume failed; marking every requested node DOWN:\n" + traceback.format_exc())
        mark_down(list(request.nodes), FAILURE_REASON)
        return 1
    log(
        f"done in {time.monotonic() - started:.2f} s: kept {len(decision.keep)}, terminated"
        f" {len(decision.terminate)}, down {len(decision.down)},"
        f" jobs without all their nodes {list(decision.failed_jobs)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

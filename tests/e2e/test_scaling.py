"""Scaling end to end, with real Slurm and real capacity refusals (``CORRAL_LOCAL_CAPACITY``).

- each ``ScalingStrategy`` with a job that needs more nodes than there is capacity for;
- a queue with two compute resources whose first has no capacity: the compute resource is taken
  out and the job runs on the second;
- the ResumeProgram refuses to launch while the reconciler's heartbeat is stale.

Each test prints how long each step took. Slurm holds a requeued batch job for a fixed 120 s
(``EligibleTime``); where a test needs the requeued job to run, it releases that hold with
``scontrol update JobId=... StartTime=now`` (an administrator's command), so the wait measured is
Corral's, not Slurm's requeue delay.
"""

from __future__ import annotations

import dataclasses
import re
import time
from datetime import UTC, datetime, timedelta

import pytest

from corral.plan import ClusterPlan, NodeShape, PartitionSpec
from corral.providers.base import NodeRole
from corral.providers.local import LocalProvider
from corral.providers.local import _daemons as local_daemons
from corral.runtime import heartbeat
from corral.slurm import status
from support.plans import SHAPE, plan, queue_nodes

from .conftest import unique_name, wait_until

pytestmark = pytest.mark.e2e

ICE = "(Code:InsufficientInstanceCapacity)Failure when resuming nodes"
ICE_TIMEOUT_S = 25
M5 = NodeShape("m5.large", cpus=2, sockets=1, cores_per_socket=1, threads_per_core=2, real_memory_mib=1800)


def head(provider: LocalProvider, name: str, *argv: str) -> str:
    result = provider.run_on_head(name, list(argv), timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout


def job(provider: LocalProvider, name: str, job_id: str) -> dict[str, str]:
    return status.parse_fields(head(provider, name, "scontrol", "-o", "show", "job", job_id).strip())


def submit(provider: LocalProvider, name: str, *args: str) -> str:
    out = head(provider, name, "sbatch", "--parsable", *args, "--wrap", "hostname")
    return out.strip().split(";")[0]


def nodes(provider: LocalProvider, name: str) -> dict[str, status.NodeState]:
    return {n.name: n for n in status.parse_nodes(head(provider, name, *status.SCONTROL_NODES_ARGV))}


def compute_instances(provider: LocalProvider, name: str) -> list[str]:
    return sorted(i.node_name or "" for i in provider.instances(name) if i.role is NodeRole.COMPUTE)


def resume_log(provider: LocalProvider, name: str) -> str:
    path = provider.layout(name).log / "resume.log"
    return path.read_text() if path.exists() else ""


def resume_done(provider: LocalProvider, name: str) -> str | None:
    log = resume_log(provider, name)
    return log if " done in " in log else None


def create(
    provider: LocalProvider, cluster: ClusterPlan, monkeypatch: pytest.MonkeyPatch, **env: str
) -> float:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    started = time.monotonic()
    provider.create(cluster, on_event=lambda _r, _m: None)
    return time.monotonic() - started


@pytest.mark.parametrize("strategy", ["all-or-nothing", "greedy-all-or-nothing", "best-effort"])
def test_strategy_when_a_job_needs_more_nodes_than_there_is_capacity_for(
    provider: LocalProvider, cleanup: list[str], monkeypatch: pytest.MonkeyPatch, strategy: str
) -> None:
    """Room for 2 c5.large, a job of 3 nodes: every strategy requeues the job; all-or-nothing
    starts nothing, greedy starts 2 and terminates them, best-effort starts 2 and keeps them."""
    name = unique_name("e2esc")
    cleanup.append(name)
    cluster = dataclasses.replace(plan(name, queues=(("q1", "c1", 0, 4),)), scaling_strategy=strategy)
    created = create(provider, cluster, monkeypatch, CORRAL_LOCAL_CAPACITY="c5.large=2")
    started = time.monotonic()
    job_id = submit(provider, name, "-N", "3")
    log = str(wait_until(lambda: resume_done(provider, name), 30, "the ResumeProgram to finish"))
    decided = time.monotonic() - started
    kept = compute_instances(provider, name)
    requeued = wait_until(lambda: job(provider, name, job_id).get("Restarts", "0") != "0", 30, "a requeue")
    print(f"{strategy}: created in {created:.1f} s, decided {decided:.1f} s after sbatch, kept {kept}")
    assert requeued and job(provider, name, job_id)["JobState"] == "PENDING"
    assert f"strategy {strategy}" in log
    if strategy == "all-or-nothing":
        assert re.search(rf"job {job_id}: all-or-nothing launch of q1-dy-c1-\[1-3\]: 0 up, 3 failed", log), (
            log
        )
        assert "terminating" not in log and kept == []
    elif strategy == "greedy-all-or-nothing":
        assert "best-effort launch of q1-dy-c1-[1-3]: 2 up, 1 failed" in log, log
        assert "terminating q1-dy-c1-[1-2]: their job cannot get all its nodes" in log
        assert kept == []
    else:
        assert "best-effort launch of q1-dy-c1-[1-3]: 2 up, 1 failed" in log, log
        assert "terminating" not in log and kept == ["q1-dy-c1-1", "q1-dy-c1-2"]
    failed = [n for n, s in nodes(provider, name).items() if s.reason.startswith("(Code:")]
    assert failed, "the nodes that did not come up carry pcluster's (Code:...) reason"
    # how fast it decided is bench/bench_scaling.py's to measure; here it only had to decide within
    # the 30 s wait above (a loaded CI machine took 15.2 s once)


def two_compute_resources(name: str) -> ClusterPlan:
    """One queue, compute resource ``c1`` (c5.large, picked first) then ``c2`` (m5.large)."""
    base = plan(name, queues=(("q1", "c1", 0, 2),))
    members = [*queue_nodes("q1", "c1", 0, 2, SHAPE), *queue_nodes("q1", "c2", 0, 2, M5)]
    partition = PartitionSpec("q1", tuple(n.name for n in members), True)
    return dataclasses.replace(base, nodes=tuple(members), partitions=(partition,))


def test_a_compute_resource_without_capacity_is_taken_out_and_the_job_runs_on_the_next(
    provider: LocalProvider, cleanup: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    name = unique_name("e2eice")
    cleanup.append(name)
    create(
        provider,
        two_compute_resources(name),
        monkeypatch,
        CORRAL_LOCAL_CAPACITY="c5.large=0",
        CORRAL_LOCAL_INSUFFICIENT_CAPACITY_TIMEOUT=str(ICE_TIMEOUT_S),
    )
    started = time.monotonic()
    job_id = submit(provider, name, "-N", "1")

    def c1_out() -> bool:
        seen = nodes(provider, name)
        return all(
            seen[n].state == "DOWN" and "POWERED_DOWN" in seen[n].flags and seen[n].reason.startswith(ICE)
            for n in ("q1-dy-c1-1", "q1-dy-c1-2")
        )

    wait_until(c1_out, 40, "compute resource c1 to be taken out (both nodes down~ with the ICE reason)")
    out_after = time.monotonic() - started
    assert job(provider, name, job_id)["JobState"] == "PENDING"
    assert "q1-dy-c1-1: InsufficientInstanceCapacity" in resume_log(provider, name)
    assert compute_instances(provider, name) == []
    head(provider, name, "scontrol", "update", f"JobId={job_id}", "StartTime=now")  # Slurm's 120 s hold
    released = time.monotonic()
    wait_until(lambda: job(provider, name, job_id)["JobState"] == "COMPLETED", 40, "the job to complete")
    ran = time.monotonic() - released
    where = job(provider, name, job_id)["NodeList"]
    assert where.startswith("q1-dy-c2-")
    assert all(nodes(provider, name)[n].state == "DOWN" for n in ("q1-dy-c1-1", "q1-dy-c1-2"))

    def c1_back() -> bool:
        seen = nodes(provider, name)
        return all(seen[n].state == "IDLE" and seen[n].powered_down for n in ("q1-dy-c1-1", "q1-dy-c1-2"))

    wait_until(c1_back, ICE_TIMEOUT_S + 30, "compute resource c1 to be reset after the timeout")
    back_after = time.monotonic() - started
    print(
        f"c1 taken out {out_after:.1f} s after sbatch; job ran on {where} {ran:.1f} s after its release;"
        f" c1 back (idle~) {back_after:.1f} s after sbatch (timeout {ICE_TIMEOUT_S} s)"
    )
    assert out_after < 30 and ran < 30
    assert ICE_TIMEOUT_S <= back_after < ICE_TIMEOUT_S + 30


def test_the_resume_program_refuses_to_launch_on_a_stale_heartbeat(
    provider: LocalProvider, cleanup: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    name = unique_name("e2ehb")
    cleanup.append(name)
    create(provider, plan(name, queues=(("q1", "c1", 0, 2),)), monkeypatch, CORRAL_HEARTBEAT_TIMEOUT_S="20")
    layout = provider.layout(name)
    local_daemons.stop_reconciler(layout)  # the reconciler dies: its heartbeat stops
    beat = local_daemons.heartbeat_file(layout)
    heartbeat.write_heartbeat(beat, datetime.now(UTC) - timedelta(seconds=60))
    started = time.monotonic()
    job_id = submit(provider, name, "-N", "1")
    log = str(
        wait_until(
            lambda: "not launching" in resume_log(provider, name) and resume_log(provider, name),
            30,
            "a refusal",
        )
    )
    refused = time.monotonic() - started
    assert re.search(r"reconciler heartbeat \S+ is \d+ s old \(limit 20 s\)", log), log
    assert compute_instances(provider, name) == []
    wait_until(lambda: job(provider, name, job_id).get("Restarts", "0") != "0", 30, "the job to be requeued")
    assert "no recent reconciler heartbeat" in nodes(provider, name)["q1-dy-c1-1"].reason
    # a live heartbeat lets the job through (kept live while waiting, as the reconciler would: its
    # 20 s limit can pass on a loaded machine before Slurm runs the ResumeProgram again)
    heartbeat.write_heartbeat(beat, datetime.now(UTC))
    head(provider, name, "scontrol", "update", f"JobId={job_id}", "StartTime=now")

    def completed() -> bool:
        heartbeat.write_heartbeat(beat, datetime.now(UTC))
        return job(provider, name, job_id)["JobState"] == "COMPLETED"

    # the node first finishes its forced power-down (SuspendTimeout) and powers up again: 120 s
    # leaves room for a loaded machine (it takes about 10 s on a quiet one)
    wait_until(completed, 120, "the job to complete")
    print(f"refused {refused:.1f} s after sbatch; ran once the heartbeat was fresh")

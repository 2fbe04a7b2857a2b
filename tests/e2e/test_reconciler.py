"""The reconciler end to end: a static node whose machine dies is replaced by a new instance; a
queue whose nodes always fail to bootstrap is put in protected mode."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from pathlib import Path

import pytest

from corral.plan import CustomActionSpec
from corral.providers.local import LocalProvider
from corral.providers.local._daemons import PROTECTED_FAILURE_COUNT_ENV
from corral.slurm import status
from support.plans import plan

from .conftest import node_host_pid, reconciler_passes, slurm_timer, unique_name, wait_until

pytestmark = pytest.mark.e2e

NODE = "q1-st-c1-1"
BAD = "bad-dy-c2-1"


def _pid(path: Path) -> int:
    return int(path.read_text().strip())


def _instance_of(provider: LocalProvider, name: str, node: str) -> str | None:
    ids = [i.instance_id for i in provider.instances(name) if i.node_name == node]
    return ids[0] if ids else None


def _instance_id(provider: LocalProvider, name: str) -> str | None:
    return _instance_of(provider, name, NODE)


def test_a_static_node_whose_machine_dies_is_replaced(provider: LocalProvider, cleanup: list[str]) -> None:
    name = unique_name("e2erec")
    cleanup.append(name)
    provider.create(plan(name, queues=(("q1", "c1", 1, 1),)), on_event=lambda r, m: None)
    layout = provider.layout(name)
    reconciler = _pid(layout.run_dir / "reconciler.pid")
    cmdline = Path(f"/proc/{reconciler}/cmdline").read_bytes().decode()
    # the leftovers check finds processes by the cluster's dirs: a leaked reconciler would show
    assert "corral.daemons.reconciler" in cmdline and str(layout.run_dir) in cmdline
    old_id = _instance_id(provider, name)
    assert old_id is not None

    # The machine dies: its namespace holder and its slurmd, by pid.
    started = time.monotonic()
    slurmd = node_host_pid(name, NODE, _pid(layout.run_dir / f"slurmd-{NODE}.pid"))
    for pid in (_pid(layout.node_dir(NODE) / "holder.pid"), slurmd):
        with contextlib.suppress(ProcessLookupError):  # an image node's init takes its processes along
            os.kill(pid, signal.SIGKILL)

    def replaced() -> bool:
        new_id = _instance_id(provider, name)
        out = provider.run_on_head(name, ["scontrol", "-o", "show", "node", NODE]).stdout
        nodes = status.parse_nodes(out)
        return bool(new_id and new_id != old_id and nodes and nodes[0].ready and nodes[0].state == "IDLE")

    try:
        wait_until(replaced, 60, f"{NODE} to be replaced and idle", interval=0.2)
    except BaseException:
        print(provider.run_on_head(name, ["scontrol", "-o", "show", "node"]).stdout)
        print((layout.log / "reconciler.log").read_text())
        raise
    print(f"static node replaced in {time.monotonic() - started:.1f} s")
    log = (layout.log / "reconciler.log").read_text()
    assert f"terminate {NODE}: its instance is gone" in log
    assert f"power_up {NODE}: static node is powered down" in log
    job = provider.run_on_head(name, ["srun", "-w", NODE, "hostname"], timeout=60)
    assert job.returncode == 0 and job.stdout.strip() == NODE, job.stderr


def _partition_state(provider: LocalProvider, name: str, partition: str) -> str:
    out = provider.run_on_head(name, ["scontrol", "-o", "show", "partition", partition]).stdout
    parsed = status.parse_partitions(out)
    return parsed[0].state if parsed else ""


def _launches(provider: LocalProvider, name: str, node: str) -> int:
    log = provider.layout(name).log / "resume.log"
    lines = log.read_text().splitlines() if log.exists() else []
    return sum(1 for line in lines if "launching" in line and node in line)


def _sbatch(provider: LocalProvider, name: str, partition: str) -> str:
    submitted = provider.run_on_head(name, ["sbatch", "--parsable", "-p", partition, "--wrap", "true"])
    assert submitted.returncode == 0, submitted.stderr
    return submitted.stdout.strip()


def _reason(provider: LocalProvider, name: str, job: str) -> str:
    return provider.run_on_head(name, ["squeue", "-h", "-j", job, "-o", "%r"]).stdout.strip()


def _release(provider: LocalProvider, name: str, job: str) -> bool:
    """Slurm holds a requeued job for two minutes (BeginTime): once the failed node is reset (not
    before, or the job may stay stuck), start it at once, as an administrator would. Whether it did."""
    if _reason(provider, name, job) != "BeginTime" or not _powered_down(provider, name, BAD):
        return False
    updated = provider.run_on_head(name, ["scontrol", "update", f"JobId={job}", "StartTime=now"])
    assert updated.returncode == 0, updated.stderr
    return True


def _powered_down(provider: LocalProvider, name: str, node: str) -> bool:
    out = provider.run_on_head(name, ["scontrol", "-o", "show", "node", node]).stdout
    nodes = status.parse_nodes(out)
    return bool(nodes and nodes[0].powered_down and not nodes[0].powering_down and nodes[0].state == "IDLE")


def test_a_queue_whose_nodes_always_fail_to_bootstrap_is_protected(
    provider: LocalProvider, tmp_path: Path, cleanup: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PROTECTED_FAILURE_COUNT_ENV, "2")
    name = unique_name("e2eprot")
    cleanup.append(name)
    bad = tmp_path / "bad.sh"
    bad.write_text("#!/bin/sh\necho no license server >&2\nexit 9\n")
    the_plan = plan(
        name,
        queues=(("ok", "c1", 0, 1), ("bad", "c2", 0, 1)),
        queue_actions=(("bad", (CustomActionSpec("OnNodeConfigured", str(bad)),)),),
    )
    provider.create(the_plan, on_event=lambda r, m: None)
    layout = provider.layout(name)
    started = time.monotonic()
    log = layout.log / "reconciler.log"
    # Waits follow the cluster's own timers: a node must boot (or fail) within Slurm's
    # ResumeTimeout, and a power down takes SuspendTimeout plus a reconciler pass.
    boot = slurm_timer(provider, name, "ResumeTimeout")
    power_down = slurm_timer(provider, name, "SuspendTimeout") + boot
    job = _sbatch(provider, name, "bad")
    try:
        wait_until(lambda: "queue bad: 1 consecutive" in log.read_text(), boot, "a first failure", 0.2)
        wait_until(lambda: _release(provider, name, job), power_down, "the job requeued, the node reset", 0.2)

        def protected() -> bool:
            _release(provider, name, job)  # in case Slurm requeued it once more
            return _partition_state(provider, name, "bad") == "INACTIVE"

        wait_until(protected, boot + power_down, "queue bad protected", 0.2)
        protected_after = time.monotonic() - started
        # The node that failed last is reset; then a new job launches nothing.
        wait_until(lambda: _powered_down(provider, name, BAD), power_down, f"{BAD} powered down", 0.2)
        assert _instance_of(provider, name, BAD) is None
        launches = _launches(provider, name, BAD)
        refused = provider.run_on_head(name, ["sbatch", "-p", "bad", "--wrap", "true"])
        assert refused.returncode != 0 and "inactive" in refused.stderr
        reconciler_passes(provider, name, 3)  # three passes that could have launched it
        assert _launches(provider, name, BAD) == launches == 2
        assert _instance_of(provider, name, BAD) is None
    except BaseException:
        print(provider.run_on_head(name, ["scontrol", "-o", "show", "node"]).stdout)
        print(provider.run_on_head(name, ["squeue", "-a"]).stdout)
        for path in sorted(p for p in layout.log.glob("*") if p.is_file()):
            print(f"== {path.name}\n{path.read_text()[-3000:]}")
        raise
    print(f"queue protected {protected_after:.1f} s after the first job was submitted")
    state = provider.run_on_head(name, ["squeue", "-h", "-j", job, "-o", "%T"]).stdout.strip()
    if state != "PENDING":
        print(provider.run_on_head(name, ["scontrol", "-o", "show", "job", job]).stdout)
        ctld = (layout.log / "slurmctld.log").read_text().splitlines()
        print("\n".join(line for line in ctld if f"JobId={job} " in line or f"JobId={job}\n" in line)[-4000:])
        print((layout.log / "resume.log").read_text()[-3000:])
        print((layout.log / "reconciler.log").read_text()[-3000:])
    assert state == "PENDING"
    assert _partition_state(provider, name, "bad") == "INACTIVE"
    assert _partition_state(provider, name, "ok") == "UP"
    (entry,) = json.loads((layout.slurm_state / "protected.json").read_text())["protectedQueues"]
    assert entry["queue"] == "bad" and entry["failures"] == 2
    assert entry["reason"].startswith("Corral: protected mode: 2 consecutive bootstrap failures")
    text = log.read_text()
    assert "queue bad enters protected mode" in text
    assert "protect bad: Corral: protected mode" in text

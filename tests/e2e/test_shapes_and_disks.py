"""Node shapes and full disks (issue #19, points 2, 5 and 9): each machine's cgroup carries its
instance type's CPUs and memory, munged runs inside the head's network namespace, the heartbeat
lives on the run tmpfs, and a create whose state disk fills up fails with that cause and leaves no
process, namespace or cgroup behind."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from corral.config import catalog
from corral.plan import CustomActionSpec
from corral.providers.local import LocalProvider, _cgroups, _daemons, _proc
from support import plans

from .conftest import delete_and_check, leftovers, unique_name, wait_until
from .test_state_faults import CONFIG

pytestmark = pytest.mark.e2e


def test_machines_get_their_shape_munged_and_heartbeat_live_inside(provider: LocalProvider) -> None:
    name = unique_name("rlshape")
    try:
        provider.create(plans.plan(name, queues=(("q1", "c1", 1, 0),)), on_event=lambda r, m: None)
        layout = provider.layout(name)
        dirs = _cgroups.recorded(layout.root)
        expected = catalog.get("c5.large")
        assert expected is not None
        for machine in ("head", "q1-st-c1-1"):
            if "memory" in dirs:
                limit = int((Path(dirs["memory"]) / machine / "memory.limit_in_bytes").read_text())
                assert limit == expected.memory_mib << 20
            if "cpu" in dirs:
                quota = int((Path(dirs["cpu"]) / machine / "cpu.cfs_quota_us").read_text())
                assert quota == expected.vcpus * 100_000
            if (Path(dirs["unified"]) / machine / "memory.max").exists():
                assert (Path(dirs["unified"]) / machine / "memory.max").read_text().strip() == str(
                    expected.memory_mib << 20
                )
        munged = _proc.read_pid(layout.run_dir / "munged.pid")
        assert munged is not None
        head_ns = os.stat(f"/run/netns/corral-{name}-head")
        munged_ns = os.stat(f"/proc/{munged}/ns/net")
        assert (munged_ns.st_dev, munged_ns.st_ino) == (head_ns.st_dev, head_ns.st_ino)
        assert _daemons.heartbeat_file(layout).parent == layout.run_dir
        # the run dir is a tmpfs of the cluster's own (whatever /run is), carrying its id
        tmpfs = [
            line.split(" - ")[1].split()
            for line in Path("/proc/self/mountinfo").read_text().splitlines()
            if line.split()[4] == str(layout.run_dir)
        ]
        cluster_id = (layout.root / "cluster.id").read_text().strip()
        assert tmpfs and tmpfs[-1][:2] == ["tmpfs", f"corral-{cluster_id}"], tmpfs
    finally:
        delete_and_check(provider, name)


def test_a_create_that_fills_the_state_disk_fails_with_that_cause_and_leaves_no_process(
    prerequisites: None, tmp_path: Path
) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(disk)], check=True)
    name = unique_name("rlfull")
    try:
        (tmp_path / "cluster.yaml").write_text(CONFIG)
        env = {**os.environ, "CORRAL_STATE_DIR": str(disk / "state")}
        corral = str(Path(sys.executable).with_name("corral"))
        result = subprocess.run(
            [corral, "create-cluster", "-c", str(tmp_path / "cluster.yaml"), "-n", name, "--wait"],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert result.returncode != 0
        assert "is full" in result.stderr, result.stdout + result.stderr
        left = leftovers(LocalProvider(disk / "state"), name)
        assert left == []  # its cluster directory, volumes and run tmpfs too
        assert not _cgroups.recorded(disk / "state" / "clusters" / name) or not any(
            Path(d).exists() for d in _cgroups.recorded(disk / "state" / "clusters" / name).values()
        )
    finally:
        with contextlib.suppress(Exception):  # whatever a failed assertion left, before the disk goes
            LocalProvider(disk / "state").delete(name)
        subprocess.run(["umount", str(disk)], check=True)


def test_a_node_that_must_stop_has_its_job_requeued(
    provider: LocalProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reconciler dies (its heartbeat stops) while slurmctld lives: the node's watchdog shuts
    the node down, and its running job goes back to the queue instead of dying with it."""
    monkeypatch.setenv("CORRAL_LOCAL_WATCHDOG_TIMEOUT", "20")  # longer than a create under load
    name = unique_name("rlrq")
    try:
        provider.create(plans.plan(name, queues=(("q1", "c1", 1, 0),)), on_event=lambda r, m: None)
        layout = provider.layout(name)
        submitted = provider.run_on_head(name, ["sbatch", "--parsable", "--wrap", "sleep 600"])
        job = submitted.stdout.strip()

        def state() -> dict[str, str]:
            out = provider.run_on_head(name, ["scontrol", "-o", "show", "job", job]).stdout
            return dict(f.split("=", 1) for f in out.split() if "=" in f)

        wait_until(lambda: state().get("JobState") == "RUNNING", 60, "the job to run")
        _daemons.stop_reconciler(layout)  # the heartbeat stops; slurmctld stays up
        wait_until(lambda: state().get("Restarts", "0") != "0", 120, "the job's requeue", interval=0.5)
        assert state().get("JobState") in ("PENDING", "REQUEUED", "CONFIGURING", "RUNNING")
        log = (layout.log / "node-q1-st-c1-1.log").read_text(errors="replace")
        assert "marked DOWN in Slurm, its jobs requeued" in log or "jobs requeued" in str(state()), log[
            -2000:
        ]
    finally:
        delete_and_check(provider, name)


def test_no_job_starts_on_a_node_before_its_on_node_configured_finished(
    provider: LocalProvider, tmp_path: Path
) -> None:
    """A slow OnNodeConfigured on a static node: the node takes no job (slurmd does not even
    register) before the action wrote its last line, so when create returns it is done."""
    script = tmp_path / "slow-configure.sh"
    script.write_text('#!/bin/bash\nsleep 4\ndate +%s.%N > "/home/configured-$(hostname)"\n')
    script.chmod(0o755)
    name = unique_name("rlcfg")
    actions = (("q1", (CustomActionSpec("OnNodeConfigured", str(script)),)),)
    try:
        provider.create(
            plans.plan(name, queues=(("q1", "c1", 1, 0),), queue_actions=actions), on_event=lambda r, m: None
        )
        home = provider.layout(name).root / "shared" / "home"
        assert (home / "configured-q1-st-c1-1").exists(), "create returned before OnNodeConfigured ended"
        wrap = 'date +%s.%N > /home/job-started; cat "/home/configured-$(hostname)" > /home/seen-by-job'
        job = provider.run_on_head(name, ["sbatch", "--parsable", "-p", "q1", "--wrap", wrap])
        assert job.returncode == 0, job.stderr
        wait_until(lambda: (home / "seen-by-job").exists(), 120, "the job to run")
        configured = float((home / "configured-q1-st-c1-1").read_text())
        started = float((home / "job-started").read_text())
        assert started > configured, f"the job started {configured - started:.2f} s before configure ended"
        assert (home / "seen-by-job").read_text().strip()
    finally:
        delete_and_check(provider, name)

"""A host restart, simulated (issue #19, point 3): every process of the cluster killed, its
namespaces deleted and its run dir under /run/corral removed (other clusters' entries there are
left alone: the machine is shared). The first command brings the cluster back with /home, the
saved Slurm queue and its static node as they were."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from corral.providers.local import LocalProvider, _cgroups, _volumes

from .conftest import Corral, cluster_yaml, unique_name, wait_until

pytestmark = pytest.mark.e2e

CONFIG = cluster_yaml()


def _simulate_restart(provider: LocalProvider, name: str) -> None:
    layout = provider.layout(name)
    assert _cgroups.kill(layout.root, grace_s=0) == set()
    for netns in os.listdir("/run/netns"):
        if netns.startswith(f"corral-{name}-"):
            subprocess.run(["ip", "netns", "del", netns], check=True)
    # what a restart does to /run: the run tmpfs is gone
    subprocess.run(["umount", str(layout.run_dir)], check=True)
    shutil.rmtree(layout.run_dir)
    # a restart unmounts every volume (and frees its loop device); their files stay
    for _stacked in range(4):  # a volume and its anchor are two mounts on one directory
        for mount_point in reversed(_volumes.mounted_under(layout.root)):
            subprocess.run(["umount", mount_point], check=True)
    assert _volumes.mounted_under(layout.root) == []


@pytest.mark.parametrize("first_command", ["restore-clusters", "describe-cluster"])
def test_a_cluster_comes_back_after_a_restart_with_its_queue_and_home(
    prerequisites: None, tmp_path: Path, first_command: str
) -> None:
    run = Corral(tmp_path / "state")
    name = unique_name("rlboot")
    provider = run.provider
    run.create(name, CONFIG)
    try:
        run(
            "ssh",
            "-n",
            name,
            "--user",
            "root",
            "--",
            shlex.join(["sh", "-c", "echo kept > /home/before-restart"]),
        )
        submitted = time.time()
        job = run(
            "ssh",
            "-n",
            name,
            "--user",
            "root",
            "--",
            shlex.join(["sbatch", "--parsable", "--hold", "--wrap", "true"]),
        ).stdout.strip()
        head_id = json.loads(run("describe-cluster", "-n", name).stdout)["headNode"]["instanceId"]
        # A power cut loses what slurmctld has not saved yet: wait for its own state save of the
        # job (job_state rewritten after the submission), as a real queue would be before a reboot
        job_state = provider.layout(name).slurm_state / "job_state"
        wait_until(
            lambda: job_state.exists() and job_state.stat().st_mtime > submitted,
            60,
            "slurmctld to save the job",
        )
        _simulate_restart(provider, name)
        if first_command == "restore-clusters":
            assert json.loads(run("restore-clusters").stdout)["restoredClusters"] == [name]
        described = json.loads(run("describe-cluster", "-n", name).stdout)
        assert described["headNode"]["state"] == "running"
        assert described["headNode"]["instanceId"] == head_id  # as an instance keeps its id
        assert described["computeFleetStatus"] == "RUNNING"
        assert (
            run("ssh", "-n", name, "--user", "root", "--", shlex.join(["cat", "/home/before-restart"])).stdout
            == "kept\n"
        )
        queue = run(
            "ssh", "-n", name, "--user", "root", "--", shlex.join(["squeue", "-h", "-o", "%i %r"])
        ).stdout.split()
        assert queue == [job, "JobHeldUser"]

        def static_idle() -> bool:
            out = run(
                "ssh", "-n", name, "--user", "root", "--", shlex.join(["sinfo", "-h", "-N", "-o", "%N %t"])
            ).stdout
            return "q1-st-c1-1 idle\n" in out

        wait_until(static_idle, 60, "the static node to be back and idle", interval=0.5)
        events = json.loads(run("get-cluster-stack-events", "-n", name).stdout)["events"]
        assert any("restored after the host restarted" in e.get("resourceStatusReason", "") for e in events)
    finally:
        run.delete(name, check=True)

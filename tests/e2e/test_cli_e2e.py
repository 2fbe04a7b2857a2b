"""The same flow through the CLI, as a user runs it: `corral create-cluster --wait`, describe,
`ssh -- sbatch`, scale-down, fleet stop/start, two clusters, delete. JSON output throughout."""

from __future__ import annotations

import json
import os
import time
from contextlib import ExitStack

import pytest

from .conftest import Corral, cluster_yaml, unique_name, wait_until

pytestmark = pytest.mark.e2e

CONFIG = cluster_yaml((("q1", "c1", 1, 3), ("q2", "c2", 0, 3)), slurm_settings={"ScaledownIdletime": 10})

JOB = """#!/bin/bash
#SBATCH -N2 -p q2 -o cli/%j.out
srun -l hostname
other=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | grep -v "^$(hostname)$" | head -1)
timeout 5 bash -c "</dev/tcp/$other/6818" && echo "$(hostname) reaches $other"
srun bash -c 'echo "from $(hostname)" > "$HOME/cli/out-$SLURM_JOB_ID-$(hostname)"'
"""


def test_cluster_lifecycle_through_the_cli(corral: Corral) -> None:
    name = unique_name("cli")
    started = time.monotonic()
    created = json.loads(corral.create(name, CONFIG).stdout)
    print(f"create-cluster --wait: {time.monotonic() - started:.2f} s")
    try:
        assert created["clusterStatus"] == "CREATE_COMPLETE"
        described = corral.json("describe-cluster", "-n", name)
        assert described["clusterStatus"] == "CREATE_COMPLETE"
        assert described["computeFleetStatus"] == "RUNNING"
        assert described["headNode"]["state"] == "running"
        assert described["headNode"]["privateIpAddress"].startswith("10.2")
        instances = corral.json("describe-cluster-instances", "-n", name)["instances"]
        assert sorted(i["nodeType"] for i in instances) == ["ComputeNode", "HeadNode"]
        assert f"corral-{name}-head" in os.listdir("/run/netns")

        # a job over two dynamic nodes, submitted through `corral ssh` (a real SSH session as the
        # cluster's default user, in its home: /home is every node's)
        assert corral("ssh", "-n", name, "--", "whoami").stdout.strip() == "ec2-user"
        corral("ssh", "-n", name, "--", "mkdir", "-p", "cli")
        corral("ssh", "-n", name, "--", "cat > cli/job.sh", stdin=JOB)
        job = corral("ssh", "-n", name, "--", "sbatch", "--parsable", "cli/job.sh").stdout.strip()

        def finished() -> bool:
            return corral("ssh", "-n", name, "--", "squeue", "-h", "-j", job).stdout.strip() == ""

        wait_until(finished, 60, "the CLI job to finish", interval=0.3)
        output = corral("ssh", "-n", name, "--", "cat", f"cli/{job}.out").stdout
        assert "q2-dy-c2-1" in output and "q2-dy-c2-2" in output and " reaches q2-dy-c2-" in output
        files = corral("ssh", "-n", name, "--", "ls", "cli").stdout.split()
        assert {f"out-{job}-q2-dy-c2-1", f"out-{job}-q2-dy-c2-2"} <= set(files)

        # the dynamic nodes power down after the (test-shortened) idle time
        def scaled_down() -> bool:
            listed = corral.json("describe-cluster-instances", "-n", name)["instances"]
            return len(listed) == 2

        wait_until(scaled_down, 40, "the dynamic nodes to power down", interval=0.5)

        # stop and start the compute fleet
        corral("update-compute-fleet", "-n", name, "--status", "STOP_REQUESTED")
        wait_until(
            lambda: corral.json("describe-compute-fleet", "-n", name)["status"] == "STOPPED",
            40,
            "the fleet to stop",
            interval=0.5,
        )
        listed = corral.json("describe-cluster-instances", "-n", name)["instances"]
        assert [i["nodeType"] for i in listed] == ["HeadNode"]
        corral("update-compute-fleet", "-n", name, "--status", "START_REQUESTED")
        wait_until(
            lambda: corral.json("describe-compute-fleet", "-n", name)["status"] == "RUNNING",
            40,
            "the fleet to start",
            interval=0.5,
        )
        assert (
            "q1-st-c1-1"
            in corral("ssh", "-n", name, "--", "srun", "-p", "q1", "-w", "q1-st-c1-1", "hostname").stdout
        )
    finally:
        corral.delete(name)
    names = [c["clusterName"] for c in corral.json("list-clusters")["clusters"]]
    assert name not in names
    missing = corral("describe-cluster", "-n", name, check=False)
    assert missing.returncode != 0 and "Traceback" not in missing.stderr


def test_two_clusters_at_once_through_the_cli(corral: Corral) -> None:
    with ExitStack() as clusters:  # both are deleted (and checked) whatever happens
        names = [clusters.enter_context(corral.cluster(CONFIG, prefix)) for prefix in ("cli2a", "cli2b")]
        for name in names:
            assert (
                corral("ssh", "-n", name, "--", "srun", "-p", "q1", "hostname").stdout.strip() == "q1-st-c1-1"
            )
        ips = {corral.json("describe-cluster", "-n", n)["headNode"]["privateIpAddress"] for n in names}
        assert len(ips) == 2

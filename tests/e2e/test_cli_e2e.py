"""The same flow through the CLI, as a user runs it: `corral create-cluster --wait`, describe,
`ssh -- sbatch`, scale-down, fleet stop/start, two clusters, delete. JSON output throughout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from corral.providers.local import LocalProvider

from .conftest import SCALEDOWN_SECONDS, leftovers, unique_name, wait_until

pytestmark = pytest.mark.e2e

CONFIG = """\
Region: us-east-1
Image:
  Os: alinux2023
HeadNode:
  InstanceType: c5.large
  Networking:
    SubnetId: subnet-0123456789abcdef0
Scheduling:
  Scheduler: slurm
  SlurmSettings:
    ScaledownIdletime: 10
  SlurmQueues:
    - Name: q1
      ComputeResources:
        - Name: c1
          InstanceType: c5.large
          MinCount: 1
          MaxCount: 3
      Networking:
        SubnetIds: [subnet-0123456789abcdef0]
    - Name: q2
      ComputeResources:
        - Name: c2
          InstanceType: c5.large
          MinCount: 0
          MaxCount: 3
      Networking:
        SubnetIds: [subnet-0123456789abcdef0]
"""

JOB = """#!/bin/bash
#SBATCH -N2 -p q2 -o cli/%j.out
srun -l hostname
other=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | grep -v "^$(hostname)$" | head -1)
timeout 5 bash -c "</dev/tcp/$other/6818" && echo "$(hostname) reaches $other"
srun bash -c 'echo "from $(hostname)" > "$HOME/cli/out-$SLURM_JOB_ID-$(hostname)"'
"""


@pytest.fixture(scope="module")
def cli(provider: LocalProvider, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    corral = Path(sys.executable).with_name("corral")
    config = tmp_path_factory.mktemp("cli") / "cluster.yaml"
    config.write_text(CONFIG)
    env = {
        **os.environ,
        "CORRAL_STATE_DIR": str(provider.state_dir),
        "CORRAL_LOCAL_SCALEDOWN_SECONDS": SCALEDOWN_SECONDS,
    }

    def run(*args: str, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(corral), *args], env=env, capture_output=True, text=True, input=stdin, timeout=180
        )
        if check:
            assert result.returncode == 0, f"corral {' '.join(args)}: {result.stdout}\n{result.stderr}"
        return result

    run.config = config  # type: ignore[attr-defined]
    return run


def as_json(result: subprocess.CompletedProcess[str]) -> dict:  # type: ignore[type-arg]
    return json.loads(result.stdout)


def test_cluster_lifecycle_through_the_cli(cli, provider: LocalProvider) -> None:  # type: ignore[no-untyped-def]
    name = unique_name("cli")
    started = time.monotonic()
    created = as_json(cli("create-cluster", "-c", str(cli.config), "-n", name, "--wait"))
    print(f"create-cluster --wait: {time.monotonic() - started:.2f} s")
    try:
        assert created["clusterStatus"] == "CREATE_COMPLETE"
        described = as_json(cli("describe-cluster", "-n", name))
        assert described["clusterStatus"] == "CREATE_COMPLETE"
        assert described["computeFleetStatus"] == "RUNNING"
        assert described["headNode"]["state"] == "running"
        assert described["headNode"]["privateIpAddress"].startswith("10.2")
        instances = as_json(cli("describe-cluster-instances", "-n", name))["instances"]
        assert sorted(i["nodeType"] for i in instances) == ["ComputeNode", "HeadNode"]
        assert f"corral-{name}-head" in os.listdir("/run/netns")

        # a job over two dynamic nodes, submitted through `corral ssh` (a real SSH session as the
        # cluster's default user, in its home: /home is every node's)
        assert cli("ssh", "-n", name, "--", "whoami").stdout.strip() == "ec2-user"
        cli("ssh", "-n", name, "--", "mkdir", "-p", "cli")
        cli("ssh", "-n", name, "--", "cat > cli/job.sh", stdin=JOB)
        job = cli("ssh", "-n", name, "--", "sbatch", "--parsable", "cli/job.sh").stdout.strip()

        def finished() -> bool:
            return cli("ssh", "-n", name, "--", "squeue", "-h", "-j", job).stdout.strip() == ""

        wait_until(finished, 60, "the CLI job to finish", interval=0.3)
        output = cli("ssh", "-n", name, "--", "cat", f"cli/{job}.out").stdout
        assert "q2-dy-c2-1" in output and "q2-dy-c2-2" in output and " reaches q2-dy-c2-" in output
        files = cli("ssh", "-n", name, "--", "ls", "cli").stdout.split()
        assert {f"out-{job}-q2-dy-c2-1", f"out-{job}-q2-dy-c2-2"} <= set(files)

        # the dynamic nodes power down after the (test-shortened) idle time
        def scaled_down() -> bool:
            listed = as_json(cli("describe-cluster-instances", "-n", name))["instances"]
            return len(listed) == 2

        wait_until(scaled_down, 40, "the dynamic nodes to power down", interval=0.5)

        # stop and start the compute fleet
        cli("update-compute-fleet", "-n", name, "--status", "STOP_REQUESTED")
        wait_until(
            lambda: as_json(cli("describe-compute-fleet", "-n", name))["status"] == "STOPPED",
            40,
            "the fleet to stop",
            interval=0.5,
        )
        listed = as_json(cli("describe-cluster-instances", "-n", name))["instances"]
        assert [i["nodeType"] for i in listed] == ["HeadNode"]
        cli("update-compute-fleet", "-n", name, "--status", "START_REQUESTED")
        wait_until(
            lambda: as_json(cli("describe-compute-fleet", "-n", name))["status"] == "RUNNING",
            40,
            "the fleet to start",
            interval=0.5,
        )
        assert (
            "q1-st-c1-1"
            in cli("ssh", "-n", name, "--", "srun", "-p", "q1", "-w", "q1-st-c1-1", "hostname").stdout
        )
    finally:
        cli("delete-cluster", "-n", name, "--wait", check=False)
    assert leftovers(provider, name) == []
    names = [c["clusterName"] for c in as_json(cli("list-clusters"))["clusters"]]
    assert name not in names
    missing = cli("describe-cluster", "-n", name, check=False)
    assert missing.returncode != 0 and "Traceback" not in missing.stderr


def test_two_clusters_at_once_through_the_cli(cli, provider: LocalProvider) -> None:  # type: ignore[no-untyped-def]
    names = [unique_name("cli2a"), unique_name("cli2b")]
    try:
        for name in names:
            cli("create-cluster", "-c", str(cli.config), "-n", name, "--wait")
        for name in names:
            assert cli("ssh", "-n", name, "--", "srun", "-p", "q1", "hostname").stdout.strip() == "q1-st-c1-1"
        ips = {as_json(cli("describe-cluster", "-n", n))["headNode"]["privateIpAddress"] for n in names}
        assert len(ips) == 2
    finally:
        for name in names:
            cli("delete-cluster", "-n", name, "--wait", check=False)
    for name in names:
        assert leftovers(provider, name) == []

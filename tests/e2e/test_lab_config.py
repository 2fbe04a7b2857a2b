"""A research lab's production config (examples/lab/cluster.yaml) on the local provider, through
the CLI, with every s3:// URL served by a real moto server on loopback (AWS_ENDPOINT_URL):

- EFS home (Retain), an existing EFS by FileSystemId, FSx for Lustre with two data repository
  associations (batch + auto import of images, auto export of results), a five-script head
  OnNodeConfigured sequence with args from s3://, a queue-level action, three queues of large
  instance types.
- A failing head OnNodeConfigured: CREATE_FAILED, the script and its stderr in describe-cluster's
  failures, the stack events and the action's log stream.
- A failing compute OnNodeConfigured: the node goes DOWN and Slurm requeues the job, which then
  runs on a replacement node.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from corral.plan import CustomActionSpec, StorageSpec
from corral.providers.local import LocalProvider, _volumes
from support.plans import plan
from support.servers import s3_server

from .conftest import SCALEDOWN_SECONDS, delete_and_check, unique_name, wait_until

pytestmark = pytest.mark.e2e

LAB = Path(__file__).parents[2] / "examples" / "lab"
SYNC_INTERVAL_S = 1.0
#: The documented bound: a change is applied within two poll intervals (plus transfer time).
CONVERGE_S = 2 * SYNC_INTERVAL_S + 1.5


def _seed_module() -> Any:
    spec = importlib.util.spec_from_file_location("lab_seed", LAB / "seed.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("CORRAL_LOCAL_DATASYNC_INTERVAL", str(SYNC_INTERVAL_S))
    with s3_server(monkeypatch, "lab-scratch") as client:
        _seed_module().seed(client)
        yield client


Corral = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def corral(provider: LocalProvider, s3: Any) -> Corral:
    """Run the `corral` CLI against the test's state dir and S3 endpoint."""
    program = Path(sys.executable).with_name("corral")
    env = {
        **os.environ,
        "CORRAL_STATE_DIR": str(provider.state_dir),
        "CORRAL_LOCAL_SCALEDOWN_SECONDS": SCALEDOWN_SECONDS,
    }

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([str(program), *args], env=env, capture_output=True, text=True, timeout=240)
        if check:
            assert result.returncode == 0, f"corral {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
        return result

    return run


def _keys(s3: Any, bucket: str) -> dict[str, bytes]:
    """The bucket's objects now. An object the sync deletes between the listing and its read is
    left out (it is gone), instead of failing the wait with NoSuchKey."""
    found: dict[str, bytes] = {}
    for listed in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        try:
            found[listed["Key"]] = s3.get_object(Bucket=bucket, Key=listed["Key"])["Body"].read()
        except s3.exceptions.NoSuchKey:
            continue
    return found


def _head(provider: LocalProvider, name: str, *argv: str) -> str:
    result = provider.run_on_head(name, list(argv))
    assert result.returncode == 0, f"{argv}: {result.stderr}"
    return result.stdout


def test_lab_config_creates_syncs_and_retains(provider: LocalProvider, s3: Any, corral: Corral) -> None:
    name = unique_name("lab")
    sbo_existed = os.path.exists("/sbo")
    started = time.monotonic()
    created = json.loads(
        corral("create-cluster", "-c", str(LAB / "cluster.yaml"), "-n", name, "--wait").stdout
    )
    print(f"lab create-cluster --wait: {time.monotonic() - started:.2f} s")
    state = provider.state_dir
    try:
        assert created["clusterStatus"] == "CREATE_COMPLETE"
        # the five head scripts ran in order, with their args, after the storage was mounted
        assert _head(provider, name, "cat", "/sbo/home/.lab/bootstrap.log").splitlines() == [
            "01-create-users alice bob carol on HeadNode",
            "02-tune-slurm cpu MaxTime=2-00:00:00",
            "03-setup-sshd 2222",
            "04-start-services lab-monitor",
            "05-report bootstrap-complete",
        ]
        assert _head(provider, name, "cat", "/sbo/home/.lab/head-status") == (
            f"bootstrap-complete {name} HeadNode head\n"
        )
        assert "MaxTime=2-00:00:00" in _head(provider, name, "scontrol", "show", "partition", "cpu")
        assert _head(provider, name, "id", "-un", "alice") == "alice\n"
        assert not os.path.exists("/etc/ssh/sshd_config.d/lab.conf"), "node files must stay in the node"
        # the queue-level action on the static node; the node advertises c5n.18xlarge's shape
        node_line = _head(provider, name, "cat", "/sbo/home/.lab/nodes/cpu-st-c5n-1")
        assert node_line == "cpu-ready ComputeFleet cpu c5n cpu-st-c5n-1\n"
        assert "CPUTot=72" in _head(provider, name, "scontrol", "show", "node", "cpu-st-c5n-1")
        log_dir = provider.layout(name).action_logs
        assert sorted(p.name for p in (log_dir / "HeadNode").iterdir())[0] == (
            "01-OnNodeConfigured-01-create-users.sh.log"
        )

        # batch import at create, seen from a compute node; auto import of a new object
        image = _head(provider, name, "srun", "-p", "cpu", "cat", "/sbo/data/images/pytorch-2.4.sif")
        assert image == "pytorch image\n"
        s3.put_object(Bucket="lab-images", Key="containers/new.sif", Body=b"new image\n")
        put_at = time.monotonic()
        wait_until(
            lambda: provider.run_on_head(name, ["cat", "/sbo/data/images/new.sif"]).stdout == "new image\n",
            CONVERGE_S,
            "auto-import of a new object",
        )
        print(f"auto-import NEW converged in {time.monotonic() - put_at:.2f} s")

        # a job on a dynamic r5.24xlarge node writes a result; auto export puts it in the bucket
        job = "echo result from $(hostname) > /sbo/data/results/out.txt"
        _head(provider, name, "srun", "-p", "mem", "bash", "-c", job)
        done_at = time.monotonic()
        wait_until(
            lambda: _keys(s3, "lab-results").get("runs/out.txt") == b"result from mem-dy-r5-1\n",
            CONVERGE_S,
            "auto-export of the job's output",
        )
        print(f"auto-export NEW converged in {time.monotonic() - done_at:.2f} s")
        _head(provider, name, "sh", "-c", "echo again > /sbo/data/results/out.txt")
        wait_until(
            lambda: _keys(s3, "lab-results").get("runs/out.txt") == b"again\n", CONVERGE_S, "export CHANGED"
        )
        _head(provider, name, "rm", "/sbo/data/results/out.txt")
        wait_until(lambda: "runs/out.txt" not in _keys(s3, "lab-results"), CONVERGE_S, "export DELETED")
        s3.delete_object(Bucket="lab-images", Key="containers/new.sif")
        wait_until(
            lambda: provider.run_on_head(name, ["test", "-e", "/sbo/data/images/new.sif"]).returncode == 1,
            CONVERGE_S,
            "import DELETED",
        )
        _head(provider, name, "sh", "-c", "echo shared > /sbo/software/tool")
    finally:
        corral("delete-cluster", "-n", name, "--wait")
    # Retain keeps home (and names it by id); Delete removes the Lustre data; the existing
    # file system is never touched; the mount dirs Corral created are gone.
    retained = state / "retained" / name / "home"
    # home is an EFS volume (a sparse ext4 file, unmounted now): read it without mounting
    volume = str(_volumes.image_of(retained))
    listing = subprocess.run(["debugfs", "-R", "ls -p /", volume], capture_output=True, text=True)
    names = {line.split("/")[5] for line in listing.stdout.splitlines() if line.count("/") >= 6}
    assert {".lab", "alice"} <= names, listing.stdout + listing.stderr
    read = ["debugfs", "-R", "cat /.lab/head-status", volume]
    status = subprocess.run(read, capture_output=True, text=True)
    assert status.stdout.startswith("bootstrap-complete"), status.stderr
    assert (state / "volumes" / "fs-0123456789abcdef0" / "tool").read_text() == "shared\n"
    links = [p for p in (state / "volumes").iterdir() if p.is_symlink()]
    assert [p.resolve() for p in links] == [retained.resolve()]
    assert not provider.layout(name).root.exists()
    assert sbo_existed or not os.path.exists("/sbo"), "the mount dirs Corral created must go"

    # a later cluster that names the retained id and the existing id sees their data
    later = unique_name("lab2")
    storage = (
        StorageSpec("home", "Efs", "/sbo/home", "Retain", existing=True, existing_id=links[0].name),
        StorageSpec(
            "software", "Efs", "/sbo/software", "Retain", existing=True, existing_id="fs-0123456789abcdef0"
        ),
    )
    provider.create(plan(later, queues=(("q1", "c1", 0, 1),), storage=storage), on_event=lambda r, m: None)
    try:
        assert _head(provider, later, "cat", "/sbo/home/.lab/head-status").startswith("bootstrap-complete")
        assert _head(provider, later, "cat", "/sbo/software/tool") == "shared\n"
    finally:
        delete_and_check(provider, later)
    assert retained.is_dir() and _volumes.image_of(retained).is_file()
    provider.delete(name, retain_storage=False)
    assert not retained.exists() and not any(p.is_symlink() for p in (state / "volumes").iterdir())
    assert not _volumes.image_of(retained).exists()


FAILING_CONFIG = """\
Region: us-east-1
Image:
  Os: alinux2023
HeadNode:
  InstanceType: c5.large
  Networking:
    SubnetId: subnet-0123456789abcdef0
  CustomActions:
    OnNodeConfigured:
      Sequence:
        - Script: s3://lab-scratch/ok.sh
          Args: [first]
        - Script: s3://lab-scratch/license.sh
          Args: [license.lab.example]
Scheduling:
  Scheduler: slurm
  SlurmQueues:
    - Name: q1
      ComputeResources:
        - Name: c1
          InstanceType: c5.large
          MinCount: 0
          MaxCount: 1
      Networking:
        SubnetIds: [subnet-0123456789abcdef0]
"""
LICENSE_SCRIPT = b"""#!/bin/bash
echo "checking $1"
echo "license server $1 unreachable" >&2
exit 3
"""


def test_failing_head_action_is_reported_everywhere(
    provider: LocalProvider, s3: Any, corral: Corral, tmp_path: Path
) -> None:
    s3.put_object(Bucket="lab-scratch", Key="ok.sh", Body=b"#!/bin/sh\necho ok $1\n")
    s3.put_object(Bucket="lab-scratch", Key="license.sh", Body=LICENSE_SCRIPT)
    config = tmp_path / "cluster.yaml"
    config.write_text(FAILING_CONFIG)
    name = unique_name("labfail")
    try:
        args = ("create-cluster", "-c", str(config), "-n", name, "--rollback-on-failure", "false", "--wait")
        corral(*args, check=False)
        described = json.loads(corral("describe-cluster", "-n", name).stdout)
        assert described["clusterStatus"] == "CREATE_FAILED"
        (failure,) = described["failures"]
        assert failure["failureCode"] == "OnNodeConfiguredExecutionFailure"
        reason = failure["failureReason"]
        assert "s3://lab-scratch/license.sh exited with 3" in reason
        assert "license server license.lab.example unreachable" in reason
        events = json.loads(corral("get-cluster-stack-events", "-n", name).stdout)["events"]
        assert any(
            "license server license.lab.example unreachable" in e.get("resourceStatusReason", "")
            for e in events
        )
        streams = json.loads(corral("list-cluster-log-streams", "-n", name).stdout)["logStreams"]
        (stream,) = [
            s["logStreamName"]
            for s in streams
            if s["logStreamName"].endswith("02-OnNodeConfigured-license.sh")
        ]
        log = json.loads(
            corral(
                "get-cluster-log-events", "-n", name, "--log-stream-name", stream, "--start-from-head", "true"
            ).stdout
        )
        messages = [e["message"] for e in log["events"]]
        assert "checking license.lab.example" in messages
        assert "license server license.lab.example unreachable" in messages
    finally:
        corral("delete-cluster", "-n", name, "--wait", check=False)
        delete_and_check(provider, name)


def test_failing_compute_action_downs_the_node_and_slurm_requeues_the_job(
    provider: LocalProvider, tmp_path: Path, cleanup: list[str]
) -> None:
    # Replacing the failed node is the reconciler's job (tested with it); here: the node is marked
    # DOWN with the script's message and the job goes back to the queue instead of failing.
    failing = tmp_path / "gpu-driver.sh"
    failing.write_text("#!/bin/bash\necho 'GPU driver did not load' >&2\nexit 4\n")
    name = unique_name("labreq")
    cleanup.append(name)
    actions = (("q1", (CustomActionSpec("OnNodeConfigured", str(failing)),)),)
    provider.create(
        plan(name, queues=(("q1", "c1", 0, 1),), queue_actions=actions), on_event=lambda r, m: None
    )
    job = _head(provider, name, "sbatch", "--parsable", "-p", "q1", "--wrap", "hostname").strip()
    wait_until(lambda: provider.failures(name), 60, "the node's bootstrap failure")
    (failure,) = provider.failures(name)
    assert failure.node_name == "q1-dy-c1-1"
    assert "exited with 4: GPU driver did not load" in failure.message

    def requeued() -> str:
        shown = _head(provider, name, "scontrol", "show", "job", job)
        return shown if "Restarts=0" not in shown else ""

    shown = str(wait_until(requeued, 60, "Slurm to requeue the job"))
    assert not any(f"JobState={s}" in shown for s in ("FAILED", "NODE_FAIL", "CANCELLED")), shown
    log = provider.layout(name).action_logs / "q1-dy-c1-1" / "01-OnNodeConfigured-gpu-driver.sh.log"
    assert "GPU driver did not load" in log.read_text()

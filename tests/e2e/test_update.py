"""update-cluster on a real local cluster: every kind of live update with a job running across it,
a queued job staying queued and /home keeping its data, then a failing OnNodeUpdated rolled back
to the previous config, slurm.conf and node set."""

from __future__ import annotations

import copy
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from corral.errors import BadRequestError, UpdateRefusedError
from corral.providers.local import LocalProvider
from corral.service import ClusterService
from corral.state import StackStatus, StateStore

from .conftest import delete_and_check, unique_name, wait_until

pytestmark = pytest.mark.e2e

BASE: dict[str, Any] = {
    "Region": "us-east-1",
    "Image": {"Os": "alinux2023"},
    "HeadNode": {"InstanceType": "c5.large", "Networking": {"SubnetId": "subnet-0123456789abcdef0"}},
    "Scheduling": {
        "Scheduler": "slurm",
        "SlurmSettings": {"ScaledownIdletime": 10},
        "SlurmQueues": [
            {
                "Name": "q1",
                "ComputeResources": [
                    {"Name": "c1", "InstanceType": "c5.large", "MinCount": 1, "MaxCount": 2}
                ],
                "Networking": {"SubnetIds": ["subnet-0123456789abcdef0"]},
            }
        ],
    },
}


class Cluster:
    def __init__(self, provider: LocalProvider, tmp: Path) -> None:
        self.provider, self.tmp = provider, tmp
        self.service = ClusterService(StateStore(provider.state_dir), lambda _name: provider)
        self.name = unique_name("up")
        self.count = 0

    def config(self, doc: dict[str, Any]) -> Path:
        self.count += 1
        path = self.tmp / f"update-{self.count}.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        return path

    def head(self, *argv: str) -> str:
        result = self.provider.run_on_head(self.name, list(argv), timeout=60)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def update(self, doc: dict[str, Any]) -> StackStatus:
        self.service.update(self.name, self.config(doc), suppress=["ALL"])
        return self.service.run_update(self.name).stack_status

    def job_state(self, job_id: str) -> str:
        return self.head("squeue", "-h", "-j", job_id, "-o", "%T").strip()


@pytest.fixture(scope="module")
def cluster(provider: LocalProvider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster(provider, tmp_path_factory.mktemp("update"))
    script = c.tmp / "updated.sh"
    script.write_text('#!/bin/sh\necho "OnNodeUpdated ran on $(hostname) for $CORRAL_EVENT"\n')
    script.chmod(0o755)
    c.script = script  # type: ignore[attr-defined]
    c.service.create(c.name, c.config(BASE), provider="local", suppress=["ALL"])
    try:
        assert c.service.run_create(c.name).stack_status is StackStatus.CREATE_COMPLETE
        yield c
    finally:
        delete_and_check(provider, c.name)


def with_changes(**edits: Any) -> dict[str, Any]:
    doc = copy.deepcopy(BASE)
    queues = doc["Scheduling"]["SlurmQueues"]
    settings = doc["Scheduling"]["SlurmSettings"]
    if "max_count" in edits:
        queues[0]["ComputeResources"][0]["MaxCount"] = edits["max_count"]
    if edits.get("q2"):
        q2 = copy.deepcopy(queues[0])
        q2["Name"] = "q2"
        q2["ComputeResources"][0].update(Name="c2", MinCount=0, MaxCount=2)
        queues.append(q2)
    if "slurm" in edits:
        settings["CustomSlurmSettings"] = edits["slurm"]
    if "idle" in edits:
        settings["ScaledownIdletime"] = edits["idle"]
    if "updated" in edits:
        doc["HeadNode"]["CustomActions"] = {"OnNodeUpdated": {"Script": str(edits["updated"])}}
    if "storage" in edits:
        doc["SharedStorage"] = edits["storage"]
    return doc


def test_live_updates_keep_jobs_running_and_a_failing_one_rolls_back(cluster: Cluster) -> None:
    c = cluster
    c.head("sh", "-c", "mkdir -p /home/up && echo kept > /home/up/data")
    running = c.head("sbatch", "--parsable", "-p", "q1", "--wrap", "sleep 900").strip()
    queued = c.head("sbatch", "--parsable", "-p", "q1", "--begin=now+3600", "--wrap", "true").strip()
    wait_until(lambda: c.job_state(running) == "RUNNING", 60, f"job {running} to run")

    # 1. add a queue, raise MaxCount, cluster CustomSlurmSettings, ScaledownIdletime, OnNodeUpdated
    grown = with_changes(q2=True, max_count=4, slurm=[{"MaxJobCount": 7000}], idle=5, updated=c.script)  # type: ignore[attr-defined]
    assert c.update(grown) is StackStatus.UPDATE_COMPLETE
    assert "MaxJobCount             = 7000" in c.head("scontrol", "show", "config")
    partitions = c.head("sinfo", "-h", "-o", "%P %D")
    assert "q2 2" in partitions and "q1* 4" in partitions
    logs = list((c.provider.layout(c.name).log / "actions" / "HeadNode").glob("*OnNodeUpdated*"))
    assert logs and "OnNodeUpdated ran on head" in logs[0].read_text()
    assert c.job_state(running) == "RUNNING" and c.job_state(queued) == "PENDING"
    # the new queue's nodes launch and run a two-node job
    out = c.head("srun", "-p", "q2", "-N", "2", "hostname")
    assert sorted(out.split()) == ["q2-dy-c2-1", "q2-dy-c2-2"]

    # 2. a queue that runs a job is not removed behind its back: refused with the job id
    other = c.head("sbatch", "--parsable", "-p", "q2", "--wrap", "sleep 900").strip()
    wait_until(lambda: c.job_state(other) == "RUNNING", 60, f"job {other} to run")
    storage = [{"Name": "extra", "MountDir": "/extra-up", "StorageType": "Efs", "EfsSettings": {}}]
    shrunk = with_changes(max_count=2, updated=c.script, storage=storage)  # type: ignore[attr-defined]
    with pytest.raises(UpdateRefusedError) as refused:
        c.service.update(c.name, c.config(shrunk), suppress=["ALL"])
    assert refused.value.update_errors[0]["parameter"] == "Scheduling.SlurmQueues[q2]"
    assert other in str(refused.value.update_errors[0]["message"])
    assert c.service.get(c.name).stack_status is StackStatus.UPDATE_COMPLETE
    c.head("scancel", other)
    wait_until(lambda: c.job_state(other) == "", 60, f"job {other} to leave the queue")

    # 3. remove the queue and lower MaxCount again; add shared storage, mounted into running nodes
    assert c.update(shrunk) is StackStatus.UPDATE_COMPLETE
    assert "q2" not in c.head("sinfo", "-h", "-o", "%P")
    c.head("sh", "-c", "echo from-head > /extra-up/file")
    seen = c.head("srun", "-p", "q1", "-w", "q1-st-c1-1", "cat", "/extra-up/file")
    assert seen.strip() == "from-head"
    assert c.job_state(running) == "RUNNING" and c.job_state(queued) == "PENDING"

    # 4. a failing OnNodeUpdated rolls the update back: config, slurm.conf and node set
    failing = c.tmp / "failing.sh"
    failing.write_text("#!/bin/sh\necho boom-from-onnodeupdated\nexit 3\n")
    failing.chmod(0o755)
    before = c.service.get(c.name).config_text
    assert (
        c.update(with_changes(q2=True, updated=failing, storage=storage))
        is StackStatus.UPDATE_ROLLBACK_COMPLETE
    )
    record = c.service.get(c.name)
    assert record.config_text == before
    assert "q2" not in c.head("sinfo", "-h", "-o", "%P")
    desc = c.service.describe(c.name).to_json()
    assert desc["clusterStatus"] == "UPDATE_FAILED"
    assert "boom-from-onnodeupdated" in desc["failures"][0]["failureReason"]
    events = c.service.stack_events(c.name).to_json()["events"]
    statuses = [e["resourceStatus"] for e in events if e["logicalResourceId"] == c.name]
    assert statuses[:3] == ["UPDATE_ROLLBACK_COMPLETE", "UPDATE_ROLLBACK_IN_PROGRESS", "UPDATE_IN_PROGRESS"]
    assert c.job_state(running) == "RUNNING" and c.job_state(queued) == "PENDING"
    assert c.head("cat", "/home/up/data").strip() == "kept"
    c.head("scancel", running, queued)


def instances(c: Cluster) -> dict[str, str]:
    return {i.node_name: i.instance_id for i in c.provider.instances(c.name) if i.node_name}


def test_capacity_settings_and_instance_types_change_live(cluster: Cluster) -> None:
    c = cluster
    running = c.head("sbatch", "--parsable", "-p", "q1", "-w", "q1-st-c1-1", "--wrap", "sleep 900").strip()
    wait_until(lambda: c.job_state(running) == "RUNNING", 60, f"job {running} to run")

    # MinCount up (a static node starts), queue and compute-resource Slurm settings, node weights
    doc = with_changes(max_count=3)
    queue = doc["Scheduling"]["SlurmQueues"][0]
    queue["CustomSlurmSettings"] = {"MaxTime": "100"}
    queue["ComputeResources"][0].update(MinCount=2, StaticNodePriority=7)
    assert c.update(doc) is StackStatus.UPDATE_COMPLETE
    assert "MaxTime=01:40:00" in c.head("scontrol", "show", "partition", "q1")
    assert "q1-st-c1-2" in instances(c)
    assert "Weight=" in c.head("scontrol", "show", "node", "q1-st-c1-2")
    assert c.job_state(running) == "RUNNING"

    # a new instance type with QueueUpdateStrategy DRAIN: the busy node keeps its job (drained),
    # the idle static node is replaced now
    doc["Scheduling"]["SlurmSettings"]["QueueUpdateStrategy"] = "DRAIN"
    queue["ComputeResources"][0]["InstanceType"] = "c5.xlarge"
    before = instances(c)
    assert c.update(doc) is StackStatus.UPDATE_COMPLETE
    assert c.job_state(running) == "RUNNING"
    assert "DRAIN" in c.head("scontrol", "show", "node", "q1-st-c1-1")
    wait_until(
        lambda: instances(c).get("q1-st-c1-2") not in (None, before["q1-st-c1-2"]),
        120,
        "the idle static node to be replaced",
    )
    assert "CPUTot=4" in c.head("scontrol", "show", "node", "q1-st-c1-2")

    # TERMINATE: replaced now, the job requeued (not lost)
    doc["Scheduling"]["SlurmSettings"]["QueueUpdateStrategy"] = "TERMINATE"
    queue["ComputeResources"][0]["InstanceType"] = "c5.2xlarge"
    assert c.update(doc) is StackStatus.UPDATE_COMPLETE
    assert c.job_state(running) in ("PENDING", "CONFIGURING", "RUNNING")
    restarts = c.head("scontrol", "show", "job", running)
    assert "Restarts=1" in restarts or "Requeue" in restarts
    c.head("scancel", running)


def test_settings_scripts_storage_tags_and_retention_change_live(cluster: Cluster) -> None:
    c = cluster
    reset = with_changes()  # back to the base shape whatever ran before (instance types: DRAIN)
    reset["Scheduling"]["SlurmSettings"]["QueueUpdateStrategy"] = "DRAIN"
    try:
        c.service.update(c.name, c.config(reset), suppress=["ALL"])
    except BadRequestError as exc:  # this test ran first: the cluster has the base shape already
        assert "No changes found" in exc.message
    else:
        assert c.service.run_update(c.name).stack_status is StackStatus.UPDATE_COMPLETE
    running = c.head("sbatch", "--parsable", "-p", "q1", "-w", "q1-st-c1-1", "--wrap", "sleep 900").strip()
    wait_until(lambda: c.job_state(running) == "RUNNING", 180, f"job {running} to run")
    include = c.tmp / "include.conf"
    include.write_text("MaxArraySize=777\n")
    start = c.tmp / "start.sh"
    start.write_text('#!/bin/sh\necho "new OnNodeStart on $(hostname)"\n')
    start.chmod(0o755)
    keep = [
        {
            "Name": "kept",
            "MountDir": "/kept-up",
            "StorageType": "Efs",
            "EfsSettings": {"DeletionPolicy": "Retain"},
        }
    ]

    # a second compute resource, the include file, memory-based scheduling (slurmctld restarted),
    # a queue OnNodeStart script, tags, log retention, shared storage with DeletionPolicy Retain
    doc = with_changes(storage=keep)
    doc["Scheduling"]["SlurmSettings"].update(
        CustomSlurmSettingsIncludeFile=str(include), EnableMemoryBasedScheduling=True
    )
    queue = doc["Scheduling"]["SlurmQueues"][0]
    queue["ComputeResources"].append({"Name": "c2", "InstanceType": "c5.large", "MinCount": 0, "MaxCount": 1})
    queue["CustomActions"] = {"OnNodeStart": {"Script": str(start)}}
    queue["ComputeResources"][0]["Tags"] = [{"Key": "team", "Value": "hpc"}]
    doc["Tags"] = [{"Key": "project", "Value": "corral"}]
    doc["Monitoring"] = {"Logs": {"CloudWatch": {"RetentionInDays": 3}}}
    assert c.update(doc) is StackStatus.UPDATE_COMPLETE
    config = c.head("scontrol", "show", "config")
    assert "MaxArraySize            = 777" in config and "CR_CPU_MEMORY" in config.upper()
    assert c.head("srun", "-p", "q1", "-w", "q1-dy-c2-1", "hostname").strip() == "q1-dy-c2-1"
    logs = list((c.provider.layout(c.name).log / "actions" / "q1-dy-c2-1").glob("*OnNodeStart*"))
    assert logs and "new OnNodeStart on q1-dy-c2-1" in logs[0].read_text()
    assert c.service.describe(c.name).to_json()["tags"] == [{"key": "project", "value": "corral"}]
    policy = (c.provider.layout(c.name).root / "logs.json").read_text()
    assert '"retention_in_days": 3' in policy
    c.head("sh", "-c", "echo retained > /kept-up/data")
    assert c.job_state(running) == "RUNNING"

    # the compute resource and the storage go again: the storage's data is retained, unmounted
    assert c.update(with_changes()) is StackStatus.UPDATE_COMPLETE
    assert "q1-dy-c2-1" not in c.head("sinfo", "-h", "-N", "-o", "%N")
    assert c.head("sh", "-c", "test -e /kept-up/data && echo still || echo gone").strip() == "gone"
    # the retained EFS is a volume (a sparse ext4 file, unmounted now): read it without mounting
    retained = list((c.provider.state_dir / "retained").rglob("kept.img"))
    assert retained, "the retained volume is gone"
    read = subprocess.run(["debugfs", "-R", "cat /data", str(retained[0])], capture_output=True, text=True)
    assert read.stdout.strip() == "retained", read.stderr
    assert c.job_state(running) == "RUNNING"
    c.head("scancel", running)


def test_a_stopped_fleet_stays_stopped_and_a_parked_supervisor_is_restored(cluster: Cluster) -> None:
    c = cluster
    layout = c.provider.layout(c.name)
    spec = layout.head_dir / "supervisor.json"
    assert spec.exists()
    c.service.update_compute_fleet(c.name, "STOP_REQUESTED")
    assert c.service.wait_compute_fleet(c.name, timeout=120).status.value == "STOPPED"
    # as an update killed in the middle of a slurmctld restart leaves it
    spec.replace(spec.with_name(spec.name + ".update"))
    doc = with_changes(q2=True, max_count=3)
    doc["Scheduling"]["SlurmSettings"]["QueueUpdateStrategy"] = "DRAIN"
    assert c.update(doc) is StackStatus.UPDATE_COMPLETE
    assert spec.exists() and not spec.with_name(spec.name + ".update").exists()
    states = dict(line.split() for line in c.head("sinfo", "-h", "-o", "%R %a").splitlines())
    assert states == {"q1": "inactive", "q2": "inactive"}
    assert c.service.describe_compute_fleet(c.name).status.value == "STOPPED"
    c.service.update_compute_fleet(c.name, "START_REQUESTED")
    assert c.service.wait_compute_fleet(c.name, timeout=180).status.value == "RUNNING"


def test_a_killed_update_worker_is_settled_and_the_update_retried(cluster: Cluster) -> None:
    import os
    import signal
    import subprocess
    import sys

    c = cluster
    slow = c.tmp / "slow.sh"
    slow.write_text("#!/bin/sh\nsleep 30\n")
    slow.chmod(0o755)
    doc = with_changes(q2=True, updated=slow)
    doc["Scheduling"]["SlurmSettings"]["QueueUpdateStrategy"] = "DRAIN"
    env = {**os.environ, "CORRAL_STATE_DIR": str(c.provider.state_dir)}
    argv = [sys.executable, "-m", "corral.cli.main", "update-cluster", "-n", c.name, "-c", str(c.config(doc))]
    subprocess.run([*argv, "--suppress-validators", "ALL"], env=env, check=True, capture_output=True)
    worker = c.service.get(c.name).owner
    assert worker is not None and worker.pid != os.getpid()
    # the worker reaches OnNodeUpdated (the new queue is in Slurm), then dies
    wait_until(lambda: "q2" in c.head("sinfo", "-h", "-o", "%R"), 60, "the new queue")
    os.kill(worker.pid, signal.SIGKILL)
    wait_until(lambda: not worker.is_alive(), 10, "the worker to die")
    desc = c.service.describe(c.name).to_json()
    assert desc["clusterStatus"] == "UPDATE_FAILED" and desc["cloudFormationStackStatus"] == "UPDATE_FAILED"
    assert "update was interrupted" in desc["failures"][0]["failureReason"]
    # retried: converges from where the worker stopped
    doc = with_changes(q2=True, updated=c.script)  # type: ignore[attr-defined]
    doc["Scheduling"]["SlurmSettings"]["QueueUpdateStrategy"] = "DRAIN"
    assert c.update(doc) is StackStatus.UPDATE_COMPLETE
    assert "failures" not in c.service.describe(c.name).to_json()
    assert c.head("srun", "-p", "q2", "hostname").strip() == "q2-dy-c2-1"

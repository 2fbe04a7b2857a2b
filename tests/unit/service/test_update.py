"""update-cluster through the service with the fake provider: the change set, refusals that change
nothing, live changes beyond pcluster, atomic completion and rollback, truthful interruption."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from corral.errors import BadRequestError, ConfigError, ConflictError, NotFoundError, UpdateRefusedError
from corral.providers.fake import FakeFailures, FakeProvider
from corral.service import ClusterService
from corral.state import ProcessIdentity, StackStatus, StateStore

ROOT = Path(__file__).resolve().parents[3]
DEMO = yaml.safe_load((ROOT / "examples" / "demo.yaml").read_text())


class Env:
    def __init__(self, tmp_path: Path, failures: FakeFailures | None = None) -> None:
        self.tmp = tmp_path
        self.provider = FakeProvider(failures)
        self.store = StateStore(tmp_path / "state")
        self.service = ClusterService(self.store, lambda name: self.provider)
        self.count = 0

    def config(self, doc: dict[str, Any]) -> Path:
        self.count += 1
        path = self.tmp / f"c{self.count}.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        return path

    def create(self, name: str = "demo") -> None:
        self.service.create(name, self.config(DEMO), provider="fake")
        assert self.service.run_create(name).stack_status is StackStatus.CREATE_COMPLETE

    def statuses(self, name: str = "demo") -> list[str]:
        record = self.store.get(name)
        return [
            e.resource_status for e in self.store.events(record.stack_id) if e.logical_resource_id == name
        ]


def changed(**edits: Any) -> dict[str, Any]:
    doc = copy.deepcopy(DEMO)
    queues = doc["Scheduling"]["SlurmQueues"]
    if "max_count" in edits:
        queues[0]["ComputeResources"][0]["MaxCount"] = edits["max_count"]
    if "add_queue" in edits:
        extra = copy.deepcopy(queues[1])
        extra["Name"] = edits["add_queue"]
        queues.append(extra)
    if "drop_queue" in edits:
        doc["Scheduling"]["SlurmQueues"] = [q for q in queues if q["Name"] != edits["drop_queue"]]
    if "settings" in edits:
        doc["Scheduling"]["SlurmSettings"]["CustomSlurmSettings"] = edits["settings"]
    if "head_type" in edits:
        doc["HeadNode"]["InstanceType"] = edits["head_type"]
    if "instance_type" in edits:
        queues[1]["ComputeResources"][0]["InstanceType"] = edits["instance_type"]
    if "strategy" in edits:
        doc["Scheduling"]["SlurmSettings"]["QueueUpdateStrategy"] = edits["strategy"]
    return doc


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return Env(tmp_path)


def test_dry_run_shows_the_change_set_and_changes_nothing(env: Env) -> None:
    env.create()
    before = env.store.get("demo")
    result = env.service.update("demo", env.config(changed(max_count=8, add_queue="extra")), dry_run=True)
    doc = result.to_json()
    assert doc["message"] == "Request would have succeeded, but DryRun flag is set."
    params = {c["parameter"]: c for c in doc["changeSet"]}
    assert params["Scheduling.SlurmQueues[compute].ComputeResources[c5].MaxCount"]["requestedValue"] == "8"
    assert params["Scheduling.SlurmQueues[extra]"]["currentValue"] == "-"
    assert env.store.get("demo") == before
    assert not (env.store.state_dir / "updates" / "demo.json").exists()


def test_live_update_completes_and_describe_shows_the_new_config(env: Env) -> None:
    env.create()
    new = env.config(changed(max_count=8, add_queue="extra", settings=[{"MaxJobCount": 2000}]))
    accepted = env.service.update("demo", new)
    assert accepted.record.stack_status is StackStatus.UPDATE_IN_PROGRESS
    assert "cluster" in accepted.to_json() and accepted.to_json()["changeSet"]
    done = env.service.run_update("demo")
    assert done.stack_status is StackStatus.UPDATE_COMPLETE
    assert done.config_text == new.read_text()
    assert "extra" in {n[0] for n in env.provider._require("demo").nodes.values()}
    desc = env.service.describe("demo").to_json()
    assert desc["clusterStatus"] == "UPDATE_COMPLETE" and "failures" not in desc
    assert desc["lastUpdatedTime"] >= desc["creationTime"]
    snapshot = Path(desc["clusterConfiguration"]["url"].removeprefix("file://"))
    assert snapshot.read_text() == new.read_text()
    assert env.statuses()[-2:] == ["UPDATE_IN_PROGRESS", "UPDATE_COMPLETE"]
    # the next update is judged against the applied config
    with pytest.raises(BadRequestError, match="No changes found"):
        env.service.update("demo", new)


def test_removing_a_queue_while_the_fleet_runs_is_applied_live(env: Env) -> None:
    env.create()
    env.service.update("demo", env.config(changed(drop_queue="highmem")))
    assert env.service.run_update("demo").stack_status is StackStatus.UPDATE_COMPLETE
    assert "highmem" not in env.provider._require("demo").partitions


def test_a_failing_update_rolls_back_with_the_cause(tmp_path: Path) -> None:
    env = Env(tmp_path, FakeFailures(update=True))
    env.create()
    applied = env.store.get("demo").config_text
    env.service.update("demo", env.config(changed(add_queue="extra")))
    done = env.service.run_update("demo")
    assert done.stack_status is StackStatus.UPDATE_ROLLBACK_COMPLETE
    assert done.config_text == applied
    assert "extra" not in env.provider._require("demo").partitions
    desc = env.service.describe("demo").to_json()
    assert desc["clusterStatus"] == "UPDATE_FAILED"
    assert desc["failures"][0]["failureCode"] == "ClusterUpdateFailure"
    assert "OnNodeUpdated failed" in desc["failures"][0]["failureReason"]
    assert env.statuses()[-3:] == [
        "UPDATE_IN_PROGRESS",
        "UPDATE_ROLLBACK_IN_PROGRESS",
        "UPDATE_ROLLBACK_COMPLETE",
    ]
    events = env.service.stack_events("demo").to_json()["events"]
    assert any("OnNodeUpdated failed" in e.get("resourceStatusReason", "") for e in events)
    # retriable once the cause is gone
    env.provider.failures = FakeFailures()
    env.service.update("demo", env.config(changed(add_queue="extra")))
    assert env.service.run_update("demo").stack_status is StackStatus.UPDATE_COMPLETE
    assert "failures" not in env.service.describe("demo").to_json()


def test_a_change_that_needs_a_stopped_fleet_is_refused_with_the_remedy(env: Env) -> None:
    env.create()
    before = env.store.get("demo")
    with pytest.raises(UpdateRefusedError) as refused:
        env.service.update("demo", env.config(changed(instance_type="r5.4xlarge")))
    err = refused.value
    assert err.message == "Update failure"
    (blocked,) = err.update_errors
    assert blocked["parameter"] == "Scheduling.SlurmQueues[highmem].ComputeResources[r5].InstanceType"
    assert "update-compute-fleet" in str(blocked["message"])
    assert err.change_set and env.store.get("demo") == before
    # with a QueueUpdateStrategy, Corral replaces the nodes live
    env.service.update("demo", env.config(changed(instance_type="r5.4xlarge", strategy="DRAIN")))
    assert env.service.run_update("demo").stack_status is StackStatus.UPDATE_COMPLETE


def test_the_head_node_cannot_change_and_force_update_applies_anyway(env: Env) -> None:
    env.create()
    with pytest.raises(UpdateRefusedError) as refused:
        env.service.update("demo", env.config(changed(head_type="c5.2xlarge")))
    assert refused.value.update_errors[0]["parameter"] == "HeadNode.InstanceType"
    env.service.update("demo", env.config(changed(head_type="c5.2xlarge")), force=True)
    done = env.service.run_update("demo")
    assert done.stack_status is StackStatus.UPDATE_COMPLETE
    reasons = [e.reason for e in env.store.events(done.stack_id)]
    assert any("forced past pcluster's update policies: HeadNode.InstanceType" in r for r in reasons)


def test_bad_input_changes_nothing(env: Env) -> None:
    env.create()
    before = env.store.get("demo")
    with pytest.raises(NotFoundError):
        env.service.update("nope", env.config(DEMO))
    bad = copy.deepcopy(DEMO)
    bad["Scheduling"]["SlurmQueues"][0]["ComputeResources"][0]["MaxCount"] = -1
    with pytest.raises(ConfigError):
        env.service.update("demo", env.config(bad))
    with pytest.raises(BadRequestError, match="No changes found"):
        env.service.update("demo", env.config(DEMO))
    with pytest.raises(BadRequestError, match="File not found"):
        env.service.update("demo", env.tmp / "missing.yaml")
    assert env.store.get("demo") == before


def test_an_update_is_refused_while_another_operation_runs(env: Env) -> None:
    env.create()
    env.service.update("demo", env.config(changed(max_count=8)))
    with pytest.raises(ConflictError, match="Cannot execute update while stack is in UPDATE_IN_PROGRESS"):
        env.service.update("demo", env.config(changed(max_count=9)))
    env.service.run_update("demo")
    env.service.delete("demo")
    with pytest.raises(ConflictError, match="DELETE_IN_PROGRESS"):
        env.service.update("demo", env.config(changed(max_count=9)))


def test_an_interrupted_update_is_settled_truthfully_and_retriable(env: Env) -> None:
    env.create()
    applied = env.store.get("demo").config_text
    env.service.update("demo", env.config(changed(max_count=8)))
    record = env.store.get("demo")
    dead = ProcessIdentity(pid=2**22 + 7, start_ticks=1)  # no such process
    env.store.save(record, record.__class__(**{**record.__dict__, "owner": dead}))
    settled = env.service.get("demo")
    assert settled.stack_status is StackStatus.UPDATE_FAILED
    assert settled.config_text == applied
    desc = env.service.describe("demo").to_json()
    assert desc["failures"][0]["failureCode"] == "ClusterUpdateFailure"
    assert "update was interrupted" in desc["failures"][0]["failureReason"]
    env.service.update("demo", env.config(changed(max_count=8)))
    assert env.service.run_update("demo").stack_status is StackStatus.UPDATE_COMPLETE


def test_a_config_for_another_cluster_is_refused_with_a_hint(env: Env) -> None:
    env.create()
    other = copy.deepcopy(DEMO)
    other["Region"] = "eu-west-1"
    other["HeadNode"]["InstanceType"] = "m5.large"
    other["HeadNode"]["Networking"]["SubnetId"] = "subnet-0fedcba9876543210"
    other["Image"]["Os"] = "ubuntu2204"
    with pytest.raises(UpdateRefusedError) as refused:
        env.service.update("demo", env.config(other))
    assert "config of another cluster" in refused.value.hint
    assert len(refused.value.update_errors) >= 3


def test_a_change_the_provider_cannot_apply_yet_is_refused_not_ignored(env: Env) -> None:
    """pcluster allows ExternalSlurmdbd changes at any time; a provider that cannot apply them yet
    says so (the local provider's trait), and nothing changes."""
    from corral.providers.base import ProviderTraits
    from corral.providers.local.provider import LocalProvider

    doc = copy.deepcopy(DEMO)
    settings = doc["Scheduling"]["SlurmSettings"]
    settings["MungeKeySecretArn"] = "arn:aws:secretsmanager:us-east-1:123456789012:secret:munge"
    settings["ExternalSlurmdbd"] = {"Host": "dbd-a.internal", "Port": 6819}
    env.service.create("demo", env.config(doc), provider="fake")
    env.service.run_create("demo")
    before = env.store.get("demo")
    moved = copy.deepcopy(doc)
    moved["Scheduling"]["SlurmSettings"]["ExternalSlurmdbd"]["Host"] = "dbd-b.internal"
    env.provider.traits = LocalProvider.traits  # type: ignore[misc]
    with pytest.raises(
        ConflictError, match=r"cannot apply Scheduling/SlurmSettings/ExternalSlurmdbd/Host yet"
    ):
        env.service.update("demo", env.config(moved))
    assert env.store.get("demo") == before
    env.provider.traits = ProviderTraits()  # type: ignore[misc]
    env.service.update("demo", env.config(moved))  # a provider without the limit takes it
    assert env.service.run_update("demo").stack_status is StackStatus.UPDATE_COMPLETE


def _with_database() -> dict[str, Any]:
    """The demo config with a Database section added."""
    doc = copy.deepcopy(DEMO)
    doc["Scheduling"]["SlurmSettings"]["Database"] = {
        "Uri": "acct.example.com:3306",
        "UserName": "admin",
        "PasswordSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf",
    }
    return doc


def test_a_database_change_follows_pclusters_policy_then_reaches_the_local_provider(env: Env) -> None:
    """Database is COMPUTE_FLEET_STOP in pcluster 3.16: refused with the fleet running, taken with it
    stopped; the local provider no longer refuses it (its trait keeps ExternalSlurmdbd only)."""
    from corral.providers.local.provider import LocalProvider

    env.create()
    env.provider.traits = LocalProvider.traits  # type: ignore[misc]
    doc = _with_database()
    with pytest.raises(UpdateRefusedError) as refused:
        env.service.update("demo", env.config(doc))
    assert any("update-compute-fleet" in str(e["message"]) for e in refused.value.update_errors)
    env.service.update_compute_fleet("demo", "STOP_REQUESTED")
    env.service.update("demo", env.config(doc))
    assert env.service.run_update("demo").stack_status is StackStatus.UPDATE_COMPLETE


def test_a_database_change_is_refused_on_aws_until_its_head_node_moves_slurmdbd(env: Env) -> None:
    """The AWS head node's update rewrites slurm.conf but does not start, move or stop slurmdbd: a
    Database change that pcluster's policy allows is refused there with the reason, never half-applied."""
    from corral.providers.aws.provider import AwsProvider

    env.create()
    env.provider.traits = AwsProvider.traits  # type: ignore[misc]
    doc = _with_database()
    env.service.update_compute_fleet("demo", "STOP_REQUESTED")
    before = env.store.get("demo")
    with pytest.raises(
        ConflictError, match=r"cannot apply Scheduling/SlurmSettings/Database.* yet"
    ) as refused:
        env.service.update("demo", env.config(doc))
    assert "slurmdbd" in refused.value.message and "outlive the cluster" in (refused.value.hint or "")
    assert env.store.get("demo") == before

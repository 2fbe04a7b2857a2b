"""ClusterService with the fake provider: lifecycle, rollback, truthful interrupted states, fleet."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from corral.errors import BadRequestError, ConflictError, NotFoundError, PrerequisiteError
from corral.providers.fake import FakeFailures, FakeProvider
from corral.service import ClusterService
from corral.state import FleetStatus, ProcessIdentity, StackEventRecord, StackStatus, StateStore
from support.plans import small_plan


class Env:
    def __init__(self, tmp_path: Path, failures: FakeFailures | None = None) -> None:
        self.provider = FakeProvider(failures)
        self.store = StateStore(tmp_path / "state")
        self.service = ClusterService(self.store, self._factory)

    def _factory(self, name: str) -> FakeProvider:
        assert name == "fake"
        return self.provider

    def accept(self, name: str = "demo", *, rollback: bool = True) -> None:
        self.service.create_planned(
            small_plan(name), provider="fake", config_text="x: 1\n", rollback_on_failure=rollback
        )

    def statuses(self, name: str = "demo") -> list[str]:
        record = self.store.get(name)
        return [
            e.resource_status for e in self.store.events(record.stack_id) if e.logical_resource_id == name
        ]


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return Env(tmp_path)


def test_create_records_in_progress_then_completes(env: Env) -> None:
    env.accept()
    assert env.service.describe("demo").record.stack_status is StackStatus.CREATE_IN_PROGRESS
    seen: list[StackEventRecord] = []
    final = env.service.run_create("demo", on_event=seen.append)
    assert final.stack_status is StackStatus.CREATE_COMPLETE
    assert final.fleet_status is FleetStatus.RUNNING
    assert final.owner is None
    assert [e.logical_resource_id for e in seen][:1] == ["HeadNode"]
    assert "q1-st-cr1-1" in [e.logical_resource_id for e in seen]
    assert env.statuses() == ["CREATE_IN_PROGRESS", "CREATE_COMPLETE"]


def test_describe_json_has_pcluster_fields(env: Env) -> None:
    env.accept()
    env.service.run_create("demo")
    doc = env.service.describe("demo").to_json()
    assert doc["clusterStatus"] == "CREATE_COMPLETE"
    assert doc["cloudFormationStackStatus"] == "CREATE_COMPLETE"
    assert doc["computeFleetStatus"] == "RUNNING"
    assert doc["headNode"]["instanceType"] == "t3.medium"
    assert doc["headNode"]["state"] == "running"
    assert doc["tags"] == [{"key": "team", "value": "hpc"}]
    assert doc["scheduler"] == {"type": "slurm"}
    assert doc["clusterConfiguration"]["url"].startswith("file://")
    assert Path(doc["clusterConfiguration"]["url"][7:]).read_text() == "x: 1\n"
    assert doc["creationTime"].endswith("Z")
    assert "failures" not in doc


def test_duplicate_name_conflicts(env: Env) -> None:
    env.accept()
    with pytest.raises(ConflictError, match="already exists"):
        env.accept()


def test_bad_name_is_rejected_before_anything_is_recorded(env: Env) -> None:
    with pytest.raises(BadRequestError, match="does not match"):
        env.accept("1bad")
    assert env.store.names() == []


def test_prerequisites_are_checked_before_recording(tmp_path: Path) -> None:
    env = Env(tmp_path, FakeFailures(prerequisites=True))
    with pytest.raises(PrerequisiteError):
        env.accept()
    assert env.store.names() == []


def test_failure_with_rollback_ends_rollback_complete_and_removes_infra(tmp_path: Path) -> None:
    env = Env(tmp_path, FakeFailures(create=True))
    env.accept()
    final = env.service.run_create("demo")
    assert final.stack_status is StackStatus.ROLLBACK_COMPLETE
    assert final.cluster_status == "CREATE_FAILED"
    assert not env.provider.exists("demo")
    assert env.statuses() == ["CREATE_IN_PROGRESS", "ROLLBACK_IN_PROGRESS", "ROLLBACK_COMPLETE"]
    doc = env.service.describe("demo").to_json()
    assert doc["cloudFormationStackStatus"] == "ROLLBACK_COMPLETE"
    assert doc["failures"][0]["failureCode"] == "StaticNodeBootstrapFailure"
    assert "static nodes" in doc["failures"][0]["failureReason"]
    assert "headNode" not in doc
    # and the record of it can be deleted
    env.service.delete("demo")
    assert env.service.run_delete("demo") is None
    assert env.store.find("demo") is None


def test_failure_without_rollback_keeps_the_cluster_for_inspection(tmp_path: Path) -> None:
    env = Env(tmp_path, FakeFailures(create=True))
    env.accept(rollback=False)
    final = env.service.run_create("demo")
    assert final.stack_status is StackStatus.CREATE_FAILED
    assert env.provider.exists("demo")  # head node kept
    assert env.service.describe("demo").head_node is not None
    env.service.delete("demo")
    env.service.run_delete("demo")
    assert not env.provider.exists("demo")


def test_failed_rollback_is_rollback_failed(tmp_path: Path) -> None:
    env = Env(tmp_path, FakeFailures(create=True, delete=True))
    env.accept()
    final = env.service.run_create("demo")
    assert final.stack_status is StackStatus.ROLLBACK_FAILED
    assert "rollback failed" in final.failure_reason


def test_delete_removes_record_events_and_infra(env: Env) -> None:
    env.accept()
    env.service.run_create("demo")
    stack = env.store.get("demo").stack_id
    accepted = env.service.delete("demo")
    assert accepted.to_json()["cluster"]["clusterStatus"] == "DELETE_IN_PROGRESS"
    assert env.service.delete("demo").record.version == accepted.record.version  # idempotent
    assert env.service.run_delete("demo") is None
    assert env.store.find("demo") is None
    assert env.store.events(stack) == []
    assert env.provider.instances("demo") == []
    with pytest.raises(NotFoundError):
        env.service.describe("demo")


def test_delete_failure_is_delete_failed_and_retryable(tmp_path: Path) -> None:
    env = Env(tmp_path, FakeFailures(delete=True))
    env.accept()
    env.service.run_create("demo")
    env.service.delete("demo")
    left = env.service.run_delete("demo")
    assert left is not None and left.stack_status is StackStatus.DELETE_FAILED
    env.provider.failures = FakeFailures()
    env.service.delete("demo")
    assert env.service.run_delete("demo") is None


def test_unknown_cluster_suggests_names(env: Env) -> None:
    env.accept("production")
    with pytest.raises(NotFoundError) as err:
        env.service.describe("prodution")
    assert "production" in err.value.hint


def _dead_identity() -> ProcessIdentity:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    ident = ProcessIdentity.of(proc.pid)
    proc.wait()
    return ident


def test_create_whose_process_died_is_reported_interrupted_and_deletable(env: Env) -> None:
    """The kill -9 case: the owner is gone while CREATE_IN_PROGRESS; infra half-built."""
    env.accept()
    record = env.store.get("demo")
    env.store.save(record, replace(record, owner=_dead_identity()))
    env.provider.create(small_plan(), on_event=lambda r, m: None)  # half-built infrastructure
    doc = env.service.describe("demo").to_json()
    assert doc["clusterStatus"] == "CREATE_FAILED"
    assert doc["cloudFormationStackStatus"] == "CREATE_FAILED"
    assert "create was interrupted" in doc["failures"][0]["failureReason"]
    env.service.delete("demo")
    assert env.service.run_delete("demo") is None
    assert not env.provider.exists("demo")


def test_create_in_progress_with_live_owner_stays_in_progress(env: Env) -> None:
    env.accept()
    assert env.service.describe("demo").record.stack_status is StackStatus.CREATE_IN_PROGRESS
    assert env.service.list_clusters().to_json()["clusters"][0]["clusterStatus"] == "CREATE_IN_PROGRESS"


def test_delete_during_create_stops_the_creating_process(env: Env) -> None:
    env.accept()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        env.service.hand_over("demo", ProcessIdentity.of(sleeper.pid))
        env.service.delete("demo")
        assert sleeper.wait(timeout=15) != 0  # it was signalled
    finally:
        sleeper.kill()
    assert env.service.run_delete("demo") is None


def test_delete_interrupted_is_delete_failed(env: Env) -> None:
    env.accept()
    env.service.run_create("demo")
    env.service.delete("demo")
    record = env.store.get("demo")
    env.store.save(record, replace(record, owner=_dead_identity()))
    assert env.service.get("demo").stack_status is StackStatus.DELETE_FAILED


def test_list_filters_by_cluster_status(tmp_path: Path) -> None:
    env = Env(tmp_path)
    env.accept("aa")
    env.service.run_create("aa")
    env.accept("bb")
    names = [c["clusterName"] for c in env.service.list_clusters(["CREATE_COMPLETE"]).to_json()["clusters"]]
    assert names == ["aa"]
    assert len(env.service.list_clusters().records) == 2


def test_instances_filters(env: Env) -> None:
    env.accept()
    env.service.run_create("demo")
    env.provider.launch("demo", ["q2-dy-cr2-1"])
    every = env.service.instances("demo").to_json()["instances"]
    assert {i["nodeType"] for i in every} == {"HeadNode", "ComputeNode"}
    heads = env.service.instances("demo", node_type="HeadNode").instances
    assert len(heads) == 1
    q2 = env.service.instances("demo", queue_name="q2").to_json()["instances"]
    assert [i["queueName"] for i in q2] == ["q2"]


def test_delete_instances_terminates_compute_only(env: Env) -> None:
    env.accept()
    env.service.run_create("demo")
    env.provider.launch("demo", ["q1-dy-cr1-1"])
    env.service.delete_instances("demo")
    assert [i.role.value for i in env.provider.instances("demo")] == ["HeadNode"]
    with pytest.raises(NotFoundError):
        env.service.delete_instances("nope")


def test_fleet_stop_and_start_run_scontrol_and_move_status(env: Env) -> None:
    env.accept()
    env.service.run_create("demo")
    view = env.service.update_compute_fleet("demo", "STOP_REQUESTED")
    assert view.status is FleetStatus.STOPPED  # the fake's Slurm shows it stopped at once
    commands = env.provider.commands("demo")
    assert ["scontrol", "update", "PartitionName=q1", "State=INACTIVE"] in commands
    assert any("State=POWER_DOWN_FORCE" in c for c in commands)
    assert [i.role.value for i in env.provider.instances("demo")] == ["HeadNode"]
    # a repeated stop is a no-op
    n = len(env.provider.commands("demo"))
    assert env.service.update_compute_fleet("demo", "STOP_REQUESTED").status is FleetStatus.STOPPED
    assert not any(c[1] == "update" for c in env.provider.commands("demo")[n:])
    started = env.service.update_compute_fleet("demo", "START_REQUESTED")
    assert started.status is FleetStatus.RUNNING
    assert {i.node_name for i in env.provider.instances("demo")} == {None, "q1-st-cr1-1"}
    with pytest.raises(BadRequestError):
        env.service.update_compute_fleet("demo", "ENABLED")


def test_fleet_command_failure_reverts_and_raises(tmp_path: Path) -> None:
    env = Env(tmp_path, FakeFailures(commands=True))
    env.accept()
    env.service.run_create("demo")
    with pytest.raises(Exception, match="failed on the head node"):
        env.service.update_compute_fleet("demo", "STOP_REQUESTED")
    assert env.service.describe_compute_fleet("demo").status is FleetStatus.RUNNING


def test_a_fleet_request_survives_the_reconciler_saving_the_cluster_meanwhile(env: Env) -> None:
    """The head's reconciler saves the record every pass; a user's START/STOP that loses a versioned
    write to it applies its status to the fresh record instead of failing (seen in CI as "changed
    by another command meanwhile")."""
    from dataclasses import replace

    env.accept()
    env.service.run_create("demo")
    real = env.provider.run_on_head
    bumps: list[int] = []

    def run_on_head(name: str, argv: list[str], **kwargs: object) -> object:
        if argv[:2] == ["scontrol", "update"]:  # a reconciler pass lands while the commands run
            current = env.store.get(name)
            env.store.save(current, replace(current, failure_reason=current.failure_reason))
            bumps.append(current.version)
        return real(name, argv, **kwargs)  # type: ignore[arg-type]

    env.provider.run_on_head = run_on_head  # type: ignore[method-assign,assignment]
    assert env.service.update_compute_fleet("demo", "STOP_REQUESTED").status is FleetStatus.STOPPED
    assert bumps  # the record really changed under the request
    assert env.service.update_compute_fleet("demo", "START_REQUESTED").status is FleetStatus.RUNNING


def test_fleet_update_needs_a_running_cluster(env: Env) -> None:
    env.accept()
    with pytest.raises(ConflictError, match="Cannot stop/disable compute fleet"):
        env.service.update_compute_fleet("demo", "STOP_REQUESTED")


def test_stack_events_newest_first(env: Env) -> None:
    env.accept()
    env.service.run_create("demo")
    events = env.service.stack_events("demo").to_json()["events"]
    assert events[0]["resourceStatus"] == "CREATE_COMPLETE"
    assert events[-1]["resourceStatus"] == "CREATE_IN_PROGRESS"
    assert events[-1]["resourceStatusReason"] == "User Initiated"
    assert all(e["stackName"] == "demo" for e in events)


def test_ssh_argv_needs_a_complete_cluster(env: Env) -> None:
    env.accept()
    with pytest.raises(ConflictError, match="Unable to connect"):
        env.service.ssh_argv("demo", ["sinfo"])
    env.service.run_create("demo")
    assert env.service.ssh_argv("demo", ["sinfo"])[-1] == "sinfo"


def test_run_create_twice_is_rejected(env: Env) -> None:
    env.accept()
    env.service.run_create("demo")
    with pytest.raises(ConflictError):
        env.service.run_create("demo")


def test_delete_on_a_machine_missing_prerequisites_changes_nothing(env: Env) -> None:
    env.accept()
    env.service.run_create("demo")
    env.provider.failures = FakeFailures(prerequisites=True)
    with pytest.raises(PrerequisiteError):
        env.service.delete("demo")
    assert env.store.get("demo").stack_status is StackStatus.CREATE_COMPLETE


def test_delete_during_rollback_stops_it_and_deletes(env: Env) -> None:
    env.accept()
    record = env.store.get("demo")
    env.store.save(record, replace(record, stack_status=StackStatus.ROLLBACK_IN_PROGRESS))
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        env.service.hand_over("demo", ProcessIdentity.of(sleeper.pid))
        accepted = env.service.delete("demo")
        assert accepted.record.stack_status is StackStatus.DELETE_IN_PROGRESS
        assert sleeper.wait(timeout=15) != 0
    finally:
        sleeper.kill()
    statuses = env.statuses()
    assert statuses[-2:] == ["ROLLBACK_FAILED", "DELETE_IN_PROGRESS"]
    assert env.service.run_delete("demo") is None

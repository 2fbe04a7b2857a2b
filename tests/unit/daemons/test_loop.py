"""The reconciler loop against a scripted head node: what it observes, what it runs, in which order."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from corral.daemons._loop import Loop, LoopFiles, run
from corral.daemons.events import read_events
from corral.daemons.protection import ProtectedQueue, Protection
from corral.daemons.reconciler import Actions
from corral.node.supervisor import SupervisorSpec
from corral.providers.base import CommandResult, Instance, InstanceState, NodeRole
from corral.providers.fake import FakeFailures, FakeProvider
from corral.runtime.heartbeat import heartbeat_age_s
from corral.state import ClusterRecord, FleetStatus, StackStatus, StateStore
from support.plans import engine_plan

NODES = (
    "NodeName=q1-st-c1-1 AvailableFeatures=static,c5.large State=IDLE+CLOUD Partitions=q1\n"
    "NodeName=q1-dy-c1-1 AvailableFeatures=dynamic,c5.large State=IDLE+CLOUD+POWERED_DOWN Partitions=q1\n"
)
PARTITION = "PartitionName=q1 State={state} Nodes=q1-st-c1-1,q1-dy-c1-1\n"


class ScriptedHead:
    """Answers the scontrol queries the loop makes and records every call, in order."""

    name = "scripted"

    def __init__(self, partition_state: str = "UP", instances: Sequence[Instance] = ()) -> None:
        self.partition_state, self.listed = partition_state, list(instances)
        self.calls: list[tuple[str, ...]] = []
        self.healed: list[str] = []

    def instances(self, cluster_name: str) -> list[Instance]:
        self.calls.append(("instances",))
        return self.listed

    def terminate(self, cluster_name: str, node_names: Sequence[str]) -> None:
        self.calls.append(("terminate", *node_names))

    def heal_login_nodes(self, cluster_name: str) -> list[str]:
        return list(self.healed)

    def run_on_head(self, cluster_name: str, argv: Sequence[str], **_: object) -> CommandResult:
        self.calls.append(tuple(argv))
        if list(argv[:3]) == ["scontrol", "show", "config"]:
            return CommandResult(0, "ResumeTimeout           = 60 sec\n", "")
        if "node" in argv and "show" in argv:
            return CommandResult(0, NODES, "")
        if "partition" in argv and "show" in argv:
            return CommandResult(0, PARTITION.format(state=self.partition_state), "")
        return CommandResult(0, "", "")


def test_each_pass_heals_the_login_pools_and_records_what_was_done(tmp_path: Path) -> None:
    head = ScriptedHead()
    head.healed = ["login node login-users-1 was gone (its machine stopped): replaced in its slot"]
    logged: list[str] = []
    Loop(head, "c", log=logged.append, files=LoopFiles(events=tmp_path / "ev")).step()  # type: ignore[arg-type]
    assert head.healed[0] in logged
    events = read_events(tmp_path / "ev")
    assert [e["message"] for e in events if e["event-type"] == "login-nodes"] == head.healed


def test_a_static_node_without_instance_is_terminated_then_powered_down() -> None:
    head = ScriptedHead()
    logged: list[str] = []
    actions = Loop(head, "c", log=logged.append).step()  # type: ignore[arg-type]
    assert [a.describe() for a in actions.items] == [
        "terminate q1-st-c1-1: its instance is gone",
        "power_down q1-st-c1-1: its instance is gone",
    ]
    assert head.calls[0] == ("instances",)  # instances are observed before Slurm
    terminate = head.calls.index(("terminate", "q1-st-c1-1"))
    power_down = next(i for i, c in enumerate(head.calls) if "State=POWER_DOWN_FORCE" in c)
    assert terminate < power_down
    assert logged == [a.describe() for a in actions.items]


def test_a_healthy_node_and_a_stopped_fleet_are_left_alone() -> None:
    up = Instance(
        "i-1",
        NodeRole.COMPUTE,
        "c5.large",
        "10.0.0.2",
        InstanceState.RUNNING,
        datetime.now(UTC),
        node_name="q1-st-c1-1",
    )
    assert not Loop(ScriptedHead(instances=[up]), "c", log=print).step()  # type: ignore[arg-type]
    stopped = ScriptedHead(partition_state="INACTIVE")
    assert not Loop(stopped, "c", log=print).step()  # type: ignore[arg-type]
    assert not [c for c in stopped.calls if "update" in c or c[0] == "terminate"]


class LaunchedMidPass(ScriptedHead):
    """The node's instance appears after the pass listed instances, and before it read Slurm."""

    def instances(self, cluster_name: str) -> list[Instance]:
        first = not any(c == ("instances",) for c in self.calls)
        super().instances(cluster_name)
        return [] if first else self.listed


def test_a_node_launched_and_registered_while_the_pass_ran_is_not_taken_for_dead() -> None:
    up = Instance(
        "i-1",
        NodeRole.COMPUTE,
        "c5.large",
        "10.0.0.2",
        InstanceState.PENDING,
        datetime.now(UTC),
        node_name="q1-st-c1-1",
    )
    head = LaunchedMidPass(instances=[up])
    assert not Loop(head, "c", log=print).step()  # type: ignore[arg-type]
    # looked for once more, after Slurm was read
    assert head.calls.count(("instances",)) == 2
    assert head.calls.index(("instances",), 1) > next(i for i, c in enumerate(head.calls) if "node" in c)
    assert not [c for c in head.calls if c[0] == "terminate"]


def test_the_loop_runs_until_its_pid_file_no_longer_names_it(tmp_path: Path) -> None:
    pid_file = tmp_path / "reconciler.pid"
    pid_file.write_text(f"{os.getpid()}\n")
    steps: list[int] = []
    logged: list[str] = []

    class OneStep(Loop):
        def step(self) -> Actions:
            steps.append(1)
            pid_file.unlink()  # the cluster is being deleted
            return Actions()

    loop = OneStep(ScriptedHead(), "c", log=logged.append)  # type: ignore[arg-type]
    run(loop, 0.0, pid_file)
    assert steps == [1] and logged == ["pid file gone or taken over; exiting"]
    pid_file.write_text("1\n")  # another reconciler owns the cluster now
    run(loop, 0.0, pid_file)
    assert steps == [1]


# -- the engine against the fake provider (its fake Slurm) and a real state store ------------------


def _fake_cluster(name: str = "eng") -> FakeProvider:
    provider = FakeProvider()
    provider.create(engine_plan(name), on_event=lambda r, m: None)
    return provider


def _record(store: StateStore, name: str, fleet: FleetStatus) -> ClusterRecord:
    now = datetime.now(UTC)
    return store.insert(
        ClusterRecord(
            name, f"stack-{name}", StackStatus.CREATE_COMPLETE, "fake", "", now, now, fleet_status=fleet
        )
    )


def _files(tmp_path: Path, **extra: Path) -> LoopFiles:
    return LoopFiles(
        heartbeat=tmp_path / "heartbeat", nodes=tmp_path / "nodes.json", events=tmp_path / "events", **extra
    )


def test_the_engine_replaces_a_lost_static_node_records_every_move_and_beats(tmp_path: Path) -> None:
    provider = _fake_cluster()
    loop = Loop(provider, "eng", log=lambda m: None, files=_files(tmp_path))
    assert not loop.step()  # healthy: nothing to do
    assert heartbeat_age_s(tmp_path / "heartbeat", datetime.now(UTC)) is not None
    provider.terminate("eng", ["q1-st-cr1-1"])  # the machine dies
    actions = loop.step()
    assert [(a.kind.value, a.node) for a in actions.items] == [
        ("terminate", "q1-st-cr1-1"),
        ("power_down", "q1-st-cr1-1"),
    ]
    actions = loop.step()  # the fake Slurm powered it down at once: power it up again
    assert [(a.kind.value, a.node) for a in actions.items] == [("power_up", "q1-st-cr1-1")]
    assert [i.node_name for i in provider.instances("eng") if i.node_name] == ["q1-st-cr1-1"]
    loop.step()
    events = read_events(tmp_path / "events")
    moves = [
        (e["detail"]["from"], e["detail"]["to"])  # type: ignore[index]
        for e in events
        if e["event-type"] == "node-transition" and e["detail"]["node"] == "q1-st-cr1-1"  # type: ignore[index]
    ]
    assert moves == [
        (None, "IDLE"),
        ("IDLE", "UNHEALTHY"),
        ("UNHEALTHY", "POWERED_DOWN"),
        ("POWERED_DOWN", "IDLE"),
    ]
    kinds = [e["event-type"] for e in events if str(e["event-type"]).startswith("action-")]
    assert kinds == ["action-terminate", "action-power_down", "action-power_up"]

    # a restarted loop carries on from the records: no node is "first seen" again
    again = Loop(provider, "eng", log=lambda m: None, files=_files(tmp_path))
    before = len(read_events(tmp_path / "events"))
    assert not again.step()
    assert len(read_events(tmp_path / "events")) == before


def test_the_heartbeat_is_written_even_when_slurm_cannot_be_observed(tmp_path: Path) -> None:
    provider = FakeProvider(FakeFailures(commands=True))
    provider.create(engine_plan("eng"), on_event=lambda r, m: None)
    logged: list[str] = []
    assert not Loop(provider, "eng", log=logged.append, files=_files(tmp_path)).step()
    assert logged and "fake failure" in logged[0]
    assert heartbeat_age_s(tmp_path / "heartbeat", datetime.now(UTC)) is not None


def test_the_loop_applies_a_pending_stop_request_and_finishes_it(tmp_path: Path) -> None:
    provider = _fake_cluster()
    store = StateStore(tmp_path)
    _record(store, "eng", FleetStatus.STOP_REQUESTED)
    loop = Loop(provider, "eng", log=lambda m: None, files=_files(tmp_path, store_dir=tmp_path))
    loop.step()
    assert store.get("eng").fleet_status is FleetStatus.STOPPING
    loop.step()
    assert store.get("eng").fleet_status is FleetStatus.STOPPED
    assert provider.instances("eng")[0].node_name is None  # only the head is left
    record = store.get("eng")
    store.save(record, replace(record, fleet_status=FleetStatus.START_REQUESTED))
    loop.step()
    assert store.get("eng").fleet_status is FleetStatus.STARTING
    loop.step()
    assert store.get("eng").fleet_status is FleetStatus.RUNNING
    fleet = [e for e in read_events(tmp_path / "events") if e["event-type"] == "fleet-status"]
    statuses = [e["detail"]["status"] for e in fleet]  # type: ignore[index]
    assert statuses == ["STOPPING", "STOPPED", "STARTING", "RUNNING"]


def test_a_protected_queue_shows_as_a_protected_fleet_until_it_is_released(tmp_path: Path) -> None:
    provider = _fake_cluster()
    store = StateStore(tmp_path)
    _record(store, "eng", FleetStatus.RUNNING)
    loop = Loop(provider, "eng", log=lambda m: None, files=_files(tmp_path, store_dir=tmp_path))
    now = datetime.now(UTC)
    loop.protection = Protection(protected={"q2": ProtectedQueue("Corral: protected mode: 10 failures", now)})
    actions = loop.step()
    assert [(a.kind.value, a.node) for a in actions.items] == [("protect", "q2")]
    assert store.get("eng").fleet_status is FleetStatus.RUNNING  # not until the partition is seen INACTIVE
    loop.step()
    assert store.get("eng").fleet_status is FleetStatus.PROTECTED
    loop.step()
    assert store.get("eng").fleet_status is FleetStatus.PROTECTED
    provider.run_on_head("eng", ["scontrol", "update", "PartitionName=q2", "State=UP"])  # the admin
    loop.step()
    assert store.get("eng").fleet_status is FleetStatus.RUNNING
    kinds = [e["event-type"] for e in read_events(tmp_path / "events")]
    assert "protected-mode-left" in kinds


def test_the_loop_revives_a_dead_supervisor(tmp_path: Path) -> None:
    spec_path = tmp_path / "supervisor.json"
    marker = tmp_path / "revived"
    spec = SupervisorSpec(
        cluster="eng",
        argv=("/bin/sh", "-c", f"echo $$ > {marker}", str(spec_path)),
        pid_file=str(tmp_path / "supervisor.pid"),
        lock_file=str(tmp_path / "supervisor.lock"),
        events_file=str(tmp_path / "supervisor.events"),
        log=str(tmp_path / "supervisor.log"),
        env=(("PATH", "/usr/bin:/bin"),),
    )
    spec_path.write_text(spec.dump())
    provider = _fake_cluster()
    logged: list[str] = []
    Loop(provider, "eng", log=logged.append, files=_files(tmp_path, supervisor_spec=spec_path)).step()
    deadline = time.monotonic() + 5
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert marker.exists() and any("supervisor was not running" in m for m in logged)
    spec_path.unlink()
    logged.clear()
    Loop(provider, "eng", log=logged.append, files=_files(tmp_path, supervisor_spec=spec_path)).step()
    assert not any("supervisor" in m for m in logged)  # no spec: the cluster is being deleted

"""The compute fleet's recorded status moved along by the reconciler, and orphan instances."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from corral.daemons.fleet_requests import FleetMove, fleet_moves, start_commands, stop_commands
from corral.daemons.reconciler import ActionKind, FleetSpec, NodeInstance, ObservedCluster, reconcile
from corral.slurm.fleet import FleetStatus as Slurm
from corral.slurm.status import NodeState
from corral.state import FLEET_TRANSITIONS, FleetStatus

F = FleetStatus
ARGS = {"partitions": ["q1", "q2"], "nodes": ["q1-st-c1-1", "q1-dy-c1-1"], "static": ["q1-st-c1-1"]}


def test_a_pending_stop_is_applied_then_finished_once_slurm_shows_it() -> None:
    [move] = fleet_moves(F.STOP_REQUESTED, Slurm.RUNNING, protected=(), **ARGS)
    assert move.status is F.STOPPING
    assert move.commands == (
        ("scontrol", "update", "PartitionName=q1", "State=INACTIVE"),
        ("scontrol", "update", "PartitionName=q2", "State=INACTIVE"),
        (
            "scontrol",
            "update",
            "NodeName=q1-dy-c1-1,q1-st-c1-1",
            "State=POWER_DOWN_FORCE",
            "Reason=Corral: compute fleet stopped",
        ),
    )
    assert fleet_moves(F.STOPPING, Slurm.STOPPING, protected=(), **ARGS) == []
    [done] = fleet_moves(F.STOPPING, Slurm.STOPPED, protected=(), **ARGS)
    assert done.status is F.STOPPED and done.commands == ()


def test_a_pending_start_sets_partitions_up_and_powers_static_nodes_up() -> None:
    [move] = fleet_moves(F.START_REQUESTED, Slurm.STOPPED, protected=("q2",), **ARGS)
    assert move == FleetMove(
        F.STARTING,
        "applying the start request",
        start_commands(["q1", "q2"], ["q1-st-c1-1"]),
    )
    assert move.commands[-1] == ("scontrol", "update", "NodeName=q1-st-c1-1", "State=POWER_UP")
    [done] = fleet_moves(F.STARTING, Slurm.RUNNING, protected=(), **ARGS)
    assert done.status is F.RUNNING


def test_protected_queues_show_as_a_protected_fleet_and_releasing_them_runs_it_again() -> None:
    [move] = fleet_moves(F.RUNNING, Slurm.RUNNING, protected=("bad",), **ARGS)
    assert move.status is F.PROTECTED and "bad" in move.reason
    assert fleet_moves(F.PROTECTED, Slurm.RUNNING, protected=("bad",), **ARGS) == []
    [back] = fleet_moves(F.PROTECTED, Slurm.RUNNING, protected=(), **ARGS)
    assert back.status is F.RUNNING


@pytest.mark.parametrize("recorded", list(FleetStatus))
@pytest.mark.parametrize("slurm", list(Slurm))
@pytest.mark.parametrize("protected", [(), ("q2",)])
def test_every_move_is_an_edge_of_the_fleet_table(
    recorded: FleetStatus, slurm: Slurm, protected: tuple[str, ...]
) -> None:
    current = recorded
    for move in fleet_moves(recorded, slurm, protected=protected, **ARGS):
        assert (current, move.status) in FLEET_TRANSITIONS
        current = move.status


def test_stop_commands_without_nodes_only_touch_partitions() -> None:
    assert stop_commands(["q1"], []) == (("scontrol", "update", "PartitionName=q1", "State=INACTIVE"),)


def test_an_instance_of_a_node_slurm_does_not_know_is_terminated_after_the_grace() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    spec = FleetSpec(static=frozenset({"q1-st-c1-1"}), dynamic=frozenset(), boot_grace_s=600)
    node = NodeState("q1-st-c1-1", "IDLE", frozenset({"CLOUD"}))
    young = NodeInstance("i-young", now - timedelta(seconds=2))
    old = NodeInstance("i-old", now - timedelta(seconds=60))
    instances = {"q1-st-c1-1": old, "gone-dy-c1-1": old, "new-dy-c1-1": young}
    actions = reconcile(spec, ObservedCluster((node,), instances), now, fleet_running=True)
    assert [(a.kind, a.node) for a in actions.items] == [(ActionKind.TERMINATE, "gone-dy-c1-1")]
    assert "Slurm has no node gone-dy-c1-1" in actions.items[0].reason

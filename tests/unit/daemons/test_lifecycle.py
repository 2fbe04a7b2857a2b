"""The node lifecycle: classification of what Slurm shows, the transition table, the records."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from corral.daemons.events import node_event
from corral.daemons.lifecycle import (
    HISTORY_LENGTH,
    TRANSITIONS,
    NodeStatus,
    classify,
    dump_records,
    load_records,
    path,
    track_nodes,
    transition,
)
from corral.slurm.status import NodeState, parse_state

S = NodeStatus
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def node(state: str, reason: str = "", name: str = "q1-st-c1-1") -> NodeState:
    base, flags = parse_state(state)
    return NodeState(name, base, flags, reason=reason, partitions=("q1",))


@pytest.mark.parametrize(
    ("state", "reason", "has_instance", "expected"),
    [
        ("IDLE+CLOUD+POWERED_DOWN", "", False, S.POWERED_DOWN),
        ("IDLE+CLOUD+POWERED_DOWN+POWER_UP", "", False, S.LAUNCHING),
        ("IDLE+CLOUD+POWERING_UP", "", False, S.LAUNCHING),
        ("IDLE+CLOUD+POWERING_UP", "", True, S.BOOTSTRAPPING),
        ("IDLE+CLOUD", "", True, S.IDLE),
        ("MIXED+CLOUD", "", True, S.ALLOCATED),
        ("COMPLETING+CLOUD", "", True, S.ALLOCATED),
        ("IDLE+CLOUD+DRAIN", "maintenance", True, S.DRAINING),
        ("IDLE+CLOUD", "", False, S.UNHEALTHY),  # its instance is gone
        ("IDLE+CLOUD+NOT_RESPONDING", "", True, S.UNHEALTHY),
        ("DOWN+CLOUD", "Not responding", True, S.UNHEALTHY),
        ("DOWN+CLOUD", "bootstrap failure: OnNodeConfigured script x exited with 1", True, S.FAILED),
        ("DOWN+CLOUD+POWERED_DOWN", "Corral: replacing", False, S.UNHEALTHY),
        ("IDLE+CLOUD+POWERING_DOWN", "", True, S.TERMINATING),
        ("ALLOCATED+CLOUD+POWER_DOWN", "", True, S.TERMINATING),
    ],
)
def test_classify_names_the_lifecycle_state_slurm_and_the_provider_show(
    state: str, reason: str, has_instance: bool, expected: NodeStatus
) -> None:
    assert classify(node(state, reason), has_instance=has_instance) is expected


def test_every_state_can_reach_every_other_through_the_table() -> None:
    """Observation is periodic: any jump must be explainable by a route through the table."""
    for old, new in itertools.permutations(NodeStatus, 2):
        hops = path(old, new)
        assert hops is not None, f"{old} -> {new}"
        route = [old, *hops, new]
        assert all((a, b) in TRANSITIONS for a, b in itertools.pairwise(route)), route


def test_a_direct_edge_is_recorded_with_its_reason_and_timestamps() -> None:
    first, event = transition(None, "n", S.POWERED_DOWN, T0)
    assert event is not None and event.old is None and "first seen" in event.message()
    later = T0 + timedelta(seconds=5)
    record, event = transition(first, "n", S.LAUNCHING, later)
    assert record.status is S.LAUNCHING and record.since == later
    assert record.history == ((S.POWERED_DOWN, T0), (S.LAUNCHING, later))
    assert (
        event is not None and event.via == () and event.reason == TRANSITIONS[(S.POWERED_DOWN, S.LAUNCHING)]
    )
    assert event.message() == f"node n POWERED_DOWN → LAUNCHING: {event.reason}"
    unchanged, nothing = transition(record, "n", S.LAUNCHING, later + timedelta(seconds=9))
    assert unchanged is record and nothing is None
    assert record.age_s(later + timedelta(seconds=9)) == 9


def test_a_jump_between_two_passes_is_recorded_with_the_states_it_went_through() -> None:
    idle, _ = transition(None, "n", S.IDLE, T0, instance_id="i-1")
    record, event = transition(idle, "n", S.POWERED_DOWN, T0 + timedelta(seconds=2))
    assert event is not None and event.via == (S.TERMINATING,)
    assert "intermediate states" in event.reason
    assert record.status is S.POWERED_DOWN


def test_a_new_instance_under_the_same_state_is_a_replacement() -> None:
    idle, _ = transition(None, "n", S.IDLE, T0, instance_id="i-1")
    record, event = transition(idle, "n", S.IDLE, T0 + timedelta(seconds=2), instance_id="i-2")
    assert event is not None and "i-1 replaced by i-2" in event.reason and S.TERMINATING in event.via
    assert record.instance_id == "i-2"
    as_json = node_event(event).to_json("c")
    assert as_json["event-type"] == "node-transition"
    assert as_json["detail"]["instance-id"] == "i-2"  # type: ignore[index]


def test_history_is_bounded() -> None:
    record, _ = transition(None, "n", S.IDLE, T0)
    for i in range(3 * HISTORY_LENGTH):
        status = S.ALLOCATED if i % 2 == 0 else S.IDLE
        record, _ = transition(record, "n", status, T0 + timedelta(seconds=i + 1))
    assert len(record.history) == HISTORY_LENGTH
    assert record.history[-1] == (record.status, record.since)


def test_track_nodes_moves_each_node_drops_vanished_ones_and_round_trips_through_json() -> None:
    nodes = [node("IDLE+CLOUD", name="a"), node("IDLE+CLOUD+POWERED_DOWN", name="b")]
    records, events = track_nodes({}, nodes, {"a": "i-a"}, T0)
    assert {r.name: r.status for r in records.values()} == {"a": S.IDLE, "b": S.POWERED_DOWN}
    assert len(events) == 2
    again, none = track_nodes(records, nodes, {"a": "i-a"}, T0 + timedelta(seconds=2))
    assert none == [] and again == records
    moved, events = track_nodes(again, nodes[:1], {}, T0 + timedelta(seconds=4))
    assert list(moved) == ["a"] and moved["a"].status is S.UNHEALTHY
    assert [(e.node, e.old, e.new) for e in events] == [("a", S.IDLE, S.UNHEALTHY)]
    assert load_records(dump_records(moved)) == moved

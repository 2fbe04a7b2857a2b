"""Insufficient-capacity fail-over in ``reconcile`` (pure): a compute resource without capacity is
taken out (its powered-down dynamic nodes DOWN), kept out for the timeout, then reset."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from corral.daemons.capacity import compute_resource_of, outages, reason_time
from corral.daemons.reconciler import ActionKind, Actions, FleetSpec, ObservedCluster, reconcile
from corral.slurm.status import NodeState, parse_nodes

ICE = "(Code:InsufficientInstanceCapacity)Failure when resuming nodes"
# Slurm stamps reasons in slurmctld's local time; the tests build it from a local datetime.
FAILED_AT = datetime(2026, 11, 22, 11, 50).astimezone()
DY1, DY2, DY3, ST = "q1-dy-big-1", "q1-dy-big-2", "q1-dy-small-1", "q1-st-big-1"
SPEC = FleetSpec(
    static=frozenset({ST}),
    dynamic=frozenset({DY1, DY2, DY3}),
    boot_grace_s=600,
    insufficient_capacity_timeout_s=600,
)


def node(name: str, state: str, reason: str = "", at: datetime = FAILED_AT) -> NodeState:
    line = f"NodeName={name} State={state} Partitions=q1"
    if reason:
        line += f" Reason={reason} [root@{at.strftime('%Y-%m-%dT%H:%M:%S')}]"
    (parsed,) = parse_nodes(line)
    return parsed


def decide(*nodes: NodeState, after_s: float, spec: FleetSpec = SPEC) -> Actions:
    now = FAILED_AT.astimezone(UTC) + timedelta(seconds=after_s)
    return reconcile(spec, ObservedCluster(tuple(nodes)), now, fleet_running=True)


def kinds(actions: Actions) -> list[tuple[ActionKind, str]]:
    return [(a.kind, a.node) for a in actions.items]


def test_names_and_reason_times() -> None:
    assert compute_resource_of("gpu-queue-dy-p4d-24xl-12") == ("gpu-queue", "p4d-24xl")
    assert compute_resource_of("q1-st-c1-3") == ("q1", "c1")
    assert compute_resource_of("login") is None
    assert reason_time(f"{ICE} [root@2026-11-22T11:50:00]") == FAILED_AT
    assert reason_time(ICE) is None


def test_outage_starts_at_the_earliest_failure_of_the_compute_resource() -> None:
    later = FAILED_AT + timedelta(seconds=30)
    nodes = [
        node(DY1, "DOWN+CLOUD+POWERED_DOWN", ICE, later),
        node(DY2, "IDLE+CLOUD+POWERED_DOWN", ICE),
        node(DY3, "IDLE+CLOUD+POWERED_DOWN", "(Code:LimitedInstanceCapacity)Failure when resuming nodes"),
        node(ST, "DOWN+CLOUD", ICE),  # static nodes are replaced, not failed over
    ]
    found = outages(nodes, SPEC.dynamic, datetime.now(UTC))
    assert list(found) == [("q1", "big")]
    assert found["q1", "big"].since == FAILED_AT
    assert found["q1", "big"].reason == ICE


def test_the_compute_resource_is_taken_out_while_the_outage_lasts() -> None:
    """The failed node is back to idle~ (the ResumeProgram powered it down): it and its sibling
    are set DOWN with the ICE reason; the other compute resource is untouched."""
    actions = decide(
        node(DY1, "IDLE+CLOUD+POWERED_DOWN", ICE),
        node(DY2, "IDLE+CLOUD+POWERED_DOWN"),
        node(DY3, "IDLE+CLOUD+POWERED_DOWN"),
        after_s=5,
    )
    assert kinds(actions) == [(ActionKind.DISABLE, DY1), (ActionKind.DISABLE, DY2)]
    assert actions.scontrol_commands() == [
        ["scontrol", "update", "NodeName=q1-dy-big-[1-2]", "State=DOWN", f"Reason={ICE}"]
    ]


def test_down_nodes_are_kept_down_until_the_timeout_then_reset() -> None:
    nodes = (
        node(DY1, "DOWN+CLOUD+POWERED_DOWN", ICE),
        node(DY2, "DOWN+CLOUD+POWERED_DOWN", ICE, FAILED_AT + timedelta(seconds=3)),
    )
    assert kinds(decide(*nodes, after_s=599)) == []
    assert kinds(decide(*nodes, after_s=601)) == [(ActionKind.POWER_DOWN, DY1), (ActionKind.POWER_DOWN, DY2)]


def test_nodes_that_are_up_or_on_their_way_are_left_to_the_usual_rules() -> None:
    actions = decide(
        node(DY1, "DOWN+CLOUD+NOT_RESPONDING+POWERING_UP", ICE),  # the ResumeProgram is powering it down
        node(DY2, "MIXED+CLOUD"),  # running a job on an instance launched before the outage
        node(ST, "IDLE+CLOUD+POWERED_DOWN"),
        after_s=5,
    )
    assert (ActionKind.DISABLE, DY2) not in kinds(actions)
    assert kinds(actions) == [
        (ActionKind.TERMINATE, DY2),
        (ActionKind.POWER_DOWN, DY2),
        (ActionKind.POWER_UP, ST),
    ]


def test_an_administrators_drain_is_respected() -> None:
    actions = decide(
        node(DY1, "IDLE+CLOUD+POWERED_DOWN", ICE),
        node(DY2, "IDLE+DRAIN+CLOUD+POWERED_DOWN", "maintenance"),
        after_s=5,
    )
    assert kinds(actions) == [(ActionKind.DISABLE, DY1)]


def test_a_timeout_of_zero_turns_the_fail_over_off() -> None:
    spec = replace(SPEC, insufficient_capacity_timeout_s=0)
    actions = decide(
        node(DY1, "DOWN+CLOUD+POWERED_DOWN", ICE), node(DY2, "IDLE+CLOUD+POWERED_DOWN"), after_s=5, spec=spec
    )
    assert kinds(actions) == [(ActionKind.POWER_DOWN, DY1)]

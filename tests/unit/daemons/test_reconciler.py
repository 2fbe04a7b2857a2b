"""``reconcile`` is pure: observed Slurm states and instances in, actions out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from corral.daemons._loop import parse_resume_timeout
from corral.daemons.reconciler import (
    Action,
    ActionKind,
    Actions,
    FleetSpec,
    NodeInstance,
    ObservedCluster,
    reconcile,
    track_unresponsive,
)
from corral.plan import NodeKind
from corral.slurm.status import NodeState, parse_nodes
from support.plans import two_queue_plan

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
ST, DY = "q1-st-c1-1", "q1-dy-c1-1"
SPEC = FleetSpec(static=frozenset({ST}), dynamic=frozenset({DY}), boot_grace_s=600)
UP = "IDLE+CLOUD"
POWERED_DOWN = "IDLE+CLOUD+POWERED_DOWN"


def node(name: str, state: str = UP, reason: str = "") -> NodeState:
    """A node as ``scontrol -o show node`` prints it, parsed by the real parser."""
    kind = "static" if "-st-" in name else "dynamic"
    line = f"NodeName={name} Arch=x86_64 AvailableFeatures={kind},c5.large State={state} Partitions=q1"
    if reason:
        line += f" Reason={reason} [root@2026-11-22T11:59:00]"
    (parsed,) = parse_nodes(line)
    return parsed


def instance(age_s: float = 300, instance_id: str = "i-0123") -> NodeInstance:
    return NodeInstance(instance_id, NOW - timedelta(seconds=age_s))


def decide(
    *nodes: NodeState,
    instances: dict[str, NodeInstance] | None = None,
    running: bool = True,
    unresponsive: dict[str, datetime] | None = None,
) -> Actions:
    observed = ObservedCluster(tuple(nodes), instances or {}, unresponsive or {})
    return reconcile(SPEC, observed, NOW, fleet_running=running)


def kinds(actions: Actions) -> list[tuple[ActionKind, str]]:
    return [(a.kind, a.node) for a in actions.items]


def replaced(name: str) -> list[tuple[ActionKind, str]]:
    return [(ActionKind.TERMINATE, name), (ActionKind.POWER_DOWN, name)]


def test_a_healthy_fleet_needs_nothing() -> None:
    actions = decide(node(ST), node(DY, POWERED_DOWN), instances={ST: instance()})
    assert not actions and actions.scontrol_commands() == []


def test_a_static_node_whose_instance_is_gone_is_replaced() -> None:
    actions = decide(node(ST), node(DY, POWERED_DOWN))
    assert kinds(actions) == replaced(ST)
    assert "instance is gone" in actions.items[0].reason
    (command,) = actions.scontrol_commands()
    assert command[:4] == ["scontrol", "update", f"NodeName={ST}", "State=POWER_DOWN_FORCE"]
    assert command[4].startswith("Reason=Corral: replacing unhealthy node (its instance is gone)")


def test_a_down_static_node_is_replaced_even_with_its_instance() -> None:
    actions = decide(node(ST, "DOWN+CLOUD", "Not responding"), instances={ST: instance()})
    assert kinds(actions) == replaced(ST)
    assert "Not responding" in actions.items[0].reason


def test_a_powered_down_static_node_is_powered_up() -> None:
    actions = decide(node(ST, POWERED_DOWN, "Corral: replacing unhealthy node (x)"))
    assert kinds(actions) == [(ActionKind.POWER_UP, ST)]
    assert actions.scontrol_commands() == [["scontrol", "update", f"NodeName={ST}", "State=POWER_UP"]]


def test_power_ups_are_one_command_for_all_nodes() -> None:
    spec = FleetSpec(static=frozenset({"q1-st-c1-1", "q1-st-c1-2"}), dynamic=frozenset(), boot_grace_s=60)
    observed = ObservedCluster((node("q1-st-c1-1", POWERED_DOWN), node("q1-st-c1-2", POWERED_DOWN)))
    actions = reconcile(spec, observed, NOW, fleet_running=True)
    assert actions.scontrol_commands() == [
        ["scontrol", "update", "NodeName=q1-st-c1-[1-2]", "State=POWER_UP"]
    ]


@pytest.mark.parametrize(
    "state", ["IDLE+CLOUD+POWERED_DOWN+POWER_UP", "IDLE+CLOUD+POWERING_UP", "MIXED+CLOUD+POWERING_UP"]
)
def test_a_booting_node_within_its_grace_is_left_alone(state: str) -> None:
    assert not decide(node(ST, state), instances={ST: instance(age_s=30)})
    assert not decide(node(ST, state))  # the ResumeProgram has not created the instance yet


def test_a_node_booting_past_its_grace_is_replaced() -> None:
    actions = decide(node(ST, "IDLE+CLOUD+POWERING_UP"), instances={ST: instance(age_s=601)})
    assert kinds(actions) == replaced(ST)
    assert "still booting after 600 s" in actions.items[0].reason


@pytest.mark.parametrize(
    "state", ["IDLE+CLOUD+POWERING_DOWN", "DOWN+CLOUD+POWER_DOWN", "IDLE+CLOUD+POWER_DOWN"]
)
def test_a_node_being_powered_down_is_left_alone(state: str) -> None:
    assert not decide(node(ST, state), node(DY, state), instances={ST: instance()})


def test_nothing_happens_while_the_fleet_is_not_running() -> None:
    broken = (node(ST, "DOWN+CLOUD", "Not responding"), node(DY, "DOWN+CLOUD", "boot failed"))
    assert decide(*broken, running=True)
    assert not decide(*broken, running=False)
    stopped = node(ST, POWERED_DOWN, "Corral: compute fleet stopped")
    assert not decide(stopped, running=False)


@pytest.mark.parametrize("state", ["IDLE+CLOUD+DRAIN", "DOWN+CLOUD+DRAIN", "ALLOCATED+CLOUD+DRAIN"])
def test_a_node_an_admin_drained_is_never_touched(state: str) -> None:
    assert not decide(node(ST, state, "disk errors, rma"), node(DY, state, "maintenance"))


def test_a_drain_corral_set_does_not_protect_the_node() -> None:
    actions = decide(node(ST, "DOWN+CLOUD+DRAIN", "Corral: something"), instances={ST: instance()})
    assert kinds(actions) == replaced(ST)


def test_a_dynamic_node_with_a_bootstrap_failure_is_reset_not_powered_up() -> None:
    reason = "bad-dy-c2-1: OnNodeConfigured script /x.sh exited with 9"
    actions = decide(node(ST), node(DY, "DOWN+CLOUD", reason), instances={ST: instance(), DY: instance()})
    assert kinds(actions) == replaced(DY)
    assert reason in actions.items[1].reason
    assert not actions.nodes(ActionKind.POWER_UP)


def test_a_booting_node_whose_agent_reported_a_bootstrap_failure_is_replaced_at_once() -> None:
    """On a busy machine the agent may set the node DOWN before slurmd registers: Slurm keeps it
    POWERING_UP until ResumeTimeout, so waiting for the boot grace would leave it for 30 minutes."""
    reason = "bootstrap failure: OnNodeConfigured script /x.sh exited with 9"
    booting = node(DY, "DOWN+CLOUD+NOT_RESPONDING+POWERING_UP", reason)
    actions = decide(booting, instances={DY: instance(age_s=2)})
    assert kinds(actions) == replaced(DY)
    assert reason in actions.items[1].reason
    other = node(DY, "DOWN+CLOUD+NOT_RESPONDING+POWERING_UP", "Not responding")
    assert not decide(other, instances={DY: instance(age_s=2)})  # not the agent's: the grace applies


def test_a_down_powered_down_node_is_reset_by_a_power_down() -> None:
    # Slurm's ResumeTimeout leaves the node DOWN and powered down; a power-down makes it IDLE again.
    for name in (ST, DY):
        actions = decide(node(name, "DOWN+CLOUD+POWERED_DOWN", "ResumeTimeout reached"))
        assert kinds(actions) == [(ActionKind.POWER_DOWN, name)]


def test_an_up_dynamic_node_without_instance_is_replaced() -> None:
    actions = decide(node(ST), node(DY, "ALLOCATED+CLOUD"), instances={ST: instance()})
    assert kinds(actions) == replaced(DY)


def test_an_instance_of_a_powered_down_node_is_an_orphan() -> None:
    actions = decide(
        node(DY, POWERED_DOWN), node(ST), instances={DY: instance(60, "i-orphan"), ST: instance()}
    )
    assert [a.describe() for a in actions.items] == ["terminate q1-dy-c1-1: orphaned instance i-orphan"]
    assert not decide(node(DY, POWERED_DOWN), node(ST), instances={DY: instance(2), ST: instance()})


def test_not_responding_counts_only_after_its_grace() -> None:
    unresponsive = node(ST, "IDLE+CLOUD+NOT_RESPONDING")
    fresh = {ST: NOW - timedelta(seconds=100)}
    stale = {ST: NOW - timedelta(seconds=121)}
    assert not decide(unresponsive, instances={ST: instance()}, unresponsive=fresh)
    actions = decide(unresponsive, instances={ST: instance()}, unresponsive=stale)
    assert kinds(actions) == replaced(ST)
    assert "not responding for 121 s" in actions.items[0].reason


def test_track_unresponsive_keeps_the_first_sighting_and_forgets_recovered_nodes() -> None:
    earlier = NOW - timedelta(seconds=10)
    nodes = [node(ST, "IDLE+CLOUD+NOT_RESPONDING"), node(DY, "IDLE+CLOUD+NOT_RESPONDING")]
    assert track_unresponsive({ST: earlier, "gone": earlier}, nodes, NOW) == {ST: earlier, DY: NOW}
    assert track_unresponsive({ST: earlier}, [node(ST)], NOW) == {}


def test_nodes_outside_the_spec_are_ignored() -> None:
    assert not decide(node("other-st-c9-1", "DOWN+CLOUD", "x"))


def test_actions_are_ordered_terminate_then_power_down_then_power_up() -> None:
    actions = decide(node(DY, "DOWN+CLOUD", "x"), node(ST, POWERED_DOWN), instances={DY: instance()})
    assert [a.kind for a in actions.items] == [
        ActionKind.TERMINATE,
        ActionKind.POWER_DOWN,
        ActionKind.POWER_UP,
    ]
    assert actions.items[2] == Action(ActionKind.POWER_UP, ST, "static node is powered down")


def test_spec_from_plan_and_from_slurm_agree() -> None:
    plan = two_queue_plan(static=2)
    from_plan = FleetSpec.from_plan(plan)
    slurm_nodes = [node(n.name, POWERED_DOWN) for n in plan.nodes]
    from_slurm = FleetSpec.from_slurm(slurm_nodes, plan.compute_node_bootstrap_timeout_s)
    assert from_plan == from_slurm
    assert from_plan.static == {n.name for n in plan.nodes if n.kind is NodeKind.STATIC}
    assert from_plan.boot_grace_s == plan.compute_node_bootstrap_timeout_s


def test_spec_from_slurm_reads_the_static_feature() -> None:
    renamed = NodeState("odd-name-1", "IDLE", frozenset(), features=("static",))
    tricky = NodeState("a-st-queue-dy-c1-1", "IDLE", frozenset(), features=("dynamic",))
    bare = NodeState("q9-st-c1-1", "IDLE", frozenset())
    spec = FleetSpec.from_slurm([renamed, tricky, bare], 60)
    assert spec.static == {"odd-name-1", "q9-st-c1-1"} and spec.dynamic == {"a-st-queue-dy-c1-1"}


def test_resume_timeout_from_show_config() -> None:
    text = (
        "ResumeProgram           = /x/bin/resume\n"
        "ResumeRate              = 0 nodes/min\n"
        "ResumeTimeout           = 1800 sec\n"
    )
    assert parse_resume_timeout(text) == 1800.0
    assert parse_resume_timeout("nothing here") is None

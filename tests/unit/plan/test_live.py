"""corral.plan.live: which pcluster-blocked changes a provider applies live, and the node delta."""

from __future__ import annotations

from dataclasses import replace

from corral.config.policies import UpdatePolicy
from corral.plan.changeset import Change, ChangeSet
from corral.plan.live import LIVE_KINDS, LIVE_REASON, can_apply_live, live_kind, node_delta, relax
from support.plans import small_plan

Q = "Scheduling/SlurmQueues[q1]"
CR = Q + "/ComputeResources[cr1]"


def blocked(path: str, **kw: object) -> Change:
    return Change(
        path, kw.get("old"), kw.get("new", 1), UpdatePolicy.COMPUTE_FLEET_STOP, False, "stop it", "stop"
    )


def test_kinds_by_path() -> None:
    assert live_kind(blocked(Q)) == "queues"
    assert live_kind(blocked(CR)) == "compute_resources"
    assert live_kind(blocked(CR + "/MaxCount")) == "capacity"
    assert live_kind(blocked(CR + "/Instances[c5.large]")) == "instances"
    assert live_kind(blocked("Scheduling/SlurmSettings/ScaledownIdletime")) == "slurm_settings"
    assert live_kind(blocked(Q + "/CustomActions/OnNodeStart/Script")) == "custom_actions"
    assert live_kind(blocked("SharedStorage[data]")) == "storage"
    assert live_kind(blocked("HeadNode/InstanceType")) is None
    assert live_kind(blocked("LoginNodes/Pools[users]", old={"Name": "users"}, new=None)) == "login_pools"
    assert live_kind(blocked("LoginNodes")) == "login_pools"
    assert live_kind(blocked("LoginNodes/Pools[users]/InstanceType")) is None  # needs the pool stopped


def test_relax_allows_what_the_provider_applies_and_keeps_the_rest() -> None:
    changes = ChangeSet(
        (
            blocked(CR + "/MaxCount"),
            blocked(CR + "/InstanceType"),
            blocked("HeadNode/InstanceType"),
            blocked("SharedStorage[home]", old={"MountDir": "/home"}, new=None),
        )
    )
    relaxed = relax(changes, LIVE_KINDS, "COMPUTE_FLEET_STOP")
    by_path = {c.path: c for c in relaxed}
    assert by_path[CR + "/MaxCount"].allowed and by_path[CR + "/MaxCount"].reason.startswith(LIVE_REASON)
    assert not by_path[CR + "/InstanceType"].allowed  # needs DRAIN or TERMINATE
    assert "QueueUpdateStrategy: DRAIN" in by_path[CR + "/InstanceType"].remedy
    assert not by_path["HeadNode/InstanceType"].allowed
    assert not by_path["SharedStorage[home]"].allowed
    assert relax(changes, LIVE_KINDS, "DRAIN").blocked == (
        by_path["HeadNode/InstanceType"],
        by_path["SharedStorage[home]"],
    )
    assert relax(changes, frozenset(), "DRAIN") == changes  # a provider that follows pcluster exactly
    assert not can_apply_live(blocked(CR + "/MaxCount"), frozenset({"queues"}), "DRAIN")


def test_node_delta() -> None:
    old = small_plan(static=1, dynamic=2)
    new = small_plan(static=2, dynamic=1)
    shape = replace(new.nodes[0].shape, instance_type="c5.2xlarge")
    new = replace(
        new, nodes=(replace(new.nodes[0], shape=shape), *new.nodes[1:-1]), partitions=new.partitions[:1]
    )
    delta = node_delta(old, new)
    assert delta.added == ("q1-st-cr1-2",)
    assert set(delta.removed) == {"q1-dy-cr1-2", "q2-dy-cr2-1"}
    assert delta.reshaped == ("q1-st-cr1-1",)
    assert delta.removed_queues == ("q2",)
    assert delta.static_added == ("q1-st-cr1-2",)
    assert delta.touched == tuple(sorted({"q1-dy-cr1-2", "q2-dy-cr2-1", "q1-st-cr1-1"}))

from __future__ import annotations

from corral.slurm import hostlist
from corral.slurm.fleet import FleetStatus, fleet_status, start_fleet_commands, stop_fleet_commands
from corral.slurm.status import NodeState, PartitionState
from support.plans import two_queue_plan


def test_stop_inactivates_partitions_before_powering_down_every_node() -> None:
    plan = two_queue_plan(static=2)
    commands = stop_fleet_commands(plan)
    assert commands[:2] == [
        ["scontrol", "update", "PartitionName=q1", "State=INACTIVE"],
        ["scontrol", "update", "PartitionName=q2", "State=INACTIVE"],
    ]
    node_arg = next(a for a in commands[2] if a.startswith("NodeName="))
    assert sorted(hostlist.expand(node_arg.split("=", 1)[1])) == sorted(n.name for n in plan.nodes)
    assert "State=POWER_DOWN_FORCE" in commands[2]


def test_start_brings_partitions_up_and_only_static_nodes() -> None:
    commands = start_fleet_commands(two_queue_plan(static=2))
    assert commands[-1] == ["scontrol", "update", "NodeName=q1-st-c1-[1-2]", "State=POWER_UP"]
    assert all("State=UP" in c for c in commands[:-1])
    assert len(start_fleet_commands(two_queue_plan(static=0))) == 2


def node(name: str, state: str, *flags: str, static: bool = False) -> NodeState:
    return NodeState(name, state, frozenset(flags), features=("static" if static else "dynamic",))


def part(state: str) -> PartitionState:
    return PartitionState("q1", state)


def test_fleet_status_from_slurm_state() -> None:
    st_up = node("q1-st-c1-1", "IDLE", "CLOUD", static=True)
    st_down = node("q1-st-c1-1", "IDLE", "CLOUD", "POWERED_DOWN", static=True)
    dy_down = node("q1-dy-c1-1", "IDLE", "CLOUD", "POWERED_DOWN")
    dy_going = node("q1-dy-c1-1", "IDLE", "CLOUD", "POWERED_DOWN", "POWERING_DOWN")
    assert fleet_status([part("UP")], [st_up, dy_down]) is FleetStatus.RUNNING
    assert fleet_status([part("UP")], [st_down, dy_down]) is FleetStatus.STARTING
    assert fleet_status([part("INACTIVE")], [st_down, dy_down]) is FleetStatus.STOPPED
    assert fleet_status([part("INACTIVE")], [st_up, dy_down]) is FleetStatus.STOPPING
    assert fleet_status([part("INACTIVE")], [st_down, dy_going]) is FleetStatus.STOPPING
    assert fleet_status([part("UP"), PartitionState("q2", "INACTIVE")], []) is FleetStatus.UNKNOWN
    assert fleet_status([], []) is FleetStatus.UNKNOWN

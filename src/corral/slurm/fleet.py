"""Stopping and starting a cluster's compute fleet through Slurm, the same way on every provider.

The functions here only decide: they return ``scontrol`` argv lists that a caller runs on the head
node (``provider.run_on_head``), in order, and derive the fleet status from parsed Slurm state.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

from corral.plan import ClusterPlan
from corral.slurm import hostlist
from corral.slurm.status import NodeState, PartitionState

STOP_REASON = "Corral: compute fleet stopped"


class FleetStatus(enum.StrEnum):
    """pcluster's ``computeFleetStatus`` values that can be observed in Slurm."""

    START_REQUESTED = "START_REQUESTED"
    STARTING = "STARTING"
    RUNNING = "RUNNING"
    STOP_REQUESTED = "STOP_REQUESTED"
    STOPPING = "STOPPING"
    STOPPED = "STOPPED"
    UNKNOWN = "UNKNOWN"


def _partition_argv(name: str, state: str) -> list[str]:
    return ["scontrol", "update", f"PartitionName={name}", f"State={state}"]


def stop_fleet_commands(plan: ClusterPlan) -> list[list[str]]:
    """argv lists that stop the fleet: every partition INACTIVE first (no new job starts), then every
    compute node, static ones included, powered down at once (running jobs are requeued)."""
    commands = [_partition_argv(p.name, "INACTIVE") for p in plan.partitions]
    if plan.nodes:
        names = hostlist.compress(n.name for n in plan.nodes)
        commands.append(
            ["scontrol", "update", f"NodeName={names}", "State=POWER_DOWN_FORCE", f"Reason={STOP_REASON}"]
        )
    return commands


def start_fleet_commands(plan: ClusterPlan) -> list[list[str]]:
    """argv lists that start the fleet: partitions UP, static nodes powered up (dynamic nodes stay
    powered down until jobs need them)."""
    commands = [_partition_argv(p.name, "UP") for p in plan.partitions]
    static = [n.name for n in plan.static_nodes]
    if static:
        commands.append(["scontrol", "update", f"NodeName={hostlist.compress(static)}", "State=POWER_UP"])
    return commands


def fleet_status(partitions: Sequence[PartitionState], nodes: Sequence[NodeState]) -> FleetStatus:
    """The fleet status Slurm shows.

    RUNNING: every partition UP and every static node up. STARTING: partitions UP, some static node
    still powered down or booting. STOPPED: every partition INACTIVE and every node powered down.
    STOPPING: partitions INACTIVE, some node still up or powering down. UNKNOWN otherwise.
    """
    states = {p.state for p in partitions}
    if not partitions or len(states) != 1:
        return FleetStatus.UNKNOWN
    (state,) = states
    if state == "UP":
        booting = [n for n in nodes if n.static and not n.ready]
        return FleetStatus.STARTING if booting else FleetStatus.RUNNING
    if state == "INACTIVE":
        done = all(n.powered_down and not n.powering_down for n in nodes)
        return FleetStatus.STOPPED if done else FleetStatus.STOPPING
    return FleetStatus.UNKNOWN

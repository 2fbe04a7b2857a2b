"""Slurm: rendering its configuration, parsing its output, and the fleet commands (all pure)."""

from corral.slurm.conf import SlurmRuntime, render_gres_conf, render_slurm_conf
from corral.slurm.fleet import FleetStatus, fleet_status, start_fleet_commands, stop_fleet_commands
from corral.slurm.status import NodeState, PartitionState, parse_nodes, parse_partitions

__all__ = [
    "FleetStatus",
    "NodeState",
    "PartitionState",
    "SlurmRuntime",
    "fleet_status",
    "parse_nodes",
    "parse_partitions",
    "render_gres_conf",
    "render_slurm_conf",
    "start_fleet_commands",
    "stop_fleet_commands",
]

"""Starting and stopping the compute fleet through Slurm on the head node, recorded in the store.

The scontrol commands and the reading of Slurm's state are decided in ``corral.slurm``; this module
runs them through ``provider.run_on_head`` and moves the fleet status along its transition table.

The head node's reconciler reads the same record each pass (``corral.daemons.fleet_requests``): it
applies a request still pending, finishes STOPPING/STARTING once Slurm shows it, and records
PROTECTED while a queue is in protected mode (and RUNNING once none is). Both writers use the
store's versioned saves; a save that loses to the reconciler is re-read, never reported as an error.
"""

from __future__ import annotations

from dataclasses import replace

from corral.errors import BadRequestError, ConflictError, ProviderError
from corral.providers.base import Provider
from corral.service._codec import plan_from_json
from corral.service._views import FleetView
from corral.slurm import fleet as slurm_fleet
from corral.slurm.status import (
    SCONTROL_NODES_ARGV,
    SCONTROL_PARTITIONS_ARGV,
    parse_nodes,
    parse_partitions,
)
from corral.state import WORKING, ClusterRecord, FleetStatus, StaleWriteError, StateStore, utc_now

F = FleetStatus

#: request -> (in-progress status, final status, statuses in which the request is already satisfied)
_REQUESTS: dict[str, tuple[FleetStatus, FleetStatus, FleetStatus, frozenset[FleetStatus]]] = {
    "STOP_REQUESTED": (
        F.STOP_REQUESTED,
        F.STOPPING,
        F.STOPPED,
        frozenset({F.STOP_REQUESTED, F.STOPPING, F.STOPPED}),
    ),
    "START_REQUESTED": (
        F.START_REQUESTED,
        F.STARTING,
        F.RUNNING,
        frozenset({F.START_REQUESTED, F.STARTING, F.RUNNING}),
    ),
}


def observe(provider: Provider, record: ClusterRecord) -> FleetStatus:
    """The fleet status Slurm shows now, or UNKNOWN when Slurm cannot be asked."""
    try:
        parts = provider.run_on_head(record.name, list(SCONTROL_PARTITIONS_ARGV), timeout=20)
        nodes = provider.run_on_head(record.name, list(SCONTROL_NODES_ARGV), timeout=20)
    except ProviderError:
        return F.UNKNOWN
    if parts.returncode != 0 or nodes.returncode != 0:
        return F.UNKNOWN
    observed = slurm_fleet.fleet_status(parse_partitions(parts.stdout), parse_nodes(nodes.stdout))
    return FleetStatus(observed.value)


def describe(store: StateStore, provider: Provider, record: ClusterRecord) -> FleetView:
    """The recorded status, moved on to STOPPED/RUNNING when Slurm shows the stop/start finished."""
    if record.stack_status in WORKING and record.fleet_status in (F.STOPPING, F.STARTING):
        seen = observe(provider, record)
        final = F.STOPPED if record.fleet_status is F.STOPPING else F.RUNNING
        if seen is final:
            try:
                record = store.save(record, replace(record, fleet_status=final, fleet_updated_at=utc_now()))
            except StaleWriteError:
                record = store.get(record.name)  # the reconciler recorded it first
    return FleetView(record.fleet_status, record.fleet_updated_at)


def update(store: StateStore, provider: Provider, record: ClusterRecord, requested: str) -> FleetView:
    """Apply START_REQUESTED or STOP_REQUESTED: record the request, run the scontrol commands, record
    the in-progress status (and the final one when Slurm already shows it)."""
    if requested not in _REQUESTS:
        raise BadRequestError(
            "the update compute fleet status can only be set to `START_REQUESTED` or `STOP_REQUESTED` "
            "for Slurm scheduler clusters.",
            hint="use --status START_REQUESTED or --status STOP_REQUESTED",
        )
    if record.stack_status not in WORKING:
        verb = "stop/disable" if requested == "STOP_REQUESTED" else "start/enable"
        raise ConflictError(
            f"Cannot {verb} compute fleet while stack is in {record.stack_status} status.",
            hint=f"wait until `corral describe-cluster -n {record.name}` shows CREATE_COMPLETE",
        )
    request, progress, final, satisfied = _REQUESTS[requested]
    record = store.get(record.name)  # the reconciler may have moved it since it was read
    if record.fleet_status in satisfied:
        return describe(store, provider, record)
    plan = plan_from_json(record.plan_json)
    stop = requested == "STOP_REQUESTED"
    commands = slurm_fleet.stop_fleet_commands(plan) if stop else slurm_fleet.start_fleet_commands(plan)
    revert = F.RUNNING if stop else F.STOPPED
    record = _record(store, record, request)
    record = _record(store, record, progress)
    for argv in commands:
        result = provider.run_on_head(record.name, argv, timeout=60)
        if result.returncode != 0:
            _record(store, record, revert)
            raise ProviderError(
                f"`{' '.join(argv)}` failed on the head node of {record.name!r}: "
                f"{(result.stderr or result.stdout).strip()}",
                hint="check the head node's slurmctld with `corral ssh -n " + record.name + " -- sinfo`",
            )
    if observe(provider, record) is final:
        record = _record(store, record, final)
    return FleetView(record.fleet_status, record.fleet_updated_at)


#: how many times a fleet status is applied again to a record the reconciler saved meanwhile
_STALE_RETRIES = 5


def _record(store: StateStore, record: ClusterRecord, status: FleetStatus) -> ClusterRecord:
    """Save ``status`` as the fleet's. When another writer (the head's reconciler, each pass) saved
    the cluster since ``record`` was read, the status is applied to the fresh record instead of
    failing the user's command; a transition the fresh record does not allow still fails."""
    for attempt in range(_STALE_RETRIES + 1):
        try:
            return store.save(record, replace(record, fleet_status=status, fleet_updated_at=utc_now()))
        except StaleWriteError:
            if attempt == _STALE_RETRIES:
                raise
            record = store.get(record.name)
    raise AssertionError("unreachable")


__all__ = ["describe", "observe", "update"]

"""Cluster and compute-fleet lifecycles as transition tables.

A cluster's primary status is a CloudFormation-style stack status, as ParallelCluster keeps it; the
``clusterStatus`` users see is derived from it (``ROLLBACK_COMPLETE`` shows as ``CREATE_FAILED``,
exactly as ``pcluster`` maps it). Every allowed edge is listed once with the reason it exists; the
store rejects any other write, so no code path can invent a status change.
"""

from __future__ import annotations

import enum

from corral.errors import ConflictError


class StackStatus(enum.StrEnum):
    """The stack statuses Corral uses (a subset of CloudFormation's)."""

    CREATE_IN_PROGRESS = "CREATE_IN_PROGRESS"
    CREATE_COMPLETE = "CREATE_COMPLETE"
    CREATE_FAILED = "CREATE_FAILED"
    ROLLBACK_IN_PROGRESS = "ROLLBACK_IN_PROGRESS"
    ROLLBACK_COMPLETE = "ROLLBACK_COMPLETE"
    ROLLBACK_FAILED = "ROLLBACK_FAILED"
    DELETE_IN_PROGRESS = "DELETE_IN_PROGRESS"
    DELETE_FAILED = "DELETE_FAILED"
    DELETE_COMPLETE = "DELETE_COMPLETE"
    UPDATE_IN_PROGRESS = "UPDATE_IN_PROGRESS"
    UPDATE_COMPLETE = "UPDATE_COMPLETE"
    UPDATE_FAILED = "UPDATE_FAILED"
    UPDATE_ROLLBACK_IN_PROGRESS = "UPDATE_ROLLBACK_IN_PROGRESS"
    UPDATE_ROLLBACK_COMPLETE = "UPDATE_ROLLBACK_COMPLETE"
    UPDATE_ROLLBACK_FAILED = "UPDATE_ROLLBACK_FAILED"


S = StackStatus

#: (from, to) -> why the edge exists. ``DELETE_COMPLETE`` is never stored: reaching it removes the row.
STACK_TRANSITIONS: dict[tuple[StackStatus, StackStatus], str] = {
    (S.CREATE_IN_PROGRESS, S.CREATE_COMPLETE): "the provider built the head node, storage and static nodes",
    (S.CREATE_IN_PROGRESS, S.CREATE_FAILED): "create failed with rollback disabled, or its process died",
    (S.CREATE_IN_PROGRESS, S.ROLLBACK_IN_PROGRESS): "create failed and rollback-on-failure is on",
    (S.CREATE_IN_PROGRESS, S.DELETE_IN_PROGRESS): "the user deleted the cluster while it was being created",
    (S.ROLLBACK_IN_PROGRESS, S.ROLLBACK_COMPLETE): "everything the failed create built was removed",
    (
        S.ROLLBACK_IN_PROGRESS,
        S.ROLLBACK_FAILED,
    ): "the rollback could not remove everything, or its process died",
    (S.CREATE_COMPLETE, S.DELETE_IN_PROGRESS): "the user deleted a running cluster",
    (S.CREATE_FAILED, S.DELETE_IN_PROGRESS): "the user deleted a failed cluster kept for inspection",
    (S.ROLLBACK_COMPLETE, S.DELETE_IN_PROGRESS): "the user removed the record of a rolled-back create",
    (S.ROLLBACK_FAILED, S.DELETE_IN_PROGRESS): "the user retries the cleanup that the rollback left",
    (S.DELETE_FAILED, S.DELETE_IN_PROGRESS): "the user retries a delete that failed",
    (S.DELETE_IN_PROGRESS, S.DELETE_FAILED): "the provider could not remove everything, or the process died",
    (S.DELETE_IN_PROGRESS, S.DELETE_COMPLETE): "everything is gone; the row is removed",
    (S.CREATE_COMPLETE, S.UPDATE_IN_PROGRESS): "the user updates a running cluster",
    (S.UPDATE_COMPLETE, S.UPDATE_IN_PROGRESS): "the user updates a cluster again",
    (S.UPDATE_ROLLBACK_COMPLETE, S.UPDATE_IN_PROGRESS): "the user retries an update that was rolled back",
    (
        S.UPDATE_FAILED,
        S.UPDATE_IN_PROGRESS,
    ): "the user retries an update that was interrupted (the record still holds the applied config)",
    (
        S.UPDATE_ROLLBACK_FAILED,
        S.UPDATE_IN_PROGRESS,
    ): "the user converges a cluster whose rollback failed on a config again",
    (S.UPDATE_IN_PROGRESS, S.UPDATE_COMPLETE): "the update was applied",
    (S.UPDATE_IN_PROGRESS, S.UPDATE_FAILED): "the update failed and could not be rolled back",
    (S.UPDATE_IN_PROGRESS, S.UPDATE_ROLLBACK_IN_PROGRESS): "the update failed; the old config is restored",
    (S.UPDATE_ROLLBACK_IN_PROGRESS, S.UPDATE_ROLLBACK_COMPLETE): "the old config is back in place",
    (S.UPDATE_ROLLBACK_IN_PROGRESS, S.UPDATE_ROLLBACK_FAILED): "the old config could not be restored",
    (S.UPDATE_COMPLETE, S.DELETE_IN_PROGRESS): "the user deleted an updated cluster",
    (S.UPDATE_FAILED, S.DELETE_IN_PROGRESS): "the user deleted a cluster whose update failed",
    (
        S.UPDATE_ROLLBACK_COMPLETE,
        S.DELETE_IN_PROGRESS,
    ): "the user deleted a cluster after a rolled-back update",
    (S.UPDATE_ROLLBACK_FAILED, S.DELETE_IN_PROGRESS): "the user deleted a cluster stuck in a failed rollback",
}

#: Statuses in which some process is working on the cluster (its owner pid must be alive).
IN_PROGRESS = frozenset(
    {
        S.CREATE_IN_PROGRESS,
        S.ROLLBACK_IN_PROGRESS,
        S.DELETE_IN_PROGRESS,
        S.UPDATE_IN_PROGRESS,
        S.UPDATE_ROLLBACK_IN_PROGRESS,
    }
)

#: Where an in-progress status lands when its process is found dead: the work stopped half-way.
INTERRUPTED_TO: dict[StackStatus, StackStatus] = {
    S.CREATE_IN_PROGRESS: S.CREATE_FAILED,
    S.ROLLBACK_IN_PROGRESS: S.ROLLBACK_FAILED,
    S.DELETE_IN_PROGRESS: S.DELETE_FAILED,
    S.UPDATE_IN_PROGRESS: S.UPDATE_FAILED,
    S.UPDATE_ROLLBACK_IN_PROGRESS: S.UPDATE_ROLLBACK_FAILED,
}

#: Statuses in which the cluster runs and its compute fleet may be started or stopped.
WORKING = frozenset({S.CREATE_COMPLETE, S.UPDATE_COMPLETE, S.UPDATE_ROLLBACK_COMPLETE})

# pcluster's own mapping from stack status to ``clusterStatus`` (the stack status is shown as is
# when it is not listed here).
_CLUSTER_STATUS: dict[StackStatus, str] = {
    S.ROLLBACK_IN_PROGRESS: "CREATE_FAILED",
    S.ROLLBACK_FAILED: "CREATE_FAILED",
    S.ROLLBACK_COMPLETE: "CREATE_FAILED",
    S.UPDATE_ROLLBACK_IN_PROGRESS: "UPDATE_IN_PROGRESS",
    S.UPDATE_ROLLBACK_FAILED: "UPDATE_FAILED",
    S.UPDATE_ROLLBACK_COMPLETE: "UPDATE_FAILED",
}


def cluster_status(stack_status: StackStatus) -> str:
    """The ``clusterStatus`` pcluster reports for a stack status."""
    return _CLUSTER_STATUS.get(stack_status, stack_status.value)


def allowed_stack_transitions(current: StackStatus) -> tuple[StackStatus, ...]:
    """Every status ``current`` may move to, in table order."""
    return tuple(dst for (src, dst) in STACK_TRANSITIONS if src is current)


def check_stack_transition(cluster: str, current: StackStatus, new: StackStatus) -> None:
    """Raise ``ConflictError`` unless ``current -> new`` is an edge of the table."""
    if (current, new) in STACK_TRANSITIONS:
        return
    allowed = ", ".join(allowed_stack_transitions(current)) or "nothing"
    raise ConflictError(
        f"cluster {cluster!r} cannot go from {current} to {new}",
        hint=f"from {current} it can only go to: {allowed}",
    )


class FleetStatus(enum.StrEnum):
    """pcluster's ``ComputeFleetStatus`` (the values a Slurm cluster uses)."""

    UNKNOWN = "UNKNOWN"
    START_REQUESTED = "START_REQUESTED"
    STARTING = "STARTING"
    RUNNING = "RUNNING"
    PROTECTED = "PROTECTED"
    STOP_REQUESTED = "STOP_REQUESTED"
    STOPPING = "STOPPING"
    STOPPED = "STOPPED"


F = FleetStatus

#: (from, to) -> why. Requests made while the fleet is already there or on its way are no-ops (the
#: service does not write them), as pcluster's conditional status update does.
FLEET_TRANSITIONS: dict[tuple[FleetStatus, FleetStatus], str] = {
    (F.UNKNOWN, F.RUNNING): "the cluster was created; static nodes are up and dynamic nodes may launch",
    (F.RUNNING, F.STOP_REQUESTED): "the user asked to stop the fleet",
    (F.PROTECTED, F.STOP_REQUESTED): "the user stops a fleet that protected mode paused",
    (F.STOP_REQUESTED, F.STOPPING): "the nodes are being powered down and the partitions set INACTIVE",
    (F.STOPPING, F.STOPPED): "every compute node is down and no partition accepts jobs",
    (F.STOP_REQUESTED, F.RUNNING): "stopping failed before anything changed; the fleet is still up",
    (F.STOPPING, F.RUNNING): "stopping failed; the partitions were made UP again",
    (F.STOPPED, F.START_REQUESTED): "the user asked to start the fleet",
    (F.PROTECTED, F.START_REQUESTED): "the user restarts a fleet that protected mode paused",
    (F.START_REQUESTED, F.STARTING): "the partitions are being set UP and static nodes resumed",
    (F.STARTING, F.RUNNING): "the partitions accept jobs again",
    (F.START_REQUESTED, F.STOPPED): "starting failed before anything changed; the fleet is still stopped",
    (F.STARTING, F.STOPPED): "starting failed; the partitions were made INACTIVE again",
    (F.RUNNING, F.PROTECTED): "static nodes kept failing to bootstrap; launching is paused",
    (F.PROTECTED, F.RUNNING): "an administrator set the protected queues' partitions UP again",
    (F.STOPPING, F.START_REQUESTED): "the user asked to start the fleet before it finished stopping",
    (F.STARTING, F.STOP_REQUESTED): "the user asked to stop the fleet before it finished starting",
}


def check_fleet_transition(cluster: str, current: FleetStatus, new: FleetStatus) -> None:
    """Raise ``ConflictError`` unless ``current -> new`` is an edge of the fleet table."""
    if (current, new) in FLEET_TRANSITIONS:
        return
    raise ConflictError(
        f"the compute fleet of cluster {cluster!r} cannot go from {current} to {new}",
        hint="run `corral describe-compute-fleet -n " + cluster + "` to see where it is",
    )


__all__ = [
    "FLEET_TRANSITIONS",
    "INTERRUPTED_TO",
    "IN_PROGRESS",
    "STACK_TRANSITIONS",
    "WORKING",
    "FleetStatus",
    "StackStatus",
    "allowed_stack_transitions",
    "check_fleet_transition",
    "check_stack_transition",
    "cluster_status",
]

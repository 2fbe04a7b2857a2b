"""The state store: what Corral remembers about clusters, in SQLite under a state directory.

Public surface: ``StateStore`` (clusters with versioned writes, stack events), ``ClusterRecord``,
``StackEventRecord``, the lifecycle tables (``StackStatus``, ``FleetStatus`` and their transitions),
``ProcessIdentity`` (pid + start time of the process working on a cluster) and
``default_state_dir()``.
"""

from corral.state._health import StateStoreError, header_problem
from corral.state._lifecycle import (
    FLEET_TRANSITIONS,
    IN_PROGRESS,
    INTERRUPTED_TO,
    STACK_TRANSITIONS,
    WORKING,
    FleetStatus,
    StackStatus,
    allowed_stack_transitions,
    check_fleet_transition,
    check_stack_transition,
    cluster_status,
)
from corral.state._process import ProcessIdentity, process_start_ticks
from corral.state._records import ClusterRecord, StackEventRecord, utc_now
from corral.state._store import (
    DB_FILE,
    StaleWriteError,
    StateStore,
    default_state_dir,
    duplicate_cluster,
    unknown_cluster,
)

__all__ = [
    "DB_FILE",
    "FLEET_TRANSITIONS",
    "INTERRUPTED_TO",
    "IN_PROGRESS",
    "STACK_TRANSITIONS",
    "WORKING",
    "ClusterRecord",
    "FleetStatus",
    "ProcessIdentity",
    "StackEventRecord",
    "StackStatus",
    "StaleWriteError",
    "StateStore",
    "StateStoreError",
    "allowed_stack_transitions",
    "check_fleet_transition",
    "check_stack_transition",
    "cluster_status",
    "default_state_dir",
    "duplicate_cluster",
    "header_problem",
    "process_start_ticks",
    "unknown_cluster",
    "utc_now",
]

"""The records the state store keeps: one per cluster, and its stack events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from corral.state._lifecycle import FleetStatus, StackStatus, cluster_status
from corral.state._process import ProcessIdentity


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ClusterRecord:
    """Everything Corral remembers about one cluster.

    ``version`` is the row version for optimistic writes: a save succeeds only if nobody saved the
    cluster since it was read. ``owner`` is the process working on an in-progress status.
    """

    name: str
    stack_id: str
    stack_status: StackStatus
    provider: str
    config_text: str
    created_at: datetime
    updated_at: datetime
    config_path: str = ""
    region: str = ""
    plan_json: str = ""
    scheduler: str = "slurm"
    corral_version: str = ""
    pcluster_version: str = ""
    tags: tuple[tuple[str, str], ...] = ()
    fleet_status: FleetStatus = FleetStatus.UNKNOWN
    fleet_updated_at: datetime | None = None
    owner: ProcessIdentity | None = None
    rollback_on_failure: bool = True
    failure_code: str = ""
    failure_reason: str = ""
    version: int = 0

    @property
    def cluster_status(self) -> str:
        """pcluster's ``clusterStatus`` for this record."""
        return cluster_status(self.stack_status)


@dataclass(frozen=True)
class StackEventRecord:
    """One line of the cluster's event log, in CloudFormation's stack-event terms."""

    stack_id: str
    cluster_name: str
    timestamp: datetime
    logical_resource_id: str
    resource_type: str
    resource_status: str
    reason: str = ""
    physical_resource_id: str = ""
    event_id: int = 0  # assigned by the store, increasing


__all__ = ["ClusterRecord", "StackEventRecord", "utc_now"]

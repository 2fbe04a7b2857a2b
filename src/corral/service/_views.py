"""What the service returns, and its pcluster 3.16 JSON shape (``to_json``).

Each result is a frozen dataclass; ``to_json()`` gives the camelCase document of the matching
``*ResponseContent`` schema in ParallelCluster's openapi.yaml, with ``None`` fields left out as
pcluster's encoder does. The CLI and the REST API print these, so both stay in step.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from corral import PCLUSTER_COMPAT_VERSION
from corral.config.findings import Finding
from corral.providers.base import Instance, LoginPoolStatus, NodeRole
from corral.state import ClusterRecord, FleetStatus, StackEventRecord

JSON = dict[str, Any]

DRY_RUN_MESSAGE = "Request would have succeeded, but DryRun flag is set."


def iso(value: datetime) -> str:
    """pcluster's timestamp form: ISO 8601, UTC, milliseconds, ``Z`` (``2021-07-15T01:22:02.655Z``)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _messages(findings: tuple[Finding, ...]) -> list[dict[str, str]]:
    return [f.to_validation_message() for f in findings]


def cluster_info_summary(record: ClusterRecord) -> JSON:
    """``ClusterInfoSummary`` (list-clusters, create-cluster, delete-cluster)."""
    return {
        "clusterName": record.name,
        "cloudformationStackStatus": record.stack_status.value,
        "cloudformationStackArn": record.stack_id,
        "region": record.region,
        "version": record.pcluster_version or PCLUSTER_COMPAT_VERSION,
        "clusterStatus": record.cluster_status,
        "scheduler": {"type": record.scheduler},
    }


@dataclass(frozen=True)
class CreateAccepted:
    """The create was accepted and is running (or ran, with ``--wait``)."""

    record: ClusterRecord
    validation_messages: tuple[Finding, ...] = ()

    def to_json(self) -> JSON:
        out: JSON = {"cluster": cluster_info_summary(self.record)}
        if self.validation_messages:
            out["validationMessages"] = _messages(self.validation_messages)
        return out


@dataclass(frozen=True)
class DryRunResult:
    """A dry run that would have succeeded (``DryrunOperationExceptionResponseContent``)."""

    validation_messages: tuple[Finding, ...] = ()
    #: what the provider would deploy (``Provider.dry_run_summary``), for stderr; not in the JSON
    summary: str = ""

    def to_json(self) -> JSON:
        out: JSON = {"message": DRY_RUN_MESSAGE}
        if self.validation_messages:
            out["validationMessages"] = _messages(self.validation_messages)
        return out


def config_errors_json(message: str, findings: tuple[object, ...]) -> JSON:
    """``CreateClusterBadRequestExceptionResponseContent`` (and the BuildImage one): every finding."""
    errors = [f.to_validation_message() for f in findings if isinstance(f, Finding)]
    out: JSON = {"message": message}
    if errors:
        out["configurationValidationErrors"] = errors
    return out


def ec2_instance(instance: Instance) -> JSON:
    """``EC2Instance`` (describe-cluster's headNode)."""
    out: JSON = {
        "instanceId": instance.instance_id,
        "instanceType": instance.instance_type,
        "launchTime": iso(instance.launch_time),
        "privateIpAddress": instance.private_ip,
        "state": instance.state.value,
    }
    if instance.public_ip:
        out["publicIpAddress"] = instance.public_ip
    return out


def node_type(role: NodeRole) -> str:
    """pcluster's ``NodeType`` for a provider role."""
    return {NodeRole.HEAD: "HeadNode", NodeRole.LOGIN: "LoginNode"}.get(role, "ComputeNode")


def cluster_instance(instance: Instance) -> JSON:
    """``ClusterInstance`` (describe-cluster-instances)."""
    out = ec2_instance(instance)
    out["nodeType"] = node_type(instance.role)
    if instance.queue:
        out["queueName"] = instance.queue
    return out


@dataclass(frozen=True)
class ClusterDescription:
    """``DescribeClusterResponseContent``."""

    record: ClusterRecord
    head_node: Instance | None
    config_url: str
    #: the head node is not running: nothing can vouch for the fleet (pcluster's UNKNOWN)
    fleet_unknown: bool = False
    #: the login node pools (pcluster's ``loginNodes``), when the cluster has any
    login_pools: tuple[LoginPoolStatus, ...] = ()

    def to_json(self) -> JSON:
        r = self.record
        out: JSON = {
            "clusterName": r.name,
            "region": r.region,
            "version": r.pcluster_version or PCLUSTER_COMPAT_VERSION,
            "cloudFormationStackStatus": r.stack_status.value,
            "clusterStatus": r.cluster_status,
            "scheduler": {"type": r.scheduler},
            "cloudformationStackArn": r.stack_id,
            "creationTime": iso(r.created_at),
            "lastUpdatedTime": iso(r.updated_at),
            "clusterConfiguration": {"url": self.config_url},
            "computeFleetStatus": "UNKNOWN" if self.fleet_unknown else r.fleet_status.value,
            "tags": [{"key": k, "value": v} for k, v in r.tags],
        }
        if self.head_node is not None:
            out["headNode"] = ec2_instance(self.head_node)
        if self.login_pools:
            out["loginNodes"] = [p.to_json() for p in self.login_pools]
        if r.cluster_status == "CREATE_FAILED":
            out["failures"] = [
                {
                    "failureCode": r.failure_code or "ClusterCreationFailure",
                    "failureReason": r.failure_reason or "Failed to create the cluster.",
                }
            ]
        elif r.cluster_status == "DELETE_FAILED":
            out["failures"] = [
                {
                    "failureCode": "ClusterDeletionFailure",
                    "failureReason": r.failure_reason.lstrip("; ") or "Failed to delete the cluster.",
                }
            ]
        elif r.cluster_status == "UPDATE_FAILED" or (r.failure_reason and "UPDATE" in r.cluster_status):
            out["failures"] = [
                {
                    "failureCode": r.failure_code or "ClusterUpdateFailure",
                    "failureReason": r.failure_reason or "Failed to update the cluster.",
                }
            ]
        return out


@dataclass(frozen=True)
class ClusterList:
    """``ListClustersResponseContent``."""

    records: tuple[ClusterRecord, ...]

    def to_json(self) -> JSON:
        return {"clusters": [cluster_info_summary(r) for r in self.records]}


@dataclass(frozen=True)
class DeleteAccepted:
    """``DeleteClusterResponseContent``: the delete started (the record shows DELETE_IN_PROGRESS)."""

    record: ClusterRecord

    def to_json(self) -> JSON:
        return {"cluster": cluster_info_summary(self.record)}


@dataclass(frozen=True)
class InstanceList:
    """``DescribeClusterInstancesResponseContent``."""

    instances: tuple[Instance, ...]

    def to_json(self) -> JSON:
        return {"instances": [cluster_instance(i) for i in self.instances]}


@dataclass(frozen=True)
class FleetView:
    """``DescribeComputeFleetResponseContent`` / ``UpdateComputeFleetResponseContent``."""

    status: FleetStatus
    last_status_updated_time: datetime | None

    def to_json(self) -> JSON:
        out: JSON = {"status": self.status.value}
        if self.last_status_updated_time is not None:
            out["lastStatusUpdatedTime"] = iso(self.last_status_updated_time)
        return out


def stack_event(event: StackEventRecord) -> JSON:
    """``StackEvent``."""
    out: JSON = {
        "eventId": f"{event.stack_id}#{event.event_id}",
        "stackId": event.stack_id,
        "stackName": event.cluster_name,
        "logicalResourceId": event.logical_resource_id,
        "physicalResourceId": event.physical_resource_id or event.logical_resource_id,
        "resourceType": event.resource_type,
        "timestamp": iso(event.timestamp),
        "resourceStatus": event.resource_status,
    }
    if event.reason:
        out["resourceStatusReason"] = event.reason
    return out


@dataclass(frozen=True)
class StackEvents:
    """``GetClusterStackEventsResponseContent``: newest first, as CloudFormation lists them."""

    events: tuple[StackEventRecord, ...]

    def to_json(self) -> JSON:
        return {"events": [stack_event(e) for e in sorted(self.events, key=lambda e: -e.event_id)]}


__all__ = [
    "DRY_RUN_MESSAGE",
    "ClusterDescription",
    "ClusterList",
    "CreateAccepted",
    "DeleteAccepted",
    "DryRunResult",
    "FleetView",
    "InstanceList",
    "StackEvents",
    "cluster_info_summary",
    "cluster_instance",
    "config_errors_json",
    "iso",
    "node_type",
    "stack_event",
]

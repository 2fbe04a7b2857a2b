"""Stack events as the service records them, in CloudFormation's terms."""

from __future__ import annotations

from corral.state import ClusterRecord, StackEventRecord, StackStatus, utc_now

#: The cluster itself, as CloudFormation names a stack's own events.
STACK_RESOURCE_TYPE = "AWS::CloudFormation::Stack"
#: A part of the cluster a provider reports on (HeadNode, a storage, a static node, ...).
NODE_RESOURCE_TYPE = "Corral::Cluster::Resource"


def stack_event_record(record: ClusterRecord, status: StackStatus, reason: str) -> StackEventRecord:
    """An event of the cluster's own status (``logicalResourceId`` is the cluster name)."""
    return StackEventRecord(
        stack_id=record.stack_id,
        cluster_name=record.name,
        timestamp=utc_now(),
        logical_resource_id=record.name,
        physical_resource_id=record.stack_id,
        resource_type=STACK_RESOURCE_TYPE,
        resource_status=status.value,
        reason=reason,
    )


__all__ = ["NODE_RESOURCE_TYPE", "STACK_RESOURCE_TYPE", "stack_event_record"]

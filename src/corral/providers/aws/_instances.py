"""Reading a cluster's EC2 instances into ``Instance`` records, by the tags the template and the
Resume program put on them."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from corral.providers.aws._clients import AwsClients
from corral.providers.aws._errors import aws_call
from corral.providers.base import Instance, InstanceState, NodeRole

CLUSTER_TAG = "corral:cluster-name"
ROLE_TAG = "corral:node-role"
QUEUE_TAG = "corral:queue-name"
COMPUTE_RESOURCE_TAG = "corral:compute-resource-name"
#: The Slurm node an instance backs (set by the Resume program after CreateFleet).
NODE_NAME_TAG = "corral:node-name"
#: The login pool of a login node (its launch template and Auto Scaling group tag it).
LOGIN_POOL_TAG = "corral:login-pool"
_ROLES = {"HeadNode": NodeRole.HEAD, "LoginNode": NodeRole.LOGIN}
LIVE_STATES = ("pending", "running", "stopping", "stopped", "shutting-down")


def to_instance(raw: dict[str, Any]) -> Instance:
    """An ``Instance`` from one DescribeInstances entry."""
    tags = {t["Key"]: t["Value"] for t in raw.get("Tags", [])}
    role = _ROLES.get(tags.get(ROLE_TAG, ""), NodeRole.COMPUTE)
    return Instance(
        instance_id=raw["InstanceId"],
        role=role,
        instance_type=raw.get("InstanceType", ""),
        private_ip=raw.get("PrivateIpAddress", ""),
        state=InstanceState(raw["State"]["Name"]),
        launch_time=raw["LaunchTime"],
        node_name=tags.get(NODE_NAME_TAG) if role is NodeRole.COMPUTE else None,
        queue=tags.get(QUEUE_TAG),
        compute_resource=tags.get(COMPUTE_RESOURCE_TAG),
        public_ip=raw.get("PublicIpAddress") or None,
        pool=tags.get(LOGIN_POOL_TAG) if role is NodeRole.LOGIN else None,
    )


def _describe(clients: AwsClients, **kwargs: Any) -> list[Instance]:
    found: list[Instance] = []
    paginator = clients.ec2.get_paginator("describe_instances")
    pages = aws_call("DescribeInstances", lambda: list(paginator.paginate(**kwargs)))
    for page in pages:
        for reservation in page.get("Reservations", []):
            found.extend(to_instance(raw) for raw in reservation.get("Instances", []))
    return found


def cluster_instances(clients: AwsClients, cluster_name: str) -> list[Instance]:
    """The cluster's instances that are not terminated, head node first."""
    found = _describe(
        clients,
        Filters=[
            {"Name": f"tag:{CLUSTER_TAG}", "Values": [cluster_name]},
            {"Name": "instance-state-name", "Values": list(LIVE_STATES)},
        ],
    )
    return sorted(
        found, key=lambda i: (i.role is not NodeRole.HEAD, i.pool or "", i.node_name or "", i.instance_id)
    )


def describe_ids(clients: AwsClients, instance_ids: Sequence[str]) -> list[Instance]:
    return _describe(clients, InstanceIds=list(instance_ids)) if instance_ids else []


def tag_nodes(clients: AwsClients, cluster_name: str, nodes: Sequence[tuple[str, str, str, str]]) -> None:
    """Tag each ``(node, instance id, queue, compute resource)`` instance with what it backs (the
    launch template's tags say the same, except the node name; these make it certain). One
    CreateTags per instance (the node name differs), up to 8 at a time."""

    def tag(node: str, instance_id: str, queue: str, compute_resource: str) -> None:
        tags = {
            CLUSTER_TAG: cluster_name,
            ROLE_TAG: "Compute",
            QUEUE_TAG: queue,
            COMPUTE_RESOURCE_TAG: compute_resource,
            NODE_NAME_TAG: node,
            "Name": node,
        }
        aws_call(
            "CreateTags",
            clients.ec2.create_tags,
            Resources=[instance_id],
            Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda entry: tag(*entry), nodes))


__all__ = [
    "CLUSTER_TAG",
    "COMPUTE_RESOURCE_TAG",
    "LOGIN_POOL_TAG",
    "NODE_NAME_TAG",
    "QUEUE_TAG",
    "ROLE_TAG",
    "cluster_instances",
    "describe_ids",
    "tag_nodes",
    "to_instance",
]

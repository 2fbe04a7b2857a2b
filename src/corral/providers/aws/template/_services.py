"""The cluster's control-plane resources: the DynamoDB node-state table, the CloudWatch log group,
and the Route 53 private hosted zone for node names.

- Table ``NodeStateTable``: partition key ``Id`` (string), on-demand billing, point-in-time recovery
  off; deleted with the stack (the state is rebuilt from EC2 tags).
- Log group ``/aws/corral/<cluster>-<stack>``, ``<stack>`` the first 8 hex digits of the stack id's
  UUID (ParallelCluster names it ``/aws/parallelcluster/<cluster>-<timestamp>``): a group kept after
  delete (``DeletionPolicy: Retain``) never collides with the next cluster of the same name.
  ``RetentionInDays`` and ``DeletionPolicy`` from ``Monitoring/Logs/CloudWatch``; absent when
  CloudWatch logs are disabled. Nested stacks get the name as the ``LogGroupName`` parameter.
- DNS: when ``Scheduling/SlurmSettings/Dns/DisableManagedDns`` is false, a private hosted zone
  ``<cluster>.pcluster.`` on the VPC (as ParallelCluster names it), unless ``HostedZoneId`` names an
  existing zone, which is then used. The head node gets an A record ``head-node.<zone>``; compute
  records are written at launch by the head node (its role may change records in that zone only).
"""

from __future__ import annotations

from typing import Any

from troposphere import GetAtt, Join, Ref, Select, Split, Template
from troposphere.dynamodb import AttributeDefinition, KeySchema, Table
from troposphere.logs import LogGroup
from troposphere.route53 import HostedZone, HostedZoneConfiguration, HostedZoneVPCs, RecordSetType

from corral.providers.aws.template._context import Cluster
from corral.providers.aws.template._network import VPC_PARAMETER

TABLE = "NodeStateTable"
LOG_GROUP = "ClusterLogGroup"
HOSTED_ZONE = "ClusterHostedZone"


def add_table(template: Template, cluster: Cluster) -> tuple[Any, Any]:
    """Adds the node-state table; returns (its name, its ARN) as template values."""
    template.add_resource(
        Table(
            TABLE,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[AttributeDefinition(AttributeName="Id", AttributeType="S")],
            KeySchema=[KeySchema(AttributeName="Id", KeyType="HASH")],
            Tags=cluster.tagging.tags(role="Cluster"),
            DeletionPolicy="Delete",
            UpdateReplacePolicy="Delete",
        )
    )
    return Ref(TABLE), GetAtt(TABLE, "Arn")


LOG_GROUP_PREFIX = "/aws/corral/"


def log_group_name(cluster_name: str) -> Join:
    """``/aws/corral/<cluster>-<first 8 hex digits of this stack's id>`` (a template value: the
    stack id is known only to CloudFormation; in a nested stack it would be that stack's)."""
    uuid = Select(2, Split("/", Ref("AWS::StackId")))
    return Join("", [f"{LOG_GROUP_PREFIX}{cluster_name}-", Select(0, Split("-", uuid))])


def add_log_group(template: Template, cluster: Cluster) -> Any:
    """Adds the log group when CloudWatch logs are on; returns its name either way (node policies
    name it) as a template value."""
    cloudwatch = cluster.config.monitoring.logs.cloud_watch
    name = log_group_name(cluster.name)
    if not cloudwatch.enabled:
        return name
    template.add_resource(
        LogGroup(
            LOG_GROUP,
            LogGroupName=name,
            RetentionInDays=cloudwatch.retention_in_days,
            Tags=cluster.tagging.tags(role="Cluster"),
            DeletionPolicy=cloudwatch.deletion_policy,
            UpdateReplacePolicy=cloudwatch.deletion_policy,
        )
    )
    return Ref(LOG_GROUP)


def managed_dns(cluster: Cluster) -> bool:
    return not cluster.config.scheduling.slurm_settings.dns.disable_managed_dns


def add_dns(template: Template, cluster: Cluster) -> Any:
    """Adds the hosted zone (unless an existing one is named); returns the zone id, or None when
    managed DNS is disabled."""
    if not managed_dns(cluster):
        return None
    given = cluster.config.scheduling.slurm_settings.dns.hosted_zone_id
    if given:
        return given
    template.add_resource(
        HostedZone(
            HOSTED_ZONE,
            Name=f"{cluster.name.lower()}.pcluster.",
            VPCs=[HostedZoneVPCs(VPCId=Ref(VPC_PARAMETER), VPCRegion=Ref("AWS::Region"))],
            HostedZoneConfig=HostedZoneConfiguration(Comment=f"Corral cluster {cluster.name}"),
            HostedZoneTags=cluster.tagging.tags(role="Cluster"),
        )
    )
    return Ref(HOSTED_ZONE)


def add_head_record(template: Template, cluster: Cluster, zone: Any) -> None:
    """``head-node.<zone>`` -> the head node's private IP."""
    if zone is None or not isinstance(zone, Ref):
        return  # an existing zone's domain is unknown offline: the head node writes its record
    template.add_resource(
        RecordSetType(
            "HeadNodeDnsRecord",
            HostedZoneId=zone,
            Name=Join("", ["head-node.", f"{cluster.name.lower()}.pcluster."]),
            Type="A",
            TTL="300",
            ResourceRecords=[GetAtt("HeadNode", "PrivateIp")],
        )
    )

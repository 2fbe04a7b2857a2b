"""Security groups: one for the head node, one for compute nodes, each created only when the config
names no ``SecurityGroups`` of its own. SSH (and DCV) reach the head node only from ``AllowedIps``;
the head and compute groups trust each other and themselves, as Slurm and NFS need."""

from __future__ import annotations

from typing import Any

from troposphere import GetAtt, Ref, Template
from troposphere.ec2 import SecurityGroup, SecurityGroupIngress

from corral.providers.aws.template._context import Cluster

HEAD_SG = "HeadNodeSecurityGroup"
COMPUTE_SG = "ComputeSecurityGroup"
VPC_PARAMETER = "VpcId"


def _source(allowed: str) -> dict[str, str]:
    """An ingress source: a CIDR block, or a managed prefix list id (``pl-...``)."""
    return {"SourcePrefixListId": allowed} if allowed.startswith("pl-") else {"CidrIp": allowed}


def needs_compute_group(cluster: Cluster) -> bool:
    """Whether any queue relies on the compute security group Corral creates."""
    return any(not q.networking.security_groups for q in cluster.config.scheduling.slurm_queues)


def add_security_groups(template: Template, cluster: Cluster) -> tuple[list[Any], list[Any]]:
    """Adds the groups; returns (head node group ids, default compute group ids) as template values."""
    head_net = cluster.config.head_node.networking
    head_groups: list[Any] = list(head_net.security_groups)
    compute_groups: list[Any] = []
    if not head_groups:
        template.add_resource(_group(HEAD_SG, cluster, "HeadNode", "the head node"))
        _head_ingress(template, cluster)
        head_groups = [Ref(HEAD_SG)]
    if needs_compute_group(cluster):
        template.add_resource(_group(COMPUTE_SG, cluster, "Compute", "compute nodes"))
        _trust(template, COMPUTE_SG, COMPUTE_SG, "ComputeFromCompute")
        compute_groups = [Ref(COMPUTE_SG)]
        if not head_net.security_groups:
            _trust(template, COMPUTE_SG, HEAD_SG, "ComputeFromHead")
            _trust(template, HEAD_SG, COMPUTE_SG, "HeadFromCompute")
    head_groups += list(head_net.additional_security_groups)
    return head_groups, compute_groups


def _group(title: str, cluster: Cluster, role: str, what: str) -> SecurityGroup:
    return SecurityGroup(
        title,
        GroupDescription=f"Corral cluster {cluster.name}: {what}",
        VpcId=Ref(VPC_PARAMETER),
        Tags=cluster.tagging.tags(role=role),
    )


def _head_ingress(template: Template, cluster: Cluster) -> None:
    head = cluster.config.head_node
    template.add_resource(
        SecurityGroupIngress(
            "HeadNodeSshIngress",
            GroupId=GetAtt(HEAD_SG, "GroupId"),
            IpProtocol="tcp",
            FromPort=22,
            ToPort=22,
            Description="SSH from HeadNode/Ssh/AllowedIps",
            **_source(head.ssh.allowed_ips),
        )
    )
    if head.dcv is not None and head.dcv.enabled:
        template.add_resource(
            SecurityGroupIngress(
                "HeadNodeDcvIngress",
                GroupId=GetAtt(HEAD_SG, "GroupId"),
                IpProtocol="tcp",
                FromPort=head.dcv.port,
                ToPort=head.dcv.port,
                Description="DCV from HeadNode/Dcv/AllowedIps",
                **_source(head.dcv.allowed_ips),
            )
        )


def _trust(template: Template, group: str, source: str, title: str) -> None:
    """All traffic into ``group`` from members of ``source`` (Slurm, munge, NFS, MPI)."""
    template.add_resource(
        SecurityGroupIngress(
            f"{title}Ingress",
            GroupId=GetAtt(group, "GroupId"),
            IpProtocol="-1",
            SourceSecurityGroupId=GetAtt(source, "GroupId"),
            Description=f"All traffic from {source}",
        )
    )

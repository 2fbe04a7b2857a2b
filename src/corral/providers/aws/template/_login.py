"""Login node pools (``LoginNodes/Pools``): per pool, an Auto Scaling group behind a Network Load
Balancer, as ParallelCluster builds them.

For each pool (``prefix`` = ``login_prefix(pool)``):

- ``<prefix>SecurityGroup`` (unless the pool names ``SecurityGroups``): SSH (22) from
  ``Ssh/AllowedIps`` (a CIDR or a prefix list; default ``0.0.0.0/0`` as pcluster), and all traffic
  between it and the head node's and compute nodes' groups Corral created (slurmctld, srun's I/O
  back from slurmstepd, NFS);
- ``<prefix>Role``/``<prefix>InstanceProfile`` (unless ``Iam/InstanceRole``/``InstanceProfile``):
  read its cluster's artefacts, stack outputs and instance tags, write its log group, FSx's
  Describe calls when storage needs them, read the custom action scripts' buckets; nothing else
  (``AdditionalIamPolicies`` attached as managed policies, ``PermissionsBoundary`` honoured);
- ``<prefix>LaunchTemplate``: the pool's image (``Image/CustomAmi``, else the cluster's), instance
  type (the image's own root volume: pools have no ``LocalStorage``), the head node's key pair
  (pcluster 3.16 takes login nodes' key from ``HeadNode/Ssh``), the profile, security groups
  (``SecurityGroups`` or the created one, plus ``AdditionalSecurityGroups``), IMDS settings, tags
  (``corral:node-role=LoginNode``, ``corral:login-pool=<pool>``) and the user data in the
  ``LoginNode`` role;
- ``<prefix>TargetGroup`` (TCP 22, instance targets, TCP health checks),
  ``<prefix>LoadBalancer`` (network, in the pool's subnet; ``internet-facing`` when that subnet maps
  public IPs, else ``internal``) and ``<prefix>Listener`` (TCP 22 -> the target group);
- ``<prefix>AutoScalingGroup``: ``Count`` as min, max and desired capacity (update-cluster changes
  it through the stack), registered in the target group, with a termination lifecycle hook whose
  heartbeat is ``GracetimePeriod`` minutes (the node warns its users and waits that long).

Root outputs per pool: ``<prefix>AutoScalingGroupName``, ``<prefix>LoadBalancerArn``,
``<prefix>LoadBalancerDnsName``, ``<prefix>TargetGroupArn``.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from troposphere import GetAtt, Output, Ref, Template
from troposphere.autoscaling import (
    AutoScalingGroup,
    LaunchTemplateSpecification,
    LifecycleHookSpecification,
)
from troposphere.autoscaling import Tags as AsgTags
from troposphere.ec2 import (
    IamInstanceProfile,
    LaunchTemplate,
    LaunchTemplateData,
    MetadataOptions,
    SecurityGroup,
    SecurityGroupIngress,
    TagSpecifications,
)
from troposphere.elasticloadbalancingv2 import (
    Action,
    Listener,
    LoadBalancer,
    TargetGroup,
)

from corral.providers.aws.template._context import Cluster, Shared
from corral.providers.aws.template._iam import Profile, add_node_profile, login_statements
from corral.providers.aws.template._names import logical_id
from corral.providers.aws.template._network import COMPUTE_SG, HEAD_SG, VPC_PARAMETER
from corral.providers.aws.template._userdata import node_user_data

#: The tag naming the login pool of a launch template and of the instances launched from it.
LOGIN_POOL_TAG = "corral:login-pool"
LOGIN_ROLE = "LoginNode"
SSH_PORT = 22


def login_prefix(pool: str) -> str:
    """The logical id prefix of a pool's resources (and of its root outputs)."""
    return logical_id("LoginPool", pool)


def login_output_keys(pool: str) -> dict[str, str]:
    """What the root stack outputs for a pool: kind -> output key."""
    prefix = login_prefix(pool)
    return {
        kind: f"{prefix}{kind}"
        for kind in ("AutoScalingGroupName", "LoadBalancerArn", "LoadBalancerDnsName", "TargetGroupArn")
    }


def _source(allowed: str) -> dict[str, str]:
    return {"SourcePrefixListId": allowed} if allowed.startswith("pl-") else {"CidrIp": allowed}


def _pool_groups(template: Template, cluster: Cluster, pool: Any, prefix: str) -> list[Any]:
    """The pool's security groups: its own, or a new one with SSH from ``AllowedIps`` and trust
    with the head node's and compute nodes' groups Corral created."""
    groups: list[Any] = list(pool.networking.security_groups)
    if not groups:
        title = f"{prefix}SecurityGroup"
        template.add_resource(
            SecurityGroup(
                title,
                GroupDescription=f"Corral cluster {cluster.name}: login nodes of pool {pool.name}",
                VpcId=Ref(VPC_PARAMETER),
                Tags=cluster.tagging.tags(role=LOGIN_ROLE),
            )
        )
        allowed = pool.ssh.allowed_ips if pool.ssh is not None and pool.ssh.allowed_ips else "0.0.0.0/0"
        template.add_resource(
            SecurityGroupIngress(
                f"{prefix}SshIngress",
                GroupId=GetAtt(title, "GroupId"),
                IpProtocol="tcp",
                FromPort=SSH_PORT,
                ToPort=SSH_PORT,
                Description=f"SSH from LoginNodes/Pools[{pool.name}]/Ssh/AllowedIps",
                **_source(allowed),
            )
        )
        for other in (HEAD_SG, COMPUTE_SG):
            if other in template.resources:
                _trust(template, title, other)
                _trust(template, other, title)
        groups = [Ref(title)]
    return groups + list(pool.networking.additional_security_groups)


def _trust(template: Template, group: str, source: str) -> None:
    template.add_resource(
        SecurityGroupIngress(
            f"{group}From{source}Ingress",
            GroupId=GetAtt(group, "GroupId"),
            IpProtocol="-1",
            SourceSecurityGroupId=GetAtt(source, "GroupId"),
            Description=f"All traffic from {source}",
        )
    )


def _image(cluster: Cluster, pool: Any, shared: Shared) -> Any:
    if pool.image is not None:
        return pool.image.custom_ami
    if cluster.config.image.custom_ami:
        return cluster.config.image.custom_ami
    return shared.images[cluster.plan.head_node.shape.architecture]


def _launch_template(
    template: Template, cluster: Cluster, pool: Any, shared: Shared, profile: Profile, groups: list[Any]
) -> str:
    prefix = login_prefix(pool.name)
    tags = cluster.tagging.tags([("Name", "LoginNode"), (LOGIN_POOL_TAG, pool.name)], role=LOGIN_ROLE)
    data = LaunchTemplateData(
        ImageId=_image(cluster, pool, shared),
        InstanceType=pool.instance_type,
        IamInstanceProfile=IamInstanceProfile(Arn=profile.profile_arn),
        MetadataOptions=MetadataOptions(
            HttpTokens="required" if cluster.config.imds.imds_support == "v2.0" else "optional",
            InstanceMetadataTags="enabled",
        ),
        SecurityGroupIds=groups,
        TagSpecifications=[
            TagSpecifications(ResourceType="instance", Tags=tags),
            TagSpecifications(ResourceType="volume", Tags=tags),
        ],
        UserData=node_user_data(cluster, shared, LOGIN_ROLE, pool=pool.name),
    )
    if cluster.config.head_node.ssh.key_name:
        data.KeyName = cluster.config.head_node.ssh.key_name
    title = f"{prefix}LaunchTemplate"
    template.add_resource(
        LaunchTemplate(
            title,
            LaunchTemplateData=data,
            TagSpecifications=[TagSpecifications(ResourceType="launch-template", Tags=tags)],
        )
    )
    return title


def _load_balancer(template: Template, cluster: Cluster, pool: Any, public: bool) -> tuple[str, str]:
    """The pool's target group and Network Load Balancer with its SSH listener."""
    prefix = login_prefix(pool.name)
    tags = cluster.tagging.tags([(LOGIN_POOL_TAG, pool.name)], role=LOGIN_ROLE)
    group, balancer = f"{prefix}TargetGroup", f"{prefix}LoadBalancer"
    template.add_resource(
        TargetGroup(
            group,
            Port=SSH_PORT,
            Protocol="TCP",
            TargetType="instance",
            VpcId=Ref(VPC_PARAMETER),
            HealthCheckProtocol="TCP",
            HealthCheckPort=str(SSH_PORT),
            Tags=tags,
        )
    )
    template.add_resource(
        LoadBalancer(
            balancer,
            Type="network",
            Scheme="internet-facing" if public else "internal",
            Subnets=list(pool.networking.subnet_ids),
            Tags=tags,
        )
    )
    template.add_resource(
        Listener(
            f"{prefix}Listener",
            LoadBalancerArn=Ref(balancer),
            Port=SSH_PORT,
            Protocol="TCP",
            DefaultActions=[Action(Type="forward", TargetGroupArn=Ref(group))],
        )
    )
    return group, balancer


def _auto_scaling_group(
    template: Template, cluster: Cluster, pool: Any, launch_template: str, target_group: str
) -> str:
    prefix = login_prefix(pool.name)
    title = f"{prefix}AutoScalingGroup"
    pairs = cluster.tagging.pairs([(LOGIN_POOL_TAG, pool.name)], role=LOGIN_ROLE)
    template.add_resource(
        AutoScalingGroup(
            title,
            LaunchTemplate=LaunchTemplateSpecification(
                LaunchTemplateId=Ref(launch_template),
                Version=GetAtt(launch_template, "LatestVersionNumber"),
            ),
            MinSize=str(pool.count),
            MaxSize=str(pool.count),
            DesiredCapacity=str(pool.count),
            VPCZoneIdentifier=list(pool.networking.subnet_ids),
            TargetGroupARNs=[Ref(target_group)],
            LifecycleHookSpecificationList=[
                LifecycleHookSpecification(
                    LifecycleHookName="LoginNodesTerminatingLifecycleHook",
                    LifecycleTransition="autoscaling:EC2_INSTANCE_TERMINATING",
                    HeartbeatTimeout=pool.gracetime_period * 60,
                    DefaultResult="CONTINUE",
                )
            ],
            Tags=AsgTags(**{key: (value, True) for key, value in pairs}),
        )
    )
    return title


def add_login_pools(
    template: Template, cluster: Cluster, shared: Shared, public_subnets: Collection[str] = ()
) -> None:
    """Adds every pool of ``LoginNodes/Pools`` (nothing without the section), with its outputs."""
    if cluster.config.login_nodes is None:
        return
    for pool in cluster.config.login_nodes.pools:
        prefix = login_prefix(pool.name)
        groups = _pool_groups(template, cluster, pool, prefix)
        profile = add_node_profile(
            template,
            cluster,
            prefix,
            pool.iam,
            login_statements(cluster, pool, shared),
            cluster.tagging.tags(role=LOGIN_ROLE),
        )
        launch_template = _launch_template(template, cluster, pool, shared, profile, groups)
        public = pool.networking.subnet_ids[0] in public_subnets
        target_group, balancer = _load_balancer(template, cluster, pool, public)
        group = _auto_scaling_group(template, cluster, pool, launch_template, target_group)
        keys = login_output_keys(pool.name)
        template.add_output(Output(keys["AutoScalingGroupName"], Value=Ref(group)))
        template.add_output(Output(keys["LoadBalancerArn"], Value=Ref(balancer)))
        template.add_output(Output(keys["LoadBalancerDnsName"], Value=GetAtt(balancer, "DNSName")))
        template.add_output(Output(keys["TargetGroupArn"], Value=Ref(target_group)))


__all__ = ["LOGIN_POOL_TAG", "add_login_pools", "login_output_keys", "login_prefix"]

"""The head node: one ``AWS::EC2::Instance`` with its root volume, network, profile and user data,
plus its Elastic IP when ``HeadNode/Networking/ElasticIp`` asks for one."""

from __future__ import annotations

from typing import Any

from troposphere import GetAtt, Ref, Template
from troposphere.ec2 import (
    EIP,
    CpuOptions,
    EbsBlockDevice,
    EIPAssociation,
    Instance,
    MetadataOptions,
    NetworkInterfaceProperty,
)
from troposphere.ec2 import BlockDeviceMapping as InstanceBlockDevice
from troposphere.policies import CreationPolicy, ResourceSignal

from corral.providers.aws.template._context import Cluster, Shared
from corral.providers.aws.template._iam import Profile
from corral.providers.aws.template._userdata import node_user_data

HEAD_NODE = "HeadNode"

#: The root device name of each OS's official images.
_ROOT_DEVICE = {"alinux2": "/dev/xvda", "alinux2023": "/dev/xvda"}


def root_device(os_name: str) -> str:
    """The root device name of the OS's images (Ubuntu, RHEL and Rocky use ``/dev/sda1``)."""
    return _ROOT_DEVICE.get(os_name, "/dev/sda1")


def _image(cluster: Cluster, shared: Shared) -> Any:
    head = cluster.config.head_node
    if head.image is not None:
        return head.image.custom_ami
    if cluster.config.image.custom_ami:
        return cluster.config.image.custom_ami
    return shared.images[cluster.plan.head_node.shape.architecture]


def _root_volume(cluster: Cluster) -> InstanceBlockDevice:
    root = cluster.config.head_node.local_storage.root_volume
    ebs = EbsBlockDevice(
        VolumeSize=root.size,
        VolumeType=root.volume_type,
        Encrypted=root.encrypted,
        DeleteOnTermination=root.delete_on_termination,
    )
    if root.iops is not None and root.volume_type in ("io1", "io2", "gp3"):
        ebs.Iops = root.iops
    # AWS::EC2::Instance's block devices take no Throughput (gp3's default 125 MiB/s applies).
    return InstanceBlockDevice(DeviceName=root_device(cluster.config.image.os), Ebs=ebs)


def add_head_node(
    template: Template, cluster: Cluster, shared: Shared, groups: list[Any], profile: Profile
) -> Instance:
    """Adds the head node (and its Elastic IP); returns the instance."""
    head = cluster.config.head_node
    instance = Instance(
        HEAD_NODE,
        ImageId=_image(cluster, shared),
        InstanceType=head.instance_type,
        IamInstanceProfile=_profile_name(profile),
        BlockDeviceMappings=[_root_volume(cluster)],
        NetworkInterfaces=[
            NetworkInterfaceProperty(
                DeviceIndex="0",
                SubnetId=head.networking.subnet_id,
                GroupSet=groups,
                DeleteOnTermination=True,
            )
        ],
        Monitoring=cluster.config.monitoring.detailed_monitoring,
        UserData=node_user_data(cluster, shared, "HeadNode"),
        Tags=cluster.tagging.tags([("Name", "HeadNode")], role="HeadNode"),
    )
    if head.disable_simultaneous_multithreading:
        shape = cluster.plan.head_node.shape
        instance.CpuOptions = CpuOptions(CoreCount=shape.sockets * shape.cores_per_socket, ThreadsPerCore=1)
    if head.ssh.key_name:
        instance.KeyName = head.ssh.key_name
    instance.MetadataOptions = MetadataOptions(
        HttpTokens="required" if cluster.config.imds.imds_support == "v2.0" else "optional",
        InstanceMetadataTags="enabled",
    )
    # CREATE_COMPLETE means the head node bootstrapped: its node program signals the stack once the
    # agent is done (corral.providers.aws.node), as pcluster's head node wait condition does.
    instance.CreationPolicy = CreationPolicy(
        ResourceSignal=ResourceSignal(Count=1, Timeout=f"PT{cluster.plan.head_node_bootstrap_timeout_s}S")
    )
    template.add_resource(instance)
    _elastic_ip(template, cluster, head.networking.elastic_ip)
    return instance


def _profile_name(profile: Profile) -> Any:
    """``AWS::EC2::Instance`` wants the profile's name; a given ARN ends with it."""
    if isinstance(profile.profile_arn, str):
        return profile.profile_arn.rsplit("/", 1)[-1]
    return Ref(profile.profile_arn.data["Fn::GetAtt"][0])


def _elastic_ip(template: Template, cluster: Cluster, elastic_ip: bool | str | None) -> None:
    if elastic_ip in (None, False, "false", "False"):
        return
    if elastic_ip in (True, "true", "True"):
        template.add_resource(
            EIP("HeadNodeElasticIp", Domain="vpc", Tags=cluster.tagging.tags(role="HeadNode"))
        )
        template.add_resource(
            EIPAssociation(
                "HeadNodeElasticIpAssociation",
                AllocationId=GetAtt("HeadNodeElasticIp", "AllocationId"),
                InstanceId=Ref(HEAD_NODE),
            )
        )
        return
    template.add_resource(
        EIPAssociation(
            "HeadNodeElasticIpAssociation", AllocationId=str(elastic_ip), InstanceId=Ref(HEAD_NODE)
        )
    )

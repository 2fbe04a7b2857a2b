"""Compute: per queue, its role and instance profile (unless the config gives them), an optional
placement group, and one launch template per compute resource.

Launch templates carry what every launch shares (image, profile, security groups, root volume, key,
IMDS, tags, user data); the provider's CreateFleet call adds the instance types and subnets as
overrides. A single-instance-type compute resource also names its type in the template, so plain
RunInstances works too. Market options (spot) stay out of the template: EC2 Fleet takes them from
the request, not from launch templates.
"""

from __future__ import annotations

from typing import Any

from troposphere import GetAtt, Output, Ref, Tags, Template
from troposphere.ec2 import (
    CapacityReservationSpecification,
    CapacityReservationTarget,
    CpuOptions,
    EBSBlockDevice,
    IamInstanceProfile,
    InstanceMarketOptions,
    LaunchTemplate,
    LaunchTemplateBlockDeviceMapping,
    LaunchTemplateData,
    MetadataOptions,
    Monitoring,
    NetworkInterfaces,
    Placement,
    PlacementGroup,
    TagSpecifications,
)

from corral.providers.aws.template._context import Cluster, Shared
from corral.providers.aws.template._head import root_device
from corral.providers.aws.template._iam import Profile, add_node_profile, compute_statements
from corral.providers.aws.template._names import launch_template_output_key, logical_id
from corral.providers.aws.template._userdata import node_user_data


def add_queue(template: Template, cluster: Cluster, queue: Any, shared: Shared) -> None:
    """Adds one queue's role, profile, placement group and launch templates, with Outputs."""
    prefix = logical_id("Compute", queue.name)
    tags = cluster.tagging.tags(_pairs(queue.tags), role="Compute", queue=queue.name)
    profile = add_node_profile(
        template, cluster, prefix, queue.iam, compute_statements(cluster, queue, shared), tags
    )
    if profile.role_arn is not None and not isinstance(profile.role_arn, str):
        template.add_output(Output(f"{prefix}RoleArn", Value=profile.role_arn))
    for cr in queue.compute_resources:
        key = launch_template_output_key(queue.name, cr.name)
        template.add_resource(_launch_template(key, cluster, queue, cr, shared, profile, template))
        template.add_output(Output(key, Value=Ref(key)))
        template.add_output(Output(f"{key}Version", Value=GetAtt(key, "LatestVersionNumber")))


def _pairs(tags: Any) -> list[tuple[str, str]]:
    return [(t.key, t.value) for t in tags]


def _merged_tags(cluster: Cluster, queue: Any, cr: Any) -> Tags:
    """Cluster tags, then the queue's, then the compute resource's (later wins), sorted by key."""
    extra = _pairs(queue.tags) + _pairs(cr.tags) + [("Name", "Compute")]
    return cluster.tagging.tags(extra, role="Compute", queue=queue.name, compute_resource=cr.name)


def _image(cluster: Cluster, queue: Any, shared: Shared) -> Any:
    if queue.image is not None:
        return queue.image.custom_ami
    if cluster.config.image.custom_ami:
        return cluster.config.image.custom_ami
    return shared.images[cluster.queue_architecture(queue.name)]


def _root_volume(cluster: Cluster, queue: Any) -> LaunchTemplateBlockDeviceMapping:
    root = queue.compute_settings.local_storage.root_volume
    ebs = EBSBlockDevice(
        VolumeSize=root.size, VolumeType=root.volume_type, Encrypted=root.encrypted, DeleteOnTermination=True
    )
    if root.iops is not None and root.volume_type in ("io1", "io2", "gp3"):
        ebs.Iops = root.iops
    if root.throughput is not None and root.volume_type == "gp3":
        ebs.Throughput = root.throughput
    return LaunchTemplateBlockDeviceMapping(DeviceName=root_device(cluster.config.image.os), Ebs=ebs)


def _placement(template: Template, cluster: Cluster, queue: Any, cr: Any, key: str) -> Placement | None:
    """The compute resource's placement group (its own setting wins over the queue's); a new
    cluster placement group when enabled without a name."""
    group = cr.networking.placement_group
    if group.enabled is None and group.id is None and group.name is None:
        group = queue.networking.placement_group
    name = group.name or group.id
    if name:
        return Placement(GroupName=name)
    if not group.enabled:
        return None
    title = f"{key}PlacementGroup"
    template.add_resource(
        PlacementGroup(title, Strategy="cluster", Tags=cluster.tagging.tags(role="Compute"))
    )
    return Placement(GroupName=Ref(title))


def _network(queue: Any, cr: Any, shared: Shared) -> dict[str, Any]:
    """Security groups directly, or a primary interface when a public IP or EFA is asked for."""
    groups = list(queue.networking.security_groups) or list(shared.compute_security_groups)
    groups += list(queue.networking.additional_security_groups)
    if queue.networking.assign_public_ip is None and not cr.efa.enabled:
        return {"SecurityGroupIds": groups}
    interface = NetworkInterfaces(DeviceIndex=0, Groups=groups, DeleteOnTermination=True)
    if queue.networking.assign_public_ip is not None:
        interface.AssociatePublicIpAddress = queue.networking.assign_public_ip
    if cr.efa.enabled:
        interface.InterfaceType = "efa"
    return {"NetworkInterfaces": [interface]}


def _launch_template(
    key: str, cluster: Cluster, queue: Any, cr: Any, shared: Shared, profile: Profile, template: Template
) -> LaunchTemplate:
    tags = _merged_tags(cluster, queue, cr)
    data = LaunchTemplateData(
        ImageId=_image(cluster, queue, shared),
        IamInstanceProfile=IamInstanceProfile(Arn=profile.profile_arn),
        BlockDeviceMappings=[_root_volume(cluster, queue)],
        MetadataOptions=MetadataOptions(
            HttpTokens="required" if cluster.config.imds.imds_support == "v2.0" else "optional",
            InstanceMetadataTags="enabled",
        ),
        Monitoring=Monitoring(Enabled=cluster.config.monitoring.detailed_monitoring),
        TagSpecifications=[
            TagSpecifications(ResourceType="instance", Tags=tags),
            TagSpecifications(ResourceType="volume", Tags=tags),
            TagSpecifications(ResourceType="network-interface", Tags=tags),
        ],
        UserData=node_user_data(cluster, shared, "Compute", queue.name, cr.name),
        **_network(queue, cr, shared),
    )
    if len(cr.instance_types) == 1:
        data.InstanceType = cr.instance_types[0]
    if cluster.config.head_node.ssh.key_name:
        data.KeyName = cluster.config.head_node.ssh.key_name
    placement = _placement(template, cluster, queue, cr, key)
    if placement is not None:
        data.Placement = placement
    _capacity_reservation(data, queue, cr)
    if str(queue.capacity_type) == "CAPACITY_BLOCK":
        data.InstanceMarketOptions = InstanceMarketOptions(MarketType="capacity-block")
    if cr.disable_simultaneous_multithreading and len(cr.instance_types) == 1:
        # one core per vCPU pair, as the plan's shape (Slurm's CPUs); several types cannot share one
        # CpuOptions, so their nodes turn SMT off themselves (the node program, as pcluster's cookbook)
        place = (queue.name, cr.name)
        shape = next(n.shape for n in cluster.plan.nodes if (n.queue, n.compute_resource) == place)
        data.CpuOptions = CpuOptions(CoreCount=shape.sockets * shape.cores_per_socket, ThreadsPerCore=1)
    return LaunchTemplate(
        key,
        LaunchTemplateData=data,
        TagSpecifications=[TagSpecifications(ResourceType="launch-template", Tags=tags)],
    )


def _capacity_reservation(data: LaunchTemplateData, queue: Any, cr: Any) -> None:
    target = cr.capacity_reservation_target or queue.capacity_reservation_target
    if target is None:
        return
    if target.capacity_reservation_id:
        found = CapacityReservationTarget(CapacityReservationId=target.capacity_reservation_id)
    else:
        found = CapacityReservationTarget(
            CapacityReservationResourceGroupArn=target.capacity_reservation_resource_group_arn
        )
    data.CapacityReservationSpecification = CapacityReservationSpecification(CapacityReservationTarget=found)


__all__ = ["add_queue"]

"""Slurm queues and their compute resources (``Scheduling/SlurmQueues[]``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from corral.config.model._base import (
    MOUNT_DIR,
    SECURITY_GROUP_ID,
    SUBNET_ID,
    Bool,
    ConfigModel,
    F,
    Float,
    Int,
    SettingPairs,
    Str,
    fill_defaults,
    raw_get,
)
from corral.config.model.common import (
    CapacityReservationTarget,
    HealthChecks,
    PlacementGroup,
    QueueCustomActions,
    QueueIam,
    QueueImage,
    QueueProxy,
    QueueTag,
)
from corral.config.model.head_node import (
    DEFAULT_EPHEMERAL_DIR,
    DEFAULT_ROOT_VOLUME_SIZE_GIB,
    check_security_groups_exclusive,
    ebs_defaults,
)
from corral.config.policies import UpdatePolicy as P

#: ParallelCluster's compute resource defaults (``pcluster.constants``).
DEFAULT_MIN_COUNT = 0
DEFAULT_MAX_COUNT = 10
MAX_SLURM_NODE_PRIORITY = 2**32 - 1

CapacityType = Literal["CAPACITY_BLOCK", "ONDEMAND", "SPOT"]
AllocationStrategy = Literal[
    "lowest-price",
    "capacity-optimized",
    "price-capacity-optimized",
    "prioritized",
    "capacity-optimized-prioritized",
]


class QueueRootVolume(ConfigModel):
    size: Int = F("Size", P.QUEUE_UPDATE_STRATEGY, DEFAULT_ROOT_VOLUME_SIZE_GIB)
    encrypted: Bool = F("Encrypted", P.QUEUE_UPDATE_STRATEGY, True)
    #: A plain string in ParallelCluster's queue schema (no choice list there; validators check it).
    volume_type: Str = F("VolumeType", P.QUEUE_UPDATE_STRATEGY, "gp3")
    iops: Int | None = F("Iops", P.QUEUE_UPDATE_STRATEGY, None)
    throughput: Int | None = F("Throughput", P.QUEUE_UPDATE_STRATEGY, None)

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data: Any) -> Any:
        return ebs_defaults(cls, data)


class QueueEphemeralVolume(ConfigModel):
    mount_dir: MOUNT_DIR = F("MountDir", P.QUEUE_UPDATE_STRATEGY, DEFAULT_EPHEMERAL_DIR)


class QueueStorage(ConfigModel):
    """``SlurmQueues[]/ComputeSettings/LocalStorage``."""

    root_volume: QueueRootVolume = F("RootVolume", P.QUEUE_UPDATE_STRATEGY, default_factory=QueueRootVolume)
    ephemeral_volume: QueueEphemeralVolume | None = F("EphemeralVolume", P.QUEUE_UPDATE_STRATEGY, None)


class ComputeSettings(ConfigModel):
    local_storage: QueueStorage = F("LocalStorage", P.QUEUE_UPDATE_STRATEGY, default_factory=QueueStorage)


class InstanceType(ConfigModel):
    """One item of a compute resource's ``Instances[]`` (``InstanceTypeSchema``)."""

    instance_type: Str = F("InstanceType", P.COMPUTE_FLEET_STOP)


class Efa(ConfigModel):
    enabled: Bool = F("Enabled", P.QUEUE_UPDATE_STRATEGY, False)
    gdr_support: Bool = F("GdrSupport", P.QUEUE_UPDATE_STRATEGY, False)


class SlurmComputeResourceNetworking(ConfigModel):
    placement_group: PlacementGroup = F(
        "PlacementGroup", P.MANAGED_PLACEMENT_GROUP, default_factory=PlacementGroup
    )


class LaunchTemplateOverrides(ConfigModel):
    launch_template_id: Str = F("LaunchTemplateId", P.QUEUE_UPDATE_STRATEGY)
    version: Int = F("Version", P.QUEUE_UPDATE_STRATEGY, ge=1)


class SlurmComputeResource(ConfigModel):
    name: Str = F("Name", P.UNSUPPORTED)
    instance_type: Str | None = F("InstanceType", P.COMPUTE_FLEET_STOP, None)
    instances: tuple[InstanceType, ...] = F("Instances", P.COMPUTE_FLEET_STOP_ON_REMOVE, ())
    max_count: Int = F("MaxCount", P.RESIZE_UPDATE_STRATEGY_ON_REMOVE, DEFAULT_MAX_COUNT, ge=1)
    min_count: Int = F("MinCount", P.RESIZE_UPDATE_STRATEGY_ON_REMOVE, DEFAULT_MIN_COUNT, ge=0)
    spot_price: Float | None = F("SpotPrice", P.QUEUE_UPDATE_STRATEGY, None, ge=0)
    efa: Efa = F("Efa", P.QUEUE_UPDATE_STRATEGY, default_factory=Efa)
    disable_simultaneous_multithreading: Bool = F(
        "DisableSimultaneousMultithreading", P.COMPUTE_FLEET_STOP, False
    )
    schedulable_memory: Int | None = F("SchedulableMemory", P.QUEUE_UPDATE_STRATEGY, None)
    capacity_reservation_target: CapacityReservationTarget | None = F(
        "CapacityReservationTarget", P.QUEUE_UPDATE_STRATEGY, None
    )
    networking: SlurmComputeResourceNetworking = F(
        "Networking", P.MANAGED_PLACEMENT_GROUP, default_factory=SlurmComputeResourceNetworking
    )
    health_checks: HealthChecks = F("HealthChecks", P.SUPPORTED, default_factory=HealthChecks)
    custom_slurm_settings: SettingPairs = F("CustomSlurmSettings", P.SUPPORTED, ())
    tags: tuple[QueueTag, ...] = F("Tags", P.QUEUE_UPDATE_STRATEGY, ())
    static_node_priority: Int = F("StaticNodePriority", P.SUPPORTED, 1, ge=1, le=MAX_SLURM_NODE_PRIORITY)
    dynamic_node_priority: Int = F("DynamicNodePriority", P.SUPPORTED, 1000, ge=1, le=MAX_SLURM_NODE_PRIORITY)
    launch_template_overrides: LaunchTemplateOverrides | None = F(
        "LaunchTemplateOverrides", P.QUEUE_UPDATE_STRATEGY, None
    )

    @model_validator(mode="after")
    def _instance_type_one_of(self) -> SlurmComputeResource:
        if self.instance_type and self.instances:
            raise PydanticCustomError(
                "one_of", "set either InstanceType or Instances, not both, in a compute resource"
            )
        reservation = self.capacity_reservation_target
        if (
            not self.instance_type
            and not self.instances
            and not (reservation and reservation.capacity_reservation_id)
        ):
            raise PydanticCustomError(
                "one_of",
                "a compute resource needs InstanceType, Instances"
                " or CapacityReservationTarget/CapacityReservationId",
            )
        seen: set[str] = set()
        for item in self.instances:
            if item.instance_type in seen:
                raise PydanticCustomError(
                    "duplicate",
                    "instance type {name} appears twice in Instances",
                    {"name": item.instance_type},
                )
            seen.add(item.instance_type)
        return self

    @property
    def instance_types(self) -> tuple[str, ...]:
        """The instance types this compute resource launches, in config order."""
        if self.instances:
            return tuple(i.instance_type for i in self.instances)
        return (self.instance_type,) if self.instance_type else ()


class SlurmQueueNetworking(ConfigModel):
    additional_security_groups: tuple[SECURITY_GROUP_ID, ...] = F("AdditionalSecurityGroups", P.SUPPORTED, ())
    security_groups: tuple[SECURITY_GROUP_ID, ...] = F("SecurityGroups", P.SUPPORTED, ())
    assign_public_ip: Bool | None = F("AssignPublicIp", P.UNSUPPORTED, None)
    subnet_ids: Annotated[tuple[SUBNET_ID, ...], Field(min_length=1)] = F("SubnetIds", P.MANAGED_FSX)
    placement_group: PlacementGroup = F(
        "PlacementGroup", P.MANAGED_PLACEMENT_GROUP, default_factory=PlacementGroup
    )
    proxy: QueueProxy | None = F("Proxy", P.QUEUE_UPDATE_STRATEGY, None)

    @model_validator(mode="after")
    def _groups(self) -> SlurmQueueNetworking:
        check_security_groups_exclusive(self.security_groups, self.additional_security_groups)
        return self


class SlurmQueue(ConfigModel):
    name: Str = F("Name", P.UNSUPPORTED)
    capacity_type: CapacityType = F("CapacityType", P.QUEUE_UPDATE_STRATEGY, "ONDEMAND")
    compute_settings: ComputeSettings = F(
        "ComputeSettings", P.QUEUE_UPDATE_STRATEGY, default_factory=ComputeSettings
    )
    custom_actions: QueueCustomActions = F(
        "CustomActions", P.QUEUE_UPDATE_STRATEGY, default_factory=QueueCustomActions
    )
    iam: QueueIam = F("Iam", P.SUPPORTED, default_factory=QueueIam)
    image: QueueImage | None = F("Image", P.QUEUE_UPDATE_STRATEGY, None)
    capacity_reservation_target: CapacityReservationTarget | None = F(
        "CapacityReservationTarget", P.QUEUE_UPDATE_STRATEGY, None
    )
    #: ``lowest-price`` unless the queue uses capacity blocks (then unset, as in ParallelCluster).
    allocation_strategy: AllocationStrategy | None = F("AllocationStrategy", P.QUEUE_UPDATE_STRATEGY, None)
    #: Optional in ParallelCluster's schema, but its queue cannot be built without one: required here.
    compute_resources: tuple[SlurmComputeResource, ...] = F(
        "ComputeResources", P.RESIZE_UPDATE_STRATEGY_ON_REMOVE
    )
    networking: SlurmQueueNetworking = F("Networking", P.QUEUE_UPDATE_STRATEGY)
    health_checks: HealthChecks = F("HealthChecks", P.SUPPORTED, default_factory=HealthChecks)
    custom_slurm_settings: SettingPairs = F("CustomSlurmSettings", P.SUPPORTED, ())
    tags: tuple[QueueTag, ...] = F("Tags", P.QUEUE_UPDATE_STRATEGY, ())
    job_exclusive_allocation: Bool = F("JobExclusiveAllocation", P.SUPPORTED, False)

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        block = raw_get(cls, data, "capacity_type") == "CAPACITY_BLOCK"
        return fill_defaults(cls, data, allocation_strategy=None if block else "lowest-price")

    @property
    def instance_types(self) -> tuple[str, ...]:
        """Every instance type of the queue's compute resources, first occurrence first."""
        return tuple(dict.fromkeys(t for cr in self.compute_resources for t in cr.instance_types))

"""The ``HeadNode`` section and the root-volume models it shares with queues."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import StrictBool, model_validator
from pydantic_core import PydanticCustomError

from corral.config.model._base import (
    CIDR_OR_PREFIX_LIST,
    MOUNT_DIR,
    SECURITY_GROUP_ID,
    SUBNET_ID,
    Bool,
    ConfigModel,
    F,
    Int,
    Str,
    fill_defaults,
    raw_get,
)
from corral.config.model.common import (
    Dcv,
    HeadNodeCustomActions,
    HeadNodeIam,
    HeadNodeImage,
    HeadNodeProxy,
    Imds,
)
from corral.config.policies import UpdatePolicy as P

EbsVolumeType = Literal["standard", "io1", "io2", "gp2", "st1", "sc1", "gp3"]

#: ParallelCluster's defaults for EBS volumes (``pcluster.constants``): gp3, IOPS by type, 125 MiB/s on gp3.
DEFAULT_EBS_VOLUME_TYPE = "gp3"
DEFAULT_EBS_IOPS = {"io1": 100, "io2": 100, "gp3": 3000}
DEFAULT_GP3_THROUGHPUT = 125
#: ParallelCluster leaves an unset root volume size to the AMI's root snapshot; its official AMIs carry a
#: 40 GiB root volume, which Corral materialises so that plans never guess.
DEFAULT_ROOT_VOLUME_SIZE_GIB = 40
DEFAULT_EPHEMERAL_DIR = "/scratch"


def ebs_defaults(cls: Any, data: Any) -> Any:
    """Fill VolumeType, Iops and Throughput the way ParallelCluster's ``Ebs`` resource implies them."""
    if not isinstance(data, dict):
        return data
    volume_type = raw_get(cls, data, "volume_type", DEFAULT_EBS_VOLUME_TYPE)
    known = isinstance(volume_type, str)
    return fill_defaults(
        cls,
        data,
        volume_type=DEFAULT_EBS_VOLUME_TYPE,
        iops=DEFAULT_EBS_IOPS.get(volume_type) if known else None,
        throughput=DEFAULT_GP3_THROUGHPUT if volume_type == "gp3" else None,
    )


class HeadNodeRootVolume(ConfigModel):
    volume_type: EbsVolumeType = F("VolumeType", P.UNSUPPORTED, DEFAULT_EBS_VOLUME_TYPE)
    iops: Int | None = F("Iops", P.UNSUPPORTED, None)
    size: Int = F("Size", P.UNSUPPORTED, DEFAULT_ROOT_VOLUME_SIZE_GIB)
    throughput: Int | None = F("Throughput", P.UNSUPPORTED, None)
    encrypted: Bool = F("Encrypted", P.UNSUPPORTED, True)
    delete_on_termination: Bool = F("DeleteOnTermination", P.UNSUPPORTED, True)

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data: Any) -> Any:
        return ebs_defaults(cls, data)


class HeadNodeEphemeralVolume(ConfigModel):
    mount_dir: MOUNT_DIR = F("MountDir", P.UNSUPPORTED, DEFAULT_EPHEMERAL_DIR)


class HeadNodeStorage(ConfigModel):
    """``HeadNode/LocalStorage``."""

    root_volume: HeadNodeRootVolume = F("RootVolume", P.UNSUPPORTED, default_factory=HeadNodeRootVolume)
    ephemeral_volume: HeadNodeEphemeralVolume | None = F("EphemeralVolume", P.UNSUPPORTED, None)


def check_security_groups_exclusive(groups: tuple[str, ...], additional: tuple[str, ...]) -> None:
    if groups and additional:
        raise PydanticCustomError(
            "one_of", "SecurityGroups and AdditionalSecurityGroups can not be configured together"
        )


class HeadNodeNetworking(ConfigModel):
    additional_security_groups: tuple[SECURITY_GROUP_ID, ...] = F("AdditionalSecurityGroups", P.SUPPORTED, ())
    security_groups: tuple[SECURITY_GROUP_ID, ...] = F("SecurityGroups", P.SUPPORTED, ())
    subnet_id: SUBNET_ID = F("SubnetId", P.UNSUPPORTED)
    #: ``true``/``false`` or an Elastic IP allocation ID/address (``Raw`` in the schema).
    elastic_ip: StrictBool | Str | None = F("ElasticIp", P.UNSUPPORTED, None)
    proxy: HeadNodeProxy | None = F("Proxy", P.UNSUPPORTED, None)

    @model_validator(mode="after")
    def _groups(self) -> HeadNodeNetworking:
        check_security_groups_exclusive(self.security_groups, self.additional_security_groups)
        return self


class HeadNodeSsh(ConfigModel):
    key_name: Str | None = F("KeyName", P.UNSUPPORTED, None)
    allowed_ips: CIDR_OR_PREFIX_LIST = F("AllowedIps", P.SUPPORTED, "0.0.0.0/0")


class SharedStorageEfsSettings(ConfigModel):
    encrypted: Bool = F("Encrypted", P.UNSUPPORTED, False)


class HeadNode(ConfigModel):
    instance_type: Str = F("InstanceType", P.UNSUPPORTED)
    disable_simultaneous_multithreading: Bool = F("DisableSimultaneousMultithreading", P.UNSUPPORTED, False)
    networking: HeadNodeNetworking = F("Networking", P.UNSUPPORTED)
    ssh: HeadNodeSsh = F("Ssh", P.SUPPORTED, default_factory=HeadNodeSsh)
    local_storage: HeadNodeStorage = F("LocalStorage", P.UNSUPPORTED, default_factory=HeadNodeStorage)
    shared_storage_type: Literal["Ebs", "Efs"] = F("SharedStorageType", P.UNSUPPORTED, "Ebs")
    shared_storage_efs_settings: SharedStorageEfsSettings | None = F(
        "SharedStorageEfsSettings", P.UNSUPPORTED, None
    )
    dcv: Dcv | None = F("Dcv", P.UNSUPPORTED, None)
    custom_actions: HeadNodeCustomActions = F(
        "CustomActions", P.IGNORED, default_factory=HeadNodeCustomActions
    )
    iam: HeadNodeIam = F("Iam", P.SUPPORTED, default_factory=HeadNodeIam)
    imds: Imds = F("Imds", P.UNSUPPORTED, default_factory=Imds)
    image: HeadNodeImage | None = F("Image", P.UNSUPPORTED, None)

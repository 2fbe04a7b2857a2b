"""EFS settings: IAM authorisation and access points need encryption in transit; an access point
needs an existing file system; with an existing file system only the mount options apply; the
provisioned throughput goes with ThroughputMode provisioned (ParallelCluster 3.16)."""

from __future__ import annotations

from collections.abc import Iterator

from corral.config.findings import Finding
from corral.config.validators._base import ClusterContext, enum_value, error, g, storage_type, storages

EXISTING_FS_KEYS = {
    "encrypted": "Encrypted",
    "kms_key_id": "KmsKeyId",
    "performance_mode": "PerformanceMode",
    "throughput_mode": "ThroughputMode",
    "provisioned_throughput": "ProvisionedThroughput",
    "deletion_policy": "DeletionPolicy",
}


def _efs(ctx: ClusterContext) -> Iterator[tuple[str, object]]:
    for path, storage in storages(ctx.config):
        settings = g(storage, "efs_settings")
        if storage_type(storage) == "Efs" and settings is not None:
            yield f"{path}/EfsSettings", settings


def efs_mount_options(ctx: ClusterContext) -> Iterator[Finding]:
    for path, efs in _efs(ctx):
        if g(efs, "iam_authorization") and not g(efs, "encryption_in_transit"):
            yield error(
                "EfsMountOptionsValidator",
                f"{path}/IamAuthorization",
                "EFS IAM authorization requires encryption in transit",
                "set EncryptionInTransit: true or IamAuthorization: false",
            )


def efs_access_point(ctx: ClusterContext) -> Iterator[Finding]:
    for path, efs in _efs(ctx):
        access_point = g(efs, "access_point_id")
        if not access_point:
            continue
        if not g(efs, "file_system_id"):
            yield error(
                "EfsAccessPointOptionsValidator",
                f"{path}/AccessPointId",
                "an access point can be used only with an existing EFS file system",
                "add FileSystemId or remove AccessPointId",
            )
        if not g(efs, "encryption_in_transit"):
            yield error(
                "EfsAccessPointOptionsValidator",
                f"{path}/AccessPointId",
                "an access point requires encryption in transit",
                "set EncryptionInTransit: true",
            )


def efs_settings(ctx: ClusterContext) -> Iterator[Finding]:
    for path, efs in _efs(ctx):
        if g(efs, "file_system_id"):
            for attr, key in EXISTING_FS_KEYS.items():
                if g(efs, attr) is not None and ctx.present(f"{path}/{key}"):
                    yield error(
                        "EfsSettingsValidator",
                        f"{path}/{key}",
                        f"{key} cannot be specified when an existing EFS file system is used",
                        f"remove {key}; only EncryptionInTransit, IamAuthorization and AccessPointId apply",
                    )
        mode = enum_value(g(efs, "throughput_mode"))
        provisioned = g(efs, "provisioned_throughput")
        if mode != "provisioned" and provisioned:
            yield error(
                "EfsSettingsValidator",
                f"{path}/ProvisionedThroughput",
                "ProvisionedThroughput requires ThroughputMode: provisioned",
                "set ThroughputMode: provisioned",
            )
        if mode == "provisioned" and not provisioned:
            yield error(
                "EfsSettingsValidator",
                f"{path}/ThroughputMode",
                "ThroughputMode provisioned requires ProvisionedThroughput",
                "add ProvisionedThroughput (1-1024 MiB/s)",
            )


VALIDATORS = (efs_mount_options, efs_access_point, efs_settings)

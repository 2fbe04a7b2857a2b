"""EFS settings: IAM authorisation and access points need encryption in transit, and an access point
needs an existing file system (ParallelCluster 3.16). The model itself rejects keys that an existing
file system would ignore and a ProvisionedThroughput without ThroughputMode provisioned."""

from __future__ import annotations

from collections.abc import Iterator

from corral.config.findings import Finding
from corral.config.validators._base import ClusterContext, error, g, storage_type, storages


def _efs(ctx: ClusterContext) -> Iterator[tuple[str, object]]:
    for path, storage in storages(ctx.config):
        settings = g(storage, "efs_settings")
        if storage_type(storage) == "Efs" and settings is not None:
            yield f"{path}/EfsSettings", settings


def efs_mount_options(ctx: ClusterContext) -> Iterator[Finding]:
    """EfsMountOptionsValidator: IAM authorization needs encryption in transit."""
    for path, efs in _efs(ctx):
        if g(efs, "iam_authorization") and not g(efs, "encryption_in_transit"):
            yield error(
                "EfsMountOptionsValidator",
                f"{path}/IamAuthorization",
                "EFS IAM authorization requires encryption in transit",
                "set EncryptionInTransit: true or IamAuthorization: false",
            )


def efs_access_point(ctx: ClusterContext) -> Iterator[Finding]:
    """EfsAccessPointOptionsValidator: access points need an existing file system and TLS."""
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


VALIDATORS = (efs_mount_options, efs_access_point)

"""FSx for Lustre: deployment type, storage type, capacity steps, per-unit throughput, backups and
the S3 data repository paths (ParallelCluster 3.16).

Capacity: SCRATCH_1 1200, 2400 or multiples of 3600 GiB; SCRATCH_2/PERSISTENT_1/PERSISTENT_2 1200 or
multiples of 2400; PERSISTENT_1 HDD multiples of 6000 (12 MB/s/TiB) or 1800 (40 MB/s/TiB). Per-unit
throughput: PERSISTENT_1 SSD 50/100/200, PERSISTENT_2 125/250/500/1000, HDD 12/40, and only on
persistent types. At most 8 data repository associations, never together with ImportPath/ExportPath.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from corral.config.findings import Finding
from corral.config.validators._base import ClusterContext, enum_value, error, g, items, storage_type, storages

PERSISTENT = ("PERSISTENT_1", "PERSISTENT_2")
SSD_THROUGHPUT = {"PERSISTENT_1": (50, 100, 200), "PERSISTENT_2": (125, 250, 500, 1000)}
HDD_THROUGHPUT = (12, 40)
MAX_DRA = 8
S3_URI_RE = re.compile(r"^s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9](/.*)?$")


def _lustre(ctx: ClusterContext) -> Iterator[tuple[str, Any]]:
    for path, storage in storages(ctx.config):
        settings = g(storage, "fsx_lustre_settings")
        if storage_type(storage) == "FsxLustre" and settings is not None:
            yield f"{path}/FsxLustreSettings", settings


def _written(ctx: ClusterContext, fsx: Any, path: str, attr: str, key: str) -> bool:
    return g(fsx, attr) is not None and ctx.present(f"{path}/{key}")


def fsx_s3_options(ctx: ClusterContext) -> Iterator[Finding]:
    """FsxS3Validator: chunk size, export path and auto import need an ImportPath."""
    for path, fsx in _lustre(ctx):
        if g(fsx, "import_path"):
            continue
        for attr, key in (
            ("imported_file_chunk_size", "ImportedFileChunkSize"),
            ("export_path", "ExportPath"),
            ("auto_import_policy", "AutoImportPolicy"),
        ):
            if g(fsx, attr):
                yield error(
                    "FsxS3Validator",
                    f"{path}/{key}",
                    f"{key} requires ImportPath",
                    "add ImportPath: s3://...",
                )


def fsx_dra(ctx: ClusterContext) -> Iterator[Finding]:
    """FsxDraValidator: at most 8 associations, never with ImportPath/ExportPath."""
    for path, fsx in _lustre(ctx):
        dras = items(fsx, "data_repository_associations")
        if not dras:
            continue
        if g(fsx, "import_path") or g(fsx, "export_path"):
            yield error(
                "FsxDraValidator",
                f"{path}/DataRepositoryAssociations",
                "DataRepositoryAssociations cannot be used with ImportPath or ExportPath on the "
                "same file system",
                "move the paths into data repository associations",
            )
        if len(dras) > MAX_DRA:
            yield error(
                "FsxDraValidator",
                f"{path}/DataRepositoryAssociations",
                f"at most {MAX_DRA} data repository associations per file system ({len(dras)} given)",
                "remove some associations",
            )


def s3_uris(ctx: ClusterContext) -> Iterator[Finding]:
    """ImportPath, ExportPath and every DataRepositoryPath must be s3:// URIs."""
    for path, fsx in _lustre(ctx):
        uris = [(f"{path}/ImportPath", g(fsx, "import_path")), (f"{path}/ExportPath", g(fsx, "export_path"))]
        for k, dra in enumerate(items(fsx, "data_repository_associations")):
            uris.append(
                (f"{path}/DataRepositoryAssociations[{k}]/DataRepositoryPath", g(dra, "data_repository_path"))
            )
        for where, uri in uris:
            if uri and not S3_URI_RE.match(uri):
                yield error(
                    "S3BucketUriValidator",
                    where,
                    f"{uri!r} is not a valid S3 URI",
                    "use s3://bucket-name/optional/prefix",
                )


def fsx_persistent_options(ctx: ClusterContext) -> Iterator[Finding]:
    """FsxPersistentOptionsValidator: per-unit throughput and KMS keys go with persistent types."""
    for path, fsx in _lustre(ctx):
        if g(fsx, "file_system_id") or g(fsx, "backup_id"):
            continue
        deployment = enum_value(g(fsx, "deployment_type"))
        throughput = g(fsx, "per_unit_storage_throughput")
        if deployment in PERSISTENT:
            if not throughput:
                yield error(
                    "FsxPersistentOptionsValidator",
                    f"{path}/PerUnitStorageThroughput",
                    f"PerUnitStorageThroughput is required when DeploymentType is {deployment}",
                    f"add PerUnitStorageThroughput: {SSD_THROUGHPUT[deployment][0]}",
                )
            continue
        if _written(ctx, fsx, path, "kms_key_id", "KmsKeyId"):
            yield error(
                "FsxPersistentOptionsValidator",
                f"{path}/KmsKeyId",
                "KmsKeyId can be used only with PERSISTENT_1 or PERSISTENT_2 deployment types",
                "remove KmsKeyId or use a persistent deployment type",
            )
        if throughput:
            yield error(
                "FsxPersistentOptionsValidator",
                f"{path}/PerUnitStorageThroughput",
                "PerUnitStorageThroughput can be used only with PERSISTENT_1 or PERSISTENT_2 "
                "deployment types",
                "remove PerUnitStorageThroughput or use a persistent deployment type",
            )


def fsx_backup_options(ctx: ClusterContext) -> Iterator[Finding]:
    """FsxBackupOptionsValidator: backup settings need retention, a persistent type and no S3 link."""
    for path, fsx in _lustre(ctx):
        retention = g(fsx, "automatic_backup_retention_days")
        if not retention:
            if g(fsx, "daily_automatic_backup_start_time"):
                yield error(
                    "FsxBackupOptionsValidator",
                    f"{path}/DailyAutomaticBackupStartTime",
                    "DailyAutomaticBackupStartTime requires AutomaticBackupRetentionDays",
                    "add AutomaticBackupRetentionDays",
                )
            if _written(ctx, fsx, path, "copy_tags_to_backups", "CopyTagsToBackups"):
                yield error(
                    "FsxBackupOptionsValidator",
                    f"{path}/CopyTagsToBackups",
                    "CopyTagsToBackups requires AutomaticBackupRetentionDays",
                    "add AutomaticBackupRetentionDays",
                )
            continue
        where = f"{path}/AutomaticBackupRetentionDays"
        if enum_value(g(fsx, "deployment_type")) not in PERSISTENT:
            yield error(
                "FsxBackupOptionsValidator",
                where,
                "automatic backups need a PERSISTENT_1 or PERSISTENT_2 file system",
                "remove AutomaticBackupRetentionDays or use a persistent deployment type",
            )
        if g(fsx, "imported_file_chunk_size") or g(fsx, "import_path") or g(fsx, "export_path"):
            yield error(
                "FsxBackupOptionsValidator",
                where,
                "backups cannot be created on S3-linked file systems",
                "remove the S3 paths or AutomaticBackupRetentionDays",
            )


def fsx_storage_type(ctx: ClusterContext) -> Iterator[Finding]:
    """FsxStorageTypeOptionsValidator: HDD and SSD deployment types and per-unit throughputs."""
    for path, fsx in _lustre(ctx):
        if g(fsx, "file_system_id") or g(fsx, "backup_id"):
            continue
        deployment = enum_value(g(fsx, "deployment_type"))
        throughput = g(fsx, "per_unit_storage_throughput")
        if enum_value(g(fsx, "storage_type")) == "HDD":
            if deployment != "PERSISTENT_1":
                yield error(
                    "FsxStorageTypeOptionsValidator",
                    f"{path}/DeploymentType",
                    "HDD file systems need DeploymentType PERSISTENT_1",
                    "set DeploymentType: PERSISTENT_1 or StorageType: SSD",
                )
            if throughput not in HDD_THROUGHPUT:
                yield error(
                    "FsxStorageTypeOptionsValidator",
                    f"{path}/PerUnitStorageThroughput",
                    f"HDD file systems take PerUnitStorageThroughput {list(HDD_THROUGHPUT)}",
                    "set PerUnitStorageThroughput: 12 or 40",
                )
            continue
        if g(fsx, "drive_cache_type"):
            yield error(
                "FsxStorageTypeOptionsValidator",
                f"{path}/DriveCacheType",
                "DriveCacheType can be used only with HDD file systems",
                "remove DriveCacheType or set StorageType: HDD",
            )
        allowed = SSD_THROUGHPUT.get(str(deployment))
        if throughput and allowed and throughput not in allowed:
            yield error(
                "FsxStorageTypeOptionsValidator",
                f"{path}/PerUnitStorageThroughput",
                f"{deployment} SSD file systems take PerUnitStorageThroughput {list(allowed)} "
                f"({throughput} given)",
                f"use one of {list(allowed)}",
            )


def _capacity_problem(capacity: int, deployment: str, storage: str, throughput: int | None) -> str | None:
    """Why ``capacity`` GiB is not a valid size for this kind of Lustre file system, or None."""
    if deployment == "SCRATCH_1":
        ok = capacity in (1200, 2400) or capacity % 3600 == 0
        return None if ok else "SCRATCH_1 capacity is 1200, 2400 or a multiple of 3600 GiB"
    if deployment == "PERSISTENT_1" and storage == "HDD":
        step = {12: 6000, 40: 1800}.get(throughput or 0)
        ok = not step or capacity % step == 0
        return None if ok else f"PERSISTENT_1 HDD {throughput} MB/s/TiB capacity is a multiple of {step} GiB"
    if deployment in ("SCRATCH_2", "PERSISTENT_1", "PERSISTENT_2"):
        ok = capacity == 1200 or capacity % 2400 == 0
        return None if ok else f"{deployment} capacity is 1200 GiB or a multiple of 2400 GiB"
    return None


def fsx_storage_capacity(ctx: ClusterContext) -> Iterator[Finding]:
    """FsxStorageCapacityValidator: a capacity is given and follows the deployment type's steps."""
    for path, fsx in _lustre(ctx):
        if g(fsx, "file_system_id") or g(fsx, "backup_id"):
            continue
        capacity = g(fsx, "storage_capacity")
        if not capacity:
            yield error(
                "FsxStorageCapacityValidator",
                path,
                "StorageCapacity is required for a new FSx for Lustre file system",
                "add StorageCapacity: 1200",
            )
            continue
        deployment = str(enum_value(g(fsx, "deployment_type")) or "SCRATCH_2")
        kind = str(enum_value(g(fsx, "storage_type")) or "SSD")
        problem = _capacity_problem(capacity, deployment, kind, g(fsx, "per_unit_storage_throughput"))
        if problem:
            yield error(
                "FsxStorageCapacityValidator",
                f"{path}/StorageCapacity",
                f"{problem} ({capacity} given)",
                problem,
            )


VALIDATORS = (
    fsx_s3_options,
    fsx_dra,
    s3_uris,
    fsx_persistent_options,
    fsx_backup_options,
    fsx_storage_type,
    fsx_storage_capacity,
)

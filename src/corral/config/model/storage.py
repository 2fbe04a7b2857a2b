"""The ``SharedStorage[]`` section: EBS, EFS, FSx (Lustre, OpenZFS, ONTAP) and File Cache."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, model_validator
from pydantic_core import PydanticCustomError

from corral.config.model._base import (
    MOUNT_DIR,
    Bool,
    ConfigModel,
    F,
    Int,
    Str,
    fill_defaults,
    int_choice,
    pattern,
    raw_get,
)
from corral.config.model.head_node import DEFAULT_EBS_VOLUME_TYPE, EbsVolumeType, ebs_defaults
from corral.config.policies import UpdatePolicy as P

StorageType = Literal["Ebs", "FsxLustre", "FsxOpenZfs", "FsxOntap", "Efs", "FileCache"]
#: ParallelCluster's default size of a new shared EBS volume, GiB.
DEFAULT_SHARED_EBS_SIZE_GIB = 40


def _reject_raw_keys(data: Any, forbidden: Any, message: str) -> None:
    """Raise one error naming every key of ``data`` that ``forbidden(key)`` rejects."""
    if isinstance(data, dict):
        bad = [str(k) for k in data if forbidden(k)]
        if bad:
            raise PydanticCustomError("ignored_param", message, {"keys": ", ".join(bad)})


class Raid(ConfigModel):
    type: int_choice(0, 1) = F("Type", P.UNSUPPORTED)  # type: ignore[valid-type]
    number_of_volumes: Int = F("NumberOfVolumes", P.UNSUPPORTED, 2, ge=2, le=5)


class EbsSettings(ConfigModel):
    volume_type: EbsVolumeType = F("VolumeType", P.UNSUPPORTED, DEFAULT_EBS_VOLUME_TYPE)
    iops: Int | None = F("Iops", P.SUPPORTED, None)
    size: Int | None = F("Size", P.UNSUPPORTED, None)
    kms_key_id: Str | None = F("KmsKeyId", P.UNSUPPORTED, None)
    throughput: Int | None = F("Throughput", P.SUPPORTED, None)
    encrypted: Bool = F("Encrypted", P.UNSUPPORTED, True)
    snapshot_id: (
        Annotated[Str, pattern(r"^snap-[0-9a-z]{8}$|^snap-[0-9a-z]{17}$", "an EBS snapshot ID")] | None
    ) = F("SnapshotId", P.UNSUPPORTED, None)
    volume_id: Annotated[Str, pattern(r"^vol-[0-9a-z]{8}$|^vol-[0-9a-z]{17}$", "an EBS volume ID")] | None = (
        F("VolumeId", P.UNSUPPORTED, None)
    )
    raid: Raid | None = F("Raid", P.UNSUPPORTED, None)
    #: ``Delete`` for volumes Corral creates; unset (never deleted) for an existing ``VolumeId``.
    deletion_policy: Literal["Delete", "Retain", "Snapshot"] | None = F("DeletionPolicy", P.SUPPORTED, None)

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data: Any) -> Any:
        data = ebs_defaults(cls, data)
        if not isinstance(data, dict) or raw_get(cls, data, "volume_id") is not None:
            return data
        return fill_defaults(cls, data, size=DEFAULT_SHARED_EBS_SIZE_GIB, deletion_policy="Delete")


_EFS_WITH_ID = {"EncryptionInTransit", "IamAuthorization", "FileSystemId", "AccessPointId"}


class EfsSettings(ConfigModel):
    encrypted: Bool = F("Encrypted", P.UNSUPPORTED, False)
    kms_key_id: Str | None = F("KmsKeyId", P.UNSUPPORTED, None)
    performance_mode: Literal["generalPurpose", "maxIO"] = F(
        "PerformanceMode", P.UNSUPPORTED, "generalPurpose"
    )
    throughput_mode: Literal["provisioned", "bursting"] = F("ThroughputMode", P.SUPPORTED, "bursting")
    provisioned_throughput: Int | None = F("ProvisionedThroughput", P.SUPPORTED, None, ge=1, le=1024)
    file_system_id: (
        Annotated[Str, pattern(r"^fs-[0-9a-z]{8}$|^fs-[0-9a-z]{17}$", "an EFS file system ID")] | None
    ) = F("FileSystemId", P.UNSUPPORTED, None)
    #: ``Delete`` for file systems Corral creates; unset for an existing ``FileSystemId``.
    deletion_policy: Literal["Delete", "Retain"] | None = F("DeletionPolicy", P.SUPPORTED, None)
    access_point_id: Annotated[Str, pattern(r"^fsap-[0-9a-z]{17}$", "an EFS access point ID")] | None = F(
        "AccessPointId", P.UNSUPPORTED, None
    )
    encryption_in_transit: Bool = F("EncryptionInTransit", P.UNSUPPORTED, False)
    iam_authorization: Bool = F("IamAuthorization", P.UNSUPPORTED, False)

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        if raw_get(cls, data, "file_system_id") is not None:
            _reject_raw_keys(
                data,
                lambda k: k not in _EFS_WITH_ID and k != "file_system_id",
                "{keys} would be ignored with an existing FileSystemId; remove them",
            )
            return data
        return fill_defaults(cls, data, deletion_policy="Delete")

    @model_validator(mode="after")
    def _throughput(self) -> EfsSettings:
        if self.throughput_mode != "provisioned" and self.provisioned_throughput:
            raise PydanticCustomError("one_of", "ProvisionedThroughput needs ThroughputMode: provisioned")
        if self.throughput_mode == "provisioned" and not self.provisioned_throughput:
            raise PydanticCustomError("one_of", "ThroughputMode: provisioned needs ProvisionedThroughput")
        return self


_FSX_POLICY = Literal["NEW", "CHANGED", "DELETED"]
_CHUNK_MAX = 512000  # MiB


class DataRepositoryAssociation(ConfigModel):
    name: Str = F("Name", P.UNSUPPORTED)
    batch_import_meta_data_on_create: Bool = F("BatchImportMetaDataOnCreate", P.UNSUPPORTED, False)
    data_repository_path: Str = F("DataRepositoryPath", P.UNSUPPORTED)
    file_system_path: Annotated[
        Str, pattern("^[^\x00\x85\u2028\u2029\r\n]{1,4096}$", "a path of 1 to 4096 characters on one line")
    ] = F("FileSystemPath", P.UNSUPPORTED)
    imported_file_chunk_size: Int = F("ImportedFileChunkSize", P.SUPPORTED, 1024, ge=1, le=_CHUNK_MAX)
    auto_export_policy: Annotated[tuple[_FSX_POLICY, ...], Field(max_length=3)] = F(
        "AutoExportPolicy", P.SUPPORTED, ()
    )
    auto_import_policy: Annotated[tuple[_FSX_POLICY, ...], Field(max_length=3)] = F(
        "AutoImportPolicy", P.SUPPORTED, ()
    )


_BACKUP_UNSUPPORTED = {
    "DeploymentType",
    "PerUnitStorageThroughput",
    "StorageCapacity",
    "ImportPath",
    "ExportPath",
    "ImportedFileChunkSize",
    "KmsKeyId",
}


class FsxLustreSettings(ConfigModel):
    storage_capacity: Int | None = F("StorageCapacity", P.UNSUPPORTED, None)
    deployment_type: Literal["SCRATCH_1", "SCRATCH_2", "PERSISTENT_1", "PERSISTENT_2"] | None = F(
        "DeploymentType", P.UNSUPPORTED, None
    )
    imported_file_chunk_size: Int | None = F(
        "ImportedFileChunkSize", P.UNSUPPORTED, None, ge=1, le=_CHUNK_MAX
    )
    export_path: Str | None = F("ExportPath", P.UNSUPPORTED, None)
    import_path: Str | None = F("ImportPath", P.UNSUPPORTED, None)
    weekly_maintenance_start_time: (
        Annotated[Str, pattern(r"^[1-7]:([01]\d|2[0-3]):([0-5]\d)$", "d:HH:MM (day 1-7, 24h time)")] | None
    ) = F("WeeklyMaintenanceStartTime", P.SUPPORTED, None)
    automatic_backup_retention_days: Int | None = F(
        "AutomaticBackupRetentionDays", P.SUPPORTED, None, ge=0, le=90
    )
    copy_tags_to_backups: Bool | None = F("CopyTagsToBackups", P.UNSUPPORTED, None)
    daily_automatic_backup_start_time: (
        Annotated[Str, pattern(r"^([01]\d|2[0-3]):([0-5]\d)$", "HH:MM (24h time)")] | None
    ) = F("DailyAutomaticBackupStartTime", P.SUPPORTED, None)
    per_unit_storage_throughput: Int | None = F("PerUnitStorageThroughput", P.UNSUPPORTED, None)
    backup_id: Annotated[Str, pattern(r"^(backup-[0-9a-f]{8,})$", "an FSx backup ID")] | None = F(
        "BackupId", P.UNSUPPORTED, None
    )
    kms_key_id: Str | None = F("KmsKeyId", P.UNSUPPORTED, None)
    file_system_id: Annotated[Str, pattern(r"^fs-[0-9a-z]{17}$", "an FSx file system ID")] | None = F(
        "FileSystemId", P.UNSUPPORTED, None
    )
    auto_import_policy: Literal["NEW", "NEW_CHANGED", "NEW_CHANGED_DELETED"] | None = F(
        "AutoImportPolicy", P.UNSUPPORTED, None
    )
    drive_cache_type: Literal["READ"] | None = F("DriveCacheType", P.UNSUPPORTED, None)
    data_compression_type: Literal["LZ4"] | None = F("DataCompressionType", P.SUPPORTED, None)
    storage_type: Literal["HDD", "SSD"] | None = F("StorageType", P.UNSUPPORTED, None)
    deletion_policy: Literal["Delete", "Retain"] | None = F("DeletionPolicy", P.SUPPORTED, None)
    data_repository_associations: tuple[DataRepositoryAssociation, ...] = F(
        "DataRepositoryAssociations", P.SUPPORTED, ()
    )

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        if raw_get(cls, data, "file_system_id") is not None:
            _reject_raw_keys(
                data,
                lambda k: k not in ("FileSystemId", "file_system_id"),
                "{keys} would be ignored with an existing FileSystemId; remove them",
            )
            return data
        if raw_get(cls, data, "backup_id") is not None:
            _reject_raw_keys(
                data,
                lambda k: k in _BACKUP_UNSUPPORTED,
                "{keys} cannot be set when restoring from a BackupId",
            )
            return fill_defaults(cls, data, deletion_policy="Delete")
        return fill_defaults(cls, data, deployment_type="SCRATCH_2", deletion_policy="Delete")


_FSX_VOLUME = Annotated[
    Str, pattern(r"^fsvol-[0-9a-f]{17}$", "an FSx volume ID such as fsvol-0123456789abcdef0")
]


class FsxOpenZfsSettings(ConfigModel):
    volume_id: _FSX_VOLUME = F("VolumeId", P.UNSUPPORTED)


class FsxOntapSettings(ConfigModel):
    volume_id: _FSX_VOLUME = F("VolumeId", P.UNSUPPORTED)


class FileCacheSettings(ConfigModel):
    file_cache_id: Annotated[
        Str, pattern(r"^(fc-[0-9a-f]{8,18})$", "a File Cache ID such as fc-0123456789abcdef0")
    ] = F("FileCacheId", P.UNSUPPORTED)


def _not_none_dir(value: str) -> str:
    if re.match("^/?NONE$", value):
        raise PydanticCustomError(
            "reserved_dir", "{value} cannot be used as a shared directory", {"value": value}
        )
    return value


_SETTINGS_FOR_TYPE = {
    "Ebs": "EbsSettings",
    "Efs": "EfsSettings",
    "FsxLustre": "FsxLustreSettings",
    "FsxOpenZfs": "FsxOpenZfsSettings",
    "FsxOntap": "FsxOntapSettings",
    "FileCache": "FileCacheSettings",
}
_DEFAULTABLE = {"Ebs", "Efs", "FsxLustre"}


def _storage_sections(data: Any) -> Any:
    """Check the ``*Settings`` sections against ``StorageType`` and add an empty one where defaults apply."""
    if not isinstance(data, dict):
        return data
    present = [key for key in _SETTINGS_FOR_TYPE.values() if data.get(key) is not None]
    if len(present) > 1:
        raise PydanticCustomError(
            "one_of",
            "only one *Settings section may be set per SharedStorage item; found {keys}",
            {"keys": ", ".join(present)},
        )
    storage_type = data.get("StorageType", data.get("storage_type"))
    wanted = _SETTINGS_FOR_TYPE.get(storage_type) if isinstance(storage_type, str) else None
    if present and wanted is not None and present[0] != wanted:
        raise PydanticCustomError(
            "one_of",
            "{found} does not fit StorageType {type}; use {wanted}",
            {"found": present[0], "type": storage_type, "wanted": wanted},
        )
    if not present and wanted is not None and storage_type in _DEFAULTABLE:
        return {**data, wanted: {}}
    return data


class SharedStorage(ConfigModel):
    """One ``SharedStorage[]`` item; exactly the settings section matching ``StorageType`` is set."""

    mount_dir: Annotated[MOUNT_DIR, AfterValidator(_not_none_dir)] = F(
        "MountDir", P.SHARED_STORAGE_UPDATE_POLICY
    )
    name: Str = F("Name", P.UNSUPPORTED)
    storage_type: StorageType = F("StorageType", P.UNSUPPORTED)
    ebs_settings: EbsSettings | None = F("EbsSettings", P.IGNORED, None)
    efs_settings: EfsSettings | None = F("EfsSettings", P.IGNORED, None)
    fsx_lustre_settings: FsxLustreSettings | None = F("FsxLustreSettings", P.IGNORED, None)
    fsx_open_zfs_settings: FsxOpenZfsSettings | None = F("FsxOpenZfsSettings", P.UNSUPPORTED, None)
    fsx_ontap_settings: FsxOntapSettings | None = F("FsxOntapSettings", P.UNSUPPORTED, None)
    file_cache_settings: FileCacheSettings | None = F("FileCacheSettings", P.UNSUPPORTED, None)

    @model_validator(mode="before")
    @classmethod
    def _sections(cls, data: Any) -> Any:
        return _storage_sections(data)

    @model_validator(mode="after")
    def _required_settings(self) -> SharedStorage:
        key = _SETTINGS_FOR_TYPE[self.storage_type]
        if self.storage_type not in _DEFAULTABLE and self.settings is None:
            raise PydanticCustomError(
                "settings_missing",
                "StorageType {type} needs a {key} section",
                {"type": self.storage_type, "key": key},
            )
        return self

    @property
    def settings(
        self,
    ) -> (
        EbsSettings
        | EfsSettings
        | FsxLustreSettings
        | FsxOpenZfsSettings
        | FsxOntapSettings
        | FileCacheSettings
        | None
    ):
        """The settings section of this item's ``StorageType``."""
        return (
            self.ebs_settings
            or self.efs_settings
            or self.fsx_lustre_settings
            or self.fsx_open_zfs_settings
            or self.fsx_ontap_settings
            or self.file_cache_settings
        )

    @property
    def is_existing(self) -> bool:
        """True when the item mounts a file system or volume that exists outside the cluster."""
        s = self.settings
        if isinstance(s, EbsSettings):
            return s.volume_id is not None
        if isinstance(s, EfsSettings | FsxLustreSettings):
            return s.file_system_id is not None
        return s is not None


__all__ = [
    "DataRepositoryAssociation",
    "EbsSettings",
    "EfsSettings",
    "FileCacheSettings",
    "FsxLustreSettings",
    "FsxOntapSettings",
    "FsxOpenZfsSettings",
    "Raid",
    "SharedStorage",
]

"""Shared storage: what ``SharedStorage`` asks Corral to create, and references to what exists.

- ``Ebs``: an ``AWS::EC2::Volume`` in the head node's availability zone (``Raid`` makes
  ``NumberOfVolumes`` of them) attached to the head node at ``/dev/sdf`` onwards, which exports it to
  the compute nodes over NFS; an existing ``VolumeId`` is only attached.
- ``Efs``: an ``AWS::EFS::FileSystem`` plus one ``AWS::EFS::MountTarget`` per availability zone of
  the head node's and queues' subnets (per distinct subnet when the zones are not known); an
  existing ``FileSystemId`` is referenced. ``HeadNode/SharedStorageType: Efs`` adds the cluster's
  internal file system the same way.
- ``FsxLustre``: an ``AWS::FSx::FileSystem`` in the first queue's first subnet (as ParallelCluster
  does), with ``ImportPath``/``ExportPath`` or one ``AWS::FSx::DataRepositoryAssociation`` per
  association; an existing ``FileSystemId`` is referenced.
- ``FsxOpenZfs``, ``FsxOntap``, ``FileCache``: the config can only name existing ones; referenced.

``DeletionPolicy`` maps one to one onto CloudFormation's (also as ``UpdateReplacePolicy``), with one
exception: CloudFormation can snapshot EBS volumes but not EFS or FSx file systems, so a
``Snapshot`` policy on those (which the config model already refuses) would become ``Retain``, the
policy that never loses data.

File systems get a ``StorageSecurityGroup`` that admits the head node's and the compute nodes'
security groups on the file systems' ports only (NFS 2049 for EFS; 988 and 1018-1023 for
Lustre). Each storage's id is a root Output: ``storage_output_key(name)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from troposphere import GetAtt, Output, Ref, Template
from troposphere.ec2 import SecurityGroup, SecurityGroupIngress, Volume, VolumeAttachment
from troposphere.efs import FileSystem as EfsFileSystem
from troposphere.efs import MountTarget
from troposphere.fsx import (
    S3,
    AutoExportPolicy,
    AutoImportPolicy,
    DataRepositoryAssociation,
    LustreConfiguration,
)
from troposphere.fsx import FileSystem as FsxFileSystem

from corral.errors import BadRequestError
from corral.providers.aws.template._context import Cluster
from corral.providers.aws.template._head import HEAD_NODE
from corral.providers.aws.template._names import logical_id
from corral.providers.aws.template._network import VPC_PARAMETER

STORAGE_SG = "StorageSecurityGroup"
_DEVICES = "fghijklmnop"
_ID_FIELDS = {"Ebs": "volume_id", "Efs": "file_system_id", "FsxLustre": "file_system_id"}
_EXISTING_ONLY = {"FsxOpenZfs": "volume_id", "FsxOntap": "volume_id", "FileCache": "file_cache_id"}
_SETTINGS = {
    "Ebs": "ebs_settings",
    "Efs": "efs_settings",
    "FsxLustre": "fsx_lustre_settings",
    "FsxOpenZfs": "fsx_open_zfs_settings",
    "FsxOntap": "fsx_ontap_settings",
    "FileCache": "file_cache_settings",
}


def storage_output_key(name: str) -> str:
    """The root Output holding the id of ``SharedStorage`` entry ``name`` (volume, file system, cache)."""
    return logical_id("Storage", name)


def storage_resource_ids(plan: Any) -> dict[str, str]:
    """Storage name -> the logical id of the resource Corral creates for it (the first RAID member
    for ``Raid``; ``InternalSharedEfs`` for ``SharedStorageType: Efs``)."""
    found: dict[str, str] = {}
    config = plan.config
    if config is None:
        return found
    for entry in config.shared_storage:
        settings = getattr(entry, _SETTINGS[entry.storage_type])
        if entry.storage_type in _EXISTING_ONLY or getattr(settings, _ID_FIELDS[entry.storage_type], None):
            continue
        title = logical_id(entry.storage_type, entry.name)
        raid = entry.storage_type == "Ebs" and settings.raid is not None
        found[entry.name] = title + ("Member1" if raid else "")
    if config.head_node.shared_storage_type == "Efs":
        found["InternalSharedEfs"] = "InternalSharedEfs"
    return found


def cfn_deletion_policy(policy: str | None, *, snapshot_supported: bool) -> str:
    """CloudFormation's DeletionPolicy for a config ``DeletionPolicy`` (unset means Delete)."""
    if policy == "Snapshot" and not snapshot_supported:
        return "Retain"
    return policy or "Delete"


def add_storage(
    template: Template,
    cluster: Cluster,
    head_groups: list[Any],
    compute_groups: list[Any],
    subnet_zones: Mapping[str, str] | None = None,
) -> None:
    """Adds every SharedStorage resource Corral creates, and an Output per entry."""
    kinds = created_file_systems(cluster)
    if kinds:
        _storage_group(template, cluster, kinds, [*head_groups, *compute_groups])
    device = iter(_DEVICES)
    for entry in cluster.config.shared_storage:
        settings = getattr(entry, _SETTINGS[entry.storage_type])
        if entry.storage_type in _EXISTING_ONLY:
            template.add_output(
                Output(
                    storage_output_key(entry.name),
                    Value=getattr(settings, _EXISTING_ONLY[entry.storage_type]),
                )
            )
            continue
        value = _add_entry(template, cluster, entry, settings, device, subnet_zones or {})
        template.add_output(Output(storage_output_key(entry.name), Value=value))
    if cluster.config.head_node.shared_storage_type == "Efs":
        efs = cluster.config.head_node.shared_storage_efs_settings
        title = "InternalSharedEfs"
        template.add_resource(
            EfsFileSystem(
                title,
                Encrypted=bool(efs and efs.encrypted),
                FileSystemTags=cluster.tagging.tags([("Name", title)], role="Storage"),
            )
        )
        _mount_targets(template, cluster, title, "Delete", subnet_zones or {})
        template.add_output(Output("InternalSharedEfsId", Value=Ref(title)))


def created_file_systems(cluster: Cluster) -> set[str]:
    """The kinds of file system Corral creates (``Efs``, ``FsxLustre``): what the storage security
    group must admit."""
    kinds = {"Efs"} if cluster.config.head_node.shared_storage_type == "Efs" else set()
    for entry in cluster.config.shared_storage:
        settings = getattr(entry, _SETTINGS[entry.storage_type])
        if entry.storage_type in ("Efs", "FsxLustre") and getattr(settings, "file_system_id", None) is None:
            kinds.add(entry.storage_type)
    return kinds


def _add_entry(
    template: Template, cluster: Cluster, entry: Any, settings: Any, device: Any, zones: Mapping[str, str]
) -> Any:
    existing = getattr(settings, _ID_FIELDS[entry.storage_type], None)
    if entry.storage_type == "Ebs":
        return _ebs(template, cluster, entry, settings, device)
    if existing:
        return existing
    if entry.storage_type == "Efs":
        return _efs(template, cluster, entry, settings, zones)
    if entry.storage_type == "FsxLustre":
        return _fsx_lustre(template, cluster, entry, settings)
    raise BadRequestError(  # pragma: no cover - the model admits no other type
        f"SharedStorage {entry.name!r}: Corral cannot create {entry.storage_type} storage",
        hint="name an existing one (its id) instead",
    )


#: The ports each kind of file system serves: NFS for EFS, LNet for Lustre.
_PORTS = {"Efs": ((2049, 2049),), "FsxLustre": ((988, 988), (1018, 1023))}


def _storage_group(template: Template, cluster: Cluster, kinds: set[str], sources: list[Any]) -> None:
    """The file systems' group: their ports, from every node group; Lustre servers also talk among
    themselves, so FSx Lustre admits the group itself."""
    template.add_resource(
        SecurityGroup(
            STORAGE_SG,
            GroupDescription=f"Corral cluster {cluster.name}: shared file systems",
            VpcId=Ref(VPC_PARAMETER),
            Tags=cluster.tagging.tags(role="Storage"),
        )
    )
    for queue in cluster.config.scheduling.slurm_queues:
        sources += [g for g in queue.networking.security_groups if g not in sources]
    if "FsxLustre" in kinds:
        sources.append(GetAtt(STORAGE_SG, "GroupId"))
    ports = sorted({port for kind in kinds for port in _PORTS[kind]})
    for index, (source, (low, high)) in enumerate((s, p) for s in sources for p in ports):
        template.add_resource(
            SecurityGroupIngress(
                f"StorageIngress{index + 1}",
                GroupId=GetAtt(STORAGE_SG, "GroupId"),
                IpProtocol="tcp",
                FromPort=low,
                ToPort=high,
                SourceSecurityGroupId=source,
                Description="Cluster nodes to shared file systems",
            )
        )


def _ebs(template: Template, cluster: Cluster, entry: Any, settings: Any, device: Any) -> Any:
    """Volumes (one, or the RAID's members) attached to the head node; returns the first volume id."""
    if settings.volume_id:
        _attach(template, entry.name, 0, settings.volume_id, next(device))
        return settings.volume_id
    count = settings.raid.number_of_volumes if settings.raid else 1
    policy = cfn_deletion_policy(settings.deletion_policy, snapshot_supported=True)
    first = None
    for index in range(count):
        title = logical_id("Ebs", entry.name) + (f"Member{index + 1}" if count > 1 else "")
        volume = Volume(
            title,
            AvailabilityZone=GetAtt(HEAD_NODE, "AvailabilityZone"),
            Size=settings.size,
            VolumeType=settings.volume_type,
            Encrypted=settings.encrypted,
            Tags=cluster.tagging.tags([("Name", entry.name)], role="Storage"),
            DeletionPolicy=policy,
            UpdateReplacePolicy=policy,
        )
        for attr, value in (
            ("Iops", settings.iops),
            ("Throughput", settings.throughput),
            ("KmsKeyId", settings.kms_key_id),
            ("SnapshotId", settings.snapshot_id),
        ):
            if value is not None:
                setattr(volume, attr, value)
        template.add_resource(volume)
        _attach(template, entry.name, index, Ref(title), next(device))
        first = first or Ref(title)
    return first


def _attach(template: Template, name: str, index: int, volume: Any, letter: str) -> None:
    template.add_resource(
        VolumeAttachment(
            logical_id("EbsAttachment", name, str(index)),
            InstanceId=Ref(HEAD_NODE),
            VolumeId=volume,
            Device=f"/dev/sd{letter}",
        )
    )


def _efs(template: Template, cluster: Cluster, entry: Any, settings: Any, zones: Mapping[str, str]) -> Any:
    title = logical_id("Efs", entry.name)
    policy = cfn_deletion_policy(settings.deletion_policy, snapshot_supported=False)
    fs = EfsFileSystem(
        title,
        Encrypted=settings.encrypted,
        PerformanceMode=settings.performance_mode,
        ThroughputMode=settings.throughput_mode,
        FileSystemTags=cluster.tagging.tags([("Name", entry.name)], role="Storage"),
        DeletionPolicy=policy,
        UpdateReplacePolicy=policy,
    )
    if settings.kms_key_id:
        fs.KmsKeyId = settings.kms_key_id
    if settings.provisioned_throughput is not None:
        fs.ProvisionedThroughputInMibps = float(settings.provisioned_throughput)
    template.add_resource(fs)
    _mount_targets(template, cluster, title, policy, zones)
    return Ref(title)


def mount_target_subnets(cluster: Cluster, zones: Mapping[str, str]) -> list[str]:
    """The subnets that get a mount target: the head node's, then the queues', one per availability
    zone when ``zones`` (subnet -> zone) knows them, else one per distinct subnet."""
    subnets = [cluster.config.head_node.networking.subnet_id]
    for queue in cluster.config.scheduling.slurm_queues:
        subnets += list(queue.networking.subnet_ids)
    chosen: list[str] = []
    seen: set[str] = set()
    for subnet in subnets:
        key = zones.get(subnet, subnet)
        if key not in seen:
            seen.add(key)
            chosen.append(subnet)
    return chosen


def _mount_targets(
    template: Template, cluster: Cluster, fs_title: str, policy: str, zones: Mapping[str, str]
) -> None:
    for subnet in mount_target_subnets(cluster, zones):
        template.add_resource(
            MountTarget(
                logical_id(f"{fs_title}MountTarget", subnet),
                FileSystemId=Ref(fs_title),
                SubnetId=subnet,
                SecurityGroups=[GetAtt(STORAGE_SG, "GroupId")],
                DeletionPolicy=policy,
                UpdateReplacePolicy=policy,
            )
        )


_LUSTRE_FIELDS = (
    ("DeploymentType", "deployment_type"),
    ("ImportPath", "import_path"),
    ("ExportPath", "export_path"),
    ("ImportedFileChunkSize", "imported_file_chunk_size"),
    ("WeeklyMaintenanceStartTime", "weekly_maintenance_start_time"),
    ("AutomaticBackupRetentionDays", "automatic_backup_retention_days"),
    ("CopyTagsToBackups", "copy_tags_to_backups"),
    ("DailyAutomaticBackupStartTime", "daily_automatic_backup_start_time"),
    ("PerUnitStorageThroughput", "per_unit_storage_throughput"),
    ("AutoImportPolicy", "auto_import_policy"),
    ("DriveCacheType", "drive_cache_type"),
    ("DataCompressionType", "data_compression_type"),
)


def _fsx_lustre(template: Template, cluster: Cluster, entry: Any, settings: Any) -> Any:
    title = logical_id("FsxLustre", entry.name)
    policy = cfn_deletion_policy(settings.deletion_policy, snapshot_supported=False)
    lustre = LustreConfiguration().no_validation()
    for key, attr in _LUSTRE_FIELDS:
        if getattr(settings, attr) is not None:
            # straight into the properties: troposphere's own value lists lag FSx's (it refuses
            # PerUnitStorageThroughput 12 and 40, the PERSISTENT_1 HDD steps); the config model
            # and cfn-lint check the values instead
            lustre.properties[key] = getattr(settings, attr)
    fs = FsxFileSystem(
        title,
        FileSystemType="LUSTRE",
        SubnetIds=[cluster.config.scheduling.slurm_queues[0].networking.subnet_ids[0]],
        SecurityGroupIds=[GetAtt(STORAGE_SG, "GroupId")],
        LustreConfiguration=lustre,
        Tags=cluster.tagging.tags([("Name", entry.name)], role="Storage"),
        DeletionPolicy=policy,
        UpdateReplacePolicy=policy,
    )
    for key, value in (
        ("StorageCapacity", settings.storage_capacity),
        ("StorageType", settings.storage_type),
        ("KmsKeyId", settings.kms_key_id),
        ("BackupId", settings.backup_id),
    ):
        if value is not None:
            setattr(fs, key, value)
    template.add_resource(fs)
    for dra in settings.data_repository_associations:
        template.add_resource(_association(cluster, title, entry.name, dra, policy))
    template.add_output(
        Output(f"{storage_output_key(entry.name)}MountName", Value=GetAtt(title, "LustreMountName"))
    )
    return Ref(title)


def _association(
    cluster: Cluster, fs_title: str, storage: str, dra: Any, policy: str
) -> DataRepositoryAssociation:
    association = DataRepositoryAssociation(
        logical_id("DataRepositoryAssociation", storage, dra.name),
        FileSystemId=Ref(fs_title),
        FileSystemPath=dra.file_system_path,
        DataRepositoryPath=dra.data_repository_path,
        BatchImportMetaDataOnCreate=dra.batch_import_meta_data_on_create,
        ImportedFileChunkSize=dra.imported_file_chunk_size,
        Tags=cluster.tagging.tags([("Name", dra.name)], role="Storage"),
        DeletionPolicy=policy,
        UpdateReplacePolicy=policy,
    )
    policies = {}
    if dra.auto_export_policy:
        policies["AutoExportPolicy"] = AutoExportPolicy(Events=list(dra.auto_export_policy))
    if dra.auto_import_policy:
        policies["AutoImportPolicy"] = AutoImportPolicy(Events=list(dra.auto_import_policy))
    if policies:
        association.S3 = S3(**policies)
    return association

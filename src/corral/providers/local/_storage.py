"""Where each SharedStorage entry of a local cluster keeps its data, decided from the plan (pure).

- A new Ebs, Efs, FsxLustre, FsxOntap, FsxOpenZfs or FileCache entry: ``<cluster>/shared/<name>``,
  or ``<state>/retained/<cluster>/<name>`` with DeletionPolicy Retain (a cluster delete keeps it).
- An existing file system or volume named by id (FileSystemId, VolumeId, FileCacheId):
  ``<state>/volumes/<id>``. Every cluster naming the id mounts the same directory; no cluster
  delete removes it.
- The head node's ``/home``, shared with every node as ParallelCluster's NFS export is, unless an
  entry already mounts ``/home``.

Every new entry also gets an id (``fs-…``/``vol-…``, stable per cluster and name). When a Retain
entry is kept at delete, ``<state>/volumes/<id>`` points at its data, so a later cluster can mount it
again by naming that id, as it would name a retained EFS or FSx file system on AWS.
"""

from __future__ import annotations

import hashlib

from corral.plan import ClusterPlan, DataRepositorySpec, StorageSpec
from corral.providers.local._layout import ClusterLayout, DataRepositoryRecord, StorageRecord

_ID_PREFIX = {
    "Ebs": "vol",
    "Efs": "fs",
    "FsxLustre": "fs",
    "FsxOntap": "fsvol",
    "FsxOpenZfs": "fsvol",
    "FileCache": "fc",
}


def storage_with_home(plan: ClusterPlan) -> tuple[StorageSpec, ...]:
    """The plan's storage, plus an implicit shared /home when no entry mounts there."""
    if any(s.mount_dir.rstrip("/") == "/home" for s in plan.storage):
        return plan.storage
    name = "home" if all(s.name != "home" for s in plan.storage) else "cluster-home"
    home = StorageSpec(
        name=name,
        storage_type="Home",
        mount_dir="/home",
        deletion_policy="Delete",
        size_gib=plan.head_node.root_volume_gib,
    )
    return (*plan.storage, home)


def storage_id(cluster: str, spec: StorageSpec) -> str:
    """The entry's id: the existing one it names, or one derived from cluster and entry name."""
    if spec.existing_id:
        return spec.existing_id
    prefix = _ID_PREFIX.get(spec.storage_type)
    if prefix is None:
        return ""
    return f"{prefix}-{hashlib.sha1(f'{cluster}/{spec.name}'.encode()).hexdigest()[:17]}"


def storage_data_dir(layout: ClusterLayout, spec: StorageSpec) -> str:
    """The host directory holding the entry's data (see the module docstring)."""
    if spec.existing_id:
        return str(layout.volumes_dir / spec.existing_id)
    kept = spec.deletion_policy == "Retain" or spec.existing
    base = layout.retained_dir if kept else layout.root / "shared"
    return str(base / spec.name)


def storage_size_gib(spec: StorageSpec, efs_cap_gib: int) -> int:
    """The capacity of the entry's volume: its own, the cap for a new EFS file system (elastic,
    bounded per cluster), 0 for an existing one (its volume, if any, keeps its size)."""
    if spec.existing:
        return 0
    if spec.storage_type == "Efs":
        return efs_cap_gib
    return spec.size_gib


def storage_record(
    layout: ClusterLayout, spec: StorageSpec, created_mount_root: str, *, efs_cap_gib: int = 0
) -> StorageRecord:
    return StorageRecord(
        name=spec.name,
        mount_dir=spec.mount_dir,
        data_dir=storage_data_dir(layout, spec),
        # an existing volume or file system is never deleted with the cluster
        deletion_policy="Retain" if spec.existing else spec.deletion_policy,
        created_mount_root=created_mount_root,
        storage_type=spec.storage_type,
        storage_id=storage_id(layout.name, spec),
        shared_volume=bool(spec.existing_id),
        size_gib=storage_size_gib(spec, efs_cap_gib),
    )


def _local_dir(data_dir: str, file_system_path: str) -> str:
    relative = file_system_path.strip("/")
    return f"{data_dir}/{relative}" if relative else data_dir


def data_repositories(
    specs: tuple[StorageSpec, ...], records: tuple[StorageRecord, ...]
) -> tuple[DataRepositoryRecord, ...]:
    """Every association of every FSx for Lustre entry, bound to its host directory."""
    data_dirs = {r.name: r.data_dir for r in records}
    out = []
    for spec in specs:
        for dra in spec.associations:
            out.append(_record(spec.name, data_dirs[spec.name], dra))
    return tuple(out)


def _record(storage: str, data_dir: str, dra: DataRepositorySpec) -> DataRepositoryRecord:
    return DataRepositoryRecord(
        storage=storage,
        name=dra.name,
        local_dir=_local_dir(data_dir, dra.file_system_path),
        url=dra.data_repository_path,
        batch_import=dra.batch_import,
        auto_import=dra.auto_import,
        auto_export=dra.auto_export,
    )

"""Shared storage as a whole: mount directories (reserved, duplicate, overlapping), deletion
policies, KMS keys, the head node's shared-storage type, and multi-subnet limits (ParallelCluster 3.16).

Reserved mount directories: /bin /boot /dev /etc /lib /lib64 /media /mnt /opt /opt/parallelcluster
(and its shared dirs) /opt/slurm /opt/intel /proc /root /run /sbin /srv /sys /tmp /usr /var.
Ephemeral volumes default to /scratch.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import combinations

from corral.config import catalog
from corral.config.findings import Finding
from corral.config.validators._base import (
    ClusterContext,
    compute_resources,
    cr_instance_types,
    enum_value,
    error,
    g,
    info,
    items,
    normalise_dir,
    queues,
    storage_type,
    storages,
    warning,
)

RESERVED_DIRS = frozenset(
    {
        "/bin",
        "/boot",
        "/dev",
        "/etc",
        "/lib",
        "/lib64",
        "/media",
        "/mnt",
        "/opt",
        "/opt/parallelcluster",
        "/opt/parallelcluster/shared",
        "/opt/parallelcluster/shared_login_nodes",
        "/opt/slurm",
        "/opt/intel",
        "/proc",
        "/root",
        "/run",
        "/sbin",
        "/srv",
        "/sys",
        "/tmp",
        "/usr",
        "/var",
    }
)
DEFAULT_EPHEMERAL_DIR = "/scratch"
SETTINGS = {
    "Ebs": ("ebs_settings", "EbsSettings"),
    "Efs": ("efs_settings", "EfsSettings"),
    "FsxLustre": ("fsx_lustre_settings", "FsxLustreSettings"),
}


def _shared_dirs(ctx: ClusterContext) -> list[tuple[str, str, str]]:
    """``(path, name, normalised mount dir)`` of every shared storage."""
    found = []
    for path, storage in storages(ctx.config):
        mount = g(storage, "mount_dir")
        if mount:
            found.append((f"{path}/MountDir", str(g(storage, "name")), normalise_dir(mount)))
    return found


def _local_dirs(ctx: ClusterContext) -> dict[str, tuple[str, set[str]]]:
    """Ephemeral mount dir -> (path, instance types with instance storage that use it)."""
    found: dict[str, tuple[str, set[str]]] = {}
    head = g(ctx.config, "head_node", "instance_type")
    head_info = catalog.get(head or "")
    if head_info is not None and head_info.instance_storage_gb:
        mount = g(ctx.config, "head_node", "local_storage", "ephemeral_volume", "mount_dir")
        key = normalise_dir(mount or DEFAULT_EPHEMERAL_DIR)
        found.setdefault(key, ("HeadNode/LocalStorage/EphemeralVolume/MountDir", set()))[1].add(str(head))
    for qpath, queue in queues(ctx.config):
        types = {
            name
            for cr in items(queue, "compute_resources")
            for _rel, name in cr_instance_types(cr)
            if (it := catalog.get(name)) is not None and it.instance_storage_gb
        }
        if types:
            mount = g(queue, "compute_settings", "local_storage", "ephemeral_volume", "mount_dir")
            key = normalise_dir(mount or DEFAULT_EPHEMERAL_DIR)
            path = f"{qpath}/ComputeSettings/LocalStorage/EphemeralVolume/MountDir"
            found.setdefault(key, (path, set()))[1].update(types)
    return found


def reserved_mount_dirs(ctx: ClusterContext) -> Iterator[Finding]:
    """SharedStorageMountDirValidator: shared storage is never mounted on a system directory."""
    for path, _name, mount in _shared_dirs(ctx):
        if mount in RESERVED_DIRS:
            yield error(
                "SharedStorageMountDirValidator",
                path,
                f"the mount directory {mount} is reserved",
                f"use another directory, e.g. /shared{mount.replace('/', '-')}",
            )


def duplicate_mount_dirs(ctx: ClusterContext) -> Iterator[Finding]:
    """DuplicateMountDirValidator: one storage per mount dir; ephemeral clashes warn."""
    seen: dict[str, str] = {}
    for path, name, mount in _shared_dirs(ctx):
        if mount in seen:
            yield error(
                "DuplicateMountDirValidator",
                path,
                f"the mount directory {mount} is used by several shared storages ({seen[mount]!r}, {name!r})",
                "give each shared storage its own MountDir",
            )
        else:
            seen[mount] = name
    for mount, (path, types) in _local_dirs(ctx).items():
        if mount in seen:
            yield warning(
                "DuplicateMountDirValidator",
                path,
                f"the ephemeral volume mount directory {mount} of {sorted(types)} clashes with "
                "shared storage "
                f"{seen[mount]!r}",
                "change the MountDir of the ephemeral volume or of the shared storage",
            )


def overlapping_mount_dirs(ctx: ClusterContext) -> Iterator[Finding]:
    """OverlappingMountDirValidator: shared mount dirs are never nested in each other or in ephemeral ones."""
    shared = _shared_dirs(ctx)
    local = _local_dirs(ctx)
    pairs = [(a, b) for a, b in combinations(shared, 2)]
    pairs += [(a, (p, "", m)) for a in shared for m, (p, _t) in local.items()]
    for (path_a, _na, a), (path_b, _nb, b) in pairs:
        if (
            a.startswith(b + "/")
            or b.startswith(a + "/")
            or (b == "/" and a != "/")
            or (a == "/" and b != "/")
        ):
            inner = path_a if len(a) > len(b) else path_b
            yield error(
                "OverlappingMountDirValidator",
                inner,
                f"mount directories {a} and {b} cannot overlap",
                "mount shared storages on separate, non-nested directories",
            )


def deletion_policy(ctx: ClusterContext) -> Iterator[Finding]:
    """DeletionPolicyValidator: INFO on what happens to managed storage when it is removed."""
    for path, storage in storages(ctx.config):
        attr_key = SETTINGS.get(storage_type(storage))
        if attr_key is None:
            continue
        policy = enum_value(g(storage, attr_key[0], "deletion_policy"))
        if policy in ("Delete", "Retain") and not g(storage, attr_key[0], "file_system_id"):
            verb = "deleted" if policy == "Delete" else "retained"
            yield info(
                "DeletionPolicyValidator",
                f"{path}/{attr_key[1]}/DeletionPolicy",
                f"DeletionPolicy is {policy}: storage {g(storage, 'name')!r} will be {verb} when "
                "it is removed "
                "from the config or the cluster is deleted",
            )


def kms_key_encrypted(ctx: ClusterContext) -> Iterator[Finding]:
    """KmsKeyIdEncryptedValidator: a KmsKeyId needs Encrypted: true."""
    for path, storage in storages(ctx.config):
        for attr, key in (("ebs_settings", "EbsSettings"), ("efs_settings", "EfsSettings")):
            settings = g(storage, attr)
            if g(settings, "kms_key_id") and not g(settings, "encrypted"):
                yield error(
                    "KmsKeyIdEncryptedValidator",
                    f"{path}/{key}/Encrypted",
                    f"KmsKeyId {g(settings, 'kms_key_id')} is specified, so the volume must be encrypted",
                    "set Encrypted: true",
                )


def file_cache_not_home(ctx: ClusterContext) -> Iterator[Finding]:
    """SharedFileCacheNotHomeValidator: File Cache is never mounted on /home."""
    for path, storage in storages(ctx.config):
        if storage_type(storage) == "FileCache" and normalise_dir(g(storage, "mount_dir") or "x") == "/home":
            yield error(
                "SharedFileCacheNotHomeValidator",
                f"{path}/MountDir",
                "File Cache cannot be mounted on /home",
                "choose another MountDir",
            )


def head_node_efs_settings(ctx: ClusterContext) -> Iterator[Finding]:
    """SharedStorageEfsSettingsValidator: SharedStorageEfsSettings only with SharedStorageType Efs."""
    head = g(ctx.config, "head_node")
    kind = str(enum_value(g(head, "shared_storage_type")) or "Ebs")
    if g(head, "shared_storage_efs_settings") is not None and kind.lower() != "efs":
        yield error(
            "SharedStorageEfsSettingsValidator",
            "HeadNode/SharedStorageEfsSettings",
            f"SharedStorageEfsSettings is set but SharedStorageType is {kind}",
            "set SharedStorageType: Efs or remove SharedStorageEfsSettings",
        )


def ebs_bottleneck(ctx: ClusterContext) -> Iterator[Finding]:
    """SharedEbsPerformanceBottleNeckValidator: shared EBS with more than 100 compute nodes warns."""
    nodes = sum(int(g(cr, "max_count") or 0) for _p, _q, cr in compute_resources(ctx.config))
    if nodes <= 100:
        return
    for path, storage in storages(ctx.config):
        if storage_type(storage) == "Ebs":
            yield warning(
                "SharedEbsPerformanceBottleNeckValidator",
                path,
                f"shared EBS is served by the head node to {nodes} compute nodes; its network is a "
                "bottleneck",
                "use FSx or EFS for better performance",
            )


def managed_fsx_multi_subnet(ctx: ClusterContext) -> Iterator[Finding]:
    """ManagedFsxMultiAzValidator: no new FSx when queues use several subnets."""
    subnets = {s for _p, q in queues(ctx.config) for s in items(q, "networking", "subnet_ids")}
    if len(subnets) <= 1:
        return
    for path, storage in storages(ctx.config):
        if storage_type(storage) == "FsxLustre" and not g(storage, "fsx_lustre_settings", "file_system_id"):
            yield error(
                "ManagedFsxMultiAzValidator",
                path,
                "a new FSx file system cannot be created when queues use several subnets",
                "use an existing FSx file system (FileSystemId) or a single subnet",
            )


VALIDATORS = (
    reserved_mount_dirs,
    duplicate_mount_dirs,
    overlapping_mount_dirs,
    deletion_policy,
    kms_key_encrypted,
    file_cache_not_home,
    head_node_efs_settings,
    ebs_bottleneck,
    managed_fsx_multi_subnet,
)

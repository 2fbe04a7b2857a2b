"""Which storage steps an AWS node runs, as pcluster mounts shared storage. Pure: the node program
(``corral.providers.aws.node``) learns the facts (ids, DNS and mount names) and the node agent runs
the steps as services, before munge and Slurm, so OnNodeConfigured scripts see the storage.

Head node:
- ``Ebs``: the volume (``Raid``: its members as one md array, level 0 or 1) is formatted ext4 when it
  holds no file system (never otherwise), mounted at ``MountDir`` and exported over NFS to the VPC;
- ``/home`` is exported over NFS to the VPC (``HeadNode/SharedStorageType: Ebs``, the default), or
  is the cluster's internal EFS (``SharedStorageType: Efs``), mounted on every node;
- every file system below is mounted as on compute nodes.

Compute nodes mount the head's exports (``<head>:<MountDir>``, ``<head>:/home``) over NFS, and:
- ``Efs``: NFS 4.1 at ``<id>.efs.<region>.amazonaws.com:/``; with ``EncryptionInTransit``,
  ``IamAuthorization`` or ``AccessPointId``, amazon-efs-utils' ``mount -t efs <id>:/`` with
  ``tls``, ``iam`` and ``accesspoint=<id>`` (as pcluster does);
- ``FsxLustre`` and ``FileCache``: the Lustre client, ``<dns>@tcp:/<mount name>``;
- ``FsxOntap``: NFS from the storage virtual machine's NFS DNS name at the volume's junction path;
- ``FsxOpenZfs``: NFS from the file system's DNS name at the volume's path.

Storage whose facts are unknown on the node is left unmounted, each with why (the node's log says so).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from corral.plan import ClusterPlan

PYTHON = "/opt/corral/bin/python"
STORAGE_PROGRAM = (PYTHON, "-m", "corral.providers.aws.storage_node")
#: EFS over NFS 4.1 with the options AWS recommends for EFS.
EFS_OPTIONS = "nfsvers=4.1,rsize=1048576,wsize=1048576,hard,timeo=600,retrans=2,noresvport,_netdev"
#: The head's exports, as pcluster mounts them on compute nodes.
NFS_OPTIONS = "hard,_netdev,noatime"
LUSTRE_OPTIONS = "defaults,_netdev,flock,user_xattr,noatime,noauto,x-systemd.automount"
ONTAP_OPTIONS = "defaults,_netdev"
OPENZFS_OPTIONS = "nfsvers=4.2,_netdev"
#: The first EBS device letter, in the template's order (``template._storage``).
DEVICE_LETTERS = "fghijklmnop"
INTERNAL_EFS = "InternalSharedEfs"


@dataclass(frozen=True)
class StorageFacts:
    """What the node knows about the cluster's storage: ids by storage name (``InternalSharedEfs``
    for ``SharedStorageType: Efs``), and per storage ``dns``/``mount_name``/``path`` (FSx, File
    Cache); ``devices`` overrides where an EBS entry's volumes are (tests use loop devices)."""

    ids: Mapping[str, str] = field(default_factory=dict)
    details: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    devices: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: who may mount the head's exports: the VPC's CIDR blocks (the node program reads them from IMDS)
    export_cidrs: tuple[str, ...] = ()


def _settings(plan: ClusterPlan) -> dict[str, Any]:
    found: dict[str, Any] = {}
    if plan.config is None:
        return found
    for entry in plan.config.shared_storage:
        for attr in (
            "ebs_settings",
            "efs_settings",
            "fsx_lustre_settings",
            "fsx_ontap_settings",
            "fsx_open_zfs_settings",
            "file_cache_settings",
        ):
            if getattr(entry, attr, None) is not None:
                found[entry.name] = getattr(entry, attr)
    return found


def ebs_devices(plan: ClusterPlan, ids: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    """Each EBS entry's device specs, ``vol-id:/dev/sdX`` or ``/dev/sdX`` (RAID members after the
    first have no id in the stack's outputs), lettered as the template attaches them. Pure."""
    settings = _settings(plan)
    letters = iter(DEVICE_LETTERS)
    found: dict[str, tuple[str, ...]] = {}
    for storage in plan.storage:
        if storage.storage_type != "Ebs":
            continue
        ebs = settings.get(storage.name)
        count = ebs.raid.number_of_volumes if ebs is not None and ebs.raid and not ebs.volume_id else 1
        specs = []
        for index in range(count):
            device = f"/dev/sd{next(letters)}"
            volume = ids.get(storage.name) if index == 0 else None
            specs.append(f"{volume}:{device}" if volume else device)
        found[storage.name] = tuple(specs)
    return found


def _efs_mount(fs_id: str, region: str, directory: str, settings: Any) -> tuple[str, ...]:
    tls = bool(getattr(settings, "encryption_in_transit", False))
    iam = bool(getattr(settings, "iam_authorization", False))
    access_point = getattr(settings, "access_point_id", None)
    if not (tls or iam or access_point):
        source = f"{fs_id}.efs.{region}.amazonaws.com:/"
        return (*STORAGE_PROGRAM, "mount", "nfs4", source, directory, EFS_OPTIONS)
    options = [o for o, on in (("tls", tls), ("iam", iam)) if on]
    if access_point:
        options.append(f"accesspoint={access_point}")
    options += ["_netdev", "noresvport"]
    return (*STORAGE_PROGRAM, "mount", "efs", f"{fs_id}:/", directory, ",".join(options))


def _managed_mount(kind: str, directory: str, facts: Mapping[str, str]) -> tuple[str, ...] | None:
    """The mount of an FSx file system or a File Cache from its facts, or None when one is missing."""
    dns, name, path = facts.get("dns"), facts.get("mount_name"), facts.get("path")
    if kind in ("FsxLustre", "FileCache") and dns and name:
        return (*STORAGE_PROGRAM, "mount", "lustre", f"{dns}@tcp:/{name}", directory, LUSTRE_OPTIONS)
    if kind == "FsxOntap" and dns and path:
        return (*STORAGE_PROGRAM, "mount", "nfs", f"{dns}:{path}", directory, ONTAP_OPTIONS)
    if kind == "FsxOpenZfs" and dns and path:
        return (*STORAGE_PROGRAM, "mount", "nfs", f"{dns}:{path}", directory, OPENZFS_OPTIONS)
    return None


def storage_steps(
    plan: ClusterPlan, region: str, facts: StorageFacts, *, head: bool, head_address: str = ""
) -> tuple[list[tuple[str, ...]], list[str]]:
    """The node's storage steps in the config's order (``/home`` first), and what it leaves
    unmounted, with why. Pure."""
    steps: list[tuple[str, ...]] = []
    skipped: list[str] = []
    settings = _settings(plan)
    devices = {**ebs_devices(plan, facts.ids), **facts.devices}
    for storage in plan.storage:
        kind, directory = storage.storage_type, storage.mount_dir
        if kind == "Home":
            steps += _home(plan, region, facts, head=head, head_address=head_address, directory=directory)
            continue
        if kind == "Ebs":
            if head:
                raid = settings.get(storage.name) and settings[storage.name].raid
                level = ["--raid", str(raid.type)] if raid else []
                ebs = (
                    "ebs",
                    "--mount-dir",
                    directory,
                    *level,
                    "--name",
                    storage.name,
                    *devices[storage.name],
                )
                steps += [
                    (*STORAGE_PROGRAM, *ebs),
                    (*STORAGE_PROGRAM, "export", directory, *facts.export_cidrs),
                ]
            else:
                steps.append(
                    (*STORAGE_PROGRAM, "mount", "nfs", f"{head_address}:{directory}", directory, NFS_OPTIONS)
                )
            continue
        fs_id = facts.ids.get(storage.name) or storage.existing_id
        if kind == "Efs" and fs_id:
            steps.append(_efs_mount(fs_id, region, directory, settings.get(storage.name)))
            continue
        step = _managed_mount(kind, directory, facts.details.get(storage.name, {}))
        if step is not None:
            steps.append(step)
        else:
            skipped.append(
                f"{storage.name} ({directory}): its {kind} id or DNS name is not known on this node"
            )
    return steps, skipped


def _home(
    plan: ClusterPlan, region: str, facts: StorageFacts, *, head: bool, head_address: str, directory: str
) -> list[tuple[str, ...]]:
    """``/home``: the internal EFS on every node (``SharedStorageType: Efs``), else the head's
    export mounted by compute nodes."""
    internal = facts.ids.get(INTERNAL_EFS)
    if plan.config is not None and plan.config.head_node.shared_storage_type == "Efs" and internal:
        efs = plan.config.head_node.shared_storage_efs_settings
        return [_efs_mount(internal, region, directory, efs)]
    if head:
        return [(*STORAGE_PROGRAM, "export", directory, *facts.export_cidrs)]
    return [(*STORAGE_PROGRAM, "mount", "nfs", f"{head_address}:{directory}", directory, NFS_OPTIONS)]


__all__ = ["StorageFacts", "ebs_devices", "storage_steps"]

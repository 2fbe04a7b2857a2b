"""The sized volumes of one local cluster (``_volumes`` makes and mounts one): its shared storage
and /home (at each record's ``data_dir``), and the writable root layer of each image-rooted machine
(``<machine dir>/disk``, holding the overlay's upper and work dirs).

Every volume is made by the create and lies in the cluster's directory or its retained dir, labelled
with the cluster id; delete, rollback and node termination release exactly those (an existing
volume that another cluster of the state dir still mounts stays mounted).
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from collections.abc import Collection, Iterable, Iterator
from pathlib import Path

from corral.providers.local import _imageroot, _owner, _rootfs, _volumes
from corral.providers.local._layout import ClusterDescriptor, ClusterLayout, StorageRecord
from corral.runtime import proclog

ROOT_DISK = _rootfs.DISK


def _label(layout: ClusterLayout) -> str:
    return _owner.cluster_id(layout.root) or layout.name


def storage_volumes(records: Iterable[StorageRecord]) -> Iterator[tuple[StorageRecord, Path, Path]]:
    """(record, volume file, mount point) of each entry that has a volume: a sized one, or an
    existing file system whose (retained) data is a volume."""
    for record in records:
        mount_point = Path(record.data_dir)
        if record.shared_volume:
            mount_point = mount_point.resolve()
            if not _volumes.image_of(mount_point).exists():
                continue
        elif record.size_gib <= 0:
            continue
        yield record, _volumes.image_of(mount_point), mount_point


def mount_storage(layout: ClusterLayout, records: Iterable[StorageRecord]) -> list[str]:
    """Make (once) and mount every volume of ``records``; 'name: N GiB' of each."""
    volumes = list(storage_volumes(records))
    if volumes:
        _volumes.check_support()
    done = []
    for record, image, mount_point in volumes:
        if record.size_gib > 0:
            _volumes.ensure(image, mount_point, record.size_gib, _label(layout))
            done.append(f"{record.name} {record.size_gib} GiB")
        else:
            _volumes.mount(image, mount_point)
            done.append(f"{record.name} (existing volume)")
    return done


def summary(layout: ClusterLayout, descriptor: ClusterDescriptor) -> list[str]:
    """Event lines: the cluster's volumes, and a WARNING when their sizes add up to more than the
    free space of the state dir's file system (sparse files: each costs only what is written, so
    together they could still fill the host's disk)."""
    sized = [r for r in descriptor.storage if r.size_gib > 0]
    image = _imageroot.image_root(descriptor) is not None
    roots = {q: gib for q, gib in descriptor.root_volumes if gib > 0} if image else {}
    lines = []
    if sized:
        lines.append("volumes: " + ", ".join(f"{r.name} {r.size_gib} GiB" for r in sized))
    if roots:
        lines.append("root volumes: " + ", ".join(f"{q or 'HeadNode'} {v} GiB" for q, v in roots.items()))
    total = sum(r.size_gib for r in sized) + roots.get("", 0)
    total += sum(roots.get(n.queue, 0) for n in descriptor.nodes)
    if not lines:
        return []
    st = os.statvfs(layout.state_dir)
    free = (st.f_bavail * st.f_frsize) >> 30
    if total > free:
        lines.append(
            f"WARNING: the volumes can hold {total} GiB together (every node up) but {layout.state_dir}'s "
            f"file system has {free} GiB free: each stops a job at its own size, yet together they can "
            "fill the host's disk"
        )
    return lines


def release_storage(records: Iterable[StorageRecord], in_use: Collection[str] = ()) -> None:
    """Unmount every volume of ``records`` but those another cluster still mounts (``in_use``:
    their resolved data dirs)."""
    for _record, image, mount_point in storage_volumes(records):
        if str(mount_point) not in in_use:
            _warn_held(_volumes.release(image, mount_point))


def _warn_held(held: list[str]) -> None:
    """A mount namespace made by someone else with private propagation keeps its own copy of a
    volume: the loop device (and a deleted volume's space) lasts until that namespace ends."""
    for line in held:
        message = f"WARNING: a released volume is still mounted elsewhere: {line}"
        print(proclog.log_line("corral", message), file=sys.stderr, flush=True)


def mount_in_machine_argv(record: StorageRecord) -> list[str] | None:
    """For storage added to running machines: mount the volume's loop device itself on the
    MountDir (the same file system, shared with the host's mount), making the device node where a
    machine's own /dev lacks it. None when ``record`` has no mounted volume (bind its data dir)."""
    for _record, image, mount_point in storage_volumes([record]):
        device = _volumes.mounts().get(str(mount_point), "")
        if _volumes.backing_file(device) != str(image):
            return None
        numbers = Path(f"/sys/block/{Path(device).name}/dev").read_text().strip()
        major, minor = numbers.split(":")
        dev, target = shlex.quote(device), shlex.quote(record.mount_dir)
        return ["sh", "-c", f"[ -b {dev} ] || mknod {dev} b {major} {minor}; mount -t ext4 {dev} {target}"]
    return None


def discard_volume(record: StorageRecord) -> None:
    """Delete the volume file of a released, deleted entry."""
    if not record.shared_volume:
        _volumes.image_of(record.data_dir).unlink(missing_ok=True)


def snapshot_volume(record: StorageRecord, target: Path) -> None:
    """Keep a released entry's volume file as the snapshot ``<target>.img``."""
    image = _volumes.image_of(record.data_dir)
    if image.exists():
        shutil.move(image, _volumes.image_of(target))


def volume_binds(descriptor: ClusterDescriptor) -> list[_rootfs.Bind]:
    """Each storage volume into an image-rooted machine, at its host path (the machine binds the
    state dir without the mounts below it)."""
    return [_rootfs.Bind(str(m), str(m)) for _r, _i, m in storage_volumes(descriptor.storage)]


def root_disk(directory: Path) -> Path:
    return directory / ROOT_DISK


def mount_root(layout: ClusterLayout, directory: Path, size_gib: int) -> None:
    """The machine's root volume on ``<directory>/disk`` (a directory when no size is known)."""
    disk = root_disk(directory)
    if size_gib <= 0:
        disk.mkdir(parents=True, exist_ok=True)
        return
    _volumes.check_support()
    _volumes.ensure(_volumes.image_of(disk), disk, size_gib, _label(layout))


def release_root(directory: Path) -> None:
    disk = root_disk(directory)
    _warn_held(_volumes.release(_volumes.image_of(disk), disk))


def release_all(layout: ClusterLayout, descriptor: ClusterDescriptor | None) -> None:
    """The root layers of the cluster's machines (head, nodes) once they are gone."""
    nodes = descriptor.nodes if descriptor else ()
    for directory in (layout.head_dir, *(layout.node_dir(n.name) for n in nodes)):
        release_root(directory)


def in_use_elsewhere(layout: ClusterLayout) -> set[str]:
    """The resolved data dirs of the other clusters of this state dir (an existing volume they mount)."""
    used: set[str] = set()
    for path in layout.clusters_dir.glob("*/cluster.json"):
        if path.parent.name == layout.name:
            continue
        try:
            other = ClusterDescriptor.load(path)
        except (OSError, ValueError, KeyError, TypeError):
            continue
        used.update(str(Path(s.data_dir).resolve()) for s in other.storage if s.shared_volume)
    return used


__all__ = [
    "ROOT_DISK",
    "discard_volume",
    "in_use_elsewhere",
    "mount_in_machine_argv",
    "mount_root",
    "mount_storage",
    "release_all",
    "release_root",
    "release_storage",
    "root_disk",
    "snapshot_volume",
    "storage_volumes",
    "summary",
    "volume_binds",
]

"""What a cluster's storage leaves at delete (``teardown``) or when update-cluster removes it: the
DeletionPolicy of each entry (see ``remove_storage``), the mount points Corral made on the host, and
the ``<state>/volumes/<id>`` links of retained data."""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Collection
from pathlib import Path

from corral.providers.local import _disks, _ephemeral, _volumes
from corral.providers.local._layout import ClusterDescriptor, ClusterLayout, StorageRecord


def _remove_empty_dirs(path: Path, top: Path, keep: Collection[str] = ()) -> None:
    """rmdir ``path`` and its parents up to ``top`` (the first dir Corral created), while empty
    and not an ancestor of a dir in ``keep``."""
    for candidate in [path, *path.parents]:
        if any(k.startswith(str(candidate).rstrip("/") + "/") for k in keep):
            return
        try:
            candidate.rmdir()
        except OSError:
            return
        if candidate == top:
            return


def remove_storage(
    layout: ClusterLayout, descriptor: ClusterDescriptor | None, *, retain_storage: bool
) -> None:
    """Delete removes the data, Retain keeps it (outside the cluster dir, and reachable by its id
    under ``<state>/volumes``), Snapshot moves it to ``<state>/snapshots/<cluster>/<name>-<time>``
    (the local stand-in for an EBS snapshot). An existing file system or volume (``<state>/volumes``)
    is never touched."""
    if descriptor is not None:  # the storage's users are gone (or have unmounted it: update)
        _disks.release_storage(descriptor.storage, _disks.in_use_elsewhere(layout))
    if not retain_storage:  # what an earlier delete kept goes too
        _disks.release_storage(_retained_volumes(layout), _disks.in_use_elsewhere(layout))
    for record in descriptor.storage if descriptor else ():
        if record.shared_volume:
            pass
        elif record.deletion_policy == "Snapshot" and retain_storage and Path(record.data_dir).exists():
            stamp = time.strftime("%Y%m%dT%H%M%S")
            target = layout.snapshots_dir / f"{record.name}-{stamp}"
            target.parent.mkdir(parents=True, exist_ok=True)
            _disks.snapshot_volume(record, target)
            shutil.move(record.data_dir, target)
        elif record.deletion_policy == "Retain" and retain_storage:
            _link_volume(layout, record)
        else:
            shutil.rmtree(record.data_dir, ignore_errors=True)
            _disks.discard_volume(record)
    _remove_mount_dirs(layout, descriptor)
    if not retain_storage:
        shutil.rmtree(layout.retained_dir, ignore_errors=True)
        _unlink_dangling_volumes(layout)
    if layout.retained_dir.exists() and not any(layout.retained_dir.iterdir()):
        layout.retained_dir.rmdir()


def _retained_volumes(layout: ClusterLayout) -> list[StorageRecord]:
    """The volumes a finished delete kept in the cluster's retained dir (mounted by a later
    cluster naming their id), as records that ``_disks.release_storage`` releases."""
    if not layout.retained_dir.is_dir():
        return []
    return [
        StorageRecord(image.stem, "", str(image.with_suffix("")), "Retain", "", size_gib=1)
        for image in layout.retained_dir.glob(f"*{_volumes.SUFFIX}")
    ]


def _mount_dirs_in_use(layout: ClusterLayout) -> set[str]:
    """Mount dirs of the other clusters of this state dir (a host dir they still mount)."""
    used: set[str] = set()
    for path in layout.clusters_dir.glob("*/cluster.json"):
        if path.parent.name != layout.name:
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                other = ClusterDescriptor.load(path)
                used.update(s.mount_dir for s in other.storage)
                used.update(d for _q, d in other.ephemeral_dirs)
    return used


def _remove_mount_dirs(layout: ClusterLayout, descriptor: ClusterDescriptor | None) -> None:
    """Remove the mount dirs Corral created on the host, deepest first, while empty and unused."""
    records = sorted(
        (r for r in (descriptor.storage if descriptor else ()) if r.created_mount_root),
        key=lambda r: len(Path(r.mount_dir).parts),
        reverse=True,
    )
    created = descriptor.ephemeral_created if descriptor else ()
    in_use = _mount_dirs_in_use(layout) if records or created else set()
    _ephemeral.remove_mount_points(created, in_use)
    for record in records:
        if not any(u == record.mount_dir or u.startswith(record.mount_dir + "/") for u in in_use):
            _remove_empty_dirs(Path(record.mount_dir), Path(record.created_mount_root), in_use)


def _link_volume(layout: ClusterLayout, record: StorageRecord) -> None:
    """``<state>/volumes/<id>`` -> the retained data, so a later cluster can name the id."""
    if not record.storage_id or not Path(record.data_dir).is_dir():
        return
    link = layout.volumes_dir / record.storage_id
    link.parent.mkdir(parents=True, exist_ok=True)
    if not link.exists() and not link.is_symlink():
        link.symlink_to(record.data_dir, target_is_directory=True)


def _unlink_dangling_volumes(layout: ClusterLayout) -> None:
    if layout.volumes_dir.is_dir():
        for link in layout.volumes_dir.iterdir():
            if link.is_symlink() and not link.exists():
                link.unlink()

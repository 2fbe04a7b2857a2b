"""The nodes' instance store (``EphemeralVolume/MountDir``) on the local provider.

Each node gets a directory of its own (``<node dir>/ephemeral``, made by the node agent, mode 1777),
bind-mounted at the MountDir of its queue (or of the head node), so what a job writes there stays
on that node and goes with it, like an instance-store volume. Nodes that share the host's root see
the mount point on the host: create makes the missing ones and delete removes what it made, as for
shared storage mount points.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from pathlib import Path

from corral.plan import ClusterPlan


def mount_dirs(plan: ClusterPlan) -> tuple[str, ...]:
    """Every distinct EphemeralVolume/MountDir of the plan (head node first)."""
    dirs = [plan.head_node.ephemeral_dir, *(d for _q, d in plan.queue_ephemeral_dirs)]
    return tuple(dict.fromkeys(dirs))


def prepare_mount_points(plan: ClusterPlan) -> tuple[tuple[str, str], ...]:
    """Create each missing mount point on the host; ``(mount dir, first dir created)`` for those
    this cluster made, so that delete removes exactly them."""
    created = []
    for mount_dir in mount_dirs(plan):
        path = Path(mount_dir)
        root = first_missing_ancestor(path)
        path.mkdir(parents=True, exist_ok=True)
        if root is not None:
            created.append((mount_dir, str(root)))
    return tuple(created)


def remove_mount_points(created: Iterable[tuple[str, str]], in_use: Collection[str]) -> None:
    """Remove the mount points this cluster made, deepest first, while empty and not in use."""
    for mount_dir, root in sorted(created, key=lambda c: len(Path(c[0]).parts), reverse=True):
        if any(u == mount_dir or u.startswith(mount_dir + "/") for u in in_use):
            continue
        for candidate in [Path(mount_dir), *Path(mount_dir).parents]:
            if any(u.startswith(str(candidate).rstrip("/") + "/") for u in in_use):
                break
            try:
                candidate.rmdir()
            except OSError:
                break
            if candidate == Path(root):
                break


def first_missing_ancestor(path: Path) -> Path | None:
    """The outermost directory of ``path`` that does not exist yet (what making it would create)."""
    missing = None
    for candidate in [path, *path.parents]:
        if candidate.exists():
            break
        missing = candidate
    return missing


__all__ = ["mount_dirs", "prepare_mount_points", "remove_mount_points"]

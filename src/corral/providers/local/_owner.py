"""Which create owns a cluster directory and its network namespaces.

A create claims ``<state>/clusters/<name>/`` with an exclusive ``mkdir`` and writes its cluster id
into ``cluster.id`` at once; a directory that exists is someone else's and is never touched. Each
network namespace it makes is recorded in ``netns/<netns name>`` with the namespace's inode, so a
delete removes a namespace of that name only while it is still the very one this create made (one
with the same name made by another state directory's cluster is not).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from corral.errors import ConflictError

ID_FILE = "cluster.id"
NETNS_DIR = "netns"
NETNS_RUN = Path("/run/netns")


def new_cluster_id() -> str:
    return secrets.token_hex(8)


def claim(root: Path, cluster_id: str) -> None:
    """Create the cluster directory for this create, or raise ``ConflictError`` (nothing touched)."""
    root.parent.mkdir(parents=True, exist_ok=True)
    try:
        root.mkdir()
    except FileExistsError:
        raise ConflictError(
            f"local cluster {root.name!r} already exists in {root.parent}",
            hint=f"its directory is {root}; if `corral list-clusters` does not show it, its record "
            "was lost: `corral repair-state` rebuilds it",
        ) from None
    (root / ID_FILE).write_text(cluster_id + "\n")


def cluster_id(root: Path) -> str | None:
    """The id of the create that owns ``root`` (None: no directory, or made before ids existed)."""
    try:
        return (root / ID_FILE).read_text().strip() or None
    except OSError:
        return None


def owned_by(root: Path, wanted: str) -> bool:
    """True when ``root`` belongs to create ``wanted`` (or to any create when ``wanted`` is ""; a
    directory from before ids existed counts as owned, as it did then)."""
    if not root.is_dir():
        return False
    found = cluster_id(root)
    return not wanted or found is None or found == wanted


def _inode(netns: str) -> str | None:
    try:
        st = os.stat(NETNS_RUN / netns)
    except OSError:
        return None
    return f"{st.st_dev}:{st.st_ino}"


PENDING = "pending"


def intend_netns(root: Path, netns: str) -> None:
    """Note, before making ``netns`` (which must not exist yet), that this cluster is making it: a
    create killed between the two steps still owns what it made."""
    (root / NETNS_DIR).mkdir(exist_ok=True)
    (root / NETNS_DIR / netns).write_text(PENDING + "\n")


def record_netns(root: Path, netns: str) -> None:
    """Remember that this cluster made ``netns``, by inode (call right after creating it)."""
    inode = _inode(netns)
    if inode is not None:
        (root / NETNS_DIR).mkdir(exist_ok=True)
        (root / NETNS_DIR / netns).write_text(inode + "\n")


def owns_netns(root: Path, netns: str) -> bool:
    """True while ``/run/netns/<netns>`` is the namespace this cluster recorded (or, when the
    create was killed while making it, the one it was making)."""
    try:
        recorded = (root / NETNS_DIR / netns).read_text().strip()
    except OSError:
        return False
    current = _inode(netns)
    return current is not None and recorded in (current, PENDING)


def forget_netns(root: Path, *names: str) -> None:
    for name in names:
        with contextlib.suppress(OSError):
            (root / NETNS_DIR / name).unlink()


def owned_netns(root: Path) -> list[str]:
    """Every namespace recorded by this cluster that still is the one it made."""
    directory = root / NETNS_DIR
    names = [p.name for p in directory.iterdir()] if directory.is_dir() else []
    return [n for n in names if owns_netns(root, n)]

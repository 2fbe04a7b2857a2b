"""Each local cluster's runtime directory ``/run/corral/<key>/``: a tmpfs of its own.

What lives there (sockets, pid files, slurm.conf, Slurm's spool, the reconciler's heartbeat) is
runtime state: it must go with a reboot, and it must stay writable when the state directory's disk
is full (the heartbeat keeps the compute nodes' watchdogs from shutting healthy nodes down). So it
is not under the state directory, and not merely on ``/run``: ``/run`` is not a tmpfs on every
host (on this project's build machine it is a directory of the root disk). Create and restore mount
a tmpfs on the run dir (source ``corral-<cluster id>``, so the mount carries the cluster's identity),
delete unmounts it. The key is derived from the cluster directory's path (``ClusterLayout.run_dir``),
so clusters of two state directories never share one; paths stay short for Unix sockets (108 bytes).

A restart is recognised by the boot id written there (``boot-id``): a run dir that is missing, not
mounted, or written during another boot belongs to a cluster whose host restarted.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from corral.errors import ProviderError
from corral.providers.local import _owner, _proc
from corral.providers.local._layout import ClusterLayout

SIZE = "64m"
BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
BOOT_ID_FILE = "boot-id"
MOUNTINFO = Path("/proc/self/mountinfo")


def source(layout: ClusterLayout) -> str:
    return f"corral-{_owner.cluster_id(layout.root) or layout.name}"


def _mount_source(path: Path) -> str | None:
    """The source of the tmpfs mounted on ``path`` (the topmost), or None."""
    found = None
    for line in MOUNTINFO.read_text().splitlines():
        fields = line.split(" ")
        dash = fields.index("-")
        if fields[4] == str(path) and fields[dash + 1] == "tmpfs":
            found = fields[dash + 2]
    return found


def current_boot() -> str:
    try:
        return BOOT_ID.read_text().strip()
    except OSError:
        return ""


def mount(layout: ClusterLayout) -> None:
    """The run dir, a tmpfs carrying the cluster id, with this boot's id (idempotent)."""
    run_dir = layout.run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    if _mount_source(run_dir) != source(layout):
        argv = ["mount", "-t", "tmpfs", "-o", f"size={SIZE},mode=0755", source(layout), str(run_dir)]
        env = {"PATH": _proc.SAFE_PATH}
        result = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
        if result.returncode != 0:
            raise ProviderError(f"cannot mount the run tmpfs on {run_dir}: {result.stderr.strip()}")
    (run_dir / BOOT_ID_FILE).write_text(current_boot() + "\n")


def restarted(layout: ClusterLayout) -> bool:
    """True when the run dir is not this boot's (missing, unmounted, or written before a restart)."""
    try:
        written = (layout.run_dir / BOOT_ID_FILE).read_text().strip()
    except OSError:
        return True
    return written != current_boot()


def release(layout: ClusterLayout) -> None:
    """Unmount the run tmpfs (Corral's: its run dir's key is this cluster directory's), then remove
    the run dir."""
    run_dir = layout.run_dir
    while (_mount_source(run_dir) or "").startswith("corral-"):
        result = subprocess.run(["umount", str(run_dir)], capture_output=True, check=False)
        if result.returncode != 0:  # busy in some namespace: detach it here all the same
            subprocess.run(["umount", "-l", str(run_dir)], capture_output=True, check=False)
            break
    if _mount_source(run_dir) is None:  # never delete file by file through someone else's mount
        shutil.rmtree(run_dir, ignore_errors=True)


__all__ = ["BOOT_ID_FILE", "current_boot", "mount", "release", "restarted", "source"]

"""Files a node needs at fixed system paths (``/etc/parallelcluster/cfnconfig``,
``/opt/parallelcluster/shared/cluster-config.yaml``) without ever writing the host's ``/etc`` or
``/opt``: inside the node's own mount namespace, each top-level directory that receives files gets
an overlay whose upper layer lives on a private tmpfs. The node sees the host's directory plus its
own files, and whatever its scripts write there (``useradd`` into ``/etc/passwd``, say) stays in
the node and disappears with it, like the root disk of a terminated instance.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Sequence
from pathlib import Path

from corral.errors import MountError


def _mount(source: str, target: str, fstype: str | None, flags: int, data: str | None) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    args = (source.encode(), target.encode(), fstype.encode() if fstype else None, flags)
    if libc.mount(*args, data.encode() if data else None) != 0:
        err = ctypes.get_errno()
        raise MountError(f"mounting {fstype or source} on {target} failed: {os.strerror(err)}")


def mount_tmpfs(target: str) -> None:
    """A private, empty tmpfs on ``target`` (an existing directory) in this mount namespace."""
    _mount("tmpfs", target, "tmpfs", 0, "mode=0755")


def group_by_top(files: Sequence[tuple[str, str]]) -> dict[str, list[tuple[str, str]]]:
    """``{"/etc": [(path relative to /etc, content), ...], ...}``; paths must be absolute and at
    least two levels deep (a file directly in ``/`` cannot be overlaid)."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for path, content in files:
        parts = Path(path).parts
        if len(parts) < 3 or parts[0] != "/":
            raise MountError(f"{path}: node files must be absolute paths below a top-level directory")
        groups.setdefault("/" + parts[1], []).append(("/".join(parts[2:]), content))
    return groups


def write(files: Sequence[tuple[str, str]]) -> None:
    """Write each ``(path, content)`` in place: only on a node whose root is its own (an image's
    private layer), never on one that shares the host's root."""
    for path, content in files:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(content)
        if executable(path):
            os.chmod(path, 0o755)


def executable(path: str) -> bool:
    """Node files in a ``bin`` directory are programs (mode 0755); the others are data (0644)."""
    return Path(path).parent.name == "bin"


def install(files: Sequence[tuple[str, str]], scratch: str) -> None:
    """Make each ``(path, content)`` appear at ``path`` in this mount namespace only. ``scratch``
    is an existing, empty directory that the private tmpfs is mounted on."""
    groups = group_by_top(files)
    if not groups:
        return
    os.makedirs(scratch, exist_ok=True)
    mount_tmpfs(scratch)
    for top, entries in sorted(groups.items()):
        if not os.path.isdir(top):
            raise MountError(f"{top} does not exist on this machine; cannot place {entries[0][0]} there")
        name = top.strip("/").replace("/", "_")
        upper, work = Path(scratch, name, "upper"), Path(scratch, name, "work")
        work.mkdir(parents=True)
        for relative, content in entries:
            target = upper / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)
            if executable(relative):
                target.chmod(0o755)
        _mount("overlay", top, "overlay", 0, f"lowerdir={top},upperdir={upper},workdir={work}")

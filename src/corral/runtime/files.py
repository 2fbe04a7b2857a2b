"""Atomic writes: the new content appears whole, or the old one stays."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def write_atomic(
    path: str | Path, data: str | bytes, *, mode: int | None = None, dir_mode: int | None = None
) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same directory and a rename, so a
    reader sees the old content or the new one, never half of it. ``mode`` sets the file's
    permissions before it appears; missing directories are created (with ``dir_mode`` if given)."""
    target = Path(path)
    if dir_mode is None:
        target.parent.mkdir(parents=True, exist_ok=True)
    else:
        target.parent.mkdir(parents=True, exist_ok=True, mode=dir_mode)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as out:
            if mode is not None:
                os.fchmod(out.fileno(), mode)
            out.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    return target


__all__ = ["write_atomic"]

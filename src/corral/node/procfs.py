"""Reading processes from ``/proc``: the few facts the node's daemons and the local provider check
before they signal anything (pids get reused, so what a pid runs and where is checked each time)."""

from __future__ import annotations

import os
from pathlib import Path


def read_pid(path: str | Path | None) -> int | None:
    """The pid a pid file names, or None (no path, no file, or not a number)."""
    if not path:
        return None
    try:
        return int(Path(path).read_text().strip())
    except (OSError, ValueError):
        return None


def cmdline(pid: int) -> list[str]:
    """``pid``'s argv, or [] when it is gone (or a kernel thread)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def alive(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def net_namespace(pid: int | str) -> str | None:
    """``pid``'s network namespace (``net:[…]``; ``"self"`` for this process), or None if unreadable."""
    try:
        return os.readlink(f"/proc/{pid}/ns/net")
    except OSError:
        return None


__all__ = ["alive", "cmdline", "net_namespace", "read_pid"]

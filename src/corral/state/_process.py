"""Which process owns an in-progress operation, identified so that a reused pid is not mistaken for it.

A pid alone is not enough: after a ``kill -9`` the pid can be reused by an unrelated process. The
start time of the process (field 22 of ``/proc/PID/stat``, in clock ticks since boot) is recorded
with it; the owner is alive only when a process with that pid exists *and* started at that tick.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ProcessIdentity:
    pid: int
    start_ticks: int

    @classmethod
    def current(cls) -> ProcessIdentity:
        """This process."""
        return cls.of(os.getpid())

    @classmethod
    def of(cls, pid: int) -> ProcessIdentity:
        """The running process ``pid``; ``start_ticks`` is -1 when it cannot be read (already gone)."""
        ticks = process_start_ticks(pid)
        return cls(pid, -1 if ticks is None else ticks)

    def is_alive(self) -> bool:
        """Whether this very process (same pid, same start time) still runs and is not a zombie."""
        if self.pid <= 0:
            return False
        stat = _read_stat(self.pid)
        if stat is None:
            return False
        state, ticks = stat
        return state not in ("Z", "X") and ticks == self.start_ticks


def process_start_ticks(pid: int) -> int | None:
    """Start time of ``pid`` in clock ticks since boot, or None when there is no such process."""
    stat = _read_stat(pid)
    return None if stat is None else stat[1]


def _read_stat(pid: int) -> tuple[str, int] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name (field 2) is in parentheses and may itself contain spaces or ')'.
    rest = text[text.rfind(")") + 2 :].split()
    # rest[0] is field 3 (state); field 22 (starttime) is rest[19].
    try:
        return rest[0], int(rest[19])
    except (IndexError, ValueError):
        return None


__all__ = ["ProcessIdentity", "process_start_ticks"]

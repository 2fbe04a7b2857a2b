"""The log line of every Corral process that writes its own log (daemons, node programs, the
Resume/Suspend programs): ``<UTC time, ISO 8601 with ms> <program>[<pid>] <message>``. The log
verbs parse this timestamp (``corral.service._logs.parse_timestamp``)."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime

Log = Callable[[str], None]


def stamp(now: datetime | None = None) -> str:
    """``2026-01-01T20:00:00.123`` (UTC, milliseconds)."""
    return (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


def log_line(program: str, message: str, now: datetime | None = None) -> str:
    return f"{stamp(now)} {program}[{os.getpid()}] {message}"


def emit(program: str, message: str) -> None:
    """Print one log line of ``program`` on stdout, flushed (the supervisor or Slurm collects it)."""
    print(log_line(program, message), flush=True)


def logger(program: str) -> Log:
    """``log(message)`` for ``program``."""

    def log(message: str) -> None:
        emit(program, message)

    return log


__all__ = ["Log", "emit", "log_line", "logger", "stamp"]

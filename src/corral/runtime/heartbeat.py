"""The reconciler's heartbeat: a file with the time of its last pass, and how old that time is.

The reconciler loop writes the heartbeat file (locally ``/run/corral/<key>/heartbeat``: one
ISO-8601 UTC timestamp and a newline, replaced atomically) on every pass. The ResumeProgram
reads it and refuses to launch nodes while it is stale, as ParallelCluster's ResumeProgram
refuses when ``clustermgtd``'s heartbeat is older than ``clustermgtd_timeout``: without a
reconciler, nothing would replace the nodes it launches when they fail, nor reset the compute
resources it marks down.

It lives on the ground floor (``corral.runtime``) because three layers share the format: the
daemons write and read it, the local provider writes the first one at create, and every compute
node's watchdog (``corral.node.watchdog``) reads it.

Stale means older than ``stale_after_s()``: ``CORRAL_HEARTBEAT_TIMEOUT_S`` when set, else
``DEFAULT_STALE_AFTER_S``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from corral.runtime import settings
from corral.runtime.files import write_atomic

#: The name of the heartbeat file under the cluster's ``state/`` directory.
HEARTBEAT_NAME = "heartbeat"
#: How old a heartbeat may be before the ResumeProgram stops launching (env override below):
#: ParallelCluster's clustermgtd_timeout, five passes of the default 60 s loop.
DEFAULT_STALE_AFTER_S = 300.0
STALE_AFTER_ENV = "CORRAL_HEARTBEAT_TIMEOUT_S"


def heartbeat_path(cluster_state_dir: Path) -> Path:
    """Where the heartbeat of the cluster whose ``state/`` directory is given lives."""
    return Path(cluster_state_dir) / HEARTBEAT_NAME


def write_heartbeat(path: Path, now: datetime) -> None:
    """Record ``now`` (made UTC) as the last pass, atomically: a reader never sees half a line."""
    stamp = now.astimezone(UTC).isoformat(timespec="milliseconds")
    write_atomic(path, stamp + "\n")


def read_heartbeat(path: Path) -> datetime | None:
    """The time the heartbeat records, or None when there is no readable heartbeat."""
    try:
        stamp = datetime.fromisoformat(path.read_text().strip())
    except (OSError, ValueError):
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def heartbeat_age_s(path: Path, now: datetime) -> float | None:
    """Seconds since the last heartbeat (never negative), or None when there is none."""
    stamp = read_heartbeat(path)
    if stamp is None:
        return None
    return max(0.0, (now - stamp).total_seconds())


def stale_after_s(environ: dict[str, str] | None = None) -> float:
    """The staleness threshold: ``CORRAL_HEARTBEAT_TIMEOUT_S`` if it is a positive number."""
    return settings.seconds(STALE_AFTER_ENV, DEFAULT_STALE_AFTER_S, environ=environ, lenient=True)


def is_stale(path: Path, now: datetime, threshold_s: float) -> bool:
    """Whether the heartbeat is missing or older than ``threshold_s``."""
    age = heartbeat_age_s(path, now)
    return age is None or age > threshold_s


__all__ = [
    "DEFAULT_STALE_AFTER_S",
    "HEARTBEAT_NAME",
    "STALE_AFTER_ENV",
    "heartbeat_age_s",
    "heartbeat_path",
    "is_stale",
    "read_heartbeat",
    "stale_after_s",
    "write_heartbeat",
]

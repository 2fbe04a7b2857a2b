"""Who works on a cluster: taking over an operation, and settling one whose process died.

An in-progress status is true only while its owner (pid + start time) lives. ``settle`` turns a
status left behind by a dead owner into the failed status the lifecycle table names for it, with
the reason, so describe-cluster never reports work that nobody is doing.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from corral.errors import ConflictError, CorralError
from corral.service._events import stack_event_record
from corral.state import (
    IN_PROGRESS,
    INTERRUPTED_TO,
    ClusterRecord,
    FleetStatus,
    ProcessIdentity,
    StackStatus,
    StaleWriteError,
    StateStore,
    utc_now,
)

_VERB = {
    StackStatus.CREATE_IN_PROGRESS: "create",
    StackStatus.ROLLBACK_IN_PROGRESS: "rollback",
    StackStatus.DELETE_IN_PROGRESS: "delete",
    StackStatus.UPDATE_IN_PROGRESS: "update",
    StackStatus.UPDATE_ROLLBACK_IN_PROGRESS: "update rollback",
}


_CODE = {
    StackStatus.UPDATE_IN_PROGRESS: "ClusterUpdateFailure",
    StackStatus.UPDATE_ROLLBACK_IN_PROGRESS: "ClusterUpdateFailure",
}


def worker_log(store: StateStore, cluster_name: str) -> Path:
    """Where a background worker for ``cluster_name`` writes its output."""
    return store.state_dir / "logs" / f"{cluster_name}.log"


def settle(
    store: StateStore, record: ClusterRecord, *, stack_status: Callable[[str], str | None] | None = None
) -> ClusterRecord:
    """``record``, or, if its in-progress status has no living owner, the record after moving it to
    the interrupted status (CREATE_IN_PROGRESS → CREATE_FAILED, ...), with an event saying why.

    With ``stack_status`` (``Provider.stack_status``: a stack that goes on by itself), the
    stack's own status is adopted instead when it reads and the lifecycle table allows it."""
    while record.stack_status in IN_PROGRESS and not (record.owner and record.owner.is_alive()):
        adopted = _adopt_stack_status(store, record, stack_status) if stack_status else None
        if adopted is not None:
            return adopted
        target = INTERRUPTED_TO[record.stack_status]
        pid = record.owner.pid if record.owner else "?"
        reason = f"{_VERB[record.stack_status]} was interrupted: its process (pid {pid}) is gone"
        log = worker_log(store, record.name)
        if log.exists():
            reason += f"; its output is in {log}"
        previous = record.failure_reason
        try:
            record = store.save(
                record,
                replace(
                    record,
                    stack_status=target,
                    owner=None,
                    failure_code=record.failure_code
                    or _CODE.get(record.stack_status, "ClusterCreationFailure"),
                    failure_reason=f"{previous}; {reason}" if previous else reason,
                ),
            )
            store.add_event(stack_event_record(record, target, reason))
        except StaleWriteError:
            record = store.get(record.name)
    return record


def _adopt_stack_status(
    store: StateStore, record: ClusterRecord, stack_status: Callable[[str], str | None]
) -> ClusterRecord | None:
    """``record`` moved to its stack's status (still in progress: unchanged), or None when there is
    no stack, it cannot be read, or the lifecycle table does not allow its status."""
    try:
        raw = stack_status(record.name)
        status = StackStatus(raw) if raw is not None else None
    except (CorralError, ValueError):
        return None
    if status is None:
        return None
    if status is record.stack_status:
        return record
    done = status is StackStatus.CREATE_COMPLETE
    try:
        adopted = store.save(
            record,
            replace(
                record,
                stack_status=status,
                owner=None,
                fleet_status=FleetStatus.RUNNING if done else record.fleet_status,
                fleet_updated_at=utc_now() if done else record.fleet_updated_at,
            ),
        )
    except (ConflictError, StaleWriteError):
        return None
    reason = "the stack went on after Corral's process stopped; status read from it"
    store.add_event(stack_event_record(adopted, status, reason))
    return adopted


def set_owner(store: StateStore, name: str, owner: ProcessIdentity) -> ClusterRecord:
    """Record ``owner`` as the process working on cluster ``name`` (retrying lost versioned writes)."""
    for _ in range(10):
        current = store.get(name)
        if current.owner == owner:
            return current
        try:
            return store.save(current, replace(current, owner=owner))
        except StaleWriteError:
            continue
    raise ConflictError(f"cluster {name!r} keeps changing; could not take it over")  # pragma: no cover


def _stop_reason_file(store: StateStore, name: str) -> Path:
    return store.state_dir / "logs" / f"{name}.stopped-by"


def request_stop(store: StateStore, name: str, owner: ProcessIdentity, reason: str) -> None:
    """Tell the process working on ``name`` why it is stopped (it reads ``take_stop_reason``), then
    stop it."""
    path = _stop_reason_file(store, name)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.write_text(f"{owner.pid} {reason}\n")
    except OSError:
        pass  # the stop still happens; only its reason is lost
    stop_process(owner)


def take_stop_reason(store: StateStore, name: str) -> str | None:
    """Why this process was stopped by another command (read once), or None."""
    path = _stop_reason_file(store, name)
    try:
        pid, _, reason = path.read_text().strip().partition(" ")
    except OSError:
        return None
    if pid != str(os.getpid()):
        return None
    path.unlink(missing_ok=True)
    return reason


def stop_process(owner: ProcessIdentity, timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL, the process ``owner`` (and only it: pid and start time are checked)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if not owner.is_alive():
            return
        try:
            os.kill(owner.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while owner.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)


__all__ = ["set_owner", "settle", "stop_process"]

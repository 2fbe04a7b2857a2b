"""The state store fails safe: a damaged, locked, read-only or full store is named precisely,
within seconds, with a hint that never orphans a cluster (issue #19, point 4)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from corral.state import ClusterRecord, FleetStatus, StackStatus, StateStore
from corral.state._health import StateStoreError, diagnose, header_problem


def _record(name: str = "lab") -> ClusterRecord:
    now = datetime.now(UTC)
    return ClusterRecord(
        name=name,
        stack_id=f"corral:local:{name}/0000",
        stack_status=StackStatus.CREATE_COMPLETE,
        provider="local",
        config_text="",
        created_at=now,
        updated_at=now,
        fleet_status=FleetStatus.RUNNING,
    )


def _store_with_clusters(tmp_path: Path, count: int = 40) -> Path:
    store = StateStore(tmp_path)
    for i in range(count):
        store.insert(_record(f"c{i}"))
    store.close()
    db = sqlite3.connect(tmp_path / "corral.db")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return tmp_path / "corral.db"


def test_a_truncated_database_is_named_at_once_with_the_repair_hint(tmp_path: Path) -> None:
    path = _store_with_clusters(tmp_path)
    with path.open("r+b") as handle:
        handle.truncate(path.stat().st_size // 2)
    started = time.monotonic()
    with pytest.raises(StateStoreError, match="is truncated") as caught:
        StateStore(tmp_path).all()
    assert time.monotonic() - started < 2
    assert caught.value.cause == "corrupt"
    assert "corral repair-state" in (caught.value.hint or "")
    assert "move it away" not in (caught.value.hint or "")


def test_garbage_is_not_a_database(tmp_path: Path) -> None:
    (tmp_path / "corral.db").write_bytes(os.urandom(8192))
    with pytest.raises(StateStoreError, match="not a SQLite database"):
        StateStore(tmp_path).names()


def test_a_whole_database_has_no_header_problem(tmp_path: Path) -> None:
    assert header_problem(_store_with_clusters(tmp_path)) is None
    assert header_problem(tmp_path / "absent.db") is None


def test_a_lock_held_elsewhere_fails_within_seconds_naming_the_holder(tmp_path: Path) -> None:
    _store_with_clusters(tmp_path, 1)
    holder = sqlite3.connect(tmp_path / "corral.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        started = time.monotonic()
        with pytest.raises(StateStoreError, match="stayed locked") as caught:
            StateStore(tmp_path).insert(_record("late"))
        assert time.monotonic() - started < 15
        assert caught.value.cause == "locked"
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_a_read_only_state_dir_says_so(tmp_path: Path) -> None:
    """As root a file mode stops nothing: the state dir is a read-only bind mount instead."""
    state = tmp_path / "state"
    state.mkdir()
    _store_with_clusters(state, 1)
    if os.geteuid() == 0:
        subprocess.run(["mount", "--bind", str(state), str(state)], check=True)
        subprocess.run(["mount", "-o", "remount,ro,bind", str(state)], check=True)
    else:
        state.chmod(0o500)
    try:
        with pytest.raises(StateStoreError, match="cannot be written") as caught:
            StateStore(state).insert(_record("new"))
        assert caught.value.cause == "read-only"
        assert "writable" in (caught.value.hint or "")
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", str(state)], check=True)
        state.chmod(0o700)


def test_the_disk_full_error_is_named_as_such(tmp_path: Path) -> None:
    _store_with_clusters(tmp_path, 1)
    error = diagnose(tmp_path / "corral.db", sqlite3.OperationalError("database or disk is full"))
    assert error.cause == "full"
    assert "free some space" in (error.hint or "")

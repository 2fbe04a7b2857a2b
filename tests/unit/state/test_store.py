"""The SQLite state store: inserts decide races, writes are versioned, transitions are checked."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from corral.errors import ConflictError, NotFoundError
from corral.state import (
    ClusterRecord,
    FleetStatus,
    ProcessIdentity,
    StackEventRecord,
    StackStatus,
    StateStore,
    default_state_dir,
    utc_now,
)


def _record(name: str = "demo", **kw: object) -> ClusterRecord:
    now = utc_now()
    base = ClusterRecord(
        name=name,
        stack_id=f"corral:fake:{name}/1",
        stack_status=StackStatus.CREATE_IN_PROGRESS,
        provider="fake",
        config_text="Image: {Os: alinux2}\n",
        created_at=now,
        updated_at=now,
        tags=(("team", "hpc"),),
        owner=ProcessIdentity.current(),
    )
    return replace(base, **kw)  # type: ignore[arg-type]


@pytest.fixture
def store(tmp_path: Path) -> StateStore:
    return StateStore(tmp_path / "state")


def test_insert_then_get_round_trips_every_field(store: StateStore) -> None:
    inserted = store.insert(_record(region="local", plan_json='{"a": 1}', rollback_on_failure=False))
    got = store.get("demo")
    assert got == inserted
    assert got.version == 1
    assert got.tags == (("team", "hpc"),)
    assert got.owner == ProcessIdentity.current()
    assert got.rollback_on_failure is False
    assert got.cluster_status == "CREATE_IN_PROGRESS"


def test_database_uses_wal(store: StateStore, tmp_path: Path) -> None:
    import sqlite3

    assert store.names() == []
    assert not store.path.exists()  # reads do not create the database
    store.insert(_record())
    mode = sqlite3.connect(store.path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_duplicate_name_is_a_conflict(store: StateStore) -> None:
    store.insert(_record())
    with pytest.raises(ConflictError, match="already exists") as err:
        store.insert(_record(stack_id="other"))
    assert "delete-cluster -n demo" in err.value.hint


def test_unknown_name_suggests_close_names(store: StateStore) -> None:
    store.insert(_record("production"))
    with pytest.raises(NotFoundError) as err:
        store.get("prodution")
    assert "production" in err.value.hint
    with pytest.raises(NotFoundError) as err2:
        store.get("zzz")
    assert "production" in err2.value.hint  # lists what exists


def test_unknown_name_in_empty_store_says_how_to_create(store: StateStore) -> None:
    with pytest.raises(NotFoundError) as err:
        store.get("x")
    assert "create-cluster" in err.value.hint


def test_save_is_versioned(store: StateStore) -> None:
    v1 = store.insert(_record())
    v2 = store.save(v1, replace(v1, stack_status=StackStatus.CREATE_COMPLETE, owner=None))
    assert v2.version == 2
    assert store.get("demo").stack_status is StackStatus.CREATE_COMPLETE
    # a writer that read v1 loses
    with pytest.raises(ConflictError, match="changed by another command"):
        store.save(v1, replace(v1, stack_status=StackStatus.CREATE_FAILED))
    assert store.get("demo").stack_status is StackStatus.CREATE_COMPLETE


def test_invalid_transition_is_rejected(store: StateStore) -> None:
    v1 = store.insert(_record())
    with pytest.raises(ConflictError, match="cannot go from CREATE_IN_PROGRESS to UPDATE_COMPLETE"):
        store.save(v1, replace(v1, stack_status=StackStatus.UPDATE_COMPLETE))
    assert store.get("demo").version == 1


def test_invalid_fleet_transition_is_rejected(store: StateStore) -> None:
    v1 = store.insert(_record())
    with pytest.raises(ConflictError):
        store.save(v1, replace(v1, fleet_status=FleetStatus.STOPPED))
    v2 = store.save(v1, replace(v1, fleet_status=FleetStatus.RUNNING))
    assert v2.fleet_status is FleetStatus.RUNNING


def test_remove_only_from_delete_in_progress_and_drops_events(store: StateStore) -> None:
    v1 = store.insert(_record())
    store.add_event(_event(v1))
    with pytest.raises(ConflictError):
        store.remove(v1)
    v2 = store.save(v1, replace(v1, stack_status=StackStatus.DELETE_IN_PROGRESS))
    store.remove(v2)
    assert store.find("demo") is None
    assert store.events(v1.stack_id) == []


def test_save_after_remove_is_not_found(store: StateStore) -> None:
    v1 = store.insert(_record())
    v2 = store.save(v1, replace(v1, stack_status=StackStatus.DELETE_IN_PROGRESS))
    store.remove(v2)
    with pytest.raises(NotFoundError):
        store.save(v2, replace(v2, stack_status=StackStatus.DELETE_FAILED))


def _event(r: ClusterRecord, status: str = "CREATE_IN_PROGRESS", reason: str = "") -> StackEventRecord:
    return StackEventRecord(
        stack_id=r.stack_id,
        cluster_name=r.name,
        timestamp=utc_now(),
        logical_resource_id=r.name,
        resource_type="AWS::CloudFormation::Stack",
        resource_status=status,
        reason=reason,
    )


def test_events_are_ordered_and_tailable(store: StateStore) -> None:
    r = store.insert(_record())
    first = store.add_event(_event(r, reason="one"))
    store.add_event(_event(r, reason="two"))
    assert [e.reason for e in store.events(r.stack_id)] == ["one", "two"]
    assert [e.reason for e in store.events(r.stack_id, after_id=first.event_id)] == ["two"]


def test_list_orders_by_creation(store: StateStore) -> None:
    store.insert(_record("b"))
    store.insert(_record("a"))
    assert [r.name for r in store.all()] == ["b", "a"]
    assert store.names() == ["a", "b"]


def _race_insert(state_dir: str, i: int, barrier: Any, results: Any) -> None:
    store = StateStore(Path(state_dir))
    barrier.wait(timeout=60)
    try:
        store.insert(_record(stack_id=f"s{i}"))
        results.put("won")
    except ConflictError:
        results.put("lost")


def test_concurrent_inserts_from_processes_exactly_one_wins(tmp_path: Path) -> None:
    n = 6
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=_race_insert, args=(str(tmp_path), i, barrier, results)) for i in range(n)]
    for p in procs:
        p.start()
    outcome = sorted(results.get(timeout=90) for _ in procs)
    for p in procs:
        p.join(timeout=30)
    assert outcome == ["lost"] * (n - 1) + ["won"]
    assert StateStore(tmp_path).get("demo").stack_id.startswith("s")


def test_process_identity_detects_death_and_pid_reuse() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    ident = ProcessIdentity.of(proc.pid)
    assert ident.is_alive()
    assert not replace(ident, start_ticks=ident.start_ticks + 1).is_alive()  # a reused pid
    proc.kill()
    proc.wait()
    assert not ident.is_alive()
    assert ProcessIdentity.current().is_alive()


def test_default_state_dir_honours_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CORRAL_STATE_DIR", str(tmp_path / "x"))
    assert default_state_dir() == tmp_path / "x"
    monkeypatch.delenv("CORRAL_STATE_DIR")
    expected = Path("/var/lib/corral") if os.geteuid() == 0 else Path.home() / ".local/state/corral"
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    assert default_state_dir() == expected


def test_unusable_state_dir_is_a_clear_error(tmp_path: Path) -> None:
    from corral.errors import CorralError, PrerequisiteError

    blocker = tmp_path / "file"
    blocker.write_text("")
    assert StateStore(blocker / "state").names() == []  # reads need no database
    with pytest.raises(PrerequisiteError, match="cannot use the state directory") as err:
        StateStore(blocker / "state").insert(_record())
    assert "CORRAL_STATE_DIR" in err.value.hint
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "corral.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(CorralError, match="is damaged: it is not a SQLite database") as err2:
        StateStore(corrupt).names()
    assert "corral repair-state" in (err2.value.hint or "")

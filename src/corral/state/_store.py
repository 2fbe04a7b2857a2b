"""SQLite state store: clusters and their stack events, safe to share between processes.

WAL journaling and a busy timeout let the CLI, background workers and daemons read and write at
once. Creating a cluster is a plain INSERT on the primary key, so of two processes racing for one
name exactly one wins. Every later change is a compare-and-swap on the row ``version`` and is checked
against the lifecycle tables, so a stale writer or an invalid status change is rejected.
"""

from __future__ import annotations

import difflib
import functools
import json
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar, cast

from corral.errors import ConflictError, NotFoundError, PrerequisiteError, StaleWriteError
from corral.state._health import corrupt, header_problem, translate
from corral.state._lifecycle import (
    FleetStatus,
    StackStatus,
    check_fleet_transition,
    check_stack_transition,
)
from corral.state._process import ProcessIdentity
from corral.state._records import ClusterRecord, StackEventRecord, utc_now

_SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS clusters (
    name TEXT PRIMARY KEY,
    stack_id TEXT NOT NULL UNIQUE,
    stack_status TEXT NOT NULL,
    provider TEXT NOT NULL,
    region TEXT NOT NULL DEFAULT '',
    config_text TEXT NOT NULL,
    config_path TEXT NOT NULL DEFAULT '',
    plan_json TEXT NOT NULL DEFAULT '',
    scheduler TEXT NOT NULL DEFAULT 'slurm',
    corral_version TEXT NOT NULL DEFAULT '',
    pcluster_version TEXT NOT NULL DEFAULT '',
    tags_json TEXT NOT NULL DEFAULT '[]',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    fleet_status TEXT NOT NULL,
    fleet_updated_at TEXT,
    owner_pid INTEGER,
    owner_start_ticks INTEGER,
    rollback_on_failure INTEGER NOT NULL DEFAULT 1,
    failure_code TEXT NOT NULL DEFAULT '',
    failure_reason TEXT NOT NULL DEFAULT '',
    version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    event_id INTEGER PRIMARY KEY AUTOINCREMENT,
    stack_id TEXT NOT NULL,
    cluster_name TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    logical_resource_id TEXT NOT NULL,
    physical_resource_id TEXT NOT NULL DEFAULT '',
    resource_type TEXT NOT NULL,
    resource_status TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS events_by_stack ON events (stack_id, event_id);
"""

_COLUMNS = (
    "name",
    "stack_id",
    "stack_status",
    "provider",
    "region",
    "config_text",
    "config_path",
    "plan_json",
    "scheduler",
    "corral_version",
    "pcluster_version",
    "tags_json",
    "created_at",
    "updated_at",
    "fleet_status",
    "fleet_updated_at",
    "owner_pid",
    "owner_start_ticks",
    "rollback_on_failure",
    "failure_code",
    "failure_reason",
    "version",
)

DB_FILE = "corral.db"
#: How long a command waits for another process's write lock before saying who holds it. Writes
#: are single statements (milliseconds); a longer wait means something is wrong.
BUSY_TIMEOUT_S = 5.0
RESERVE_FILE = ".space-reserve"
RESERVE_BYTES = 64 * 1024


def default_state_dir() -> Path:
    """``$CORRAL_STATE_DIR``; else ``/var/lib/corral`` for root; else ``$XDG_STATE_HOME/corral``
    (``~/.local/state/corral``)."""
    explicit = os.environ.get("CORRAL_STATE_DIR")
    if explicit:
        return Path(explicit)
    if os.geteuid() == 0:
        return Path("/var/lib/corral")
    xdg = os.environ.get("XDG_STATE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "state"
    return base / "corral"


_F = TypeVar("_F", bound=Callable[..., Any])


def _guarded(method: _F) -> _F:
    """Turn any SQLite or OS error of a store method into a ``StateStoreError`` with its cause."""

    @functools.wraps(method)
    def guarded(self: StateStore, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except (OSError, sqlite3.Error) as exc:
            self.close()
            error = translate(self.path, exc)
        if getattr(error, "cause", "") == "full" and self.release_reserve():
            try:  # the space kept in reserve lets this write (a failure's record) through
                return method(self, *args, **kwargs)
            except (OSError, sqlite3.Error) as exc:
                self.close()
                error = translate(self.path, exc)
        raise error

    return cast(_F, guarded)


class StateStore:
    """The clusters and events of one state directory. Thread-safe; share one per process."""

    def __init__(self, state_dir: Path) -> None:
        """Nothing is touched until the first read or write (so a command that fails earlier, e.g.
        on a missing prerequisite, never creates the state directory)."""
        self.state_dir = Path(state_dir)
        self.path = self.state_dir / DB_FILE
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._file_id: tuple[int, int] | None = None

    @property
    def _db(self) -> sqlite3.Connection:
        with self._lock:
            if self._conn is not None and self._file_id is not None and self._file_id != _file_id(self.path):
                self.close()  # repair-state replaced the file: a long-lived process follows it
            if self._conn is None:
                self._conn = self._open()
            return self._conn

    def _open(self) -> sqlite3.Connection:
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise PrerequisiteError(
                f"cannot use the state directory {self.state_dir}: {exc.strerror or exc}",
                hint="set CORRAL_STATE_DIR to a directory you can write (the default is "
                "/var/lib/corral for root, ~/.local/state/corral otherwise)",
            ) from None
        damage = header_problem(self.path)
        if damage is not None:  # before SQLite reads it: a damaged file must not hang a lock
            raise corrupt(self.path, damage)
        try:
            timeout = BUSY_TIMEOUT_S
            conn = sqlite3.connect(self.path, timeout=timeout, isolation_level=None, check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
            self._conn, self._file_id = conn, None
            _retry_locked(self._init_schema)
            self._file_id = _file_id(self.path)
            self._keep_reserve()
        except (OSError, sqlite3.Error) as exc:
            self.close()
            raise translate(self.path, exc) from None
        return conn

    def _init_schema(self) -> None:
        # Switching to WAL can fail with "database is locked" at once (without the busy handler)
        # while another process creates the same new database; the caller retries.
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = NORMAL")
        with self._write() as db:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")

    @property
    def reserve(self) -> Path:
        """Space kept aside in the state directory: given up when the disk is full, so that the
        failure itself can still be recorded (made again on a later open, when there is room)."""
        return self.state_dir / RESERVE_FILE

    def release_reserve(self) -> bool:
        try:
            self.reserve.unlink()
        except OSError:
            return False
        return True

    def _keep_reserve(self) -> None:
        if self.reserve.exists():
            return
        try:
            with open(self.reserve, "wb") as handle:
                handle.write(b"\0" * RESERVE_BYTES)  # real blocks: a sparse file frees nothing
        except OSError:
            self.reserve.unlink(missing_ok=True)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn, self._file_id = None, None

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; IMMEDIATE takes the write lock up front, so reads inside it are
        consistent with the write that follows."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # -- clusters ---------------------------------------------------------------------------

    @_guarded
    def insert(self, record: ClusterRecord) -> ClusterRecord:
        """Add a new cluster at version 1. ``ConflictError`` if the name is taken (the insert decides
        the race: of two concurrent inserts exactly one succeeds)."""
        stored = replace(record, version=1)
        row = _to_row(stored)
        placeholders = ", ".join("?" for _ in _COLUMNS)
        try:
            with self._write() as db:
                db.execute(f"INSERT INTO clusters ({', '.join(_COLUMNS)}) VALUES ({placeholders})", row)
        except sqlite3.IntegrityError:
            raise duplicate_cluster(record.name) from None
        return stored

    def _empty(self) -> bool:
        """True while no database exists: reads answer "nothing" without creating one."""
        return self._conn is None and not self.path.exists()

    @_guarded
    def find(self, name: str) -> ClusterRecord | None:
        if self._empty():
            return None
        with self._lock:
            cur = self._db.execute(f"SELECT {', '.join(_COLUMNS)} FROM clusters WHERE name = ?", (name,))
            row = cur.fetchone()
        return None if row is None else _from_row(row)

    def get(self, name: str) -> ClusterRecord:
        """The cluster ``name``; ``NotFoundError`` with a did-you-mean among existing names."""
        record = self.find(name)
        if record is None:
            raise unknown_cluster(name, self.names())
        return record

    @_guarded
    def names(self) -> list[str]:
        if self._empty():
            return []
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT name FROM clusters ORDER BY name")]

    @_guarded
    def all(self) -> list[ClusterRecord]:
        """Every cluster, ordered by creation time."""
        if self._empty():
            return []
        with self._lock:
            rows = self._db.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM clusters ORDER BY created_at, name"
            ).fetchall()
        return [_from_row(r) for r in rows]

    @_guarded
    def save(self, old: ClusterRecord, new: ClusterRecord) -> ClusterRecord:
        """Replace ``old`` by ``new`` if nobody saved the cluster since ``old`` was read.

        Status changes are checked against the lifecycle tables. Returns the stored record (next
        version, ``updated_at`` now). ``ConflictError`` when the row changed meanwhile or the
        transition is not allowed; ``NotFoundError`` when it was removed.
        """
        if new.name != old.name or new.stack_id != old.stack_id:
            raise ValueError("save() cannot rename a cluster or change its stack id")
        if new.stack_status is not old.stack_status:
            check_stack_transition(old.name, old.stack_status, new.stack_status)
            if new.stack_status is StackStatus.DELETE_COMPLETE:
                raise ValueError("DELETE_COMPLETE is reached by remove(), not save()")
        if new.fleet_status is not old.fleet_status:
            check_fleet_transition(old.name, old.fleet_status, new.fleet_status)
        stored = replace(new, version=old.version + 1, updated_at=utc_now())
        assignments = ", ".join(f"{c} = ?" for c in _COLUMNS)
        with self._write() as db:
            cur = db.execute(
                f"UPDATE clusters SET {assignments} WHERE name = ? AND version = ?",
                (*_to_row(stored), old.name, old.version),
            )
            if cur.rowcount != 1:
                self._raise_stale(db, old)
        return stored

    @_guarded
    def remove(self, old: ClusterRecord) -> None:
        """Delete the cluster's row and events: its DELETE_IN_PROGRESS reached DELETE_COMPLETE."""
        check_stack_transition(old.name, old.stack_status, StackStatus.DELETE_COMPLETE)
        with self._write() as db:
            cur = db.execute("DELETE FROM clusters WHERE name = ? AND version = ?", (old.name, old.version))
            if cur.rowcount != 1:
                self._raise_stale(db, old)
            db.execute("DELETE FROM events WHERE stack_id = ?", (old.stack_id,))

    def _raise_stale(self, db: sqlite3.Connection, old: ClusterRecord) -> None:
        row = db.execute("SELECT stack_status, version FROM clusters WHERE name = ?", (old.name,)).fetchone()
        if row is None:
            raise NotFoundError(f"cluster {old.name!r} was deleted meanwhile")
        raise StaleWriteError(
            f"cluster {old.name!r} was changed by another command meanwhile "
            f"(now {row[0]}, version {row[1]}; expected version {old.version})",
            hint="look at it again with `corral describe-cluster` and retry",
        )

    # -- events -----------------------------------------------------------------------------

    @_guarded
    def add_event(self, event: StackEventRecord) -> StackEventRecord:
        """Append an event; returns it with its ``event_id``."""
        with self._write() as db:
            cur = db.execute(
                "INSERT INTO events (stack_id, cluster_name, timestamp, logical_resource_id,"
                " physical_resource_id, resource_type, resource_status, reason)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    event.stack_id,
                    event.cluster_name,
                    _dt(event.timestamp),
                    event.logical_resource_id,
                    event.physical_resource_id,
                    event.resource_type,
                    event.resource_status,
                    event.reason,
                ),
            )
        return replace(event, event_id=int(cur.lastrowid or 0))

    @_guarded
    def events(self, stack_id: str, *, after_id: int = 0) -> list[StackEventRecord]:
        """Events of one stack with ``event_id > after_id``, oldest first."""
        if self._empty():
            return []
        with self._lock:
            rows = self._db.execute(
                "SELECT event_id, stack_id, cluster_name, timestamp, logical_resource_id,"
                " physical_resource_id, resource_type, resource_status, reason"
                " FROM events WHERE stack_id = ? AND event_id > ? ORDER BY event_id",
                (stack_id, after_id),
            ).fetchall()
        return [
            StackEventRecord(
                event_id=r[0],
                stack_id=r[1],
                cluster_name=r[2],
                timestamp=_parse_dt(r[3]),
                logical_resource_id=r[4],
                physical_resource_id=r[5],
                resource_type=r[6],
                resource_status=r[7],
                reason=r[8],
            )
            for r in rows
        ]


def _file_id(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _retry_locked(action: Callable[[], None], budget_s: float = BUSY_TIMEOUT_S) -> None:
    """Run ``action``, retrying for up to ``budget_s`` while SQLite says the database is locked or
    busy (then the caller says who holds it: never a silent wait of minutes)."""
    deadline = time.monotonic() + budget_s
    while True:
        try:
            action()
            return
        except sqlite3.OperationalError as exc:
            if ("locked" not in str(exc) and "busy" not in str(exc)) or time.monotonic() > deadline:
                raise
            time.sleep(0.05 + random.random() * 0.1)


def duplicate_cluster(name: str) -> ConflictError:
    """The error for a create whose name is taken."""
    return ConflictError(
        f"Cluster '{name}' already exists.",
        hint=f"pick another name, or delete it first: corral delete-cluster -n {name}",
    )


def unknown_cluster(name: str, names: list[str]) -> NotFoundError:
    """The error for a cluster name nobody created, with the closest existing names."""
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
    if close:
        hint = "did you mean " + " or ".join(repr(c) for c in close) + "?"
    elif names:
        hint = "existing clusters: " + ", ".join(names[:10]) + " (see `corral list-clusters`)"
    else:
        hint = "there are no clusters yet; create one with `corral create-cluster -n NAME -c cluster.yaml`"
    return NotFoundError(f"Cluster '{name}' does not exist.", hint=hint)


def _dt(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _parse_dt(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _to_row(r: ClusterRecord) -> tuple[object, ...]:
    return (
        r.name,
        r.stack_id,
        r.stack_status.value,
        r.provider,
        r.region,
        r.config_text,
        r.config_path,
        r.plan_json,
        r.scheduler,
        r.corral_version,
        r.pcluster_version,
        json.dumps([list(t) for t in r.tags]),
        _dt(r.created_at),
        _dt(r.updated_at),
        r.fleet_status.value,
        _dt(r.fleet_updated_at),
        None if r.owner is None else r.owner.pid,
        None if r.owner is None else r.owner.start_ticks,
        int(r.rollback_on_failure),
        r.failure_code,
        r.failure_reason,
        r.version,
    )


def _from_row(row: tuple[object, ...]) -> ClusterRecord:
    v = dict(zip(_COLUMNS, row, strict=True))
    owner = None
    if v["owner_pid"] is not None:
        owner = ProcessIdentity(int(str(v["owner_pid"])), int(str(v["owner_start_ticks"])))
    return ClusterRecord(
        name=str(v["name"]),
        stack_id=str(v["stack_id"]),
        stack_status=StackStatus(str(v["stack_status"])),
        provider=str(v["provider"]),
        region=str(v["region"]),
        config_text=str(v["config_text"]),
        config_path=str(v["config_path"]),
        plan_json=str(v["plan_json"]),
        scheduler=str(v["scheduler"]),
        corral_version=str(v["corral_version"]),
        pcluster_version=str(v["pcluster_version"]),
        tags=tuple((str(k), str(val)) for k, val in json.loads(str(v["tags_json"]))),
        created_at=_parse_dt(str(v["created_at"])),
        updated_at=_parse_dt(str(v["updated_at"])),
        fleet_status=FleetStatus(str(v["fleet_status"])),
        fleet_updated_at=None if v["fleet_updated_at"] is None else _parse_dt(str(v["fleet_updated_at"])),
        owner=owner,
        rollback_on_failure=bool(v["rollback_on_failure"]),
        failure_code=str(v["failure_code"]),
        failure_reason=str(v["failure_reason"]),
        version=int(str(v["version"])),
    )


__all__ = [
    "DB_FILE",
    "StaleWriteError",
    "StateStore",
    "default_state_dir",
    "duplicate_cluster",
    "unknown_cluster",
]

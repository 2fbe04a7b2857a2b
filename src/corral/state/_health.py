"""Why the state database cannot be used, said precisely and with a hint that never orphans a cluster.

``diagnose`` looks at the file itself (SQLite header, size against the page count it declares, the
directory's writability and free space, who holds it open) and ``translate`` turns any SQLite or OS
error of the store into a ``StateStoreError`` naming that cause. A damaged database is never
"moved away" by hand: ``corral repair-state`` keeps it aside and rebuilds the records from the
clusters' own directories, so no running cluster loses its record.
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
from pathlib import Path

from corral.errors import CorralError, StateStoreError

MAGIC = b"SQLite format 3\x00"
HEADER_SIZE = 100
#: free bytes below which a write is expected to fail
LOW_SPACE_BYTES = 1 << 20
REPAIR = "corral repair-state"


def header_problem(path: Path) -> str | None:
    """What is wrong with the database file's header and size, or None when it looks whole (pure
    file inspection: magic string, page size, and the page count the header declares)."""
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            header = handle.read(HEADER_SIZE)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"it cannot be read ({exc.strerror or exc})"
    if size == 0:
        return None  # a database not yet initialised
    if len(header) < HEADER_SIZE:
        return f"it is truncated ({size} bytes, shorter than SQLite's {HEADER_SIZE}-byte header)"
    if not header.startswith(MAGIC):
        return "it is not a SQLite database (its first bytes are not SQLite's header)"
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    valid = header[24:28] == header[92:96]
    if page_size < 512 or page_size & (page_size - 1):
        return f"its header is damaged (page size {page_size})"
    wal = Path(f"{path}-wal")
    pending = wal.exists() and wal.stat().st_size > 0  # pages not yet checkpointed live there
    if valid and pages and size < pages * page_size and not pending:
        return f"it is truncated ({size} bytes, its header declares {pages} pages of {page_size} bytes)"
    return None


def holders(path: Path) -> list[str]:
    """``pid N (command)`` for each process that has the database (or its WAL) open."""
    targets = {str(path), f"{path}-wal", f"{path}-shm"}
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            fds = os.listdir(f"/proc/{entry.name}/fd")
            if not any(os.readlink(f"/proc/{entry.name}/fd/{fd}") in targets for fd in fds):
                continue
            argv = Path(f"/proc/{entry.name}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        found.append(f"pid {entry.name} ({b' '.join(argv).decode(errors='replace').strip()[:80]})")
    return found


def free_bytes(directory: Path) -> int | None:
    try:
        return shutil.disk_usage(directory).free
    except OSError:
        return None


def _writable(directory: Path) -> str | None:
    """None when a file can be created in ``directory``; else why not."""
    probe = directory / f".corral-write-probe-{os.getpid()}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
        probe.unlink()
    except FileNotFoundError:
        return None  # the directory does not exist yet: the store creates it
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            return "full"
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            return f"read-only ({exc.strerror})"
        return exc.strerror or str(exc)
    return None


def corrupt(path: Path, detail: str) -> StateStoreError:
    return StateStoreError(
        f"the state database {path} is damaged: {detail}",
        hint=f"run `{REPAIR}`: it keeps the damaged file aside and rebuilds the records of every cluster"
        " from the clusters' own directories (running clusters are not touched)",
        cause="corrupt",
    )


def diagnose(path: Path, error: BaseException | None = None) -> StateStoreError:
    """The precise reason ``error`` (a SQLite or OS error of the store) happened."""
    directory = path.parent
    text = str(error or "").lower()
    writable = _writable(directory)
    free = free_bytes(directory)
    if writable != "full" and not (free is not None and free < LOW_SPACE_BYTES):
        problem = header_problem(path)
        if problem is not None:
            return corrupt(path, problem)
        if "malformed" in text or "not a database" in text or "corrupt" in text:
            return corrupt(path, str(error))
    if (
        writable == "full"
        or "full" in text
        or (free is not None and free < LOW_SPACE_BYTES and "i/o" in text)
    ):
        shown = f"{free} bytes free" if free is not None else "no space left"
        return StateStoreError(
            f"the file system holding the state directory {directory} is full ({shown})",
            hint=f"free some space there (`df {directory}`) and retry; no cluster was touched, and a"
            " create that ran out of space took down what it had made",
            cause="full",
        )
    if writable is not None or "readonly" in text or "read-only" in text:
        reason = writable or "the database is read-only"
        return StateStoreError(
            f"the state directory {directory} cannot be written: {reason}",
            hint=f"make {directory} and {path.name} writable for this user (or remount the file system"
            " read-write) and retry; nothing was changed",
            cause="read-only",
        )
    if "locked" in text or "busy" in text:
        who = holders(path)
        named = "; held open by " + ", ".join(who) if who else ""
        return StateStoreError(
            f"the state database {path} stayed locked by another process{named}",
            hint="wait for that command to finish and retry; if that process hangs, stop it (its"
            " clusters keep running without it)",
            cause="locked",
        )
    return StateStoreError(
        f"the state database {path} cannot be used: {error}",
        hint=f"check the disk holding {directory} (`dmesg` for I/O errors); `{REPAIR}` rebuilds the"
        " records from the clusters' directories if the file is damaged",
        cause="io",
    )


def translate(path: Path, error: BaseException) -> CorralError:
    """``error`` as the store's caller should see it (a ``CorralError`` passes through)."""
    if isinstance(error, CorralError):
        return error
    if isinstance(error, sqlite3.Error | OSError):
        return diagnose(path, error)
    raise error

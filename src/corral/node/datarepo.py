"""FSx for Lustre data repository associations, decided as pure functions.

One association links a directory (``MountDir/FileSystemPath``) to an S3 prefix
(``DataRepositoryPath``). Its ``SyncState`` records, per relative path, the object ETag and the file
(size, mtime) that were last known to be the same data on both sides, whichever side wrote it. From
a listing of the bucket, a scan of the directory and that state, ``decide`` returns the transfers:

- import (``AutoImportPolicy``): NEW, an object with no record and no local file (or a path never
  synced); CHANGED, an object whose ETag differs from the record; DELETED, a recorded object that
  is gone, whose file is removed if it has not been changed locally since.
- export (``AutoExportPolicy``): NEW, a file with no record; CHANGED, a file whose (size, mtime)
  differs from the record; DELETED, a recorded file that is gone, whose object is deleted.

Because both directions update the same record, nothing echoes: an imported file matches its record
and is not exported back, an exported object's new ETag is recorded and is not imported back.
Objects present when the association is created without ``BatchImportMetaDataOnCreate`` are the
``baseline``: they are not imported (FSx imports only later changes), unless they change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

NEW, CHANGED, DELETED = "NEW", "CHANGED", "DELETED"


@dataclass(frozen=True)
class Remote:
    etag: str
    size: int


@dataclass(frozen=True)
class Local:
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Synced:
    """Both sides held the same data: the object's ETag and the file's (size, mtime)."""

    etag: str
    size: int
    mtime_ns: int


@dataclass
class SyncState:
    synced: dict[str, Synced] = field(default_factory=dict)
    baseline: dict[str, str] = field(default_factory=dict)  # path -> ETag not imported at create

    def to_json(self) -> dict[str, object]:
        return {
            "synced": {k: [v.etag, v.size, v.mtime_ns] for k, v in self.synced.items()},
            "baseline": dict(self.baseline),
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, object]) -> SyncState:
        synced = raw.get("synced", {})
        baseline = raw.get("baseline", {})
        assert isinstance(synced, dict) and isinstance(baseline, dict)
        return cls(
            synced={k: Synced(str(v[0]), int(v[1]), int(v[2])) for k, v in synced.items()},
            baseline={str(k): str(v) for k, v in baseline.items()},
        )


@dataclass(frozen=True)
class Transfer:
    """``download``/``remove_file`` (import) or ``upload``/``delete_object`` (export) of ``path``."""

    kind: str
    path: str
    reason: str  # NEW, CHANGED or DELETED


def _same_file(record: Synced, local: Local) -> bool:
    return record.size == local.size and record.mtime_ns == local.mtime_ns


def decide_import(
    remote: Mapping[str, Remote], local: Mapping[str, Local], state: SyncState, policy: frozenset[str]
) -> list[Transfer]:
    """The imports ``policy`` (a subset of NEW, CHANGED, DELETED) asks for."""
    out = []
    for path, obj in sorted(remote.items()):
        record = state.synced.get(path)
        if record is None:
            if state.baseline.get(path) == obj.etag:
                continue  # there before the association; FSx does not import it
            if NEW in policy and path not in local:
                out.append(Transfer("download", path, NEW))
            elif CHANGED in policy and path in state.baseline:
                out.append(Transfer("download", path, CHANGED))
        elif record.etag != obj.etag and CHANGED in policy:
            out.append(Transfer("download", path, CHANGED))
    if DELETED in policy:
        for path, record in sorted(state.synced.items()):
            if path not in remote and path in local and _same_file(record, local[path]):
                out.append(Transfer("remove_file", path, DELETED))
    return out


def decide_export(
    remote: Mapping[str, Remote], local: Mapping[str, Local], state: SyncState, policy: frozenset[str]
) -> list[Transfer]:
    """The exports ``policy`` (a subset of NEW, CHANGED, DELETED) asks for."""
    out = []
    for path, file in sorted(local.items()):
        record = state.synced.get(path)
        if record is None:
            if NEW in policy:
                out.append(Transfer("upload", path, NEW))
        elif not _same_file(record, file) and CHANGED in policy:
            out.append(Transfer("upload", path, CHANGED))
    if DELETED in policy:
        for path in sorted(state.synced):
            if path not in local and path in remote:
                out.append(Transfer("delete_object", path, DELETED))
    return out


def decide(
    remote: Mapping[str, Remote],
    local: Mapping[str, Local],
    state: SyncState,
    *,
    import_policy: frozenset[str],
    export_policy: frozenset[str],
) -> list[Transfer]:
    """Imports first, then the exports that no import in this pass touches (a path changed on both
    sides since the last pass is imported: the bucket wins, as with FSx)."""
    imports = decide_import(remote, local, state, import_policy)
    touched = {t.path for t in imports}
    exports = [t for t in decide_export(remote, local, state, export_policy) if t.path not in touched]
    return imports + exports


def batch_import(remote: Mapping[str, Remote]) -> list[Transfer]:
    """BatchImportMetaDataOnCreate: every object under the prefix."""
    return [Transfer("download", path, NEW) for path in sorted(remote)]


def forget_vanished(remote: Mapping[str, Remote], local: Mapping[str, Local], state: SyncState) -> None:
    """Drop records whose path is gone on both sides, and baseline entries gone from the bucket."""
    for path in [p for p in state.synced if p not in remote and p not in local]:
        del state.synced[path]
    for path in [p for p in state.baseline if p not in remote]:
        del state.baseline[path]

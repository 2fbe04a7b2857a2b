"""Data repository association decisions (pure): import/export per policy, no echo between them."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from corral.node.datarepo import (
    CHANGED,
    DELETED,
    NEW,
    Local,
    Remote,
    Synced,
    SyncState,
    Transfer,
    batch_import,
    decide,
    forget_vanished,
)

ALL = frozenset({NEW, CHANGED, DELETED})
NONE: frozenset[str] = frozenset()


def test_import_new_changed_deleted() -> None:
    state = SyncState(
        synced={"kept": Synced("e1", 3, 10), "gone": Synced("e2", 3, 10), "old": Synced("e3", 3, 10)}
    )
    remote = {"kept": Remote("e1", 3), "old": Remote("e9", 4), "fresh": Remote("e4", 1)}
    local = {"kept": Local(3, 10), "gone": Local(3, 10), "old": Local(3, 10)}
    got = decide(remote, local, state, import_policy=ALL, export_policy=NONE)
    assert got == [
        Transfer("download", "fresh", NEW),
        Transfer("download", "old", CHANGED),
        Transfer("remove_file", "gone", DELETED),
    ]
    only_new = decide(remote, local, state, import_policy=frozenset({NEW}), export_policy=NONE)
    assert only_new == [Transfer("download", "fresh", NEW)]


def test_import_deleted_keeps_a_file_changed_locally() -> None:
    state = SyncState(synced={"f": Synced("e1", 3, 10)})
    assert decide({}, {"f": Local(5, 20)}, state, import_policy=ALL, export_policy=NONE) == []


def test_export_new_changed_deleted() -> None:
    state = SyncState(
        synced={"same": Synced("e1", 3, 10), "edited": Synced("e2", 3, 10), "rm": Synced("e3", 3, 10)}
    )
    remote = {"same": Remote("e1", 3), "edited": Remote("e2", 3), "rm": Remote("e3", 3)}
    local = {"same": Local(3, 10), "edited": Local(4, 11), "out.txt": Local(1, 1)}
    got = decide(remote, local, state, import_policy=NONE, export_policy=ALL)
    assert got == [
        Transfer("upload", "edited", CHANGED),
        Transfer("upload", "out.txt", NEW),
        Transfer("delete_object", "rm", DELETED),
    ]


def test_no_echo_after_a_transfer_is_recorded() -> None:
    """What one direction wrote is recorded as synced, so the other direction leaves it alone."""
    imported = SyncState(synced={"a": Synced("e1", 3, 10)})
    remote, local = {"a": Remote("e1", 3)}, {"a": Local(3, 10)}
    assert decide(remote, local, imported, import_policy=ALL, export_policy=ALL) == []


def test_baseline_objects_are_not_auto_imported_unless_they_change() -> None:
    state = SyncState(baseline={"pre": "e1"})
    assert decide({"pre": Remote("e1", 1)}, {}, state, import_policy=ALL, export_policy=NONE) == []
    changed = decide({"pre": Remote("e2", 1)}, {}, state, import_policy=ALL, export_policy=NONE)
    assert changed == [Transfer("download", "pre", NEW)]


def test_both_sides_changed_the_bucket_wins() -> None:
    state = SyncState(synced={"f": Synced("e1", 3, 10)})
    got = decide({"f": Remote("e2", 3)}, {"f": Local(9, 99)}, state, import_policy=ALL, export_policy=ALL)
    assert got == [Transfer("download", "f", CHANGED)]


def test_batch_import_and_forgetting() -> None:
    assert batch_import({"b": Remote("x", 1), "a": Remote("y", 1)}) == [
        Transfer("download", "a", NEW),
        Transfer("download", "b", NEW),
    ]
    state = SyncState(synced={"gone": Synced("e", 1, 1), "here": Synced("e", 1, 1)}, baseline={"x": "e"})
    forget_vanished({"here": Remote("e", 1)}, {}, state)
    assert set(state.synced) == {"here"} and state.baseline == {}
    assert SyncState.from_json(state.to_json()) == state


paths = st.sampled_from(["a", "b", "d/c"])


@given(
    remote=st.dictionaries(paths, st.builds(Remote, st.sampled_from(["e1", "e2"]), st.integers(0, 3))),
    local=st.dictionaries(paths, st.builds(Local, st.integers(0, 3), st.integers(0, 3))),
)
def test_a_synced_state_needs_no_transfer(remote: dict[str, Remote], local: dict[str, Local]) -> None:
    """After applying the decisions as if they succeeded, the next pass decides nothing."""
    state = SyncState()
    for _ in range(3):
        for t in decide(remote, local, state, import_policy=ALL, export_policy=ALL):
            if t.kind == "download":
                local[t.path] = Local(remote[t.path].size, 100)
                state.synced[t.path] = Synced(remote[t.path].etag, remote[t.path].size, 100)
            elif t.kind == "upload":
                remote[t.path] = Remote("up-" + t.path, local[t.path].size)
                state.synced[t.path] = Synced(remote[t.path].etag, local[t.path].size, local[t.path].mtime_ns)
            elif t.kind == "remove_file":
                del local[t.path]
                del state.synced[t.path]
            else:
                del remote[t.path]
                del state.synced[t.path]
        forget_vanished(remote, local, state)
    assert decide(remote, local, state, import_policy=ALL, export_policy=ALL) == []
    assert set(remote) == set(local)

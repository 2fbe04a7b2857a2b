"""The reconciler heartbeat file: written atomically, read back, aged, judged stale."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from corral.runtime import heartbeat

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_written_heartbeat_reads_back_and_ages(tmp_path: Path) -> None:
    path = heartbeat.heartbeat_path(tmp_path / "state")
    heartbeat.write_heartbeat(path, T0)
    assert path.read_text().startswith("2026-01-02T03:04:05")
    assert heartbeat.read_heartbeat(path) == T0
    assert heartbeat.heartbeat_age_s(path, T0 + timedelta(seconds=7.5)) == 7.5
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind


def test_missing_or_garbled_heartbeat_has_no_age(tmp_path: Path) -> None:
    path = tmp_path / "heartbeat"
    assert heartbeat.heartbeat_age_s(path, T0) is None
    assert heartbeat.is_stale(path, T0, 60)
    path.write_text("not a time\n")
    assert heartbeat.heartbeat_age_s(path, T0) is None


def test_staleness_threshold(tmp_path: Path) -> None:
    path = tmp_path / "heartbeat"
    heartbeat.write_heartbeat(path, T0)
    assert not heartbeat.is_stale(path, T0 + timedelta(seconds=60), 60)
    assert heartbeat.is_stale(path, T0 + timedelta(seconds=61), 60)
    # a clock that went backwards is not an age below zero
    assert heartbeat.heartbeat_age_s(path, T0 - timedelta(seconds=5)) == 0.0


def test_threshold_from_environment() -> None:
    assert heartbeat.stale_after_s({}) == heartbeat.DEFAULT_STALE_AFTER_S
    assert heartbeat.stale_after_s({heartbeat.STALE_AFTER_ENV: "3.5"}) == 3.5
    assert heartbeat.stale_after_s({heartbeat.STALE_AFTER_ENV: "-1"}) == heartbeat.DEFAULT_STALE_AFTER_S
    assert heartbeat.stale_after_s({heartbeat.STALE_AFTER_ENV: "soon"}) == heartbeat.DEFAULT_STALE_AFTER_S


def test_naive_timestamp_is_taken_as_utc(tmp_path: Path) -> None:
    path = tmp_path / "heartbeat"
    path.write_text("2026-01-02T03:04:05\n")
    assert heartbeat.read_heartbeat(path) == T0

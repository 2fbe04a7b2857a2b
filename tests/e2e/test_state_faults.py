"""State store faults through the CLI (issue #19, point 4): a truncated or garbage database, a lost
record, a read-only state directory. Each names its cause within seconds, no hint orphans the
cluster, `corral repair-state` brings the record back, and the cluster (its job, its /home) never
noticed."""

from __future__ import annotations

import json
import os
import shlex
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import Corral, cluster_yaml, unique_name, wait_until

pytestmark = pytest.mark.e2e

CONFIG = cluster_yaml()

Run = Corral


@pytest.fixture
def cli(prerequisites: None, tmp_path: Path) -> Iterator[tuple[Run, Path, str]]:
    """A CLI over a fresh state directory with one running cluster; deleted afterwards."""
    run = Corral(tmp_path / "state")
    name = unique_name("rlst")
    run.create(name, CONFIG)
    try:
        yield run, run.state_dir, name
    finally:
        if run("describe-cluster", "-n", name, check=False).returncode != 0:
            run("repair-state", check=False)
        run.delete(name)


def _job(run: Run, name: str) -> str:
    job = run(
        "ssh", "-n", name, "--user", "root", "--", shlex.join(["sbatch", "--parsable", "--wrap", "sleep 600"])
    ).stdout.strip()
    wait_until(lambda: _state(run, name, job) == "RUNNING", 60, "the job to run")
    return job


def _state(run: Run, name: str, job: str) -> str:
    """The job's state, asked of the cluster itself (not through the store under test)."""
    return run.provider.run_on_head(name, ["squeue", "-h", "-j", job, "-o", "%T"]).stdout.strip()


def _checkpoint(state: Path) -> Path:
    db = sqlite3.connect(state / "corral.db")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return state / "corral.db"


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_a_damaged_store_is_named_at_once_and_repair_state_brings_the_record_back(
    cli: tuple[Run, Path, str], damage: str
) -> None:
    run, state, name = cli
    job = _job(run, name)
    home_file = "/home/keep-me"
    run("ssh", "-n", name, "--user", "root", "--", shlex.join(["sh", "-c", f"echo data > {home_file}"]))
    path = _checkpoint(state)
    if damage == "truncated":
        with path.open("r+b") as handle:
            handle.truncate(path.stat().st_size // 2)
    else:
        path.write_bytes(os.urandom(path.stat().st_size))
    started = time.monotonic()
    failed = run("describe-cluster", "-n", name, check=False)
    elapsed = time.monotonic() - started
    print(f"{damage} store: describe-cluster failed after {elapsed:.2f} s")
    assert failed.returncode != 0 and elapsed < 10
    assert "is damaged" in json.loads(failed.stdout)["message"]
    assert "corral repair-state" in failed.stderr and "move it away" not in failed.stderr
    repaired = json.loads(run("repair-state").stdout)
    assert repaired["rebuiltClusters"] == [name] and len(repaired["damagedDatabaseKeptAs"]) >= 1
    described = json.loads(run("describe-cluster", "-n", name).stdout)
    assert described["clusterStatus"] == "CREATE_COMPLETE"
    assert _state(run, name, job) == "RUNNING"
    assert run("ssh", "-n", name, "--user", "root", "--", shlex.join(["cat", home_file])).stdout == "data\n"


def test_a_create_after_the_record_was_lost_refuses_and_touches_nothing(cli: tuple[Run, Path, str]) -> None:
    run, state, name = cli
    job = _job(run, name)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{state / 'corral.db'}{suffix}").unlink(missing_ok=True)
    again = run("create-cluster", "-c", str(state.parent / f"{name}.yaml"), "-n", name, "--wait", check=False)
    assert again.returncode != 0
    assert "state store has no record" in json.loads(again.stdout)["message"]
    assert "repair-state" in again.stderr
    assert _state(run, name, job) == "RUNNING"
    assert json.loads(run("repair-state").stdout)["rebuiltClusters"] == [name]


def test_a_read_only_state_dir_is_named_and_nothing_changes(cli: tuple[Run, Path, str]) -> None:
    run, state, name = cli
    subprocess.run(["mount", "--bind", str(state), str(state)], check=True)
    subprocess.run(["mount", "-o", "remount,ro,bind", str(state)], check=True)
    try:
        started = time.monotonic()
        failed = run("delete-cluster", "-n", name, check=False)
        assert time.monotonic() - started < 10
        assert failed.returncode != 0
        assert "cannot be written" in json.loads(failed.stdout)["message"]
        assert "writable" in failed.stderr and "repair-state" not in failed.stderr
    finally:
        subprocess.run(["umount", str(state)], check=True)
    described = json.loads(run("describe-cluster", "-n", name).stdout)
    assert described["clusterStatus"] == "CREATE_COMPLETE"

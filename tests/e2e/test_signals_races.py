"""Signals, races and a dead head node through the CLI (issue #19, points 3 and 7): SIGTERM and
SIGHUP roll a create back as Ctrl-C does, a create stopped by a delete says so, two concurrent
deletes both end with the cluster gone, and a cluster whose head node died is described truthfully
while fleet requests fail without recording anything."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from corral.providers.local import LocalProvider, _cgroups
from corral.state._health import holders

from .conftest import leftovers, unique_name, wait_until
from .test_state_faults import CONFIG

pytestmark = pytest.mark.e2e

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def env(prerequisites: None, tmp_path: Path) -> dict[str, str]:
    (tmp_path / "cluster.yaml").write_text(CONFIG)
    return {**os.environ, "CORRAL_STATE_DIR": str(tmp_path / "state")}


def _corral() -> str:
    return str(Path(sys.executable).with_name("corral"))


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_corral(), *args], env=env, capture_output=True, text=True, timeout=180)


def _config(env: dict[str, str]) -> str:
    return str(Path(env["CORRAL_STATE_DIR"]).parent / "cluster.yaml")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_mid_create_rolls_back_and_leaves_nothing(env: dict[str, str], sig: signal.Signals) -> None:
    name = unique_name("rlsig")
    creator = subprocess.Popen(
        [_corral(), "create-cluster", "-c", _config(env), "-n", name, "--wait"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    provider = LocalProvider(Path(env["CORRAL_STATE_DIR"]))
    root = provider.layout(name).root
    wait_until(lambda: _cgroups.pids(root) or creator.poll() is not None, 60, "the head")
    creator.send_signal(sig)
    _out, err = creator.communicate(timeout=120)
    assert creator.returncode == 128 + sig, err
    assert f"{sig.name} received" in err
    described = json.loads(_run(env, "describe-cluster", "-n", name).stdout)
    assert described["clusterStatus"] == "ROLLBACK_COMPLETE" or described["clusterStatus"] == "CREATE_FAILED"
    assert sig.name in described["failures"][0]["failureReason"]
    assert leftovers(provider, name) == []
    assert _run(env, "delete-cluster", "-n", name, "--wait").returncode == 0


def test_a_create_stopped_by_a_delete_says_so(env: dict[str, str]) -> None:
    """The head's OnNodeConfigured takes a minute, so the delete certainly lands mid-create."""
    slow = Path(env["CORRAL_STATE_DIR"]).parent / "slow.sh"
    slow.write_text("#!/bin/bash\nsleep 60\n")
    slow.chmod(0o755)
    config = Path(_config(env))
    head_actions = f"  CustomActions:\n    OnNodeConfigured:\n      Script: {slow}\n"
    config.write_text(CONFIG.replace("HeadNode:\n", "HeadNode:\n" + head_actions, 1))
    name = unique_name("rlstop")
    accepted = _run(env, "create-cluster", "-c", str(config), "-n", name)
    assert accepted.returncode == 0, accepted.stderr
    provider = LocalProvider(Path(env["CORRAL_STATE_DIR"]))
    wait_until(lambda: _cgroups.pids(provider.layout(name).root), 60, "the create to start its head")
    deleted = _run(env, "delete-cluster", "-n", name, "--wait")
    assert deleted.returncode == 0, deleted.stdout + deleted.stderr
    log = Path(env["CORRAL_STATE_DIR"]) / "logs" / f"{name}.log"
    worker = log.read_text()
    assert "SIGTERM received" in worker, worker
    assert "create stopped by delete-cluster" in worker, worker
    assert leftovers(provider, name) == []


def _status(env: dict[str, str], name: str) -> str | None:
    db = sqlite3.connect(Path(env["CORRAL_STATE_DIR"]) / "corral.db", timeout=10)
    try:
        row = db.execute("SELECT stack_status FROM clusters WHERE name = ?", (name,)).fetchone()
    finally:
        db.close()
    return None if row is None else str(row[0])


def test_two_concurrent_deletes_both_end_with_the_cluster_gone(env: dict[str, str]) -> None:
    """A delete is running (held stopped with SIGSTOP so the race is certain) when two more start:
    they wait for it instead of racing it, and all three succeed with the cluster gone."""
    name = unique_name("rlrace")
    created = _run(env, "create-cluster", "-c", _config(env), "-n", name, "--wait")
    assert created.returncode == 0, created.stderr
    argv = [_corral(), "delete-cluster", "-n", name, "--wait"]

    def start() -> subprocess.Popen[str]:
        return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    first = start()
    wait_until(lambda: _status(env, name) == "DELETE_IN_PROGRESS", 60, "the first delete to start", 0.01)
    first.send_signal(signal.SIGSTOP)
    try:
        others = [start(), start()]
        database = Path(env["CORRAL_STATE_DIR"]) / "corral.db"
        wait_until(
            lambda: {p.pid for p in others} <= {int(h.split()[1]) for h in holders(database)},
            60,
            "the two other deletes to reach the store",
        )
    finally:
        first.send_signal(signal.SIGCONT)
    outcomes = [p.communicate(timeout=180) for p in (first, *others)]
    assert [p.returncode for p in (first, *others)] == [0, 0, 0], outcomes
    assert all("Successfully deleted" in out for out, _err in outcomes)
    assert _run(env, "describe-cluster", "-n", name).returncode != 0
    assert leftovers(LocalProvider(Path(env["CORRAL_STATE_DIR"])), name) == []


def test_a_dead_head_is_described_truthfully_and_fleet_requests_fail(env: dict[str, str]) -> None:
    name = unique_name("rlhead")
    created = _run(env, "create-cluster", "-c", _config(env), "-n", name, "--wait")
    assert created.returncode == 0, created.stderr
    provider = LocalProvider(Path(env["CORRAL_STATE_DIR"]))
    try:
        _cgroups.kill(provider.layout(name).root, [_cgroups.HEAD], grace_s=0)
        described = json.loads(_run(env, "describe-cluster", "-n", name).stdout)
        assert described["clusterStatus"] == "CREATE_COMPLETE"
        assert described["headNode"]["state"] == "stopped"
        assert described["computeFleetStatus"] == "UNKNOWN"
        fleet = json.loads(_run(env, "describe-compute-fleet", "-n", name).stdout)
        assert fleet["status"] == "UNKNOWN"
        for status in ("START_REQUESTED", "STOP_REQUESTED"):
            refused = _run(env, "update-compute-fleet", "-n", name, "--status", status)
            assert refused.returncode != 0
            assert "head node is stopped" in json.loads(refused.stdout)["message"]
        db = sqlite3.connect(Path(env["CORRAL_STATE_DIR"]) / "corral.db")
        recorded = db.execute("SELECT fleet_status FROM clusters WHERE name = ?", (name,)).fetchone()
        db.close()
        assert recorded == ("RUNNING",)  # nothing was recorded by the refusals
    finally:
        assert _run(env, "delete-cluster", "-n", name, "--wait").returncode == 0
        assert leftovers(provider, name) == []

"""Signals, races and a dead head node through the CLI (issue #19, points 3 and 7): SIGTERM and
SIGHUP roll a create back as Ctrl-C does, a create stopped by a delete says so, two concurrent
deletes both end with the cluster gone, and a cluster whose head node died is described truthfully
while fleet requests fail without recording anything."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
from pathlib import Path

import pytest

from corral.providers.local import _cgroups
from corral.state._health import holders

from .conftest import Corral, cluster_yaml, leftovers, unique_name, wait_until

pytestmark = pytest.mark.e2e

CONFIG = cluster_yaml()


@pytest.fixture
def cli(prerequisites: None, tmp_path: Path) -> Corral:
    """The CLI over a fresh state directory."""
    return Corral(tmp_path / "state")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_mid_create_rolls_back_and_leaves_nothing(cli: Corral, sig: signal.Signals) -> None:
    name = unique_name("rlsig")
    creator = subprocess.Popen(
        [cli.program, "create-cluster", "-c", str(cli.config(CONFIG, name)), "-n", name, "--wait"],
        env=cli.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    provider = cli.provider
    root = provider.layout(name).root
    wait_until(lambda: _cgroups.pids(root) or creator.poll() is not None, 60, "the head")
    creator.send_signal(sig)
    _out, err = creator.communicate(timeout=120)
    assert creator.returncode == 128 + sig, err
    assert f"{sig.name} received" in err
    described = json.loads(cli("describe-cluster", "-n", name, check=False).stdout)
    assert described["clusterStatus"] == "ROLLBACK_COMPLETE" or described["clusterStatus"] == "CREATE_FAILED"
    assert sig.name in described["failures"][0]["failureReason"]
    assert leftovers(provider, name) == []
    assert cli("delete-cluster", "-n", name, "--wait", check=False).returncode == 0


def test_a_create_stopped_by_a_delete_says_so(cli: Corral) -> None:
    """The head's OnNodeConfigured takes a minute, so the delete certainly lands mid-create."""
    slow = cli.state_dir.parent / "slow.sh"
    slow.write_text("#!/bin/bash\nsleep 60\n")
    slow.chmod(0o755)
    name = unique_name("rlstop")
    config = cli.config(
        cluster_yaml(head={"CustomActions": {"OnNodeConfigured": {"Script": str(slow)}}}), name
    )
    accepted = cli("create-cluster", "-c", str(config), "-n", name, check=False)
    assert accepted.returncode == 0, accepted.stderr
    provider = cli.provider
    wait_until(lambda: _cgroups.pids(provider.layout(name).root), 60, "the create to start its head")
    deleted = cli("delete-cluster", "-n", name, "--wait", check=False)
    assert deleted.returncode == 0, deleted.stdout + deleted.stderr
    log = cli.state_dir / "logs" / f"{name}.log"
    worker = log.read_text()
    assert "SIGTERM received" in worker, worker
    assert "create stopped by delete-cluster" in worker, worker
    assert leftovers(provider, name) == []


def _status(cli: Corral, name: str) -> str | None:
    db = sqlite3.connect(cli.state_dir / "corral.db", timeout=10)
    try:
        row = db.execute("SELECT stack_status FROM clusters WHERE name = ?", (name,)).fetchone()
    finally:
        db.close()
    return None if row is None else str(row[0])


def test_two_concurrent_deletes_both_end_with_the_cluster_gone(cli: Corral) -> None:
    """A delete is running (held stopped with SIGSTOP so the race is certain) when two more start:
    they wait for it instead of racing it, and all three succeed with the cluster gone."""
    name = unique_name("rlrace")
    cli.create(name, CONFIG)
    argv = [cli.program, "delete-cluster", "-n", name, "--wait"]

    def start() -> subprocess.Popen[str]:
        return subprocess.Popen(argv, env=cli.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    first = start()
    wait_until(lambda: _status(cli, name) == "DELETE_IN_PROGRESS", 60, "the first delete to start", 0.01)
    first.send_signal(signal.SIGSTOP)
    try:
        others = [start(), start()]
        database = cli.state_dir / "corral.db"
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
    assert cli("describe-cluster", "-n", name, check=False).returncode != 0
    assert leftovers(cli.provider, name) == []


def test_a_dead_head_is_described_truthfully_and_fleet_requests_fail(cli: Corral) -> None:
    name = unique_name("rlhead")
    cli.create(name, CONFIG)
    provider = cli.provider
    try:
        _cgroups.kill(provider.layout(name).root, [_cgroups.HEAD], grace_s=0)
        described = json.loads(cli("describe-cluster", "-n", name, check=False).stdout)
        assert described["clusterStatus"] == "CREATE_COMPLETE"
        assert described["headNode"]["state"] == "stopped"
        assert described["computeFleetStatus"] == "UNKNOWN"
        fleet = json.loads(cli("describe-compute-fleet", "-n", name, check=False).stdout)
        assert fleet["status"] == "UNKNOWN"
        for status in ("START_REQUESTED", "STOP_REQUESTED"):
            refused = cli("update-compute-fleet", "-n", name, "--status", status, check=False)
            assert refused.returncode != 0
            assert "head node is stopped" in json.loads(refused.stdout)["message"]
        db = sqlite3.connect(cli.state_dir / "corral.db")
        recorded = db.execute("SELECT fleet_status FROM clusters WHERE name = ?", (name,)).fetchone()
        db.close()
        assert recorded == ("RUNNING",)  # nothing was recorded by the refusals
    finally:
        cli.delete(name, check=True)

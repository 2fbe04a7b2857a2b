"""create-cluster → describe → delete through the real CLI (subprocesses) with the fake provider:
background workers, --wait, rollback, a name race between two CLIs, and a worker killed with -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .openapi import validate

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "demo.yaml"
CORRAL = [sys.executable, "-m", "corral.cli.main"]


def run(state: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("CORRAL_FAKE_")}
    full.update({"CORRAL_STATE_DIR": str(state), "CORRAL_PROVIDER": "fake", **env})
    return subprocess.run([*CORRAL, *args], capture_output=True, text=True, env=full, timeout=120)


def ok(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout) if result.stdout.strip() else None


def status(state: Path, name: str) -> str:
    return str(ok(run(state, "describe-cluster", "-n", name))["clusterStatus"])


def wait_for(state: Path, name: str, wanted: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    seen = status(state, name)
    while seen != wanted and time.monotonic() < deadline:
        time.sleep(0.1)
        seen = status(state, name)
    return seen


def test_background_create_returns_in_progress_then_completes(tmp_path: Path) -> None:
    doc = ok(run(tmp_path, "create-cluster", "-n", "demo", "-c", str(EXAMPLE)))
    validate("CreateClusterResponseContent", doc)
    assert doc["cluster"]["clusterStatus"] == "CREATE_IN_PROGRESS"
    assert wait_for(tmp_path, "demo", "CREATE_COMPLETE") == "CREATE_COMPLETE"
    desc = ok(run(tmp_path, "describe-cluster", "-n", "demo"))
    validate("DescribeClusterResponseContent", desc)
    assert desc["headNode"]["state"] == "running"
    events = ok(run(tmp_path, "get-cluster-stack-events", "-n", "demo"))["events"]
    assert events[0]["resourceStatus"] == "CREATE_COMPLETE"
    assert ok(run(tmp_path, "delete-cluster", "-n", "demo", "--wait"))["message"].startswith("Successfully")


def test_wait_create_failure_rolls_back_and_exits_non_zero(tmp_path: Path) -> None:
    result = run(
        tmp_path, "create-cluster", "-n", "demo", "-c", str(EXAMPLE), "--wait", CORRAL_FAKE_FAIL="create"
    )
    assert result.returncode == 1
    desc = json.loads(result.stdout)
    validate("DescribeClusterResponseContent", desc)
    assert desc["clusterStatus"] == "CREATE_FAILED"
    assert desc["cloudFormationStackStatus"] == "ROLLBACK_COMPLETE"
    assert "ROLLBACK_IN_PROGRESS" in result.stderr  # the live progress
    assert not (tmp_path / "fake-provider" / "demo.json").exists()


def test_no_rollback_keeps_the_failed_cluster(tmp_path: Path) -> None:
    args = ("create-cluster", "-n", "demo", "-c", str(EXAMPLE), "--wait", "--rollback-on-failure", "false")
    result = run(tmp_path, *args, CORRAL_FAKE_FAIL="create")
    assert result.returncode == 1
    desc = json.loads(result.stdout)
    assert desc["cloudFormationStackStatus"] == "CREATE_FAILED"
    assert "headNode" in desc
    ok(run(tmp_path, "delete-cluster", "-n", "demo", "--wait"))
    assert not (tmp_path / "fake-provider" / "demo.json").exists()


def test_missing_prerequisites_are_one_clear_error(tmp_path: Path) -> None:
    result = run(
        tmp_path, "create-cluster", "-n", "demo", "-c", str(EXAMPLE), CORRAL_FAKE_FAIL="prerequisites"
    )
    assert result.returncode == 1
    assert "prerequisites" in json.loads(result.stdout)["message"]
    assert "hint:" in result.stderr and "Traceback" not in result.stderr
    assert ok(run(tmp_path, "list-clusters")) == {"clusters": []}


def test_two_clis_racing_for_one_name_exactly_one_wins(tmp_path: Path) -> None:
    env = {**os.environ, "CORRAL_STATE_DIR": str(tmp_path), "CORRAL_PROVIDER": "fake"}
    argv = [*CORRAL, "create-cluster", "-n", "race", "-c", str(EXAMPLE), "--wait"]
    procs = [
        subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, 1], outs
    loser = next(out for p, out in zip(procs, outs, strict=True) if p.returncode == 1)
    assert json.loads(loser[0]) == {"message": "Cluster 'race' already exists."}
    assert status(tmp_path, "race") == "CREATE_COMPLETE"


def test_worker_killed_with_9_is_reported_and_delete_cleans_up(tmp_path: Path) -> None:
    doc = ok(run(tmp_path, "create-cluster", "-n", "victim", "-c", str(EXAMPLE), CORRAL_FAKE_DELAY="60"))
    assert doc["cluster"]["clusterStatus"] == "CREATE_IN_PROGRESS"
    import sqlite3

    db = sqlite3.connect(tmp_path / "corral.db")
    worker = int(db.execute("SELECT owner_pid FROM clusters WHERE name = 'victim'").fetchone()[0])
    db.close()
    assert worker != os.getpid()
    deadline = time.monotonic() + 20
    while not (tmp_path / "fake-provider" / "victim.json").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert status(tmp_path, "victim") == "CREATE_IN_PROGRESS"  # the worker lives, sleeping mid-create
    os.kill(worker, signal.SIGKILL)
    time.sleep(0.3)
    desc = ok(run(tmp_path, "describe-cluster", "-n", "victim"))
    assert desc["clusterStatus"] == "CREATE_FAILED"
    assert "create was interrupted" in desc["failures"][0]["failureReason"]
    assert str(tmp_path / "logs" / "victim.log") in desc["failures"][0]["failureReason"]
    ok(run(tmp_path, "delete-cluster", "-n", "victim", "--wait"))
    assert not (tmp_path / "fake-provider" / "victim.json").exists()
    assert ok(run(tmp_path, "list-clusters")) == {"clusters": []}


def test_delete_while_a_background_create_runs(tmp_path: Path) -> None:
    ok(run(tmp_path, "create-cluster", "-n", "busy", "-c", str(EXAMPLE), CORRAL_FAKE_DELAY="60"))
    deadline = time.monotonic() + 20
    while not (tmp_path / "fake-provider" / "busy.json").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    result = ok(run(tmp_path, "delete-cluster", "-n", "busy", "--wait"))
    assert result == {"message": "Successfully deleted cluster 'busy'."}
    assert not (tmp_path / "fake-provider" / "busy.json").exists()


def _as_from_a_terminal() -> None:
    """The child's SIGINT as a shell in a terminal gives it: default and unblocked. An ignored or
    blocked SIGINT is inherited across exec, and a test worker can carry one (seen once in CI: the
    child ran on to CREATE_COMPLETE as if Ctrl-C never came); Python then never raises
    KeyboardInterrupt, as for a command started with ``nohup``."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_during_wait_rolls_back(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORRAL_FAKE_")}
    env.update({"CORRAL_STATE_DIR": str(tmp_path), "CORRAL_PROVIDER": "fake", "CORRAL_FAKE_DELAY": "60"})
    proc = subprocess.Popen(
        [*CORRAL, "create-cluster", "-n", "demo", "-c", str(EXAMPLE), "--wait"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=_as_from_a_terminal,
    )
    deadline = time.monotonic() + 20
    while not (tmp_path / "fake-provider" / "demo.json").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    desc = ok(run(tmp_path, "describe-cluster", "-n", "demo"))
    assert desc["cloudFormationStackStatus"] == "ROLLBACK_COMPLETE"
    assert "interrupted" in desc["failures"][0]["failureReason"]
    assert not (tmp_path / "fake-provider" / "demo.json").exists()

"""update-cluster through the real CLI (subprocesses) with the fake provider: pcluster's JSON for the
dry run, the refusal and the accepted update (checked against openapi.yaml), the table diff, a
background worker, and a worker killed with -9 settled as UPDATE_FAILED and retried."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time
from pathlib import Path

from .openapi import validate
from .test_cli_lifecycle import EXAMPLE, ok, run, status, wait_for


def variant(tmp: Path, name: str, *edits: tuple[str, str]) -> Path:
    text = EXAMPLE.read_text()
    for old, new in edits:
        assert old in text
        text = text.replace(old, new, 1)
    path = tmp / name
    path.write_text(text)
    return path


def created(tmp: Path, name: str = "demo") -> None:
    ok(run(tmp, "create-cluster", "-n", name, "-c", str(EXAMPLE), "--wait"))


def test_dry_run_refusal_and_update_in_pcluster_shapes(tmp_path: Path) -> None:
    created(tmp_path)
    more = variant(tmp_path, "more.yaml", ("MaxCount: 4", "MaxCount: 6"))
    dry = ok(run(tmp_path, "update-cluster", "-n", "demo", "-c", str(more), "--dryrun", "true"))
    validate("DryrunOperationExceptionResponseContent", dry)
    assert dry["changeSet"] == [
        {
            "parameter": "Scheduling.SlurmQueues[compute].ComputeResources[c5].MaxCount",
            "currentValue": "4",
            "requestedValue": "6",
        }
    ]
    table = run(
        tmp_path, "update-cluster", "-n", "demo", "-c", str(more), "--dryrun", "true", "--output", "table"
    )
    assert table.returncode == 0 and "MaxCount" in table.stdout and "requested" in table.stdout

    head = variant(tmp_path, "head.yaml", ("InstanceType: c5.xlarge", "InstanceType: c5.2xlarge"))
    refused = run(tmp_path, "update-cluster", "-n", "demo", "-c", str(head))
    assert refused.returncode == 1
    doc = json.loads(refused.stdout)
    validate("UpdateClusterBadRequestExceptionResponseContent", doc)
    assert doc["message"] == "Update failure"
    assert doc["updateValidationErrors"][0]["parameter"] == "HeadNode.InstanceType"
    assert "--force-update" in refused.stderr
    assert status(tmp_path, "demo") == "CREATE_COMPLETE"

    accepted = ok(run(tmp_path, "update-cluster", "-n", "demo", "-c", str(more)))
    validate("UpdateClusterResponseContent", accepted)
    assert accepted["cluster"]["clusterStatus"] == "UPDATE_IN_PROGRESS"
    assert wait_for(tmp_path, "demo", "UPDATE_COMPLETE") == "UPDATE_COMPLETE"
    desc = ok(run(tmp_path, "describe-cluster", "-n", "demo"))
    validate("DescribeClusterResponseContent", desc)
    events = ok(run(tmp_path, "get-cluster-stack-events", "-n", "demo"))["events"]
    assert events[0]["resourceStatus"] == "UPDATE_COMPLETE"
    again = run(tmp_path, "update-cluster", "-n", "demo", "-c", str(more))
    assert json.loads(again.stdout) == {"message": "No changes found in your cluster configuration."}


def test_a_failing_update_rolls_back_and_exits_non_zero(tmp_path: Path) -> None:
    created(tmp_path)
    more = variant(tmp_path, "more.yaml", ("MaxCount: 4", "MaxCount: 6"))
    result = run(
        tmp_path, "update-cluster", "-n", "demo", "-c", str(more), "--wait", CORRAL_FAKE_FAIL="update"
    )
    assert result.returncode == 1
    desc = json.loads(result.stdout)
    validate("DescribeClusterResponseContent", desc)
    assert desc["clusterStatus"] == "UPDATE_FAILED"
    assert desc["cloudFormationStackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert "OnNodeUpdated failed" in desc["failures"][0]["failureReason"]
    assert "UPDATE_ROLLBACK_IN_PROGRESS" in result.stderr


def test_update_worker_killed_with_9_is_settled_and_retriable(tmp_path: Path) -> None:
    created(tmp_path, "victim")
    more = variant(tmp_path, "more.yaml", ("MaxCount: 4", "MaxCount: 6"))
    ok(run(tmp_path, "update-cluster", "-n", "victim", "-c", str(more), CORRAL_FAKE_UPDATE_DELAY="60"))
    db = sqlite3.connect(tmp_path / "corral.db")
    worker = int(db.execute("SELECT owner_pid FROM clusters WHERE name = 'victim'").fetchone()[0])
    db.close()
    assert worker != os.getpid()
    deadline = time.monotonic() + 20
    while status(tmp_path, "victim") != "UPDATE_IN_PROGRESS" and time.monotonic() < deadline:
        time.sleep(0.05)
    busy = run(tmp_path, "update-cluster", "-n", "victim", "-c", str(more))
    assert (
        json.loads(busy.stdout)["message"]
        == "Cannot execute update while stack is in UPDATE_IN_PROGRESS status."
    )
    os.kill(worker, signal.SIGKILL)
    time.sleep(0.3)
    desc = ok(run(tmp_path, "describe-cluster", "-n", "victim"))
    assert desc["clusterStatus"] == "UPDATE_FAILED"
    assert desc["failures"][0]["failureCode"] == "ClusterUpdateFailure"
    assert "update was interrupted" in desc["failures"][0]["failureReason"]
    ok(run(tmp_path, "update-cluster", "-n", "victim", "-c", str(more), "--wait"))
    assert status(tmp_path, "victim") == "UPDATE_COMPLETE"

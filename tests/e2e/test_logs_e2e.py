"""Logs of a real local cluster through the CLI: streams of the head and a compute node, events
with --start-from-head/--limit/--next-token, export to a directory and to s3:// (moto), the
retained logs of a deleted cluster, and a failing OnNodeConfigured's stderr in a CREATE_FAILED
cluster's head streams."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from corral.providers.local import LocalProvider
from support.servers import s3_server

from .conftest import SCALEDOWN_SECONDS, leftovers, unique_name

pytestmark = pytest.mark.e2e

CONFIG = """\
Region: us-east-1
Image:
  Os: alinux2023
HeadNode:
  InstanceType: c5.large
  Networking:
    SubnetId: subnet-0123456789abcdef0
{head_actions}
Scheduling:
  Scheduler: slurm
  SlurmQueues:
    - Name: q1
      ComputeResources:
        - Name: c1
          InstanceType: c5.large
          MinCount: {static}
          MaxCount: 2
      Networking:
        SubnetIds: [subnet-0123456789abcdef0]
"""

FAILING_ACTION = """\
  CustomActions:
    OnNodeConfigured:
      Script: {script}
"""

Run = Callable[..., subprocess.CompletedProcess[str]]


def _runner(provider: LocalProvider) -> Run:
    corral = Path(sys.executable).with_name("corral")

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "CORRAL_STATE_DIR": str(provider.state_dir),
            "CORRAL_LOCAL_SCALEDOWN_SECONDS": SCALEDOWN_SECONDS,
        }
        result = subprocess.run([str(corral), *args], env=env, capture_output=True, text=True, timeout=180)
        if check:
            assert result.returncode == 0, f"corral {' '.join(args)}: {result.stdout}\n{result.stderr}"
        return result

    return run


def _json(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    return dict(json.loads(result.stdout))


def _streams(run: Run, name: str, *filters: str) -> list[str]:
    args = ("--filters", *filters) if filters else ()
    return [
        s["logStreamName"] for s in _json(run("list-cluster-log-streams", "-n", name, *args))["logStreams"]
    ]


def _identifiers(names: list[str], hostname: str) -> set[str]:
    return {n.split(".", 2)[2] for n in names if n.split(".", 1)[0] == hostname}


def test_logs_of_a_running_then_deleted_cluster(
    provider: LocalProvider, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = _runner(provider)
    config = tmp_path / "cluster.yaml"
    config.write_text(CONFIG.format(head_actions="", static=1))
    name = unique_name("logs")
    run("create-cluster", "-n", name, "-c", str(config), "--wait")
    try:
        names = _streams(run, name)
        assert {"cfn-init", "slurmctld", "munge", "clustermgtd", "slurm_resume"} <= _identifiers(
            names, "head"
        )
        assert {"slurmd", "cloud-init-output"} <= _identifiers(names, "q1-st-c1-1")
        assert _streams(run, name, "Name=node-type,Values=HeadNode") == [
            n for n in names if n.startswith("head.")
        ]

        stream = next(n for n in names if n.endswith(".slurmctld"))
        events = ("get-cluster-log-events", "-n", name, "--log-stream-name", stream)
        whole = _json(run(*events, "--start-from-head", "true"))["events"]
        assert len(whole) > 10
        first = _json(run(*events, "--start-from-head", "true", "--limit", "5"))
        second = _json(run(*events, "--limit", "5", "--next-token", first["nextToken"]))
        assert first["events"] + second["events"] == whole[:10]
        tail = _json(run(*events, "--limit", "3"))["events"]  # slurmctld may have written more since
        assert len(tail) == 3 and tail[0]["timestamp"] >= whole[-3]["timestamp"]

        out = tmp_path / "export"
        out.mkdir()
        archive = Path(_json(run("export-cluster-logs", "-n", name, "--output-file", str(out)))["path"])
        with tarfile.open(archive) as tar:
            members = {m.name.split("/", 1)[1] for m in tar.getmembers() if m.isfile()}
        assert set(names) | {f"{name}-cfn-events"} <= members

        with s3_server(monkeypatch, "exports") as client:
            doc = _json(run("export-cluster-logs", "-n", name, "--bucket", "exports", "--bucket-prefix", "x"))
            key = doc["s3Url"].removeprefix("s3://exports/")
            assert client.head_object(Bucket="exports", Key=key)["ContentLength"] > 0
    finally:
        run("delete-cluster", "-n", name, "--wait")
    assert leftovers(provider, name) == []
    # DeletionPolicy Retain (the default): the streams stay readable without the cluster
    assert set(names) <= set(_streams(run, name))
    kept = _json(run("get-cluster-log-events", "-n", name, "--log-stream-name", stream, "--limit", "2"))
    assert len(kept["events"]) == 2


def test_failing_on_node_configured_shows_its_stderr(provider: LocalProvider, tmp_path: Path) -> None:
    run = _runner(provider)
    script = tmp_path / "configured.sh"
    script.write_text("#!/bin/bash\necho 'configuring' \necho 'logs-e2e-marker: disk full' >&2\nexit 3\n")
    script.chmod(0o755)
    config = tmp_path / "cluster.yaml"
    config.write_text(CONFIG.format(head_actions=FAILING_ACTION.format(script=script), static=0))
    name = unique_name("logsf")
    result = run(
        "create-cluster",
        "-n",
        name,
        "-c",
        str(config),
        "--wait",
        "--rollback-on-failure",
        "false",
        check=False,
    )
    try:
        assert result.returncode == 1
        assert _json(result)["clusterStatus"] == "CREATE_FAILED"
        messages = []
        for stream in _streams(run, name, "Name=node-type,Values=HeadNode"):
            doc = _json(run("get-cluster-log-events", "-n", name, "--log-stream-name", stream))
            messages += [(stream, e["message"]) for e in doc["events"]]
        assert any("logs-e2e-marker: disk full" in m for _, m in messages), messages
    finally:
        run("delete-cluster", "-n", name, "--wait")

"""Logs of a real local cluster through the CLI: streams of the head and a compute node, events
with --start-from-head/--limit/--next-token, export to a directory and to s3:// (moto), the
retained logs of a deleted cluster, and a failing OnNodeConfigured's stderr in a CREATE_FAILED
cluster's head streams."""

from __future__ import annotations

import json
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest

from support.servers import s3_server

from .conftest import Corral, cluster_yaml, unique_name

pytestmark = pytest.mark.e2e


def _config(static: int, head_script: Path | None = None) -> str:
    head = {"CustomActions": {"OnNodeConfigured": {"Script": str(head_script)}}} if head_script else None
    return cluster_yaml((("q1", "c1", static, 2),), head=head)


Run = Corral


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
    corral: Corral, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = corral
    name = unique_name("logs")
    run.create(name, _config(static=1))
    try:
        names = _streams(run, name)
        assert {"cfn-init", "slurmctld", "munge", "clustermgtd", "slurm_resume"} <= _identifiers(
            names, "head"
        )
        assert {"slurmd", "cloud-init-output"} <= _identifiers(names, "q1-st-c1-1")
        # the filter gives exactly the head's streams; the running cluster may open new ones (its
        # daemons' event streams) meanwhile, so the answer lies between the listings around it
        heads = _streams(run, name, "Name=node-type,Values=HeadNode")
        after = _streams(run, name)
        assert [n for n in names if n.startswith("head.")] == [n for n in heads if n in names]
        assert heads == [n for n in after if n.startswith("head.") and n in heads]

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
        run.delete(name, check=True)
    # DeletionPolicy Retain (the default): the streams stay readable without the cluster
    assert set(names) <= set(_streams(run, name))
    kept = _json(run("get-cluster-log-events", "-n", name, "--log-stream-name", stream, "--limit", "2"))
    assert len(kept["events"]) == 2


def test_failing_on_node_configured_shows_its_stderr(corral: Corral, tmp_path: Path) -> None:
    run = corral
    script = tmp_path / "configured.sh"
    script.write_text("#!/bin/bash\necho 'configuring' \necho 'logs-e2e-marker: disk full' >&2\nexit 3\n")
    script.chmod(0o755)
    name = unique_name("logsf")
    result = run.create(
        name, _config(static=0, head_script=script), "--rollback-on-failure", "false", check=False
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
        run.delete(name, check=True)

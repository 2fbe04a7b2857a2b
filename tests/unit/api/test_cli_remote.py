"""The CLI as a client: ``CORRAL_API_URL`` + ``CORRAL_API_TOKEN`` make every verb a request to a
real ``corral api serve`` (fake provider); the client has no state of its own."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from unit.cli.openapi import validate

from .server import CORRAL, Server, running_server

ROOT = Path(__file__).resolve().parents[3]
DEMO = ROOT / "examples" / "demo.yaml"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("server")) as srv:
        yield srv


def cli(server: Server, *args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CORRAL, *args], capture_output=True, text=True, env=server.env(token), timeout=180
    )


def ok(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout) if result.stdout.strip() else None


def test_a_cluster_through_the_server_from_create_to_delete(server: Server, tmp_path: Path) -> None:
    dry = ok(cli(server, "create-cluster", "-n", "remote", "-c", str(DEMO), "--dryrun", "true"))
    assert dry["message"].startswith("Request would have succeeded")
    done = ok(cli(server, "create-cluster", "-n", "remote", "-c", str(DEMO), "--wait"))
    validate("DescribeClusterResponseContent", done)
    assert done["clusterStatus"] == "CREATE_COMPLETE"
    listed = ok(cli(server, "list-clusters", "--query", "clusters[].clusterName"))
    assert listed == ["remote"]
    assert ok(cli(server, "describe-cluster", "-n", "remote"))["clusterName"] == "remote"
    instances = ok(cli(server, "describe-cluster-instances", "-n", "remote", "--node-type", "HeadNode"))
    assert [i["nodeType"] for i in instances["instances"]] == ["HeadNode"]
    fleet = ok(cli(server, "update-compute-fleet", "-n", "remote", "--status", "STOP_REQUESTED", "--wait"))
    assert fleet["status"] == "STOPPED"
    assert ok(cli(server, "describe-compute-fleet", "-n", "remote"))["status"] == "STOPPED"
    events = ok(cli(server, "get-cluster-stack-events", "-n", "remote"))
    assert events["events"][0]["resourceStatus"] == "CREATE_COMPLETE"
    streams = ok(cli(server, "list-cluster-log-streams", "-n", "remote"))
    assert "logStreams" in streams
    changed = tmp_path / "changed.yaml"
    changed.write_text(DEMO.read_text().replace("ScaledownIdletime: 5", "ScaledownIdletime: 6"))
    dry_update = ok(cli(server, "update-cluster", "-n", "remote", "-c", str(changed), "--dryrun", "true"))
    assert [c["parameter"] for c in dry_update["changeSet"]] == ["Scheduling.SlurmSettings.ScaledownIdletime"]
    updated = ok(cli(server, "update-cluster", "-n", "remote", "-c", str(changed), "--wait"))
    assert updated["clusterStatus"] == "UPDATE_COMPLETE"
    gone = ok(cli(server, "delete-cluster", "-n", "remote", "--wait"))
    assert gone["message"] == "Successfully deleted cluster 'remote'."


def test_errors_print_the_servers_body_and_exit_1(server: Server) -> None:
    missing = cli(server, "describe-cluster", "-n", "nope")
    assert missing.returncode == 1
    assert "nope" in json.loads(missing.stdout)["message"]
    read_only = cli(server, "delete-cluster", "-n", "nope", token=server.reader)
    assert read_only.returncode == 1 and "read-only" in json.loads(read_only.stdout)["message"]
    bad_token = cli(server, "list-clusters", token="corral_wrong")
    assert bad_token.returncode == 1 and "Unauthorized" in json.loads(bad_token.stdout)["message"]
    ssh = cli(server, "ssh", "-n", "xy", "--", "true")
    assert ssh.returncode == 1 and "not available through a Corral server" in ssh.stderr


def test_a_bad_config_comes_back_with_its_findings(server: Server, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(DEMO.read_text().replace("InstanceType", "InstanceTyp", 1))
    result = cli(server, "create-cluster", "-n", "bad", "-c", str(bad))
    assert result.returncode == 1
    body = json.loads(result.stdout)
    assert body["message"] == "Invalid cluster configuration."
    assert body["configurationValidationErrors"]

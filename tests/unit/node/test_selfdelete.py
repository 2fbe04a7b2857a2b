"""``corral`` on a cluster's nodes: only ``delete-cluster`` of the node's own cluster, which leaves a
request for the head node's reconciler and answers with pcluster's DeleteCluster JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from corral.node import selfdelete


@pytest.fixture
def node(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    requests = tmp_path / "requests"
    requests.mkdir()
    monkeypatch.setenv("CORRAL_CLUSTER_NAME", "lab")
    monkeypatch.setenv("CORRAL_REQUEST_DIR", str(requests))
    monkeypatch.setenv("CORRAL_CLUSTER_REGION", "eu-west-1")
    return requests


def test_delete_cluster_of_this_cluster_leaves_a_request(
    node: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert selfdelete.main(["delete-cluster", "-n", "lab", "--region", "eu-west-1"]) == 0
    answer = json.loads(capsys.readouterr().out)["cluster"]
    assert answer["clusterName"] == "lab" and answer["clusterStatus"] == "DELETE_IN_PROGRESS"
    assert answer["region"] == "eu-west-1"
    request = json.loads((node / "delete-cluster").read_text())
    assert {"requestedAt", "node", "user"} <= request.keys()
    assert [p.name for p in node.iterdir()] == ["delete-cluster"]  # no temporary file left


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["delete-cluster", "-n", "other"], "Cluster other cannot be deleted from here"),
        (["describe-cluster", "-n", "lab"], "corral runs only `corral delete-cluster -n lab`"),
        ([], "corral runs only"),
    ],
)
def test_anything_else_is_refused_with_a_reason(
    node: Path, capsys: pytest.CaptureFixture[str], argv: list[str], says: str
) -> None:
    assert selfdelete.main(argv) == 1
    assert says in json.loads(capsys.readouterr().out)["message"]
    assert list(node.iterdir()) == []


def test_a_missing_request_directory_is_named(
    node: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CORRAL_REQUEST_DIR", str(node / "gone"))
    assert selfdelete.main(["delete-cluster", "-n", "lab"]) == 1
    assert "request directory" in json.loads(capsys.readouterr().out)["message"]

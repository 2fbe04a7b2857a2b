"""``-r/--region`` as pcluster's: checked on every verb, in agreement with the config's ``Region``,
the region of a cluster whose config names none, and a filter on clusters recorded elsewhere."""

from __future__ import annotations

import json
from pathlib import Path

from corral.config.regions import CONFLICT

from .test_cli import EXAMPLE, _json, run

NO_REGION = "\n".join(line for line in EXAMPLE.read_text().splitlines() if not line.startswith("Region:"))


def test_an_invalid_region_is_a_bad_request_on_every_verb(tmp_path: Path) -> None:
    for args in (
        ["list-clusters"],
        ["describe-cluster", "-n", "demo"],
        ["describe-cluster-instances", "-n", "demo"],
        ["create-cluster", "-n", "demo", "-c", str(EXAMPLE), "--dryrun", "true"],
    ):
        result = run([*args, "-r", "eu-west-1x"], tmp_path)
        assert result.returncode == 1, args
        assert json.loads(result.stdout) == {
            "message": "Bad Request: invalid or unsupported region 'eu-west-1x'"
        }


def test_a_region_that_conflicts_with_the_configs_is_a_bad_request(tmp_path: Path) -> None:
    result = run(["create-cluster", "-n", "demo", "-c", str(EXAMPLE), "--dryrun", "true", "-r", "eu-west-1"])
    assert result.returncode == 1
    assert json.loads(result.stdout) == {"message": CONFLICT}
    same = run(["create-cluster", "-n", "demo", "-c", str(EXAMPLE), "--dryrun", "true", "-r", "us-east-1"])
    assert same.returncode == 0, same.stdout + same.stderr


def test_region_names_the_cluster_and_filters_the_other_verbs(tmp_path: Path) -> None:
    config = tmp_path / "cluster.yaml"
    config.write_text(NO_REGION)
    args = [
        "create-cluster",
        "-n",
        "demo",
        "-c",
        str(config),
        "--provider",
        "fake",
        "--wait",
        "-r",
        "eu-west-1",
    ]
    created = _json(run(args, tmp_path))
    assert created["region"] == "eu-west-1"
    assert (
        _json(run(["describe-cluster", "-n", "demo", "-r", "eu-west-1"], tmp_path))["region"] == "eu-west-1"
    )
    elsewhere = run(["describe-cluster", "-n", "demo", "-r", "us-east-1"], tmp_path)
    assert elsewhere.returncode == 1
    assert json.loads(elsewhere.stdout) == {"message": "Cluster 'demo' does not exist."}
    assert "-r eu-west-1" in elsewhere.stderr
    here = _json(run(["list-clusters", "-r", "eu-west-1"], tmp_path))["clusters"]
    assert [c["clusterName"] for c in here] == ["demo"]
    assert _json(run(["list-clusters", "-r", "us-east-1"], tmp_path)) == {"clusters": []}
    assert _json(run(["describe-cluster-instances", "-n", "demo", "-r", "us-east-1"], tmp_path)) == {
        "instances": []
    }
    assert _json(run(["describe-cluster-instances", "-n", "demo", "-r", "eu-west-1"], tmp_path))["instances"]
    _json(run(["delete-cluster", "-n", "demo", "--wait"], tmp_path))

"""Every error a script can meet is pcluster's JSON on stdout; pages, empty queries and a missing
cluster's instances answer as pcluster 3.16.1's CLI does (checked against it, run offline)."""

from __future__ import annotations

import json
from pathlib import Path

from .test_cli import _json, populate, run


def test_a_wrong_type_is_pclusters_bad_request_json() -> None:
    cases = {
        ("create-cluster", "-n", "demo", "-c", "x.yaml", "--dryrun", "yes"): ("boolean", "dryrun"),
        ("ssh", "-n", "demo", "--dryrun", "yes"): ("boolean", "dryrun"),
        ("get-cluster-log-events", "-n", "demo", "--log-stream-name", "x", "--limit", "abc"): (
            "int",
            "limit",
        ),
        ("get-cluster-log-events", "-n", "demo", "--log-stream-name", "x", "--start-from-head", "maybe"): (
            "boolean",
            "start-from-head",
        ),
    }
    for args, (expected, param) in cases.items():
        result = run(list(args))
        assert result.returncode == 1, args
        message = f"Bad Request: Wrong type, expected '{expected}' for parameter '{param}'"
        assert json.loads(result.stdout) == {"message": message}, args


def test_a_name_off_pclusters_pattern_is_rejected_on_every_verb() -> None:
    for verb in (
        "describe-cluster",
        "delete-cluster",
        "describe-cluster-instances",
        "describe-compute-fleet",
    ):
        result = run([verb, "-n", "x"])
        assert result.returncode == 1
        assert json.loads(result.stdout) == {
            "message": "Bad Request: 'x' does not match '^[a-zA-Z][a-zA-Z0-9-]+$' - 'cluster-name'"
        }


def test_usage_errors_are_json_too_with_pclusters_exit_codes() -> None:
    choice = run(["update-compute-fleet", "-n", "demo", "--status", "PAUSED"])
    assert choice.returncode == 2  # pcluster's argparse
    assert "PAUSED" in json.loads(choice.stdout)["message"]
    assert "Usage:" in choice.stderr
    missing = run(["describe-cluster"])
    assert missing.returncode == 2
    assert "--cluster-name" in json.loads(missing.stdout)["message"]
    unknown = run(["describe-cluster", "-n", "demo", "--bogus"])
    assert unknown.returncode == 1  # pcluster: "Invalid arguments ['--bogus']", exit 1
    assert "--bogus" in json.loads(unknown.stdout)["message"]


def test_an_empty_query_result_prints_nothing(tmp_path: Path) -> None:
    populate(tmp_path)
    for query in ("clusters[?clusterName=='nope']", "clusters[5]", "clusters[0].nothing"):
        result = run(["list-clusters", "--query", query], tmp_path)
        assert (result.returncode, result.stdout) == (0, ""), query
    assert run(["list-clusters", "--query", "clusters[0].clusterName"], tmp_path).stdout == '"demo"\n'


def test_instances_of_a_missing_cluster_is_an_empty_list(tmp_path: Path) -> None:
    assert _json(run(["describe-cluster-instances", "-n", "nothere"], tmp_path)) == {"instances": []}


def test_debug_shows_no_traceback_for_an_expected_error(tmp_path: Path) -> None:
    result = run(["describe-cluster", "-n", "nothere", "--debug"], tmp_path)
    assert result.returncode == 1
    assert json.loads(result.stdout)["message"] == "Cluster 'nothere' does not exist."
    assert "Traceback" not in result.stderr


def _pages(args: list[str], field: str, state: Path) -> list[list[str]]:
    pages: list[list[str]] = []
    token: str | None = None
    while True:
        extra = ["--next-token", token] if token else []
        doc = _json(run([*args, *extra], state, CORRAL_PAGE_SIZE="1"))
        pages.append([json.dumps(item, sort_keys=True) for item in doc[field]])
        token = doc.get("nextToken")
        if token is None:
            return pages


def test_next_token_pages_clusters_instances_and_events(tmp_path: Path) -> None:
    for name in ("alpha", "bravo", "charlie"):
        populate(tmp_path, name)
    for args, field in (
        (["list-clusters"], "clusters"),
        (["describe-cluster-instances", "-n", "alpha"], "instances"),
        (["get-cluster-stack-events", "-n", "alpha"], "events"),
    ):
        whole = _json(run(args, tmp_path))
        assert "nextToken" not in whole
        pages = _pages(args, field, tmp_path)
        assert len(pages) > 1 and all(len(p) == 1 for p in pages), args
        flat = [item for p in pages for item in p]
        assert flat == [json.dumps(item, sort_keys=True) for item in whole[field]], args


def test_a_bad_next_token_is_a_bad_request(tmp_path: Path) -> None:
    populate(tmp_path)
    for token in ("garbage", "eyJkIjoiZXZlbnRzIiwicCI6IngifQ"):  # the second: an events token
        result = run(["list-clusters", "--next-token", token], tmp_path)
        assert result.returncode == 1
        assert "nextToken" in json.loads(result.stdout)["message"]

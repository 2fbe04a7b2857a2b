"""Every /v3 operation over the fake provider: shapes checked against pcluster 3.16's schemas."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from unit.cli.openapi import validate as pcluster_validate

from .conftest import Api

ROOT = Path(__file__).resolve().parents[3]
DEMO = (ROOT / "examples" / "demo.yaml").read_text()


def validate(schema: str, doc: Any) -> None:
    """pcluster's strict schema, after Corral's one addition: ``line``/``column`` on findings."""
    plain = dict(doc)
    for key in ("validationMessages", "configurationValidationErrors"):
        if key in plain:
            plain[key] = [{k: v for k, v in m.items() if k not in ("line", "column")} for m in plain[key]]
    pcluster_validate(schema, plain)


def wait_status(api: Api, name: str, wanted: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        doc = api.client.get(f"/v3/clusters/{name}", headers=api.headers()).json()
        if doc.get("clusterStatus") == wanted or time.monotonic() > deadline:
            return dict(doc)
        time.sleep(0.1)


def create(api: Api, name: str = "demo", **params: str) -> Any:
    return api.client.post(
        "/v3/clusters",
        params=params,
        json={"clusterName": name, "clusterConfiguration": DEMO},
        headers=api.headers(),
    )


def test_create_describe_list_events_delete(api: Api) -> None:
    answer = create(api)
    assert answer.status_code == 202, answer.text
    validate("CreateClusterResponseContent", answer.json())
    assert answer.json()["cluster"]["clusterStatus"] == "CREATE_IN_PROGRESS"
    desc = wait_status(api, "demo", "CREATE_COMPLETE")
    validate("DescribeClusterResponseContent", desc)
    assert desc["headNode"]["state"] == "running"

    listed = api.client.get("/v3/clusters", headers=api.headers(api.reader))
    assert listed.status_code == 200
    validate("ListClustersResponseContent", listed.json())
    assert [c["clusterName"] for c in listed.json()["clusters"]] == ["demo"]
    filtered = api.client.get(
        "/v3/clusters", params={"clusterStatus": ["DELETE_FAILED"]}, headers=api.headers()
    )
    assert filtered.json()["clusters"] == []

    events = api.client.get("/v3/clusters/demo/stackevents", headers=api.headers())
    validate("GetClusterStackEventsResponseContent", events.json())
    assert events.json()["events"][0]["resourceStatus"] == "CREATE_COMPLETE"

    instances = api.client.get("/v3/clusters/demo/instances", headers=api.headers())
    validate("DescribeClusterInstancesResponseContent", instances.json())
    head = api.client.get(
        "/v3/clusters/demo/instances", params={"nodeType": "HeadNode"}, headers=api.headers()
    )
    assert [i["nodeType"] for i in head.json()["instances"]] == ["HeadNode"]

    gone = api.client.delete("/v3/clusters/demo", headers=api.headers())
    assert gone.status_code == 202, gone.text
    validate("DeleteClusterResponseContent", gone.json())
    assert gone.json()["cluster"]["clusterStatus"] == "DELETE_IN_PROGRESS"
    deadline = time.monotonic() + 30
    while api.client.get("/v3/clusters/demo", headers=api.headers()).status_code != 404:
        assert time.monotonic() < deadline, "delete did not finish"
        time.sleep(0.1)


def test_dry_run_answers_412_and_records_nothing(api: Api) -> None:
    answer = create(api, dryrun="true")
    assert answer.status_code == 412, answer.text
    validate("DryrunOperationExceptionResponseContent", answer.json())
    assert api.client.get("/v3/clusters", headers=api.headers()).json()["clusters"] == []


def test_config_with_errors_comes_back_as_pcluster_validation_errors(api: Api) -> None:
    bad = DEMO.replace("InstanceType", "InstanceTyp", 1)
    answer = api.client.post(
        "/v3/clusters", json={"clusterName": "demo", "clusterConfiguration": bad}, headers=api.headers()
    )
    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert any(e.get("line") for e in body["configurationValidationErrors"])  # Corral's addition
    validate("CreateClusterBadRequestExceptionResponseContent", body)
    assert body["message"] == "Invalid cluster configuration."
    assert any("InstanceTyp" in e["message"] for e in body["configurationValidationErrors"])


def test_name_taken_is_a_conflict(api: Api) -> None:
    assert create(api).status_code == 202
    again = create(api)
    assert again.status_code == 409
    validate("ConflictExceptionResponseContent", again.json())
    wait_status(api, "demo", "CREATE_COMPLETE")
    api.client.delete("/v3/clusters/demo", headers=api.headers())


def test_compute_fleet_stop_and_start(api: Api) -> None:
    assert create(api).status_code == 202
    wait_status(api, "demo", "CREATE_COMPLETE")
    fleet = api.client.get("/v3/clusters/demo/computefleet", headers=api.headers())
    assert fleet.status_code == 200
    validate("DescribeComputeFleetResponseContent", fleet.json())
    stop = api.client.patch(
        "/v3/clusters/demo/computefleet", json={"status": "STOP_REQUESTED"}, headers=api.headers()
    )
    assert stop.status_code == 204, stop.text
    after = api.client.get("/v3/clusters/demo/computefleet", headers=api.headers()).json()
    assert after["status"] in ("STOP_REQUESTED", "STOPPING", "STOPPED")
    start = api.client.patch(
        "/v3/clusters/demo/computefleet", json={"status": "START_REQUESTED"}, headers=api.headers()
    )
    assert start.status_code == 204
    assert api.client.delete("/v3/clusters/demo/instances", headers=api.headers()).status_code == 202
    api.client.delete("/v3/clusters/demo", headers=api.headers())


def test_logs_of_a_cluster(api: Api) -> None:
    assert create(api).status_code == 202
    wait_status(api, "demo", "CREATE_COMPLETE")
    streams = api.client.get("/v3/clusters/demo/logstreams", headers=api.headers())
    assert streams.status_code == 200, streams.text
    validate("ListClusterLogStreamsResponseContent", streams.json())
    names = [s["logStreamName"] for s in streams.json()["logStreams"]]
    if names:
        events = api.client.get(
            f"/v3/clusters/demo/logstreams/{names[0]}",
            params={"startFromHead": "true", "limit": "5"},
            headers=api.headers(),
        )
        assert events.status_code == 200, events.text
        validate("GetClusterLogEventsResponseContent", events.json())
    missing = api.client.get("/v3/clusters/demo/logstreams/no-such-stream", headers=api.headers())
    assert missing.status_code == 404
    api.client.delete("/v3/clusters/demo", headers=api.headers())


def test_update_dry_run_change_set_then_update(api: Api) -> None:
    assert create(api).status_code == 202
    wait_status(api, "demo", "CREATE_COMPLETE")
    same = api.client.put("/v3/clusters/demo", json={"clusterConfiguration": DEMO}, headers=api.headers())
    assert same.status_code == 400, same.text  # no changes: pcluster's BadRequest
    changed = DEMO.replace("ScaledownIdletime: 5", "ScaledownIdletime: 6")
    assert changed != DEMO, "examples/demo.yaml changed: pick another live-updatable key"
    dry = api.client.put(
        "/v3/clusters/demo",
        params={"dryrun": "true"},
        json={"clusterConfiguration": changed},
        headers=api.headers(),
    )
    assert dry.status_code == 412, dry.text
    validate("DryrunOperationExceptionResponseContent", dry.json())
    assert [c["parameter"] for c in dry.json()["changeSet"]] == ["Scheduling.SlurmSettings.ScaledownIdletime"]
    applied = api.client.put(
        "/v3/clusters/demo", json={"clusterConfiguration": changed}, headers=api.headers()
    )
    assert applied.status_code == 202, applied.text
    validate("UpdateClusterResponseContent", applied.json())
    assert wait_status(api, "demo", "UPDATE_COMPLETE")["clusterStatus"] == "UPDATE_COMPLETE"
    unknown = api.client.put("/v3/clusters/nope", json={"clusterConfiguration": DEMO}, headers=api.headers())
    assert unknown.status_code == 404
    api.client.delete("/v3/clusters/demo", headers=api.headers())


def test_official_images(api: Api) -> None:
    answer = api.client.get("/v3/images/official", headers=api.headers())
    assert answer.status_code == 200, answer.text
    validate("ListOfficialImagesResponseContent", answer.json())


def test_custom_images_say_not_implemented_without_a_500(api: Api) -> None:
    for method, path, params in (
        ("GET", "/v3/images/custom", {"imageStatus": "AVAILABLE"}),
        ("GET", "/v3/images/custom/img-1", {}),
        ("DELETE", "/v3/images/custom/img-1", {}),
        ("GET", "/v3/images/custom/img-1/logstreams", {}),
        ("GET", "/v3/images/custom/img-1/logstreams/s", {}),
        ("GET", "/v3/images/custom/img-1/stackevents", {}),
    ):
        answer = api.client.request(method, path, params=params, headers=api.headers())
        assert answer.status_code == 400, (path, answer.text)
        assert "not implemented" in answer.json()["message"]
    api.client.delete("/v3/clusters/demo", headers=api.headers())


def test_served_spec_is_pcluster_with_bearer_tokens(api: Api) -> None:
    spec = api.client.get("/v3/openapi.json").json()
    assert spec["info"]["version"] == "3.16.1"
    assert spec["components"]["securitySchemes"] == {
        "bearerToken": {"type": "http", "scheme": "bearer", "description": "A Corral API token."}
    }
    ops = {op["operationId"] for item in spec["paths"].values() for op in item.values()}
    assert len(ops) == 20
    assert api.client.get("/v3/openapi.yaml").text.startswith("openapi:")


LOGIN_POOL = """
LoginNodes:
  Pools:
    - Name: users
      InstanceType: t3.medium
      Count: 2
      Networking:
        SubnetIds:
          - subnet-0123456789abcdef0
"""


def test_login_nodes_are_described_and_listed_by_node_type(api: Api) -> None:
    answer = api.client.post(
        "/v3/clusters",
        json={"clusterName": "logins", "clusterConfiguration": DEMO + LOGIN_POOL},
        headers=api.headers(),
    )
    assert answer.status_code == 202, answer.text
    desc = wait_status(api, "logins", "CREATE_COMPLETE")
    validate("DescribeClusterResponseContent", desc)
    [pool] = desc["loginNodes"]
    assert (pool["poolName"], pool["status"], pool["healthyNodes"]) == ("users", "active", 2)
    logins = api.client.get(
        "/v3/clusters/logins/instances", params={"nodeType": "LoginNode"}, headers=api.headers()
    )
    validate("DescribeClusterInstancesResponseContent", logins.json())
    listed = logins.json()["instances"]
    assert [i["nodeType"] for i in listed] == ["LoginNode", "LoginNode"]
    assert {i["instanceType"] for i in listed} == {"t3.medium"}
    every = api.client.get("/v3/clusters/logins/instances", headers=api.headers()).json()["instances"]
    assert sorted({i["nodeType"] for i in every}) == ["ComputeNode", "HeadNode", "LoginNode"]

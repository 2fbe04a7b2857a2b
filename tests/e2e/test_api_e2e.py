"""Every cluster operation of the REST API against a real local cluster: a real ``corral api serve``
(local provider), its background worker building and deleting the cluster, and nothing left behind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from unit.api.server import running_server
from unit.cli.openapi import validate

from .conftest import api_cluster, cluster_yaml, unique_name, wait_until

pytestmark = pytest.mark.e2e

QUEUES = (("q1", "c1", 1, 2),)
CONFIG = cluster_yaml(QUEUES, slurm_settings={"ScaledownIdletime": 10})


def test_a_local_cluster_through_every_api_operation(prerequisites: None, tmp_path: Path) -> None:
    name = unique_name("ap")
    state = tmp_path / "state"
    with running_server(state, provider="local") as server:
        api = httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {server.token}"}, timeout=120
        )

        def get(path: str, **params: Any) -> Any:
            answer = api.get(path, params=params)
            assert answer.status_code == 200, answer.text
            return answer.json()

        with api_cluster(api, state, name, CONFIG) as made:
            assert made.json()["cluster"]["clusterStatus"] == "CREATE_IN_PROGRESS"
            desc = get(f"/v3/clusters/{name}")
            assert desc["clusterStatus"] == "CREATE_COMPLETE", desc
            validate("DescribeClusterResponseContent", desc)
            assert [c["clusterName"] for c in get("/v3/clusters")["clusters"]] == [name]

            instances = get(f"/v3/clusters/{name}/instances")["instances"]
            assert {i["nodeType"] for i in instances} == {"HeadNode", "ComputeNode"}

            assert (
                api.patch(f"/v3/clusters/{name}/computefleet", json={"status": "STOP_REQUESTED"}).status_code
                == 204
            )
            wait_until(
                lambda: get(f"/v3/clusters/{name}/computefleet")["status"] == "STOPPED", 300, "STOPPED", 1
            )
            assert (
                api.patch(f"/v3/clusters/{name}/computefleet", json={"status": "START_REQUESTED"}).status_code
                == 204
            )
            wait_until(
                lambda: get(f"/v3/clusters/{name}/computefleet")["status"] == "RUNNING", 300, "RUNNING", 1
            )

            streams = get(f"/v3/clusters/{name}/logstreams")["logStreams"]
            assert streams, "a running cluster has log streams"
            events = get(
                f"/v3/clusters/{name}/logstreams/{streams[0]['logStreamName']}", startFromHead="true"
            )
            validate("GetClusterLogEventsResponseContent", events)
            stack = get(f"/v3/clusters/{name}/stackevents")["events"]
            assert any(e["resourceStatus"] == "CREATE_COMPLETE" for e in stack)

            changed = cluster_yaml(QUEUES, slurm_settings={"ScaledownIdletime": 12})
            dry = api.put(
                f"/v3/clusters/{name}", params={"dryrun": "true"}, json={"clusterConfiguration": changed}
            )
            assert dry.status_code == 412, dry.text
            assert [c["parameter"] for c in dry.json()["changeSet"]] == [
                "Scheduling.SlurmSettings.ScaledownIdletime"
            ]

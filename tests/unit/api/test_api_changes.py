"""``POST /corral/v1/clusters/{name}/changes``: the update change set explained for the web UI, per
change pcluster's policy and verdict with the fleet running, and what Corral does (live, fleet stop,
never), judged as the update dry run judges it; nothing changes."""

from __future__ import annotations

from typing import Any

from .conftest import Api
from .test_api_clusters import DEMO, create, wait_status


def changes(api: Api, config: str, token: str | None = None) -> Any:
    return api.client.post(
        "/corral/v1/clusters/demo/changes", json={"clusterConfiguration": config}, headers=api.headers(token)
    )


def test_each_change_has_its_policy_and_corral_verdict(api: Api) -> None:
    assert create(api).status_code == 202
    wait_status(api, "demo", "CREATE_COMPLETE")
    edited = (
        DEMO.replace("ScaledownIdletime: 5", "ScaledownIdletime: 7")  # pcluster: fleet stop; Corral: live
        .replace("MaxCount: 4", "MaxCount: 6")  # both: live
        .replace("InstanceType: r5.2xlarge", "InstanceType: r5.xlarge")  # both: fleet stop (no strategy)
        .replace("  InstanceType: c5.xlarge\n  Networking", "  InstanceType: c5.2xlarge\n  Networking", 1)
    )
    answer = changes(api, edited)
    assert answer.status_code == 200, answer.text
    doc = answer.json()
    assert doc["fleetStatus"] == "RUNNING"
    by = {c["parameter"]: c for c in doc["changes"]}
    idle = by["Scheduling.SlurmSettings.ScaledownIdletime"]
    assert (idle["currentValue"], idle["requestedValue"]) == ("5", "7")
    assert (idle["policy"], idle["pcluster"], idle["corral"], idle["allowedNow"]) == (
        "COMPUTE_FLEET_STOP",
        "fleet stop",
        "live",
        True,
    )
    assert "applied live by Corral" in idle["reason"]
    grow = by["Scheduling.SlurmQueues[compute].ComputeResources[c5].MaxCount"]
    assert (grow["pcluster"], grow["corral"]) == ("live", "live")
    itype = by["Scheduling.SlurmQueues[highmem].ComputeResources[r5].InstanceType"]
    assert (itype["corral"], itype["allowedNow"]) == ("fleet stop", False)
    assert "QueueUpdateStrategy" in itype["remedy"]
    head = by["HeadNode.InstanceType"]
    assert (head["policy"], head["pcluster"], head["corral"]) == ("UNSUPPORTED", "never", "never")
    assert head["remedy"]
    # nothing was changed by asking
    assert wait_status(api, "demo", "CREATE_COMPLETE")["clusterStatus"] == "CREATE_COMPLETE"
    api.client.delete("/v3/clusters/demo", headers=api.headers())


def test_bad_input_is_a_4xx_and_read_only_tokens_cannot_ask(api: Api) -> None:
    assert changes(api, DEMO).status_code == 404
    assert create(api).status_code == 202
    wait_status(api, "demo", "CREATE_COMPLETE")
    broken = changes(api, DEMO.replace("InstanceType", "InstanceTyp", 1))
    assert broken.status_code == 400, broken.text
    assert "InstanceTyp" in broken.text
    assert changes(api, DEMO).json()["changes"] == []
    assert changes(api, DEMO, api.reader).status_code == 403
    api.client.delete("/v3/clusters/demo", headers=api.headers())

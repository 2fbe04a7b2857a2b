"""An AWS cluster's logs: what the CloudWatch agent on each node ships (pure), and the log verbs
reading CloudWatch Logs through the provider's reader, against a real moto server, with the same
flags and paging as on the local provider."""

from __future__ import annotations

import json
import tarfile
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from corral.config import load_cluster_config_text
from corral.plan import build_plan
from corral.providers import get_provider
from corral.providers.aws import AwsProvider
from corral.providers.aws._clients import AwsClients
from corral.providers.aws._cloudwatch import AGENT_CONFIG, agent_config, put_events
from corral.providers.aws._node_setup import NodeContext, compute_setup, head_setup
from corral.service import ClusterService
from corral.state import StackStatus, StateStore
from support.aws import aws_endpoint, make_network, rewrite_ids
from support.corpus import (
    CORPUS,
    skip_module_without_shared,
)

skip_module_without_shared()

SIMPLE = (
    CORPUS / "cluster-configs" / "integ__performance_tests__test_simple__test_simple__pcluster.config.yaml"
)
SMALL = Path(__file__).parent / "golden" / "small.yaml"


def test_agent_ships_pclusters_streams_to_the_clusters_group() -> None:
    head = agent_config("/aws/corral/c-0123abcd", head=True)["logs"]["logs_collected"]["files"][
        "collect_list"
    ]
    assert {e["log_group_name"] for e in head} == {"/aws/corral/c-0123abcd"}
    streams = {e["file_path"]: e["log_stream_name"] for e in head}
    assert streams["/var/log/corral/slurmctld.log"] == "{hostname}.{instance_id}.slurmctld"
    assert streams["/var/log/corral-bootstrap.log"] == "{hostname}.{instance_id}.cfn-init"
    assert streams["/var/log/corral/reconciler.log"] == "{hostname}.{instance_id}.clustermgtd"
    compute = agent_config("g", head=False)["logs"]["logs_collected"]["files"]["collect_list"]
    assert {e["log_stream_name"].rsplit(".", 1)[1] for e in compute} == {
        "cloud-init-output",
        "slurmd",
        "munge",
    }


def _plan(extra: str = "") -> Any:
    text = SMALL.read_text()
    if extra:
        text = text.replace("      RetentionInDays: 14\n", "      RetentionInDays: 14\n" + extra)
    return build_plan(load_cluster_config_text(text, "small.yaml").config, cluster_name="small")


def test_every_node_starts_the_agent_first_unless_cloudwatch_logs_are_off() -> None:
    context = {"cluster_name": "small", "region": "us-east-1", "log_group": "/aws/corral/small-0123abcd"}
    head = head_setup(
        _plan(), NodeContext.of({**context, "node_role": "HeadNode"}), hostname="h", address="10.0.0.5"
    )
    files = {path: content for path, content, _ in head.files}
    shipped = json.loads(files[AGENT_CONFIG])
    assert shipped == agent_config("/aws/corral/small-0123abcd", head=True)
    assert head.services[0][:2] == ("/bin/sh", "-c") and "fetch-config" in head.services[0][2]
    compute = compute_setup(
        _plan(),
        NodeContext.of({**context, "node_role": "Compute", "head_private_ip": "10.0.0.5"}),
        node_name="n",
    )
    assert "fetch-config" in compute.services[0][2]
    off = _plan("      Enabled: false\n")
    quiet = head_setup(
        off, NodeContext.of({**context, "node_role": "HeadNode"}), hostname="h", address="10.0.0.5"
    )
    assert AGENT_CONFIG not in {path for path, _, _ in quiet.files}
    assert not any("fetch-config" in " ".join(s) for s in quiet.services)


# -- the log verbs against moto ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ClusterService, AwsProvider, str]]:
    tmp = tmp_path_factory.mktemp("awslogs")
    with pytest.MonkeyPatch.context() as mp, aws_endpoint(mp) as proxy:
        ec2 = boto3.client("ec2")
        ec2.delete_key_pair(KeyName="mykey")
        net = make_network(ec2)
        state = tmp / "state"
        service = ClusterService(StateStore(state), lambda name: get_provider(name, state))
        config = tmp / "awslogs.yaml"
        config.write_text(rewrite_ids(SIMPLE.read_text(), net))
        service.create("awslogs", config, provider="aws")
        record = service.run_create("awslogs")
        assert record.stack_status is StackStatus.CREATE_COMPLETE, record.failure_reason
        provider = service.provider("aws")
        assert isinstance(provider, AwsProvider)
        try:
            yield service, provider, tmp.as_posix()
        finally:
            service.delete("awslogs")
            service.run_delete("awslogs")
            urllib.request.urlopen(urllib.request.Request(f"{proxy.url}/moto-api/reset", method="POST"))


T0 = datetime(2026, 12, 4, 12, 0, 0, tzinfo=UTC)


def test_log_verbs_read_the_events_put_into_cloudwatch(
    cluster: tuple[ClusterService, AwsProvider, str],
) -> None:
    service, provider, tmp = cluster
    group = provider.log_group_name("awslogs")
    assert group is not None
    head = next(i for i in provider.instances("awslogs") if i.role.name == "HEAD")
    clients = AwsClients("us-east-1")
    slurmctld = f"ip-10-0-0-10.{head.instance_id}.slurmctld"
    lines = [
        (T0 + timedelta(seconds=i), f"[{(T0 + timedelta(seconds=i)).isoformat()[:19]}] event {i}")
        for i in range(30)
    ]
    put_events(clients, group, slurmctld, lines)
    put_events(clients, group, "ip-10-0-1-7.i-0123456789abcdef0.slurmd", [(T0, "no stamp of its own")])

    listed = service.log_streams("awslogs").to_json()["logStreams"]
    assert [s["logStreamName"] for s in listed] == [
        "ip-10-0-0-10." + head.instance_id + ".slurmctld",
        "ip-10-0-1-7.i-0123456789abcdef0.slurmd",
    ]
    assert listed[0]["firstEventTimestamp"].startswith("2026-12-04T12:00:00")
    assert listed[0]["lastEventTimestamp"].startswith("2026-12-04T12:00:29")
    heads = service.log_streams("awslogs", filters=["Name=private-dns-name,Values=ip-10-0-0-10"]).to_json()
    assert [s["logStreamName"] for s in heads["logStreams"]] == [slurmctld]

    page = service.log_events("awslogs", slurmctld, start_from_head=True, limit=10).to_json()
    assert [e["message"] for e in page["events"]] == [m for _, m in lines[:10]]
    following = service.log_events("awslogs", slurmctld, limit=10, next_token=page["nextToken"]).to_json()
    assert [e["message"] for e in following["events"]] == [m for _, m in lines[10:20]]
    latest = service.log_events("awslogs", slurmctld, limit=5).to_json()
    assert [e["message"] for e in latest["events"]] == [m for _, m in lines[25:]]
    window = service.log_events(
        "awslogs", slurmctld, start_time="2026-12-04T12:00:05Z", end_time="2026-12-04T12:00:08Z"
    ).to_json()
    assert [e["message"] for e in window["events"]] == [
        "[2026-12-04T12:00:05] event 5",
        "[2026-12-04T12:00:06] event 6",
        "[2026-12-04T12:00:07] event 7",
    ]
    (plain,) = service.log_events("awslogs", "ip-10-0-1-7.i-0123456789abcdef0.slurmd").to_json()["events"]
    assert plain["message"].endswith("no stamp of its own") and plain["timestamp"].startswith(
        "2026-12-04T12:00:00"
    )

    archive = Path(tmp) / "logs.tar.gz"
    exported = service.export_logs("awslogs", output_file=str(archive)).to_json()
    assert exported["path"] == str(archive)
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert any(n.endswith(slurmctld) or slurmctld in n for n in names), names


def test_logs_kept_after_delete_are_still_read(cluster: tuple[ClusterService, AwsProvider, str]) -> None:
    """DeletionPolicy Retain (the default): after delete-cluster the log verbs still read the group."""
    service, provider, tmp = cluster
    config = Path(tmp) / "awslogs.yaml"
    service.create("awslogs-kept", config, provider="aws")
    record = service.run_create("awslogs-kept")
    assert record.stack_status is StackStatus.CREATE_COMPLETE, record.failure_reason
    group = provider.log_group_name("awslogs-kept")
    assert group is not None
    put_events(
        AwsClients("us-east-1"), group, "ip-10-0-0-9.i-0123456789abcdef1.slurmctld", [(T0, "kept line")]
    )
    service.delete("awslogs-kept")
    assert service.run_delete("awslogs-kept") is None
    listed = service.log_streams("awslogs-kept", provider="aws").to_json()["logStreams"]
    assert [s["logStreamName"] for s in listed] == ["ip-10-0-0-9.i-0123456789abcdef1.slurmctld"]
    (event,) = service.log_events(
        "awslogs-kept", "ip-10-0-0-9.i-0123456789abcdef1.slurmctld", provider="aws"
    ).to_json()["events"]
    assert event["message"].endswith("kept line")

"""Compute nodes in the cluster's private hosted zone, against a real moto server: launched nodes
get ``<node>.<cluster>.pcluster.`` records, terminated ones lose them; ``UseEc2Hostnames`` writes
none and leaves the nodes EC2's host names."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from corral.config.check import check_cluster_config
from corral.plan import build_plan
from corral.providers.aws import AwsProvider
from corral.providers.aws._dns import changes
from support.aws import Network, aws_endpoint, make_network, rewrite_ids
from support.corpus import (
    CORPUS,
    skip_module_without_shared,
)

skip_module_without_shared()

SIMPLE = (
    CORPUS / "cluster-configs" / "integ__performance_tests__test_simple__test_simple__pcluster.config.yaml"
)


@pytest.fixture(scope="module")
def net() -> Iterator[Network]:
    with pytest.MonkeyPatch.context() as mp, aws_endpoint(mp) as proxy:
        ec2 = boto3.client("ec2")
        ec2.delete_key_pair(KeyName="mykey")
        try:
            yield make_network(ec2)
        finally:
            urllib.request.urlopen(urllib.request.Request(f"{proxy.url}/moto-api/reset", method="POST"))


def _create(net: Network, tmp_path: Path, name: str, extra: str = "") -> AwsProvider:
    config = tmp_path / f"{name}.yaml"
    text = rewrite_ids(SIMPLE.read_text(), net)
    config.write_text(text.replace("  Scheduler: slurm\n", "  Scheduler: slurm\n" + extra))
    report = check_cluster_config(config, cluster_name=name, target="aws")
    assert report.config is not None, report.findings
    provider = AwsProvider(tmp_path / "state")
    provider.create(build_plan(report.config, cluster_name=name), on_event=lambda r, m: None)
    return provider


def _records(name: str) -> dict[str, str]:
    route53 = boto3.client("route53")
    (zone,) = [z for z in route53.list_hosted_zones()["HostedZones"] if z["Name"] == f"{name}.pcluster."]
    found = route53.list_resource_record_sets(HostedZoneId=zone["Id"])["ResourceRecordSets"]
    return {r["Name"]: r["ResourceRecords"][0]["Value"] for r in found if r["Type"] == "A"}


def test_launched_nodes_get_records_and_terminated_ones_lose_them(net: Network, tmp_path: Path) -> None:
    name = "awsdns"
    provider = _create(net, tmp_path, name)
    try:
        nodes = ["compute-dy-res-1-1", "compute-dy-res-1-2"]
        result = provider.launch_batch(name, nodes)
        assert result.failed == ()
        records = _records(name)
        for instance in result.launched:
            assert records[f"{instance.node_name}.{name}.pcluster."] == instance.private_ip
        provider.terminate(name, nodes[:1])
        records = _records(name)
        assert f"{nodes[0]}.{name}.pcluster." not in records and f"{nodes[1]}.{name}.pcluster." in records
        provider.terminate(name, nodes[:1])  # again: the record is already gone, not an error
    finally:
        provider.delete(name)


def test_use_ec2_hostnames_writes_no_records_and_keeps_ec2_names(net: Network, tmp_path: Path) -> None:
    name = "awsdns-ec2"
    provider = _create(net, tmp_path, name, "  SlurmSettings:\n    Dns:\n      UseEc2Hostnames: true\n")
    try:
        result = provider.launch_batch(name, ["compute-dy-res-1-1"])
        assert result.failed == ()
        assert not any(n.startswith("compute-") for n in _records(name))
    finally:
        provider.delete(name)


def test_changes_skip_nodes_without_an_address() -> None:
    assert changes("UPSERT", "c.pcluster.", [("n-1", "10.0.0.7"), ("n-2", "")]) == [
        {
            "Action": "UPSERT",
            "ResourceRecordSet": {
                "Name": "n-1.c.pcluster.",
                "Type": "A",
                "TTL": 300,
                "ResourceRecords": [{"Value": "10.0.0.7"}],
            },
        }
    ]


def test_use_ec2_hostnames_user_data_keeps_the_ec2_host_name() -> None:
    from corral.config import load_cluster_config_text
    from corral.providers.aws.template import build_templates

    golden = Path(__file__).parent / "golden" / "small.yaml"
    text = golden.read_text().replace(
        "  Scheduler: slurm\n", "  Scheduler: slurm\n  SlurmSettings:\n    Dns: {UseEc2Hostnames: true}\n"
    )
    config = load_cluster_config_text(text, "small.yaml").config
    ts = build_templates(build_plan(config, cluster_name="small"))
    lts = [
        r
        for body in ts.nested.values()
        for r in body["Resources"].values()
        if r["Type"] == "AWS::EC2::LaunchTemplate"
    ]
    script = lts[0]["Properties"]["LaunchTemplateData"]["UserData"]["Fn::Base64"]["Fn::Sub"][0]
    assert '"hostname": "$(hostname -s)"' in script and '"node_name": "$NODE_NAME"' in script


def test_the_clusters_domain_becomes_the_first_search_domain(tmp_path: Path) -> None:
    from corral.providers.aws._node_setup import NodeContext, compute_setup, search_domain
    from corral.providers.aws.node_search import add_search_domain, with_search_domain

    assert (
        with_search_domain("nameserver 10.0.0.2\n", "c.pcluster")
        == "search c.pcluster\nnameserver 10.0.0.2\n"
    )
    assert (
        with_search_domain("search ec2.internal c.pcluster\nnameserver 10.0.0.2\n", "c.pcluster.")
        == "search c.pcluster ec2.internal\nnameserver 10.0.0.2\n"
    )
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("domain ec2.internal\nnameserver 10.0.0.2\n")
    add_search_domain("awsdns.pcluster", resolv)
    add_search_domain("awsdns.pcluster", resolv)  # idempotent
    assert resolv.read_text() == "search awsdns.pcluster ec2.internal\nnameserver 10.0.0.2\n"
    golden = Path(__file__).parent / "golden" / "small.yaml"
    from corral.config import load_cluster_config_text

    plan = build_plan(load_cluster_config_text(golden.read_text(), "s.yaml").config, cluster_name="Small")
    context = NodeContext.of({"cluster_name": "Small", "node_role": "Compute", "head_private_ip": "10.0.0.5"})
    assert search_domain(plan)[0] in compute_setup(plan, context, node_name="n").services
    assert search_domain(plan)[0][-1] == "small.pcluster"

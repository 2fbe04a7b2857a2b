"""The cluster's own NAT: a compute node reaches what this machine reaches (Debian's archive, as an
instance behind a NAT gateway would), through host rules tagged with the cluster's id that the
delete removes; CORRAL_LOCAL_NAT=off gives a cluster none."""

from __future__ import annotations

import subprocess

import pytest

from corral.providers.base import CommandResult
from corral.providers.local import LocalProvider, _nat, _owner
from support import plans
from support.clusters import archive_address, archive_probe

from .conftest import delete_and_check, unique_name

pytestmark = pytest.mark.e2e

NODE = "q1-st-c1-1"


def _on_node(provider: LocalProvider, name: str, script: str) -> CommandResult:
    return provider.run_on_head(name, ["srun", "-w", NODE, "bash", "-c", script], timeout=120)


def _host_link_exists(interface: str) -> bool:
    return subprocess.run(["ip", "link", "show", interface], capture_output=True).returncode == 0


def test_a_node_reaches_the_archive_through_the_clusters_nat_and_delete_removes_its_rules(
    provider: LocalProvider,
) -> None:
    address = archive_address()
    name = unique_name("imnat")
    try:
        provider.create(plans.plan(name, queues=(("q1", "c1", 1, 0),)), on_event=lambda r, m: None)
        cluster_id = _owner.cluster_id(provider.layout(name).root) or ""
        rules = _nat.tagged_rules(cluster_id)
        assert len(rules) == 3, rules
        assert _host_link_exists(_nat.host_if(cluster_id))
        # a TCP connection and an HTTP answer from the archive, from inside a job on the node
        reached = _on_node(provider, name, archive_probe(address))
        assert reached.returncode == 0 and reached.stdout.startswith("HTTP/"), reached.stdout + reached.stderr
    finally:
        delete_and_check(provider, name)
    assert _nat.tagged_rules(cluster_id) == []
    assert not _host_link_exists(_nat.host_if(cluster_id))


def test_nat_off_gives_the_cluster_no_rule_and_its_nodes_no_route_out(
    provider: LocalProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(_nat.NAT_ENV, "off")
    name = unique_name("imnat")
    try:
        provider.create(plans.plan(name, queues=(("q1", "c1", 1, 0),)), on_event=lambda r, m: None)
        cluster_id = _owner.cluster_id(provider.layout(name).root) or ""
        assert _nat.tagged_rules(cluster_id) == []
        routes = _on_node(provider, name, "ip route")
        assert routes.returncode == 0 and "default" not in routes.stdout, routes.stdout
    finally:
        delete_and_check(provider, name)

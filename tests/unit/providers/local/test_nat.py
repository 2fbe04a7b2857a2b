"""The cluster's NAT: its host rules carry the cluster's tag, addresses stay inside its subnet."""

from __future__ import annotations

import ipaddress

import pytest

from corral.errors import ProviderError
from corral.providers.local import _accounting, _nat


def test_every_host_rule_is_tagged_with_the_cluster_id_and_names_its_own_veth() -> None:
    rules = _nat.host_rules("0123456789abcdef", "10.240.15.250")
    assert [table for table, _ in rules] == ["nat", "filter", "filter"]
    veth = _nat.host_if("0123456789abcdef")
    for _table, rule in rules:
        assert rule[rule.index("--comment") + 1] == "corral:0123456789abcdef"
        assert veth in rule
    assert rules[0][1][:3] == ["POSTROUTING", "-s", "10.240.15.250/32"]
    assert len(veth) <= 15 and veth != _nat.host_if("fedcba9876543210")


def test_the_uplink_sits_below_the_database_link_in_the_clusters_subnet() -> None:
    subnet = ipaddress.IPv4Network("10.240.16.0/20")
    host, head = _nat.addresses(subnet)
    assert (str(host), str(head)) == ("10.240.31.249", "10.240.31.250")
    db_head, _db = _accounting.addresses(subnet)
    assert head < db_head and host in subnet


def test_nat_is_on_unless_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(_nat.NAT_ENV, raising=False)
    assert _nat.requested()
    monkeypatch.setenv(_nat.NAT_ENV, "off")
    assert not _nat.requested()
    monkeypatch.setenv(_nat.NAT_ENV, "maybe")
    with pytest.raises(ProviderError, match="is not on or off"):
        _nat.requested()


def test_a_build_nodes_link_is_a_free_30_of_the_build_range() -> None:
    host, node = _nat.build_link("corral-img-0123456789-build", set())
    assert host in _nat.BUILD_LINKS and node == host + 1 and (int(host) - 1) % 4 == 0
    again = _nat.build_link("corral-img-0123456789-build", {str(host)})
    assert again != (host, node) and again[0] in _nat.BUILD_LINKS
    assert len(_nat.build_host_if("corral-img-0123456789-build")) <= 15

"""Login pools on the local provider, the pure parts: the rules that keep each pool at its Count
(``_login_rules``), slot names and addresses, the pool records, the agent's spec and files."""

from __future__ import annotations

import ipaddress
import json
from dataclasses import replace
from pathlib import Path

import pytest

from corral.config import load_cluster_config_text
from corral.errors import ProviderError
from corral.plan import ClusterPlan, build_plan
from corral.providers.local import _files, _login, _sshd
from corral.providers.local._layout import (
    ActionRecord,
    ClusterDescriptor,
    ClusterLayout,
    LoginPoolPlacement,
    login_address,
)
from corral.providers.local._login_rules import DEFAULT_GRACE_S, Seen, Want, decide

SUBNET = ipaddress.IPv4Network("10.240.16.0/20")

CONFIG = """\
Image:
  Os: alinux2023
HeadNode:
  InstanceType: c5.large
  Networking:
    SubnetId: subnet-0123456789abcdef0
Scheduling:
  Scheduler: slurm
  SlurmQueues:
    - Name: q1
      ComputeResources:
        - Name: c1
          InstanceType: c5.large
          MaxCount: 2
      Networking:
        SubnetIds: [subnet-0123456789abcdef0]
LoginNodes:
  Pools:
    - Name: users
      InstanceType: t3.medium
      Count: 2
      GracetimePeriod: 5
      Ssh:
        AllowedIps: 10.0.0.0/8
      Networking:
        SubnetIds: [subnet-0123456789abcdef0]
      CustomActions:
        OnNodeConfigured:
          Script: /opt/b.sh
        OnNodeStart:
          Script: /opt/a.sh
          Args: [x]
    - Name: admins
      InstanceType: t3.small
      Count: 1
      Networking:
        SubnetIds: [subnet-0123456789abcdef0]
"""


def _plan() -> ClusterPlan:
    return build_plan(load_cluster_config_text(CONFIG, "c.yaml").config, cluster_name="lg")


# -- the rules ---------------------------------------------------------------------------------


def test_empty_slots_are_launched_up_to_count() -> None:
    actions = decide({"a": Want(2), "b": Want(1)}, [Seen("a", 1, "login-a-1", alive=True)], now=0)
    assert actions.launch == (("a", 2), ("b", 1))
    assert not (actions.replace or actions.warn or actions.stop)


def test_a_dead_node_in_range_is_replaced_and_a_failed_one_is_left_alone() -> None:
    seen = [Seen("a", 1, "login-a-1", alive=False), Seen("a", 2, "login-a-2", alive=True, failed=True)]
    actions = decide({"a": Want(2)}, seen, now=0)
    assert actions.replace == ("login-a-1",)
    assert actions.launch == () and actions.stop == ()


def test_scale_in_warns_first_then_stops_after_the_grace_period() -> None:
    seen = [Seen("a", 1, "login-a-1", True), Seen("a", 2, "login-a-2", True)]
    first = decide({"a": Want(1, grace_s=180)}, seen, now=1000)
    assert first.warn == (("login-a-2", 180),) and first.stop == ()
    retired = [seen[0], replace(seen[1], retire_at=1180)]
    assert decide({"a": Want(1, 180)}, retired, now=1179).empty  # still in its grace period
    assert decide({"a": Want(1, 180)}, retired, now=1180).stop == ("login-a-2",)


def test_a_retired_node_that_died_is_cleaned_up_at_once_and_a_wanted_again_one_is_kept() -> None:
    dead = Seen("a", 2, "login-a-2", alive=False, retire_at=5000)
    assert decide({"a": Want(1)}, [dead], now=0).stop == ("login-a-2",)
    back = Seen("a", 2, "login-a-2", alive=True, retire_at=5000)
    actions = decide({"a": Want(2)}, [Seen("a", 1, "login-a-1", True), back], now=0)
    assert actions.keep == ("login-a-2",) and not (actions.launch or actions.stop)


def test_nodes_of_a_removed_pool_are_retired_with_the_grace_period_they_were_launched_with() -> None:
    actions = decide({}, [Seen("gone", 1, "login-gone-1", True, grace_s=240)], now=0)
    assert actions.warn == (("login-gone-1", 240),)
    assert decide({}, [Seen("gone", 1, "login-gone-1", True)], now=0).warn == (
        ("login-gone-1", DEFAULT_GRACE_S),
    )


def test_count_zero_keeps_nothing() -> None:
    assert decide({"a": Want(0)}, [], now=0).empty


# -- the plan and the records ------------------------------------------------------------------


def test_the_plan_carries_each_pool_with_its_actions_in_run_order() -> None:
    users, admins = _plan().login_pools
    assert (users.name, users.instance_type, users.count, users.gracetime_min) == ("users", "t3.medium", 2, 5)
    assert [a.event for a in sorted(users.custom_actions, key=lambda a: a.run_order)] == [
        "OnNodeStart",
        "OnNodeConfigured",
    ]
    assert users.allowed_ips == "10.0.0.0/8"
    assert (admins.count, admins.gracetime_min, admins.custom_actions) == (1, 10, ())
    assert _plan().login_pool("admins") == admins and _plan().login_pool("nope") is None


def test_pool_placements_keep_blocks_and_convert_the_grace_period(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for script in ("a.sh", "b.sh"):
        (tmp_path / script).write_text("#!/bin/sh\n")
    text = CONFIG.replace("/opt/", f"{tmp_path}/")
    plan = build_plan(load_cluster_config_text(text, "c.yaml").config, cluster_name="lg")
    layout = ClusterLayout(tmp_path / "state", "lg")
    monkeypatch.delenv(_login.GRACE_ENV, raising=False)
    users, admins = _login.pool_placements(plan, layout, str(SUBNET), 12, ())
    assert (users.block, admins.block, users.gracetime_s, admins.gracetime_s) == (0, 1, 300, 600)
    assert [a.event for a in users.actions] == ["OnNodeStart", "OnNodeConfigured"]
    assert users.actions[0].args == ("x",)
    # an update keeps the blocks of the pools that stay, whatever their order
    kept = (replace(admins, block=0), replace(users, block=3))
    monkeypatch.setenv(_login.GRACE_ENV, "7")
    again = _login.pool_placements(plan, layout, str(SUBNET), 12, kept)
    assert [(r.name, r.block, r.gracetime_s) for r in again] == [("users", 3, 7), ("admins", 0, 7)]


def test_pools_that_do_not_fit_are_refused_before_anything_runs(tmp_path: Path) -> None:
    layout = ClusterLayout(tmp_path, "lg")
    big = (
        CONFIG.replace("Count: 2", "Count: 101")
        .replace("/opt/a.sh", "/bin/true")
        .replace("/opt/b.sh", "/bin/true")
    )
    plan = build_plan(load_cluster_config_text(big, "c.yaml").config, cluster_name="lg")
    with pytest.raises(ProviderError, match="more than a local pool holds"):
        _login.pool_placements(plan, layout, str(SUBNET), 12, ())
    crowded = big.replace("Count: 101", "Count: 2")
    plan = build_plan(load_cluster_config_text(crowded, "c.yaml").config, cluster_name="lg")
    with pytest.raises(ProviderError, match="does not fit"):
        _login.pool_placements(plan, layout, str(SUBNET), 4000, ())


def _descriptor(tmp_path: Path) -> ClusterDescriptor:
    plan = _plan()
    base = _files.build_descriptor(plan, SUBNET, python="/py", storage=(), actions={}, env={})
    pools = (
        LoginPoolPlacement("users", 300, 0, (ActionRecord("OnNodeStart", "/a.sh", "/c/a.sh"),)),
        LoginPoolPlacement("admins", 600, 1),
    )
    return replace(base, login_placements=pools)


def test_slots_take_addresses_from_the_top_of_the_subnet(tmp_path: Path) -> None:
    descriptor = _descriptor(tmp_path)
    slots = descriptor.login_slots()
    assert [(s.name, s.address) for s in slots] == [
        ("login-users-1", "10.240.31.247"),
        ("login-users-2", "10.240.31.246"),
        ("login-admins-1", "10.240.31.147"),
    ]
    assert str(login_address(SUBNET, 9, 100)) == "10.240.28.16"  # far above the compute nodes
    hosts = _files.render_hosts(descriptor)
    assert "10.240.31.247\tip-10-240-31-247\n" in hosts and "10.240.31.147\tip-10-240-31-147\n" in hosts


def test_login_slots_stay_out_of_the_nat_uplink_and_the_accounting_link() -> None:
    """The head routes each link's /30 to that link: a login node inside one is unreachable."""
    from corral.providers.local import _accounting, _nat

    links = [
        ipaddress.IPv4Network(f"{a}/30", strict=False)
        for a in (*_nat.addresses(SUBNET), *_accounting.addresses(SUBNET))
    ]
    for block in range(10):
        for index in (1, 100):
            address = login_address(SUBNET, block, index)
            assert not any(address in link for link in links), (block, index, address)


def test_a_login_nodes_spec_runs_sshd_and_no_slurmd_with_the_login_environment(tmp_path: Path) -> None:
    layout = ClusterLayout(tmp_path, "lg")
    descriptor = _descriptor(tmp_path)
    files = _sshd.ssh_files(layout)
    files.directory.mkdir(parents=True)
    (files.directory / "user").write_text("ec2-user\n")
    (files.directory / "ids").write_text("1000:1000\n")
    for name in ("passwd", "group", "shadow"):
        (files.directory / name).write_text(f"{name}\n")
    pool = descriptor.login_pools[0]
    node = descriptor.login_slot(pool, 1)
    spec = _login.bootstrap_spec(layout, descriptor, pool, node)
    assert spec.hostname == "ip-10-240-31-247" and spec.private_root
    assert len(spec.services) == 1 and "/usr/sbin/sshd -f" in spec.services[0][-1]
    assert not any("slurmd" in " ".join(s) for s in (*spec.services, *spec.late_services))
    assert ("/etc/hosts" in dict((t, s) for s, t in spec.early_mounts)) and (
        str(files.home),
        "/home",
    ) in spec.early_mounts
    env = dict(spec.env)
    assert (env["CORRAL_NODE_TYPE"], env["CORRAL_LOGIN_POOL"]) == ("LoginNode", "users")
    placed = dict(spec.files)
    assert "cfn_node_type=LoginNode\n" in placed["/etc/parallelcluster/cfnconfig"]
    assert "cfn_login_pool_name=users\n" in placed["/etc/parallelcluster/cfnconfig"]
    dna = json.loads(placed["/etc/chef/dna.json"])["cluster"]
    assert (dna["node_type"], dna["pool_name"]) == ("LoginNode", "users")
    assert placed["/etc/passwd"] == "passwd\n"  # the cluster's accounts
    assert [a.event for a in spec.actions] == ["OnNodeStart"]


def test_the_local_provider_says_what_it_cannot_do_with_login_pools_before_anything_is_made() -> None:
    config = load_cluster_config_text(CONFIG.replace("Count: 2", "Count: 101"), "c.yaml").config
    host = _login.config_findings(config, nodes_boot_from_images=False)
    assert [(f.level.name, f.path) for f in host] == [
        ("WARNING", "LoginNodes/Pools"),
        ("ERROR", "LoginNodes/Pools[0]/Count"),
    ]
    assert "no login node will be launched" in host[0].message and "=image" in host[0].hint
    assert "at most 100 nodes per pool" in host[1].hint
    fine = load_cluster_config_text(CONFIG, "c.yaml").config
    assert _login.config_findings(fine, nodes_boot_from_images=True) == []


def test_a_reconciler_pass_leaves_the_login_nodes_to_an_update_that_holds_them(tmp_path: Path) -> None:

    layout = ClusterLayout(tmp_path, "lk")
    with _login.exclusive(layout) as mine:
        assert mine
        with _login.exclusive(layout, wait=False) as other:
            assert other is False
        # the reconciler's pass does nothing, and does not wait (its descriptor is not even read)
        assert _login.converge(layout) == []
    # once the update let go, the pass reads the cluster's descriptor (here: none, so it fails)
    with pytest.raises(OSError):
        _login.converge(layout)

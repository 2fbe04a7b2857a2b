"""Pure parts of the local provider: names, addresses, subnets, rendered files, descriptors."""

from __future__ import annotations

import ipaddress
import json
from dataclasses import replace
from pathlib import Path

import pytest

from corral.errors import ProviderError
from corral.node.agent import BootstrapSpec
from corral.providers.local import _daemons, _files, _net
from corral.providers.local._layout import ActionRecord, ClusterDescriptor, ClusterLayout, StorageRecord
from corral.slurm.conf import render_slurm_conf
from support.plans import rich_plan, two_queue_plan

SUBNET = ipaddress.IPv4Network("10.240.16.0/20")


def test_names_fit_linux_limits() -> None:
    assert _net.head_netns("demo") == "corral-demo-head"
    assert _net.node_netns("demo", "q1-dy-c1-1") == "corral-demo-q1-dy-c1-1"
    assert len(_net.veth_name(4000)) <= 15


def test_addresses_are_deterministic_and_bounded() -> None:
    assert str(_net.head_address(SUBNET)) == "10.240.16.1"
    assert str(_net.node_address(SUBNET, 0)) == "10.240.16.10"
    assert str(_net.node_address(SUBNET, 300)) == "10.240.17.54"
    with pytest.raises(ProviderError, match="too many nodes"):
        _net.node_address(SUBNET, 5000)


def test_an_interface_address_follows_its_ip_address_so_a_replaced_node_keeps_it() -> None:
    subnet = ipaddress.IPv4Network("10.240.16.0/20")
    assert _net.mac_address(_net.node_address(subnet, 0)) == "02:c0:0a:f0:10:0a"
    assert _net.mac_address(_net.head_address(subnet)) == "02:c0:0a:f0:10:01"
    other = ipaddress.IPv4Network("10.240.32.0/20")
    every = {_net.mac_address(_net.node_address(net, i)) for net in (subnet, other) for i in range(300)}
    assert len(every) == 600  # unique across clusters: their subnets never overlap
    first = int(_net.mac_address(_net.head_address(subnet)).split(":")[0], 16)
    assert first & 0b10 and not first & 0b01  # locally administered, unicast


def test_pick_subnet_skips_taken_ones() -> None:
    assert str(_net.pick_subnet([])) == "10.240.0.0/20"
    assert str(_net.pick_subnet(["10.240.0.0/20", "10.240.32.0/20"])) == "10.240.16.0/20"
    every = [str(s) for s in _net.POOL.subnets(new_prefix=_net.SUBNET_PREFIX)]
    with pytest.raises(ProviderError, match="no free subnet"):
        _net.pick_subnet(every)


def test_allocate_subnet_is_recorded_and_unique(tmp_path: Path) -> None:
    clusters = tmp_path / "clusters"
    registry = tmp_path / "registry"
    got = set()
    for name in ("a", "b", "c"):
        (clusters / name).mkdir(parents=True)
        subnet_file = clusters / name / "subnet"
        got.add(_net.allocate_subnet(tmp_path, clusters, subnet_file, registry))
        assert _net.allocate_subnet(tmp_path, clusters, subnet_file, registry) in got  # stable once recorded
    assert len(got) == 3


def test_subnets_are_unique_across_state_dirs_and_freed_on_release(tmp_path: Path) -> None:
    registry = tmp_path / "registry"
    files = []
    for state in ("one", "two"):
        cluster = tmp_path / state / "clusters" / "same-name"
        cluster.mkdir(parents=True)
        files.append(cluster / "subnet")
        _net.allocate_subnet(tmp_path / state, cluster.parent, files[-1], registry)
    first, second = (f.read_text().strip() for f in files)
    assert first != second
    _net.release_subnet(files[0], registry)
    files[0].unlink()
    third = tmp_path / "three" / "clusters" / "x"
    third.mkdir(parents=True)
    assert str(_net.allocate_subnet(tmp_path / "three", third.parent, third / "subnet", registry)) == first


def test_a_subnet_whose_holder_vanished_is_free_again(tmp_path: Path) -> None:
    registry = tmp_path / "registry"
    gone = tmp_path / "gone" / "clusters" / "c"
    gone.mkdir(parents=True)
    held = _net.allocate_subnet(tmp_path / "gone", gone.parent, gone / "subnet", registry)
    (gone / "subnet").unlink()  # e.g. its state directory was removed by hand
    other = tmp_path / "other" / "clusters" / "c"
    other.mkdir(parents=True)
    assert _net.allocate_subnet(tmp_path / "other", other.parent, other / "subnet", registry) == held


def _descriptor(plan_name: str = "two") -> ClusterDescriptor:
    plan = two_queue_plan("demo") if plan_name == "two" else rich_plan()
    storage = (StorageRecord("home", "/home", "/s/home", "Delete", ""),)
    actions = {None: (), "q1": (ActionRecord("OnNodeStart", "s3://b/k.sh", "/c/k.sh", ("x",)),)}
    return _files.build_descriptor(
        plan, SUBNET, python="/venv/bin/python", storage=storage, actions=actions, env={"A": "1"}
    )


def test_descriptor_round_trips_through_json(tmp_path: Path) -> None:
    descriptor = _descriptor()
    path = tmp_path / "cluster.json"
    path.write_text(descriptor.dump())
    assert ClusterDescriptor.load(path) == descriptor
    assert [n.address for n in descriptor.nodes][:2] == ["10.240.16.10", "10.240.16.11"]


def test_hosts_file_lists_head_and_every_node() -> None:
    descriptor = _descriptor()
    hosts = _files.render_hosts(descriptor)
    assert "10.240.16.1\thead" in hosts
    for node in descriptor.nodes:
        assert f"{node.address}\t{node.name}" in hosts


def test_wrappers_set_an_explicit_environment_and_stdio(tmp_path: Path) -> None:
    layout = ClusterLayout(tmp_path, "demo")
    text = _files.render_wrapper(layout, "/venv/bin/python", "resume")
    assert text.startswith("#!/bin/sh\n")
    assert "exec </dev/null >>" in text and "2>&1" in text
    assert "/usr/bin/env -i" in text and f"SLURM_CONF={layout.slurm_conf}" in text
    assert "-m corral.daemons.resume" in text and '"$@"' in text
    assert 'SLURM_RESUME_FILE="$SLURM_RESUME_FILE"' in text
    extra = _files.render_wrapper(layout, "/p", "resume", {"CORRAL_SCALING_STRATEGY": "best-effort"})
    assert "CORRAL_SCALING_STRATEGY=best-effort" in extra
    assert "SLURM_JOB_NODELIST" in _files.render_wrapper(layout, "/p", "prolog")


def test_home_is_shared_by_default_and_retained_storage_lives_outside_the_cluster(tmp_path: Path) -> None:
    plain = _files.storage_with_home(two_queue_plan())
    assert [(s.name, s.mount_dir) for s in plain] == [("home", "/home")]
    rich = _files.storage_with_home(rich_plan())
    layout = ClusterLayout(tmp_path, "rich")
    data = next(s for s in rich if s.name == "data")
    assert _files.storage_data_dir(layout, data).startswith(str(tmp_path / "retained" / "rich"))
    home = next(s for s in rich if s.name == "home")
    assert _files.storage_data_dir(layout, home).startswith(str(layout.root))


def test_bootstrap_specs(tmp_path: Path) -> None:
    layout = ClusterLayout(tmp_path, "demo")
    descriptor = _descriptor()
    node = descriptor.node("q1-dy-c1-1")
    assert node is not None
    spec = _files.bootstrap_spec(layout, descriptor, node)
    assert BootstrapSpec.load(spec.dump()) == spec
    assert spec.hostname == "q1-dy-c1-1"
    ephemeral = (str(layout.node_dir("q1-dy-c1-1") / "ephemeral"), "/scratch")
    assert spec.early_mounts == ((str(layout.hosts_file), "/etc/hosts"), ephemeral)
    assert ("/s/home", "/home") in spec.mounts
    assert spec.services == (("slurmd", "-b", "-N", "q1-dy-c1-1"),)
    assert [a.path for a in spec.actions] == ["/c/k.sh"]
    assert dict(spec.env)["SLURM_CONF"] == str(layout.slurm_conf)
    head = _files.bootstrap_spec(layout, descriptor, None)
    assert head.services == () and head.hostname == "head" and head.actions == ()
    assert json.loads(head.dump())["on_failure"] == []


def test_a_compute_nodes_slurmd_runs_lean_and_the_users_scripts_run_as_usual(tmp_path: Path) -> None:
    """slurmd idles on every node: two connection workers (Slurm's minimum), one malloc arena and
    no hwloc GPU plugins, given to the services only (a custom action keeps glibc's defaults, as on
    an instance)."""
    layout = ClusterLayout(tmp_path, "demo")
    descriptor = _descriptor()
    node = descriptor.node("q1-dy-c1-1")
    assert node is not None
    spec = _files.bootstrap_spec(layout, descriptor, node)
    service_env = dict(spec.service_env)
    assert service_env["MALLOC_ARENA_MAX"] == "1" and service_env["MALLOC_TOP_PAD_"] == "0"
    assert "hwloc_levelzero" in service_env["HWLOC_PLUGINS_BLACKLIST"].split(",")
    assert "MALLOC_ARENA_MAX" not in dict(spec.env)
    assert _files.bootstrap_spec(layout, descriptor, None).service_env == ()
    runtime = _files.slurm_runtime(layout, descriptor, suspend_time_s=None, include_file=None)
    conf = render_slurm_conf(two_queue_plan("demo"), runtime).splitlines()
    assert "SlurmdParameters=config_overrides,conmgr_threads=2" in conf
    # a user's SlurmdParameters still replaces the whole value
    custom = replace(
        two_queue_plan("demo"),
        slurm=replace(two_queue_plan("demo").slurm, custom_settings=(("SlurmdParameters", "allow_ecores"),)),
    )
    assert "SlurmdParameters=allow_ecores" in render_slurm_conf(custom, runtime).splitlines()


def test_run_dir_is_short_enough_for_unix_sockets(tmp_path: Path) -> None:
    deep = tmp_path / ("x" * 150)
    layout = ClusterLayout(deep, "a-cluster-name-that-is-quite-long-indeed-0123456789")
    assert len(str(layout.munge_socket)) < 60
    assert (
        layout.run_dir == ClusterLayout(deep, "a-cluster-name-that-is-quite-long-indeed-0123456789").run_dir
    )


def test_the_receive_backlog_holds_a_broadcast_to_every_node() -> None:
    assert _net.backlog_limit(10) == 1000  # the kernel's default: a small cluster changes nothing
    assert _net.backlog_limit(1000) >= 2 * 1000


def test_neighbour_limits_grow_with_the_cluster() -> None:
    small, big = _net.neighbour_limits(10), _net.neighbour_limits(300)
    # a small cluster needs no more than the kernel's defaults, so the host is left alone
    assert small == {"gc_thresh1": 128, "gc_thresh2": 512, "gc_thresh3": 1024}
    assert big["gc_thresh3"] >= 300 * 64
    for limits in (small, big):
        assert limits["gc_thresh1"] <= limits["gc_thresh2"] <= limits["gc_thresh3"]


def test_big_clusters_give_a_step_launch_time_to_reach_every_node(tmp_path: Path) -> None:
    """One srun reaches all its nodes at once (TreeWidth=65533) and each connection waits for its
    munge signature before it sends: past 160 nodes, MessageTimeout grows a second per 16 nodes."""
    assert _files.message_timeout_s(1) is None and _files.message_timeout_s(160) is None
    assert _files.message_timeout_s(161) == 11 and _files.message_timeout_s(1000) == 63
    layout = ClusterLayout(tmp_path, "demo")
    small = _files.slurm_runtime(layout, _descriptor(), suspend_time_s=None, include_file=None)
    assert not any(
        line.startswith("MessageTimeout")
        for line in render_slurm_conf(two_queue_plan("demo"), small).splitlines()
    )
    big = replace(small, message_timeout_s=_files.message_timeout_s(1000))
    assert "MessageTimeout=63" in render_slurm_conf(two_queue_plan("demo"), big).splitlines()


def test_munged_serves_a_whole_cluster_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    layout = ClusterLayout(tmp_path, "demo")
    host = _daemons.munged_argv(layout)
    assert "--num-threads=8" in host and not any(a.startswith("--listen-backlog") for a in host)
    monkeypatch.setattr(_daemons, "image_cluster", lambda _layout: True)
    image = _daemons.munged_argv(layout, holder=42)
    assert image[:3] == ["nsenter", "-t", "42"]
    assert "--num-threads=8" in image and "--listen-backlog=4096" in image

"""Node settings on the local provider: EphemeralVolume/MountDir (a directory of each node's own at
the configured path, named in cfnconfig; the host mount points create makes are removed by delete)
and Dns/UseEc2Hostnames (compute nodes named ip-a-b-c-d, their Slurm NodeHostname)."""

from __future__ import annotations

import ipaddress
from dataclasses import replace
from pathlib import Path

from corral.config.loader import load_cluster_config_text
from corral.plan import ClusterPlan, build_plan
from corral.providers.local import _bootfiles, _ephemeral, _files
from corral.providers.local._layout import ClusterDescriptor, ClusterLayout
from corral.slurm.conf import render_slurm_conf

CONFIG = """\
Image:
  Os: alinux2023
HeadNode:
  InstanceType: t3.medium
  Networking:
    SubnetId: subnet-12345678
  LocalStorage:
    EphemeralVolume:
      MountDir: {head}
Scheduling:
  Scheduler: slurm
  SlurmSettings:
    Dns:
      UseEc2Hostnames: {ec2}
  SlurmQueues:
    - Name: fast
      ComputeSettings:
        LocalStorage:
          EphemeralVolume:
            MountDir: {fast}
      ComputeResources:
        - Name: c
          InstanceType: c5.xlarge
          MaxCount: 2
      Networking:
        SubnetIds: [subnet-12345678]
    - Name: plain
      ComputeResources:
        - Name: c
          InstanceType: c5.xlarge
          MaxCount: 1
      Networking:
        SubnetIds: [subnet-12345678]
"""


def plan_for(head: str = "/local/head-scratch", fast: str = "nvme", ec2: bool = False) -> ClusterPlan:
    text = CONFIG.format(head=head, fast=fast, ec2=str(ec2).lower())
    config = load_cluster_config_text(text).config
    return build_plan(config, cluster_name="eph")


def descriptor_for(plan: ClusterPlan) -> ClusterDescriptor:
    return _files.build_descriptor(
        plan, ipaddress.IPv4Network("10.240.0.0/20"), python="/py", storage=(), actions={}, env={}
    )


def test_the_plan_takes_each_mount_dir_from_the_config_and_defaults_to_scratch() -> None:
    plan = plan_for()
    assert plan.head_node.ephemeral_dir == "/local/head-scratch"
    assert dict(plan.queue_ephemeral_dirs) == {"fast": "/nvme", "plain": "/scratch"}
    assert _ephemeral.mount_dirs(plan) == ("/local/head-scratch", "/nvme", "/scratch")


def test_cfnconfig_and_dna_name_the_nodes_own_mount_dir() -> None:
    descriptor = descriptor_for(plan_for())
    head = dict(_bootfiles.node_files(descriptor, None))
    assert "cfn_ephemeral_dir=/local/head-scratch\n" in head[_bootfiles.CFNCONFIG]
    for name, expected in (("fast-dy-c-1", "/nvme"), ("plain-dy-c-1", "/scratch")):
        node = descriptor.node(name)
        assert node is not None
        files = dict(_bootfiles.node_files(descriptor, node))
        assert f"cfn_ephemeral_dir={expected}\n" in files[_bootfiles.CFNCONFIG]
        assert f'"ephemeral_dir": "{expected}"' in files[_bootfiles.DNA_JSON]


def test_each_node_mounts_a_directory_of_its_own_before_on_node_start(tmp_path: Path) -> None:
    layout = ClusterLayout(tmp_path, "eph")
    descriptor = descriptor_for(plan_for())
    one, two = (descriptor.node(n) for n in ("fast-dy-c-1", "fast-dy-c-2"))
    assert one is not None and two is not None
    specs = [_files.bootstrap_spec(layout, descriptor, n) for n in (one, two, None)]
    mounts = [dict((t, s) for s, t in spec.early_mounts) for spec in specs]
    assert mounts[0]["/nvme"] == str(layout.node_dir("fast-dy-c-1") / "ephemeral")
    assert mounts[1]["/nvme"] != mounts[0]["/nvme"]  # node-local, like an instance store
    assert mounts[2]["/local/head-scratch"] == str(layout.head_dir / "ephemeral")
    for spec, mount in zip(specs, mounts, strict=True):
        assert spec.private_dirs == (next(s for t, s in mount.items() if t != "/etc/hosts"),)


def test_create_makes_missing_mount_points_and_delete_removes_only_those(tmp_path: Path) -> None:
    existing = tmp_path / "existing"
    existing.mkdir()
    plan = plan_for(head=str(tmp_path / "new" / "deep"), fast=str(existing))
    plan = replace(plan, queue_ephemeral_dirs=(("fast", str(existing)), ("plain", str(existing))))
    created = _ephemeral.prepare_mount_points(plan)
    assert (tmp_path / "new" / "deep").is_dir() and existing.is_dir()
    assert created == ((str(tmp_path / "new" / "deep"), str(tmp_path / "new")),)
    _ephemeral.remove_mount_points(created, in_use={str(tmp_path / "new" / "deep")})
    assert (tmp_path / "new" / "deep").is_dir()  # another cluster still mounts it
    _ephemeral.remove_mount_points(created, in_use=set())
    assert not (tmp_path / "new").exists() and existing.is_dir()


def test_use_ec2_hostnames_names_compute_nodes_after_their_address(tmp_path: Path) -> None:
    layout = ClusterLayout(tmp_path, "eph")
    plain, ec2 = descriptor_for(plan_for()), descriptor_for(plan_for(ec2=True))
    node = ec2.node("fast-dy-c-1")
    assert node is not None and node.address == "10.240.0.10"
    assert _files.bootstrap_spec(layout, ec2, node).hostname == "ip-10-240-0-10"
    assert _files.bootstrap_spec(layout, plain, node).hostname == "fast-dy-c-1"
    assert "10.240.0.10\tip-10-240-0-10 fast-dy-c-1\n" in _files.render_hosts(ec2)
    assert "10.240.0.10\tfast-dy-c-1\n" in _files.render_hosts(plain)
    conf = render_slurm_conf(
        plan_for(ec2=True), _files.slurm_runtime(layout, ec2, suspend_time_s=None, include_file=None)
    )
    line = next(x for x in conf.splitlines() if x.startswith("NodeName=fast-dy-c-[1-2]"))
    assert "NodeAddr=10.240.0.[10-11]" in line and "NodeHostname=ip-10-240-0-[10-11]" in line
    plain_conf = render_slurm_conf(
        plan_for(), _files.slurm_runtime(layout, plain, suspend_time_s=None, include_file=None)
    )
    assert "NodeHostname" not in plain_conf

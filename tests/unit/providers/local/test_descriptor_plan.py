"""The local cluster descriptor holds the plan once: its stored JSON has the plan in the one stored
form (``plan_to_json``) and no copy of a plan field beside it, and what it says of the plan follows
the plan through an update."""

from __future__ import annotations

import dataclasses
import ipaddress
import json
from dataclasses import replace
from pathlib import Path

import pytest

from corral.config.loader import load_cluster_config_text
from corral.plan import ClusterPlan, build_plan, plan_from_json, plan_to_json
from corral.providers.local import _files, _update
from corral.providers.local._layout import ClusterDescriptor, ClusterLayout, LoginPoolPlacement

SUBNET = ipaddress.IPv4Network("10.240.16.0/20")
CONFIG = """\
Region: eu-west-1
Image:
  Os: ubuntu2204
HeadNode:
  InstanceType: c5.xlarge
  Networking:
    SubnetId: subnet-0123456789abcdef0
  LocalStorage:
    EphemeralVolume:
      MountDir: /scratch-head
Scheduling:
  Scheduler: slurm
  SlurmSettings:
    Dns:
      UseEc2Hostnames: true
  SlurmQueues:
    - Name: q1
      ComputeResources:
        - Name: c1
          InstanceType: c5.large
          MinCount: 1
          MaxCount: 2
      Networking:
        SubnetIds:
          - subnet-0123456789abcdef0
LoginNodes:
  Pools:
    - Name: users
      InstanceType: t3.medium
      Count: 2
      Networking:
        SubnetIds:
          - subnet-0123456789abcdef0
DevSettings:
  Timeouts:
    HeadNodeBootstrapTimeout: 2100
    ComputeNodeBootstrapTimeout: 1500
"""

#: The descriptor's stored fields: the plan, and what the plan does not say. A new field is a
#: local placement fact or a copy of the plan's (which it must not be: read it from ``plan``).
STORED = {
    "plan",
    "subnet",
    "head_address",
    "head_hostname",
    "python",
    "nodes",
    "storage",
    "head_actions",
    "queue_actions",
    "env",
    "extra",
    "data_repositories",
    "ephemeral_created",
    "settings",
    "login_placements",
}
#: What the descriptor stored beside the plan before it held the plan.
FORMER_COPIES = {
    "name",
    "head_instance_type",
    "region",
    "os",
    "cluster_config",
    "head_timeout_s",
    "compute_timeout_s",
    "ephemeral_dirs",
    "root_volumes",
    "use_ec2_hostnames",
    "login_pools",
}


def _plan(text: str = CONFIG, name: str = "dp") -> ClusterPlan:
    return build_plan(load_cluster_config_text(text, "c.yaml").config, cluster_name=name)


def _descriptor(plan: ClusterPlan) -> ClusterDescriptor:
    base = _files.build_descriptor(plan, SUBNET, python="/py", storage=(), actions={}, env={})
    return replace(base, login_placements=(LoginPoolPlacement("users", 600, 0),))


def _says(descriptor: ClusterDescriptor) -> dict[str, object]:
    """What the descriptor says of its plan, through its properties."""
    return {
        "name": descriptor.name,
        "head_instance_type": descriptor.head_instance_type,
        "region": descriptor.region,
        "os": descriptor.os,
        "head_timeout_s": descriptor.head_timeout_s,
        "compute_timeout_s": descriptor.compute_timeout_s,
        "head_ephemeral_dir": descriptor.ephemeral_dir(None),
        "use_ec2_hostnames": descriptor.use_ec2_hostnames,
        "expires_at": descriptor.expires_at,
        "database_uri": descriptor.database_uri,
        "accounting": descriptor.accounting,
        "login_pools": [(p.name, p.instance_type, p.count) for p in descriptor.login_pools],
        "config": descriptor.cluster_config,
    }


def _plan_says(plan: ClusterPlan) -> dict[str, object]:
    return {
        "name": plan.cluster_name,
        "head_instance_type": plan.head_node.shape.instance_type,
        "region": plan.region,
        "os": plan.os,
        "head_timeout_s": plan.head_node_bootstrap_timeout_s,
        "compute_timeout_s": plan.compute_node_bootstrap_timeout_s,
        "head_ephemeral_dir": plan.head_node.ephemeral_dir,
        "use_ec2_hostnames": plan.use_ec2_hostnames,
        "expires_at": plan.expires_at,
        "database_uri": plan.slurm.database_uri,
        "accounting": plan.slurm.accounting,
        "login_pools": [(p.name, p.instance_type, p.count) for p in plan.login_pools],
    }


def test_the_stored_descriptor_holds_the_plan_once_in_its_stored_form(tmp_path: Path) -> None:
    plan = replace(_plan(), expires_at="2030-01-01T00:00:00+00:00")
    descriptor = _descriptor(plan)
    doc = json.loads(descriptor.dump())
    assert set(doc) == STORED == {f.name for f in dataclasses.fields(ClusterDescriptor)}
    assert not set(doc) & FORMER_COPIES
    assert doc["plan"] == json.loads(plan_to_json(plan))  # the service's stored form
    assert plan_from_json(json.dumps(doc["plan"])) == plan
    assert not {"expires_at", "database_uri", "external_slurmdbd_endpoint"} & set(doc["extra"])
    rest = json.dumps({k: v for k, v in doc.items() if k != "plan"})
    for value in ("2030-01-01", "eu-west-1", "ubuntu2204", "t3.medium", "/scratch-head", "2100"):
        assert value not in rest, value  # said by the plan only
    path = tmp_path / "cluster.json"
    path.write_text(descriptor.dump())
    loaded = ClusterDescriptor.load(path)
    assert loaded == descriptor and loaded.plan.config == plan.config


def test_what_the_descriptor_says_of_the_plan_follows_an_update(tmp_path: Path) -> None:
    old = replace(_plan(), expires_at="2030-01-01T00:00:00+00:00")
    current = _descriptor(old)
    assert {k: v for k, v in _says(current).items() if k != "config"} == _plan_says(old)
    text = (
        CONFIG.replace("InstanceType: c5.xlarge", "InstanceType: m5.2xlarge")
        .replace("Count: 2", "Count: 3")
        .replace("2100", "2400")
        .replace("/scratch-head", "/scratch-new")
    )
    new = replace(_plan(text), expires_at="2031-01-01T00:00:00+00:00")
    layout = ClusterLayout(tmp_path, "dp")
    updated = _update.new_descriptor(layout, current, new)
    path = tmp_path / "cluster.json"
    path.write_text(updated.dump())
    loaded = ClusterDescriptor.load(path)
    says = _says(loaded)
    assert {k: v for k, v in says.items() if k != "config"} == _plan_says(new)
    assert "m5.2xlarge" in str(says["config"]) and "m5.2xlarge" not in current.cluster_config
    assert loaded.login_slots()[-1].name == "login-users-3"  # the new Count, in the kept block
    assert loaded.login_placements == current.login_placements  # where the pool is, kept


def _older(plan: ClusterPlan, config_text: str) -> dict[str, object]:
    """A descriptor as a Corral from before the plan was stored in it wrote one."""
    return {
        "name": plan.cluster_name,
        "subnet": str(SUBNET),
        "head_address": "10.240.16.1",
        "head_hostname": "head",
        "head_instance_type": "c5.xlarge",
        "python": "/py",
        "nodes": [],
        "extra": {"expires_at": "2030-01-01T00:00:00+00:00", "nat": "1"},
        "region": "eu-west-1",
        "os": "ubuntu2204",
        "cluster_config": config_text,
        "head_timeout_s": 2100,
        "login_pools": [
            {"name": "users", "instance_type": "t3.medium", "count": 2, "gracetime_s": 600, "block": 4}
        ],
    }


def test_a_descriptor_written_before_it_held_the_plan_loads_with_its_plan_rebuilt(tmp_path: Path) -> None:
    plan = _plan()
    path = tmp_path / "cluster.json"
    path.write_text(json.dumps(_older(plan, _descriptor(plan).cluster_config)))
    loaded = ClusterDescriptor.load(path)
    assert loaded.plan == replace(plan, expires_at="2030-01-01T00:00:00+00:00")
    assert loaded.extra == {"nat": "1"}  # its copy of the expiry is the plan's now
    assert (loaded.name, loaded.head_timeout_s, loaded.subnet) == ("dp", 2100, str(SUBNET))
    assert [(p.name, p.count, p.block) for p in loaded.login_pools] == [("users", 2, 4)]
    assert set(json.loads(loaded.dump())) == STORED  # written again in today's form


def test_an_older_descriptor_without_its_config_fails_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "cluster.json"
    path.write_text(json.dumps(_older(_plan(), "")))
    with pytest.raises(ValueError, match=str(path)):
        ClusterDescriptor.load(path)

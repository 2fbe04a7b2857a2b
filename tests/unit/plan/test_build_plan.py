"""build_plan: node inventory, shapes, weights, partitions, storage and Slurm settings from configs."""

from __future__ import annotations

from pathlib import Path

import pytest

from corral.config import catalog, load_cluster_config, load_cluster_config_text
from corral.errors import ConfigError
from corral.plan import NodeKind, build_plan
from support.corpus import CLUSTER_FILES, needs_corpus

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"

BASE = """\
Image:
  Os: alinux2023
HeadNode:
  InstanceType: c5.xlarge
  Networking:
    SubnetId: subnet-0123456789abcdef0
Scheduling:
  Scheduler: slurm
  SlurmSettings:
    ScaledownIdletime: 3
    EnableMemoryBasedScheduling: true
    CustomSlurmSettings:
      - SchedulerParameters: bf_interval=30
  SlurmQueues:
    - Name: q1
      CustomSlurmSettings:
        MaxNodes: 2
        MaxTime: "10:00"
      CustomActions:
        OnNodeStart:
          Sequence:
            - Script: /opt/a.sh
              Args: [x]
            - Script: s3://bucket/b.sh
        OnNodeConfigured:
          Script: https://example.com/c.sh
      ComputeResources:
        - Name: small
          InstanceType: c5.xlarge
          MinCount: 1
          MaxCount: 3
        - Name: big
          Instances:
            - InstanceType: c5.4xlarge
            - InstanceType: m5.4xlarge
          DisableSimultaneousMultithreading: true
          MaxCount: 2
          CustomSlurmSettings:
            Features: bigmem
      Networking:
        SubnetIds: [subnet-0123456789abcdef0]
    - Name: gpu
      JobExclusiveAllocation: true
      ComputeResources:
        - Name: g
          InstanceType: g5.12xlarge
          SchedulableMemory: 200000
      Networking:
        SubnetIds: [subnet-0123456789abcdef0]
SharedStorage:
  - MountDir: /scratch
    Name: scratch
    StorageType: FsxLustre
    FsxLustreSettings:
      StorageCapacity: 1200
      ImportPath: s3://bucket/in
      DeletionPolicy: Retain
  - MountDir: shared
    Name: ebs
    StorageType: Ebs
Tags:
  - Key: team
    Value: hpc
"""


@pytest.fixture(scope="module")
def plan():
    return build_plan(load_cluster_config_text(BASE, "base.yaml").config, cluster_name="c1")


def test_node_names_follow_parallelcluster(plan) -> None:
    names = [n.name for n in plan.nodes if n.queue == "q1"]
    assert names == [
        "q1-st-small-1",
        "q1-dy-small-1",
        "q1-dy-small-2",
        "q1-dy-big-1",
        "q1-dy-big-2",
    ]
    assert [n.name for n in plan.static_nodes] == ["q1-st-small-1"]
    # MaxCount defaults to 10, MinCount to 0.
    assert [n.name for n in plan.nodes if n.queue == "gpu"] == [f"gpu-dy-g-{i}" for i in range(1, 11)]


def test_shapes_come_from_the_catalog(plan) -> None:
    small = plan.node("q1-st-small-1").shape
    assert (small.cpus, small.threads_per_core) == (4, 2)
    assert small.real_memory_mib == int(8192 * 0.95)
    big = plan.node("q1-dy-big-1").shape
    # Smallest of c5.4xlarge (16 vCPU, 32 GiB) and m5.4xlarge (16 vCPU, 64 GiB); SMT off halves CPUs.
    assert (big.cpus, big.threads_per_core, big.real_memory_mib) == (8, 1, int(32768 * 0.95))
    gpu = plan.node("gpu-dy-g-1").shape
    assert gpu.gpus == 4 and gpu.real_memory_mib == 200000
    assert "gpu" in plan.node("gpu-dy-g-1").features


def test_weights_put_static_first_and_cheaper_first(plan) -> None:
    static = plan.node("q1-st-small-1").weight
    small = plan.node("q1-dy-small-1").weight
    big = plan.node("q1-dy-big-1").weight
    assert static < small < big
    assert plan.node("q1-dy-small-1").features[:2] == ("dynamic", "c5.xlarge")


def test_partitions_and_custom_settings(plan) -> None:
    q1, gpu = plan.partitions
    assert q1.default and not gpu.default
    assert q1.custom_settings == (("MaxNodes", "2"), ("MaxTime", "10:00"))
    assert gpu.job_exclusive
    assert plan.node("q1-dy-big-1").custom_settings == (("Features", "bigmem"),)
    assert plan.slurm.custom_settings == (("SchedulerParameters", "bf_interval=30"),)
    assert plan.slurm.scaledown_idletime_min == 3 and plan.slurm.memory_based_scheduling


def test_custom_actions_keep_event_and_sequence_order(plan) -> None:
    actions = plan.custom_actions_for("q1")
    assert [(a.event, a.script, a.args) for a in actions] == [
        ("OnNodeStart", "/opt/a.sh", ("x",)),
        ("OnNodeStart", "s3://bucket/b.sh", ()),
        ("OnNodeConfigured", "https://example.com/c.sh", ()),
    ]
    assert plan.custom_actions_for("gpu") == ()


def test_storage_adds_home_and_keeps_policies(plan) -> None:
    by_name = {s.name: s for s in plan.storage}
    assert by_name["home"].mount_dir == "/home"
    assert by_name["scratch"].deletion_policy == "Retain"
    assert by_name["scratch"].data_repositories == (("/", "s3://bucket/in"),)
    assert by_name["ebs"].mount_dir == "/shared" and by_name["ebs"].deletion_policy == "Delete"
    assert plan.tags == (("team", "hpc"),)


def test_example_config_plans() -> None:
    plan = build_plan(load_cluster_config(EXAMPLES / "demo.yaml").config, cluster_name="demo")
    assert {p.name for p in plan.partitions} == {"compute", "highmem"}
    assert len(plan.static_nodes) == 1 and all(n.kind is NodeKind.DYNAMIC for n in plan.dynamic_nodes)


def _compute_types_known(config) -> bool:
    types = [
        t for q in config.scheduling.slurm_queues for cr in q.compute_resources for t in cr.instance_types
    ]
    return all(catalog.get(t) is not None for t in types)


def test_an_unknown_head_node_type_gets_a_nominal_shape() -> None:
    text = BASE.replace("InstanceType: c5.xlarge\n  Networking", "InstanceType: String\n  Networking", 1)
    plan = build_plan(load_cluster_config_text(text, "h.yaml").config, cluster_name="h")
    assert plan.head_node.shape.instance_type == "String" and plan.head_node.shape.cpus == 1


def test_an_unknown_compute_type_cannot_be_planned() -> None:
    text = BASE.replace(
        "InstanceType: c5.xlarge\n          MinCount: 1", "InstanceType: c5.huge\n          MinCount: 1"
    )
    with pytest.raises(ConfigError, match=r"'c5\.huge' is not in Corral's catalog"):
        build_plan(load_cluster_config_text(text, "c.yaml").config, cluster_name="c")


@needs_corpus
@pytest.mark.parametrize("path", CLUSTER_FILES, ids=lambda p: p.name[:60])
def test_every_corpus_config_plans(path: Path) -> None:
    config = load_cluster_config(path).config
    assert _compute_types_known(config)
    plan = build_plan(config, cluster_name="corpus")
    expected = sum(cr.max_count for q in config.scheduling.slurm_queues for cr in q.compute_resources)
    assert len(plan.nodes) == expected
    assert len({n.name for n in plan.nodes}) == expected

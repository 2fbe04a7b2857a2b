"""Model behaviour: implied defaults, normalisation of one-or-many and free-form sections, one-of rules."""

from __future__ import annotations

import textwrap

import pytest
from pydantic import ValidationError

from corral.config.loader import load_cluster_config_text
from corral.config.model import (
    ClusterConfig,
    CustomActionScript,
    EbsSettings,
    SlurmComputeResource,
    SlurmQueue,
)
from corral.config.policies import PolicyClass, UpdatePolicy, policy_of
from corral.errors import ConfigError

HEAD = textwrap.dedent(
    """\
    Image:
      Os: ubuntu2204
    HeadNode:
      InstanceType: t3.micro
      Networking:
        SubnetId: subnet-12345678
    """
)


def cluster(scheduling: str, extra: str = "") -> ClusterConfig:
    text = HEAD + textwrap.dedent(scheduling) + textwrap.dedent(extra)
    return load_cluster_config_text(text).config  # type: ignore[no-any-return]


def problems(scheduling: str, extra: str = "") -> dict[str, str]:
    with pytest.raises(ConfigError) as info:
        cluster(scheduling, extra)
    return {f.path: f.message for f in info.value.findings}


ONE_QUEUE = """\
    Scheduling:
      Scheduler: slurm
      SlurmQueues:
        - Name: q
          Networking:
            SubnetIds: [subnet-12345678]
          ComputeResources:
            - Name: c
              InstanceType: c5.large
    """


def test_parallelcluster_defaults_are_materialised() -> None:
    config = cluster(ONE_QUEUE)
    settings = config.scheduling.slurm_settings
    queue = config.scheduling.slurm_queues[0]
    cr = queue.compute_resources[0]
    assert (settings.scaledown_idletime, settings.queue_update_strategy) == (10, "COMPUTE_FLEET_STOP")
    assert settings.enable_memory_based_scheduling is False
    assert settings.dns.disable_managed_dns is False
    assert config.scheduling.scaling_strategy == "all-or-nothing"
    assert (queue.capacity_type, queue.allocation_strategy) == ("ONDEMAND", "lowest-price")
    assert (cr.min_count, cr.max_count, cr.spot_price) == (0, 10, None)
    assert (cr.static_node_priority, cr.dynamic_node_priority) == (1, 1000)
    assert cr.efa.enabled is False and cr.disable_simultaneous_multithreading is False
    root = config.head_node.local_storage.root_volume
    assert (root.volume_type, root.size, root.iops, root.throughput, root.encrypted) == (
        "gp3",
        40,
        3000,
        125,
        True,
    )
    qroot = queue.compute_settings.local_storage.root_volume
    assert (qroot.volume_type, qroot.size, qroot.iops, qroot.throughput) == ("gp3", 40, 3000, 125)
    logs = config.monitoring.logs.cloud_watch
    assert (logs.enabled, logs.retention_in_days, logs.deletion_policy) == (True, 180, "Retain")
    assert config.monitoring.detailed_monitoring is False
    assert config.monitoring.dashboards.cloud_watch.enabled is True
    assert config.head_node.imds.secured is True and config.imds.imds_support == "v2.0"
    assert config.head_node.ssh.allowed_ips == "0.0.0.0/0"
    assert config.dev_settings.timeouts.head_node_bootstrap_timeout == 2100
    assert config.deployment_settings.default_user_home == "Shared"


def test_capacity_block_queues_have_no_allocation_strategy() -> None:
    config = cluster(ONE_QUEUE.replace("- Name: q\n", "- Name: q\n          CapacityType: CAPACITY_BLOCK\n"))
    assert config.scheduling.slurm_queues[0].allocation_strategy is None


def test_ebs_defaults_follow_the_volume_type() -> None:
    assert EbsSettings.model_validate({"VolumeType": "io2"}).iops == 100
    assert EbsSettings.model_validate({"VolumeType": "io2"}).throughput is None
    gp2 = EbsSettings.model_validate({"VolumeType": "gp2"})
    assert (gp2.iops, gp2.throughput, gp2.size, gp2.deletion_policy) == (None, None, 40, "Delete")
    existing = EbsSettings.model_validate({"VolumeId": "vol-12345678"})
    assert (existing.size, existing.deletion_policy) == (None, None)


def test_storage_settings_defaults_and_rules() -> None:
    extra = """\
    SharedStorage:
      - Name: ebs
        StorageType: Ebs
        MountDir: /shared
      - Name: efs
        StorageType: Efs
        MountDir: efs
      - Name: fsx
        StorageType: FsxLustre
        MountDir: /fsx
      - Name: existing
        StorageType: Efs
        MountDir: /old
        EfsSettings:
          FileSystemId: fs-12345678
    """
    storage = cluster(ONE_QUEUE, extra).shared_storage
    assert storage[0].settings == EbsSettings()
    assert storage[0].ebs_settings is not None and storage[0].ebs_settings.deletion_policy == "Delete"
    assert storage[1].efs_settings is not None and storage[1].efs_settings.throughput_mode == "bursting"
    assert storage[2].fsx_lustre_settings is not None
    assert storage[2].fsx_lustre_settings.deployment_type == "SCRATCH_2"
    assert storage[3].efs_settings is not None and storage[3].efs_settings.deletion_policy is None
    assert [s.is_existing for s in storage] == [False, False, False, True]


@pytest.mark.parametrize(
    ("item", "path", "fragment"),
    [
        ("StorageType: Ebs\n    EfsSettings: {}", "SharedStorage[0]", "does not fit StorageType Ebs"),
        ("StorageType: Ebs\n    EbsSettings: {}\n    EfsSettings: {}", "SharedStorage[0]", "only one"),
        ("StorageType: FsxOntap", "SharedStorage[0]", "needs a FsxOntapSettings"),
        ("StorageType: Efs\n    EfsSettings: {FileSystemId: fs-12345678, Encrypted: true}", "", "ignored"),
        ("StorageType: Efs\n    EfsSettings: {ThroughputMode: provisioned}", "", "ProvisionedThroughput"),
        (
            "StorageType: FsxLustre\n    FsxLustreSettings:"
            " {BackupId: backup-12345678, StorageCapacity: 1200}",
            "",
            "BackupId",
        ),
    ],
)
def test_storage_one_of_rules(item: str, path: str, fragment: str) -> None:
    extra = f"SharedStorage:\n  - Name: s\n    MountDir: /s\n    {item}\n"
    found = problems(ONE_QUEUE, extra)
    assert any(p.startswith(path or "SharedStorage[0]") and fragment in m for p, m in found.items()), found


def test_mount_dir_none_is_reserved() -> None:
    found = problems(ONE_QUEUE, "SharedStorage:\n  - {Name: s, MountDir: /NONE, StorageType: Ebs}\n")
    assert "cannot be used as a shared directory" in found["SharedStorage[0]/MountDir"]


def test_instance_type_xor_instances() -> None:
    both = ONE_QUEUE.replace(
        "InstanceType: c5.large",
        "InstanceType: c5.large\n              Instances: [{InstanceType: c5.xlarge}]",
    )
    assert "not both" in problems(both)["Scheduling/SlurmQueues[0]/ComputeResources[0]"]
    neither = ONE_QUEUE.replace("InstanceType: c5.large", "MaxCount: 2")
    assert "needs InstanceType" in problems(neither)["Scheduling/SlurmQueues[0]/ComputeResources[0]"]
    dup = ONE_QUEUE.replace(
        "InstanceType: c5.large", "Instances: [{InstanceType: c5.large}, {InstanceType: c5.large}]"
    )
    assert "twice" in problems(dup)["Scheduling/SlurmQueues[0]/ComputeResources[0]"]


def test_instance_types_property() -> None:
    flexible = ONE_QUEUE.replace(
        "InstanceType: c5.large", "Instances: [{InstanceType: c5.large}, {InstanceType: c5a.large}]"
    )
    cr = cluster(flexible).scheduling.slurm_queues[0].compute_resources[0]
    assert cr.instance_types == ("c5.large", "c5a.large")
    assert cluster(ONE_QUEUE).scheduling.slurm_queues[0].instance_types == ("c5.large",)


def test_custom_actions_one_or_many() -> None:
    extra = """\
    SharedStorage: []
    """
    head = """\
      CustomActions:
        OnNodeStart:
          Script: s3://bucket/one.sh
          Args: [a, b]
        OnNodeConfigured:
          Sequence:
            - Script: https://example.com/two.sh
            - Script: /opt/three.sh
              Args: [c]
    """
    text = (
        HEAD
        + textwrap.indent(textwrap.dedent(head), "  ")
        + textwrap.dedent(ONE_QUEUE)
        + textwrap.dedent(extra)
    )
    config = load_cluster_config_text(text).config
    actions = config.head_node.custom_actions
    assert actions.on_node_start == (CustomActionScript(script="s3://bucket/one.sh", args=("a", "b")),)
    assert [a.script for a in actions.on_node_configured] == ["https://example.com/two.sh", "/opt/three.sh"]
    assert actions.on_node_updated == ()


@pytest.mark.parametrize(
    ("event", "fragment"),
    [
        ("{Script: a, Sequence: []}", "both Script and Sequence"),
        ("{Args: [a]}", "set Script"),
        ("{Sequence: {Script: a}}", "must be a list"),
        ("{Sequence: [{Script: a}], Extra: 1}", "next to Sequence"),
    ],
)
def test_custom_action_shape_errors(event: str, fragment: str) -> None:
    queue = ONE_QUEUE.replace(
        "- Name: q\n", f"- Name: q\n          CustomActions:\n            OnNodeStart: {event}\n"
    )
    found = problems(queue)
    assert any(fragment in m for m in found.values()), found


def test_custom_action_item_errors_point_into_the_sequence() -> None:
    queue = ONE_QUEUE.replace(
        "- Name: q\n",
        "- Name: q\n          CustomActions:\n            OnNodeStart:\n"
        "              Sequence: [{Script: a}, {Scrip: b}]\n",
    )
    found = problems(queue)
    assert "Scheduling/SlurmQueues[0]/CustomActions/OnNodeStart/Sequence[1]/Scrip" in found


def test_custom_slurm_settings_become_ordered_text_pairs() -> None:
    scheduling = ONE_QUEUE.replace(
        "Scheduler: slurm\n",
        "Scheduler: slurm\n      SlurmSettings:\n        CustomSlurmSettings:\n"
        "          - SchedulerParameters: salloc_wait_nodes\n          - MaxJobCount: 5000\n",
    ).replace(
        "InstanceType: c5.large\n",
        "InstanceType: c5.large\n"
        "              CustomSlurmSettings: {Weight: 10, OverSubscribe: NO, Feature: on}\n",
    )
    config = cluster(scheduling)
    assert config.scheduling.slurm_settings.custom_slurm_settings == (
        ("SchedulerParameters", "salloc_wait_nodes"),
        ("MaxJobCount", "5000"),
    )
    cr = config.scheduling.slurm_queues[0].compute_resources[0]
    # YAML 1.1 would read NO/on as booleans; free-form Slurm settings keep the text as written.
    assert cr.custom_slurm_settings == (("Weight", "10"), ("OverSubscribe", "NO"), ("Feature", "on"))


def test_elastic_ip_is_bool_or_string() -> None:
    for value, expected in (("true", True), ("false", False), ("eipalloc-12345678", "eipalloc-12345678")):
        text = HEAD.replace("SubnetId: subnet-12345678", f"SubnetId: subnet-12345678\n    ElasticIp: {value}")
        assert (
            load_cluster_config_text(text + textwrap.dedent(ONE_QUEUE)).config.head_node.networking.elastic_ip
            == expected
        )
    with pytest.raises(ConfigError) as info:
        text = HEAD.replace("SubnetId: subnet-12345678", "SubnetId: subnet-12345678\n    ElasticIp: 5")
        load_cluster_config_text(text + textwrap.dedent(ONE_QUEUE))
    assert [f.path for f in info.value.findings] == ["HeadNode/Networking/ElasticIp"]


def test_models_are_frozen_and_strict_about_keys() -> None:
    config = cluster(ONE_QUEUE)
    with pytest.raises(ValidationError):
        config.region = "us-east-1"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        SlurmComputeResource.model_validate({"Name": "c", "InstanceType": "x", "Unknown": 1})
    # Code may build models by attribute name.
    cr = SlurmComputeResource(name="c", instance_type="c5.large", min_count=1)  # type: ignore[call-arg]
    assert (cr.min_count, cr.max_count) == (1, 10)
    assert hash(config) == hash(cluster(ONE_QUEUE))


def test_policy_lookup() -> None:
    assert policy_of(SlurmComputeResource, "min_count") is UpdatePolicy.RESIZE_UPDATE_STRATEGY_ON_REMOVE
    assert policy_of(SlurmQueue, "name") is UpdatePolicy.UNSUPPORTED
    assert policy_of(ClusterConfig, "custom_s3_bucket") is UpdatePolicy.READ_ONLY_RESOURCE_BUCKET
    assert UpdatePolicy.COMPUTE_FLEET_STOP.policy_class is PolicyClass.FLEET_STOP
    assert "update-compute-fleet" in UpdatePolicy.QUEUE_UPDATE_STRATEGY.remedy
    with pytest.raises(KeyError):
        policy_of(SlurmQueue, "nope")


def test_iam_exclusive_rules() -> None:
    queue = ONE_QUEUE.replace(
        "- Name: q\n",
        "- Name: q\n          Iam:\n            InstanceRole: arn:aws:iam::1:role/r\n"
        "            S3Access: [{BucketName: b}]\n",
    )
    assert "S3Access can not be configured" in problems(queue)["Scheduling/SlurmQueues[0]/Iam"]

"""diff(old, new): changes matched by name, with ParallelCluster's update policies and remedies."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from corral.config.loader import load_cluster_config, load_cluster_config_text
from corral.config.model import ClusterConfig
from corral.config.policies import UpdatePolicy as P
from corral.plan import Change, ChangeSet, diff

CORPUS = Path(__file__).resolve().parents[4] / "shared" / "corpus" / "cluster-configs"

BASE = textwrap.dedent(
    """\
    Image:
      Os: alinux2023
    HeadNode:
      InstanceType: t3.micro
      Networking:
        SubnetId: subnet-12345678
    Scheduling:
      Scheduler: slurm
      SlurmSettings:
        QueueUpdateStrategy: COMPUTE_FLEET_STOP
      SlurmQueues:
        - Name: q1
          Networking:
            SubnetIds: [subnet-12345678]
          ComputeResources:
            - Name: cr1
              InstanceType: c5.large
              MinCount: 1
              MaxCount: 4
        - Name: q2
          Networking:
            SubnetIds: [subnet-12345678]
          ComputeResources:
            - Name: cr1
              InstanceType: m5.large
    """
)


def load(text: str) -> ClusterConfig:
    return load_cluster_config_text(text).config  # type: ignore[no-any-return]


def corpus(name: str) -> ClusterConfig:
    if not CORPUS.is_dir():
        pytest.skip(f"{CORPUS} is absent (CI has ../shared)")
    return load_cluster_config(CORPUS / name).config  # type: ignore[no-any-return]


def changes(old: str, new: str, status: str = "RUNNING", **kw: object) -> dict[str, Change]:
    return {c.path: c for c in diff(load(old), load(new), fleet_status=status, **kw)}  # type: ignore[arg-type]


def strategy(text: str, value: str) -> str:
    return text.replace("QueueUpdateStrategy: COMPUTE_FLEET_STOP", f"QueueUpdateStrategy: {value}")


def test_no_change_is_an_empty_allowed_set() -> None:
    result = diff(load(BASE), load(BASE))
    assert isinstance(result, ChangeSet)
    assert not result and len(result) == 0 and result.allowed


def test_writing_a_default_explicitly_is_not_a_change() -> None:
    explicit = BASE.replace("InstanceType: m5.large\n", "InstanceType: m5.large\n          MinCount: 0\n")
    assert not diff(load(BASE), load(explicit))


def test_queues_are_matched_by_name_not_position() -> None:
    q1, q2 = BASE.split("    - Name: q2\n")
    swapped = (
        q1.split("    - Name: q1\n")[0]
        + "    - Name: q2\n"
        + q2
        + "    - Name: q1\n"
        + q1.split("    - Name: q1\n")[1]
    )
    assert load(swapped).scheduling.slurm_queues[0].name == "q2"
    assert not diff(load(BASE), load(swapped))
    # ...and a change in the moved queue is reported at its name, located at its new index.
    moved = swapped.replace("InstanceType: c5.large", "InstanceType: c5.xlarge")
    (change,) = diff(load(BASE), load(moved))
    assert change.path == "Scheduling/SlurmQueues[q1]/ComputeResources[cr1]/InstanceType"
    assert change.old_path == "Scheduling/SlurmQueues[0]/ComputeResources[0]/InstanceType"
    assert change.new_path == "Scheduling/SlurmQueues[1]/ComputeResources[0]/InstanceType"
    assert change.parameter == "Scheduling.SlurmQueues[q1].ComputeResources[cr1].InstanceType"
    assert (change.old, change.new, change.policy) == ("c5.large", "c5.xlarge", P.COMPUTE_FLEET_STOP)


def test_compute_fleet_stop_needs_a_stopped_fleet() -> None:
    new = BASE.replace("InstanceType: c5.large", "InstanceType: c5.xlarge")
    running = changes(BASE, new, cluster_name="prod")[
        "Scheduling/SlurmQueues[q1]/ComputeResources[cr1]/InstanceType"
    ]
    assert not running.allowed
    assert "corral update-compute-fleet -n prod --status STOP_REQUESTED" in running.remedy
    assert changes(BASE, new, "STOPPED")[
        "Scheduling/SlurmQueues[q1]/ComputeResources[cr1]/InstanceType"
    ].allowed
    # No queue update strategy unlocks a COMPUTE_FLEET_STOP change.
    terminate = changes(strategy(BASE, "TERMINATE"), strategy(new, "TERMINATE"))
    assert not terminate["Scheduling/SlurmQueues[q1]/ComputeResources[cr1]/InstanceType"].allowed


@pytest.mark.parametrize(
    ("edit", "allowed_running"),
    [
        (("MaxCount: 4", "MaxCount: 8"), True),  # growing is live
        (("MaxCount: 4", "MaxCount: 3"), False),  # shrinking removes nodes
        (("MinCount: 1\n          MaxCount: 4", "MinCount: 3\n          MaxCount: 6"), True),
        (("MinCount: 1\n          MaxCount: 4", "MinCount: 3\n          MaxCount: 5"), False),
        (("MinCount: 1", "MinCount: 0"), False),
    ],
)
def test_resize_policy(edit: tuple[str, str], allowed_running: bool) -> None:
    base = BASE
    old, new = edit
    new_text = base.replace(old, new)
    assert new_text != base
    result = diff(load(base), load(new_text))
    assert result.allowed is allowed_running, [(c.path, c.allowed) for c in result]
    assert all(c.policy is P.RESIZE_UPDATE_STRATEGY_ON_REMOVE for c in result)
    assert diff(load(base), load(new_text), fleet_status="STOPPED").allowed
    assert diff(load(strategy(base, "TERMINATE")), load(strategy(new_text, "TERMINATE"))).allowed


def test_adding_a_queue_is_live_removing_one_needs_terminate() -> None:
    q3 = (
        "    - Name: q3\n      Networking:\n        SubnetIds: [subnet-12345678]\n"
        "      ComputeResources:\n        - Name: c\n          InstanceType: t3.micro\n"
    )
    added = changes(BASE, BASE + q3)["Scheduling/SlurmQueues[q3]"]
    assert added.is_list_item and added.old is None and added.new["Name"] == "q3" and added.allowed
    removed_text = BASE.split("    - Name: q2\n")[0]
    removed = changes(BASE, removed_text)["Scheduling/SlurmQueues[q2]"]
    assert removed.new is None and removed.old["Name"] == "q2"
    assert not removed.allowed and "QueueUpdateStrategy: TERMINATE" in removed.remedy
    assert not changes(strategy(BASE, "DRAIN"), strategy(removed_text, "DRAIN"))[
        "Scheduling/SlurmQueues[q2]"
    ].allowed
    assert changes(strategy(BASE, "TERMINATE"), strategy(removed_text, "TERMINATE"))[
        "Scheduling/SlurmQueues[q2]"
    ].allowed


def test_queue_update_strategy_unlocks_queue_changes() -> None:
    new = BASE.replace("- Name: q1\n", "- Name: q1\n      CapacityType: SPOT\n")
    key = "Scheduling/SlurmQueues[q1]/CapacityType"
    blocked = changes(BASE, new)[key]
    assert blocked.policy is P.QUEUE_UPDATE_STRATEGY and not blocked.allowed
    assert "QueueUpdateStrategy: DRAIN or TERMINATE" in blocked.remedy
    for value in ("DRAIN", "TERMINATE"):
        assert changes(strategy(BASE, value), strategy(new, value))[key].allowed


def test_unsupported_changes_are_never_allowed() -> None:
    new = BASE.replace("InstanceType: t3.micro", "InstanceType: t3.large")
    change = changes(BASE, new, "STOPPED")["HeadNode/InstanceType"]
    assert change.policy is P.UNSUPPORTED and not change.allowed
    assert "restore InstanceType to 't3.micro'" in change.remedy and "new cluster" in change.remedy


def test_read_only_bucket_and_supported_changes() -> None:
    new = BASE + "CustomS3Bucket: other\nAdditionalResources: https://example.com/t.yaml\n"
    found = changes(BASE + "CustomS3Bucket: mine\n", new, "STOPPED")
    assert (
        not found["CustomS3Bucket"].allowed
        and "restore CustomS3Bucket to 'mine'" in found["CustomS3Bucket"].remedy
    )
    assert found["AdditionalResources"].allowed and found["AdditionalResources"].policy is P.SUPPORTED


def test_adding_a_section_is_one_change_with_the_section_policy() -> None:
    new = BASE.replace(
        "QueueUpdateStrategy: COMPUTE_FLEET_STOP\n",
        "QueueUpdateStrategy: COMPUTE_FLEET_STOP\n    Database:\n      Uri: db:3306\n      UserName: u\n"
        "      PasswordSecretArn: arn:aws:secretsmanager:us-east-1:1:secret:x\n",
    )
    (change,) = diff(load(BASE), load(new))
    assert change.path == "Scheduling/SlurmSettings/Database"
    assert change.policy is P.COMPUTE_FLEET_STOP and change.old is None
    assert change.new == {
        "Uri": "db:3306",
        "UserName": "u",
        "PasswordSecretArn": "arn:aws:secretsmanager:us-east-1:1:secret:x",
    }


STORAGE = {
    "external_efs": "  - {Name: ext, MountDir: /ext, StorageType: Efs,"
    " EfsSettings: {FileSystemId: fs-12345678}}\n",
    "managed_ebs": "  - {Name: vol, MountDir: /vol, StorageType: Ebs}\n",
    "home": "  - {Name: home, MountDir: /home, StorageType: Efs, EfsSettings: {FileSystemId: fs-12345678}}\n",
}


@pytest.mark.parametrize(
    ("item", "strategy_value", "allowed"),
    [
        ("external_efs", "COMPUTE_FLEET_STOP", True),
        ("managed_ebs", "COMPUTE_FLEET_STOP", False),
        ("managed_ebs", "DRAIN", True),
        ("home", "TERMINATE", False),
    ],
)
def test_shared_storage_policy(item: str, strategy_value: str, allowed: bool) -> None:
    old = strategy(BASE, strategy_value)
    new = old + "SharedStorage:\n" + STORAGE[item]
    (change,) = diff(load(old), load(new))
    assert change.policy is P.SHARED_STORAGE_UPDATE_POLICY and change.is_list_item
    assert change.allowed is allowed


def test_subnets_locked_by_a_managed_fsx() -> None:
    fsx = "SharedStorage:\n  - {Name: fsx, MountDir: /fsx, StorageType: FsxLustre}\n"
    old, new = (
        BASE + fsx,
        BASE.replace("SubnetIds: [subnet-12345678]", "SubnetIds: [subnet-87654321]", 1) + fsx,
    )
    change = changes(old, new, "STOPPED")["Scheduling/SlurmQueues[q1]/Networking/SubnetIds"]
    assert change.policy is P.MANAGED_FSX and not change.allowed and "fsx" in change.reason
    # Without a managed FSx, adding a subnet is live and replacing one needs the fleet stopped.
    grow = BASE.replace("SubnetIds: [subnet-12345678]", "SubnetIds: [subnet-12345678, subnet-87654321]", 1)
    assert changes(BASE, grow)["Scheduling/SlurmQueues[q1]/Networking/SubnetIds"].allowed
    assert not changes(BASE, BASE.replace("[subnet-12345678]", "[subnet-87654321]", 1))[
        "Scheduling/SlurmQueues[q1]/Networking/SubnetIds"
    ].allowed


def test_removing_a_managed_placement_group_needs_a_stopped_fleet() -> None:
    pg = BASE.replace(
        "SubnetIds: [subnet-12345678]\n",
        "SubnetIds: [subnet-12345678]\n        PlacementGroup: {Enabled: true}\n",
        1,
    )
    old, new = strategy(pg, "TERMINATE"), strategy(BASE, "TERMINATE")
    change = changes(old, new)["Scheduling/SlurmQueues[q1]/Networking/PlacementGroup/Enabled"]
    assert change.policy is P.MANAGED_PLACEMENT_GROUP and not change.allowed
    assert changes(old, new, "STOPPED")[
        "Scheduling/SlurmQueues[q1]/Networking/PlacementGroup/Enabled"
    ].allowed
    # Adding one is a queue change the update strategy covers.
    assert changes(new, old)["Scheduling/SlurmQueues[q1]/Networking/PlacementGroup/Enabled"].allowed


def test_extra_chef_attributes() -> None:
    def with_attrs(attrs: str) -> str:
        return BASE + f"DevSettings:\n  Cookbook:\n    ExtraChefAttributes: '{attrs}'\n"

    old = with_attrs('{"cluster": {"slurm": {"reconfigure_timeout": 100}}}')
    ok = with_attrs('{"cluster": {"slurm": {"reconfigure_timeout": 200}}}')
    bad = with_attrs('{"cluster": {"slurm": {"reconfigure_timeout": 100}, "other": 1}}')
    key = "DevSettings/Cookbook/ExtraChefAttributes"
    assert changes(old, ok)[key].allowed
    assert not changes(old, bad)[key].allowed and "cluster.other" in changes(old, bad)[key].reason


def test_login_pools() -> None:
    pool = (
        "LoginNodes:\n  Pools:\n    - Name: login\n      InstanceType: t3.micro\n      Count: {count}\n"
        "      Networking: {{SubnetIds: [subnet-12345678]}}\n"
    )
    running, stopped = BASE + pool.format(count=1), BASE + pool.format(count=0)
    key = "LoginNodes/Pools[login]/InstanceType"
    assert not changes(running, running.replace("t3.micro\n      Count", "t3.large\n      Count"))[
        key
    ].allowed
    assert changes(stopped, stopped.replace("t3.micro\n      Count", "t3.large\n      Count"))[key].allowed
    assert changes(running, running.replace("Count: 1", "Count: 0"))["LoginNodes/Pools[login]/Count"].allowed
    # Removing every login node section needs them stopped; adding one is fine.
    assert not changes(running, BASE)["LoginNodes"].allowed
    assert changes(BASE, running)["LoginNodes"].allowed


def test_pcluster_json_shapes() -> None:
    new = BASE.replace("InstanceType: c5.large", "InstanceType: c5.xlarge")
    result = diff(load(BASE), load(new))
    assert result.to_change_set() == [
        {
            "parameter": "Scheduling.SlurmQueues[q1].ComputeResources[cr1].InstanceType",
            "currentValue": "c5.large",
            "requestedValue": "c5.xlarge",
        }
    ]
    (error,) = result.to_update_errors()
    assert error["message"].startswith("all compute nodes must be stopped. Stop the compute fleet")


# ---------------------------------------------------------------- corpus pairs

PAIRS = {
    "ad": "integ__ad_integration__test_ad_integration__test_ad_integration__pcluster.config",
    "accounting": "integ__schedulers__test_slurm_accounting__test_slurm_accounting__pcluster.config",
    "tags": "integ__tags__test_tag_propagation__test_tag_propagation__pcluster.config",
    "instances": "integ__update__test_update__test_update_instance_list__pcluster.config",
    "queues": "integ__update__test_update__test_queue_parameters_update__pcluster.config",
}


def corpus_pair(name: str) -> tuple[ClusterConfig, ClusterConfig]:
    return corpus(PAIRS[name] + ".yaml"), corpus(PAIRS[name] + ".update.yaml")


def test_corpus_directory_service_update() -> None:
    old, new = corpus_pair("ad")
    result = diff(old, new)
    assert {c.policy for c in result} == {P.COMPUTE_AND_LOGIN_NODES_STOP}
    assert {c.path for c in result} >= {
        "DirectoryService/LdapAccessFilter",
        "DirectoryService/GenerateSshKeysForUsers",
    }
    assert not result.allowed
    assert diff(old, new, fleet_status="STOPPED").allowed
    assert not diff(old, new, fleet_status="STOPPED", login_nodes_running=True).allowed


def test_corpus_accounting_update() -> None:
    old, new = corpus_pair("accounting")
    found = {c.path: c for c in diff(old, new)}
    assert not found["Scheduling/SlurmSettings/Database"].allowed
    assert found["HeadNode/Networking/AdditionalSecurityGroups"].allowed


def test_corpus_compute_resource_replacement() -> None:
    old, new = corpus_pair("tags")
    found = {c.path: c for c in diff(old, new)}
    assert found["Scheduling/SlurmQueues[queue-0]/ComputeResources[compute-resource-1]"].allowed  # added
    assert not found[
        "Scheduling/SlurmQueues[queue-0]/ComputeResources[compute-resource-0]"
    ].allowed  # removed


def test_corpus_instance_list_growth_is_live() -> None:
    old, new = corpus_pair("instances")
    (change,) = diff(old, new)
    assert change.policy is P.COMPUTE_FLEET_STOP_ON_REMOVE and change.is_list_item and change.allowed
    (back,) = diff(new, old)
    assert not back.allowed and back.new is None


def test_corpus_queue_parameters_update() -> None:
    old, new = corpus_pair("queues")
    result = diff(old, new)
    assert [c.path for c in result] == ["Scheduling/SlurmQueues[queue2]/Image"]
    assert not result.allowed


def test_corpus_memory_scheduling_update_with_drain() -> None:
    stem = "integ__schedulers__test_slurm__test_slurm_memory_based_scheduling__pcluster.config"
    result = diff(corpus(stem + ".yaml"), corpus(stem + ".update-schedulable-memory.yaml"))
    by_key = {c.key: c for c in result}
    assert by_key["QueueUpdateStrategy"].policy is P.IGNORED and by_key["QueueUpdateStrategy"].allowed
    assert by_key["SchedulableMemory"].allowed  # QueueUpdateStrategy DRAIN in the new config
    assert not by_key["EnableMemoryBasedScheduling"].allowed


def test_corpus_every_config_against_itself_is_unchanged() -> None:
    for path in sorted(CORPUS.glob("*.yaml"))[::3]:
        config = load_cluster_config(path).config
        assert not diff(config, config), path.name

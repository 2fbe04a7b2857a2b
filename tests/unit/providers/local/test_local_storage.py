"""Local storage decisions and the files a custom action sees, from the lab example config."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

import yaml

from corral.config.loader import load_cluster_config
from corral.plan import ClusterPlan, build_plan
from corral.providers.local import _bootfiles, _files, _storage
from corral.providers.local._layout import ActionRecord, ClusterDescriptor, ClusterLayout

LAB = Path(__file__).parents[4] / "examples" / "lab" / "cluster.yaml"


def _lab_plan(name: str = "lab") -> ClusterPlan:
    return build_plan(load_cluster_config(LAB).config, cluster_name=name)


def test_storage_dirs_ids_and_the_implicit_home(tmp_path: Path) -> None:
    plan = _lab_plan()
    layout = ClusterLayout(tmp_path, "lab")
    specs = {s.mount_dir: s for s in _storage.storage_with_home(plan)}
    assert specs["/home"].name == "cluster-home"  # "home" is the EFS entry's name
    assert _storage.storage_data_dir(layout, specs["/sbo/home"]) == str(tmp_path / "retained/lab/home")
    assert _storage.storage_data_dir(layout, specs["/sbo/software"]) == str(
        tmp_path / "volumes/fs-0123456789abcdef0"
    )
    assert _storage.storage_data_dir(layout, specs["/sbo/data"]) == str(layout.root / "shared/data")
    home_id = _storage.storage_id("lab", specs["/sbo/home"])
    assert home_id.startswith("fs-") and len(home_id) == 20
    assert (
        home_id
        == _storage.storage_id("lab", specs["/sbo/home"])
        != _storage.storage_id("other", specs["/sbo/home"])
    )
    record = _storage.storage_record(layout, specs["/sbo/software"], "")
    assert record.shared_volume and record.deletion_policy == "Retain"


def test_associations_are_bound_to_their_host_dirs(tmp_path: Path) -> None:
    plan = _lab_plan()
    layout = ClusterLayout(tmp_path, "lab")
    specs = _storage.storage_with_home(plan)
    records = tuple(_storage.storage_record(layout, s, "") for s in specs)
    images, results = _storage.data_repositories(specs, records)
    assert images.local_dir == str(layout.root / "shared/data/images")
    assert (images.url, images.batch_import, images.auto_import) == (
        "s3://lab-images/containers",
        True,
        ("NEW", "CHANGED", "DELETED"),
    )
    assert results.auto_export == ("NEW", "CHANGED", "DELETED") and not results.batch_import


def _descriptor(tmp_path: Path) -> tuple[ClusterLayout, ClusterDescriptor]:
    plan = _lab_plan()
    layout = ClusterLayout(tmp_path, "lab")
    storage = tuple(_storage.storage_record(layout, s, "") for s in _storage.storage_with_home(plan))
    actions = {
        None: tuple(
            ActionRecord(a.event, a.script, f"/cache/{i}", a.args)
            for i, a in enumerate(plan.head_node.custom_actions)
        ),
        "cpu": (ActionRecord("OnNodeConfigured", "s3://b/node-ready.sh", "/cache/n", ("x",)),),
    }
    descriptor = _files.build_descriptor(
        plan,
        ipaddress.IPv4Network("10.240.0.0/20"),
        python="/py",
        storage=storage,
        actions=actions,
        env={},
    )
    return layout, ClusterDescriptor.load(_write(tmp_path, descriptor))


def _write(tmp_path: Path, descriptor: ClusterDescriptor) -> Path:
    path = tmp_path / "cluster.json"
    path.write_text(descriptor.dump())
    return path


def test_head_spec_actions_logs_timeout_and_files(tmp_path: Path) -> None:
    layout, descriptor = _descriptor(tmp_path)
    assert len(descriptor.data_repositories) == 2 and descriptor.head_timeout_s == 2100
    spec = _files.bootstrap_spec(layout, descriptor, None)
    assert [Path(a.log_file).name for a in spec.actions][:2] == [
        "01-OnNodeConfigured-01-create-users.sh.log",
        "02-OnNodeConfigured-02-tune-slurm.sh.log",
    ]
    assert all(Path(a.log_file).parent == layout.action_logs / "HeadNode" for a in spec.actions)
    assert spec.actions[0].args == ("alice", "bob", "carol") and spec.timeout_s == 2100
    files = dict(spec.files)
    assert "cfn_node_type=HeadNode\n" in files[_bootfiles.CFNCONFIG]
    assert "stack_name=lab\n" in files[_bootfiles.CFNCONFIG]
    config = yaml.safe_load(files[_bootfiles.CLUSTER_CONFIG])
    assert (
        config["SharedStorage"][2]["FsxLustreSettings"]["DataRepositoryAssociations"][0]["Name"] == "images"
    )
    env = dict(spec.env)
    assert env["CORRAL_NODE_TYPE"] == "HeadNode" and env["CORRAL_CLUSTER_NAME"] == "lab"


def test_compute_spec_knows_its_queue(tmp_path: Path) -> None:
    layout, descriptor = _descriptor(tmp_path)
    node = descriptor.node("cpu-st-c5n-1")
    assert node is not None
    spec = _files.bootstrap_spec(layout, descriptor, node)
    assert [Path(a.log_file).name for a in spec.actions] == ["01-OnNodeConfigured-node-ready.sh.log"]
    files = dict(spec.files)
    assert "cfn_node_type=ComputeFleet\n" in files[_bootfiles.CFNCONFIG]
    dna = json.loads(files[_bootfiles.DNA_JSON])["cluster"]
    assert (dna["scheduler_queue_name"], dna["scheduler_compute_resource_name"]) == ("cpu", "c5n")
    env = dict(spec.env)
    assert (env["CORRAL_QUEUE"], env["CORRAL_COMPUTE_RESOURCE"], env["CORRAL_INSTANCE_TYPE"]) == (
        "cpu",
        "c5n",
        "c5n.18xlarge",
    )
    assert spec.timeout_s == descriptor.compute_timeout_s


EVERY_TYPE = """\
Region: us-east-1
Image: {Os: alinux2023}
HeadNode:
  InstanceType: c5.large
  Networking: {SubnetId: subnet-0123456789abcdef0}
Scheduling:
  Scheduler: slurm
  SlurmQueues:
    - Name: q1
      ComputeResources: [{Name: c1, InstanceType: c5.large, MinCount: 0, MaxCount: 1}]
      Networking: {SubnetIds: [subnet-0123456789abcdef0]}
SharedStorage:
  - {Name: ebs, MountDir: /ebs, StorageType: Ebs, EbsSettings: {DeletionPolicy: Snapshot}}
  - {Name: oldebs, MountDir: /oldebs, StorageType: Ebs, EbsSettings: {VolumeId: vol-0123456789abcdef0}}
  - {Name: ontap, MountDir: /ontap, StorageType: FsxOntap,
     FsxOntapSettings: {VolumeId: fsvol-0123456789abcdef0}}
  - {Name: zfs, MountDir: /zfs, StorageType: FsxOpenZfs,
     FsxOpenZfsSettings: {VolumeId: fsvol-0123456789abcdef1}}
  - {Name: cache, MountDir: /cache, StorageType: FileCache,
     FileCacheSettings: {FileCacheId: fc-0123456789abcdef0}}
  - Name: lustre
    MountDir: /lustre
    StorageType: FsxLustre
    FsxLustreSettings: {ImportPath: "s3://legacy/in", AutoImportPolicy: NEW_CHANGED, StorageCapacity: 1200}
"""


def test_every_storage_type_gets_a_directory(tmp_path: Path) -> None:
    from corral.config.loader import load_cluster_config_text

    plan = build_plan(load_cluster_config_text(EVERY_TYPE).config, cluster_name="all")
    layout = ClusterLayout(tmp_path, "all")
    dirs = {s.name: _storage.storage_data_dir(layout, s) for s in _storage.storage_with_home(plan)}
    volumes = tmp_path / "volumes"
    assert dirs == {
        "home": str(layout.root / "shared/home"),
        "ebs": str(layout.root / "shared/ebs"),
        "oldebs": str(volumes / "vol-0123456789abcdef0"),
        "ontap": str(volumes / "fsvol-0123456789abcdef0"),
        "zfs": str(volumes / "fsvol-0123456789abcdef1"),
        "cache": str(volumes / "fc-0123456789abcdef0"),
        "lustre": str(layout.root / "shared/lustre"),
    }
    lustre = next(s for s in plan.storage if s.name == "lustre")
    (legacy,) = lustre.associations
    assert (
        legacy.file_system_path,
        legacy.data_repository_path,
        legacy.batch_import,
        legacy.auto_import,
    ) == (
        "/",
        "s3://legacy/in",
        True,
        ("NEW", "CHANGED"),
    )
    ebs = next(s for s in plan.storage if s.name == "ebs")
    assert _storage.storage_id("all", ebs).startswith("vol-")

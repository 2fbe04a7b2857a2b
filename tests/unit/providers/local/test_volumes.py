"""Sizes of local volumes (issue #19, point 6): what the plan and the storage records carry, and
the volume file itself (a sparse ext4 image; mounting it is tested end to end)."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from corral.config.check import check_cluster_config
from corral.errors import ProviderError
from corral.plan import StorageSpec, build_plan
from corral.providers.local import _settings, _storage, _volumes
from corral.providers.local._settings import LocalSettings
from support import plans

CONFIG = """\
Region: us-east-1
Image:
  Os: alinux2023
HeadNode:
  InstanceType: c5.large
  Networking:
    SubnetId: subnet-0123456789abcdef0
  LocalStorage:
    RootVolume:
      Size: 50
Scheduling:
  Scheduler: slurm
  SlurmQueues:
    - Name: q1
      ComputeSettings:
        LocalStorage:
          RootVolume:
            Size: 45
      ComputeResources:
        - Name: c1
          InstanceType: c5.large
      Networking:
        SubnetIds: [subnet-0123456789abcdef0]
SharedStorage:
  - {Name: ebs1, StorageType: Ebs, MountDir: /ebs1, EbsSettings: {Size: 7}}
  - {Name: ebs2, StorageType: Ebs, MountDir: /ebs2}
  - {Name: fsx1, StorageType: FsxLustre, MountDir: /fsx1}
  - {Name: fsx2, StorageType: FsxLustre, MountDir: /fsx2, FsxLustreSettings: {StorageCapacity: 2400}}
  - {Name: efs1, StorageType: Efs, MountDir: /efs1}
  - {Name: old, StorageType: Ebs, MountDir: /old, EbsSettings: {VolumeId: vol-0123456789abcdef0}}
"""


def test_the_plan_carries_each_configured_size(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(CONFIG)
    report = check_cluster_config(tmp_path / "c.yaml", cluster_name="sz", suppress=["ALL"])
    assert report.config is not None, report.findings
    plan = build_plan(report.config, cluster_name="sz")
    sizes = {s.name: s.size_gib for s in plan.storage}
    # ParallelCluster's defaults: 40 GiB EBS here, 1200 GiB FSx; EFS is elastic; /home is on the
    # head's root volume; an existing volume keeps its own size
    assert sizes == {"home": 50, "ebs1": 7, "ebs2": 40, "fsx1": 1200, "fsx2": 2400, "efs1": 0, "old": 0}
    assert plan.head_node.root_volume_gib == 50
    assert plan.queue_root_volume_gib == (("q1", 45),)


def test_efs_gets_the_per_cluster_cap_and_an_existing_volume_no_size() -> None:
    efs = StorageSpec("e", "Efs", "/e", "Delete")
    old = StorageSpec("o", "Ebs", "/o", "Retain", existing=True, existing_id="vol-1", size_gib=0)
    ebs = StorageSpec("b", "Ebs", "/b", "Delete", size_gib=9)
    assert _storage.storage_size_gib(efs, 512) == 512
    assert _storage.storage_size_gib(old, 512) == 0
    assert _storage.storage_size_gib(ebs, 512) == 9


def test_a_cap_that_is_not_a_number_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(_settings.EFS_CAP_ENV, "lots")
    with pytest.raises(Exception, match=_settings.EFS_CAP_ENV):
        LocalSettings.from_env()
    monkeypatch.delenv(_settings.EFS_CAP_ENV)
    assert LocalSettings.from_env().efs_cap_gib == _settings.DEFAULT_EFS_CAP_GIB


@pytest.mark.skipif(shutil.which("mkfs.ext4") is None, reason="needs mkfs.ext4 (e2fsprogs)")
def test_a_volume_is_a_sparse_ext4_file_labelled_with_the_cluster_id(tmp_path: Path) -> None:
    image = _volumes.image_of(tmp_path / "data")
    assert image == tmp_path / "data.img"
    assert _volumes.make(image, 1200, "0123456789abcdef")
    assert image.stat().st_size == 1200 << 30
    assert image.stat().st_blocks * 512 < 64 << 20  # 1200 GiB cost less than 64 MiB
    label = subprocess.run(["e2label", str(image)], capture_output=True, text=True, check=True)
    assert label.stdout.strip() == "0123456789abcdef"
    assert not _volumes.make(image, 1, "other")  # made once: its data is kept
    assert image.stat().st_size == 1200 << 30


def test_mountinfo_paths_are_unescaped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    info = tmp_path / "mountinfo"
    info.write_text(
        "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n"
        "80 27 7:3 / /tmp/a\\040b rw,relatime shared:9 - ext4 /dev/loop3 rw,noinit_itable\n"
    )
    monkeypatch.setattr(_volumes, "MOUNTINFO", info)
    assert _volumes.mounts() == {"/": "/dev/vda", "/tmp/a b": "/dev/loop3"}
    assert _volumes.mounted_under(Path("/tmp/a b")) == ["/tmp/a b"]
    assert _volumes.backing_file("/dev/vda") is None


def test_create_names_its_volumes_and_warns_when_they_overcommit_the_disk(tmp_path: Path) -> None:
    from corral.providers.local import _disks
    from corral.providers.local._layout import ClusterDescriptor, ClusterLayout, NodeRecord, StorageRecord

    layout = ClusterLayout(tmp_path, "c1")
    node = NodeRecord("q1-st-c1-1", 0, "10.0.0.2", "q1", "c1", "c5.large", "static")
    small = StorageRecord("data", "/data", str(tmp_path / "data"), "Delete", "", size_gib=1)
    huge = StorageRecord("fsx", "/fsx", str(tmp_path / "fsx"), "Delete", "", size_gib=1 << 30)
    plan = plans.plan("c1", [("q1", "c1", 1, 0)])
    base = ClusterDescriptor(plan, "10.0.0.0/24", "10.0.0.1", "head", "python", (node,))
    image = {"image_root": "/cache/rootfs"}
    head = replace(plan.head_node, root_volume_gib=2)
    sized_plan = replace(plan, head_node=head, queue_root_volume_gib=(("q1", 3),))
    sized = replace(base, plan=sized_plan, storage=(small,))
    assert _disks.summary(layout, sized) == ["volumes: data 1 GiB"]  # host-rooted: no root volume
    lines = _disks.summary(layout, replace(sized, extra=image))
    assert lines == ["volumes: data 1 GiB", "root volumes: HeadNode 2 GiB, q1 3 GiB"]
    lines = _disks.summary(layout, replace(base, storage=(small, huge)))
    assert lines[-1].startswith(f"WARNING: the volumes can hold {(1 << 30) + 1} GiB together")
    assert _disks.summary(layout, base) == []


def test_an_unmount_that_loses_a_race_to_another_unmount_is_not_a_failure(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``umount`` fails (busy), then ``umount -l`` says "not mounted" because the machine's own end
    unmounted it meanwhile (seen in CI: an update rolled back on it): the goal is met. A mount that
    is still there after both is still an error."""
    point = tmp_path / "disk"
    calls: list[list[str]] = []

    def run(argv: list[str], **_kwargs: object) -> subprocess.CompletedProcess[str]:
        calls.append(list(argv))
        return subprocess.CompletedProcess(argv, 32, "", f"umount: {point}: not mounted.")

    monkeypatch.setattr(_volumes.subprocess, "run", run)
    monkeypatch.setattr(_volumes, "mounts", lambda: {})
    _volumes._umount(point)
    assert calls == [["umount", str(point)], ["umount", "-l", str(point)]]
    monkeypatch.setattr(_volumes, "mounts", lambda: {str(point): "/dev/loop7"})
    with pytest.raises(ProviderError, match="not mounted"):
        _volumes._umount(point)

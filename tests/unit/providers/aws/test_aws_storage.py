"""Shared storage on AWS nodes: which steps each node runs (pure), what the node learns from FSx
(against moto), and the EBS step run for real on loop devices in a throwaway mount namespace:
formatted once, mounted, never reformatted; a failed mount fails the node's bootstrap with the
mount's error in its status."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from corral.config import load_cluster_config_text
from corral.plan import build_plan
from corral.providers.aws._node_setup import NodeContext, compute_setup, head_setup
from corral.providers.aws._storage_setup import (
    LUSTRE_OPTIONS,
    NFS_OPTIONS,
    STORAGE_PROGRAM,
    StorageFacts,
    storage_steps,
)
from support.aws import aws_endpoint
from support.corpus import CORPUS

BASE = """
Image: {{Os: alinux2023}}
HeadNode:
  InstanceType: c5.xlarge
  Networking: {{SubnetId: subnet-0123456789abcdef0}}
{head}
Scheduling:
  Scheduler: slurm
  SlurmQueues:
    - Name: q
      ComputeResources: [{{Name: cr, InstanceType: c5.xlarge, MaxCount: 2}}]
      Networking: {{SubnetIds: [subnet-0123456789abcdef0]}}
SharedStorage:
{storage}
"""


LUSTRE = (
    "  - {Name: l, MountDir: /l, StorageType: FsxLustre,"
    " FsxLustreSettings: {FileSystemId: fs-0123456789abcdef0}}"
)


def plan_of(storage: str, head: str = "") -> Any:
    config = load_cluster_config_text(BASE.format(storage=storage, head=head), "c.yaml").config
    return build_plan(config, cluster_name="stor")


def steps(plan: Any, facts: StorageFacts, *, head: bool) -> list[tuple[str, ...]]:
    found, _ = storage_steps(plan, "us-east-1", facts, head=head, head_address="10.0.0.5")
    assert all(s[: len(STORAGE_PROGRAM)] == STORAGE_PROGRAM for s in found)
    return [s[len(STORAGE_PROGRAM) :] for s in found]


def test_efs_options_reach_the_mount_as_pcluster_gives_them() -> None:
    plan = plan_of(
        "  - {Name: e, MountDir: /e, StorageType: Efs, EfsSettings: {FileSystemId: fs-0123456789abcdef0,"
        " EncryptionInTransit: true, IamAuthorization: true, AccessPointId: fsap-0123456789abcdef0}}"
    )
    assert steps(plan, StorageFacts(), head=False)[1] == (
        "mount",
        "efs",
        "fs-0123456789abcdef0:/",
        "/e",
        "tls,iam,accesspoint=fsap-0123456789abcdef0,_netdev,noresvport",
    )


def test_ebs_raid_members_are_lettered_as_the_template_attaches_them() -> None:
    plan = plan_of(
        "  - {Name: one, MountDir: /one, StorageType: Ebs}\n"
        "  - {Name: r, MountDir: /r, StorageType: Ebs, EbsSettings: {Raid: {Type: 1, NumberOfVolumes: 3}}}"
    )
    facts = StorageFacts(ids={"one": "vol-01", "r": "vol-0r"}, export_cidrs=("10.0.0.0/16",))
    assert steps(plan, facts, head=True) == [
        ("export", "/home", "10.0.0.0/16"),
        ("ebs", "--mount-dir", "/one", "--name", "one", "vol-01:/dev/sdf"),
        ("export", "/one", "10.0.0.0/16"),
        ("ebs", "--mount-dir", "/r", "--raid", "1", "--name", "r", "vol-0r:/dev/sdg", "/dev/sdh", "/dev/sdi"),
        ("export", "/r", "10.0.0.0/16"),
    ]
    assert steps(plan, facts, head=False) == [
        ("mount", "nfs", "10.0.0.5:/home", "/home", NFS_OPTIONS),
        ("mount", "nfs", "10.0.0.5:/one", "/one", NFS_OPTIONS),
        ("mount", "nfs", "10.0.0.5:/r", "/r", NFS_OPTIONS),
    ]


def test_fsx_ontap_openzfs_and_file_cache_mount_from_their_facts() -> None:
    plan = plan_of(
        LUSTRE + "\n  - {Name: o, MountDir: /o, StorageType: FsxOntap,"
        " FsxOntapSettings: {VolumeId: fsvol-0123456789abcdef0}}\n"
        "  - {Name: z, MountDir: /z, StorageType: FsxOpenZfs,"
        " FsxOpenZfsSettings: {VolumeId: fsvol-0123456789abcdef1}}\n"
        "  - {Name: c, MountDir: /c, StorageType: FileCache,"
        " FileCacheSettings: {FileCacheId: fc-0123456789abcdef0}}"
    )
    details = {
        "l": {"dns": "fs-1.fsx.us-east-1.amazonaws.com", "mount_name": "abcdefgh"},
        "o": {"dns": "svm-1.fs-2.fsx.us-east-1.amazonaws.com", "path": "/vol1"},
        "z": {"dns": "fs-3.fsx.us-east-1.amazonaws.com", "path": "/fsx/vol1"},
        "c": {"dns": "fc-1.fsx.us-east-1.amazonaws.com", "mount_name": "cachemnt"},
    }
    found = steps(plan, StorageFacts(details=details), head=False)[1:]
    assert [s[1:4] for s in found] == [
        ("lustre", "fs-1.fsx.us-east-1.amazonaws.com@tcp:/abcdefgh", "/l"),
        ("nfs", "svm-1.fs-2.fsx.us-east-1.amazonaws.com:/vol1", "/o"),
        ("nfs", "fs-3.fsx.us-east-1.amazonaws.com:/fsx/vol1", "/z"),
        ("lustre", "fc-1.fsx.us-east-1.amazonaws.com@tcp:/cachemnt", "/c"),
    ]
    assert found[0][4] == LUSTRE_OPTIONS
    _, skipped = storage_steps(plan, "us-east-1", StorageFacts(), head=False, head_address="10.0.0.5")
    assert len(skipped) == 4 and "l (/l): its FsxLustre id or DNS name is not known" in skipped[0]


def test_home_on_the_internal_efs_when_shared_storage_type_is_efs() -> None:
    plan = plan_of("  - {Name: one, MountDir: /one, StorageType: Ebs}", head="  SharedStorageType: Efs")
    facts = StorageFacts(ids={"InternalSharedEfs": "fs-0aaa"}, export_cidrs=("10.0.0.0/16",))
    for head in (True, False):
        home = steps(plan, facts, head=head)[0]
        assert home[:4] == ("mount", "nfs4", "fs-0aaa.efs.us-east-1.amazonaws.com:/", "/home")


def test_compute_role_may_read_its_stack_and_fsx_when_it_mounts_fsx() -> None:
    from corral.providers.aws.template import build_templates

    plan = plan_of(LUSTRE)
    ts = build_templates(plan)
    roles = [
        r
        for body in [ts.main, *ts.nested.values()]
        for r in body["Resources"].values()
        if r["Type"] == "AWS::IAM::Role"
    ]
    for role in roles:
        sids = {s["Sid"]: s for s in role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]}
        assert "fsx:DescribeFileSystems" in sids["StorageDescribe"]["Action"]
    compute = [r for r in roles if "ClusterStackRead" in json.dumps(r)]
    assert compute and all("stack/stor/*" in json.dumps(r) for r in compute)


# -- what a node learns from FSx, against moto ---------------------------------------------------


@pytest.fixture(scope="module")
def moto() -> Iterator[str]:
    with pytest.MonkeyPatch.context() as mp, aws_endpoint(mp) as proxy:
        try:
            yield proxy.url
        finally:
            urllib.request.urlopen(urllib.request.Request(f"{proxy.url}/moto-api/reset", method="POST"))


def test_lustre_facts_come_from_describe_file_systems(moto: str) -> None:
    from corral.providers.aws._clients import AwsClients
    from corral.providers.aws._storage_facts import storage_details

    ec2 = boto3.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.0.0/24")["Subnet"]["SubnetId"]
    created = boto3.client("fsx").create_file_system(
        FileSystemType="LUSTRE", StorageCapacity=1200, SubnetIds=[subnet]
    )["FileSystem"]
    # moto's ids are shorter than the config's pattern: the node learns the real one from the stack
    plan = plan_of(
        "  - {Name: l, MountDir: /l, StorageType: FsxLustre, FsxLustreSettings: {StorageCapacity: 1200}}"
    )
    details, problems = storage_details(AwsClients("us-east-1"), plan, {"l": created["FileSystemId"]})
    assert problems == []
    assert details["l"]["dns"] == created["DNSName"] and details["l"]["dns"]
    assert details["l"]["mount_name"] == created.get("LustreConfiguration", {}).get("MountName", "")


# -- the EBS step for real, on loop devices ---------------------------------------------------------

NEEDS_ROOT = pytest.mark.skipif(
    os.geteuid() != 0 or not all(shutil.which(p) for p in ("unshare", "losetup", "mkfs.ext4", "blkid")),
    reason="needs root, unshare, losetup, mkfs.ext4 and blkid",
)


@pytest.fixture
def loop_device(tmp_path: Path) -> Iterator[str]:
    image = tmp_path / "volume.img"
    with image.open("wb") as f:
        f.truncate(64 * 1024 * 1024)
    device = subprocess.run(
        ["losetup", "--find", "--show", str(image)], capture_output=True, text=True, check=True
    ).stdout.strip()
    try:
        yield device
    finally:
        subprocess.run(["losetup", "--detach", device], check=False)


def in_namespace(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``script`` (shell) in a private mount namespace: whatever it mounts ends with it."""
    argv = ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-ec", script, "sh", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


STEP = f"{sys.executable} -m corral.providers.aws.storage_node"


@NEEDS_ROOT
def test_an_ebs_volume_is_formatted_once_mounted_and_never_reformatted(
    loop_device: str, tmp_path: Path
) -> None:
    mount_dir = tmp_path / "shared"
    first = in_namespace(
        f'{STEP} ebs --mount-dir "$1" --name shared "$2"\nmountpoint -q "$1"\necho kept > "$1/data.txt"',
        str(mount_dir),
        loop_device,
    )
    assert first.returncode == 0, first.stderr
    assert "formatted ext4 (it held no file system)" in first.stdout
    assert not (mount_dir / "data.txt").exists()  # the mount ended with its namespace
    again = in_namespace(
        f'{STEP} ebs --mount-dir "$1" --name shared "$2"\ncat "$1/data.txt"', str(mount_dir), loop_device
    )
    assert again.returncode == 0, again.stderr
    assert "file system ext4 kept" in again.stdout and "kept\n" in again.stdout


@NEEDS_ROOT
def test_a_volume_with_another_file_system_is_mounted_as_it_is(loop_device: str, tmp_path: Path) -> None:
    """A volume formatted elsewhere (here ext2, with a file) is mounted with its data, not formatted."""
    subprocess.run(["mkfs.ext4", "-q", "-t", "ext2", loop_device], check=True)
    seeded = in_namespace(
        'mkdir -p "$1" && mount "$2" "$1" && echo mine > "$1/own.txt"', str(tmp_path / "m"), loop_device
    )
    assert seeded.returncode == 0, seeded.stderr
    result = in_namespace(
        f'{STEP} ebs --mount-dir "$1" "$2"\ncat "$1/own.txt"', str(tmp_path / "d"), loop_device
    )
    assert result.returncode == 0, result.stderr
    assert "file system ext2 kept" in result.stdout and "mine" in result.stdout


@NEEDS_ROOT
def test_a_failed_mount_fails_the_bootstrap_with_the_mounts_error(loop_device: str, tmp_path: Path) -> None:
    """The head's storage step run by the node agent on a volume whose ext4 is damaged (its group
    descriptors zeroed): it is not reformatted, mount fails, and the node's status says failed with
    mount's own message."""
    from dataclasses import replace

    from corral.node.agent import BootstrapSpec

    subprocess.run(["mkfs.ext4", "-q", "-b", "4096", loop_device], check=True)
    with open(loop_device, "r+b") as device:
        device.seek(4096)
        device.write(bytes(4096 * 4))
    plan = plan_of("  - {Name: shared, MountDir: /shared, StorageType: Ebs}")
    context = NodeContext.of({"cluster_name": "stor", "node_role": "HeadNode", "region": "us-east-1"})
    facts = StorageFacts(devices={"shared": (loop_device,)}, export_cidrs=("10.0.0.0/16",))
    setup = head_setup(plan, context, hostname="h", address="10.0.0.5", storage=facts)
    ebs = next(s for s in setup.services if "ebs" in s)
    mount_dir = str(tmp_path / "shared")
    step = (sys.executable, *(mount_dir if part == "/shared" else part for part in ebs[1:]))
    status = tmp_path / "status.json"
    spec = replace(BootstrapSpec("h", "h", str(status)), services=(step,), env=setup.env)
    (tmp_path / "spec.json").write_text(spec.dump())
    result = in_namespace(f'{sys.executable} -m corral.node "$1"', str(tmp_path / "spec.json"))
    assert result.returncode != 0
    reported = json.loads(status.read_text())
    assert reported["status"] == "failed", reported
    message = reported["message"]
    assert "storage ebs failed" in message and f"`mount {loop_device} {mount_dir}` failed: " in message
    probe = subprocess.run(
        ["blkid", "-p", "-o", "value", "-s", "TYPE", loop_device], capture_output=True, text=True
    )
    assert probe.stdout.strip() == "ext4"  # not reformatted
    compute = compute_setup(
        plan, replace(context, node_role="Compute", head_private_ip="10.0.0.5"), node_name="q-dy-cr-1"
    )
    assert ("mount", "nfs", "10.0.0.5:/shared", "/shared", NFS_OPTIONS) in [
        s[len(STORAGE_PROGRAM) :] for s in compute.services
    ]


def test_user_data_installs_the_tools_the_storage_steps_run() -> None:
    from corral.providers.aws.template import build_templates

    plan = plan_of(
        LUSTRE + "\n  - {Name: r, MountDir: /r, StorageType: Ebs, EbsSettings: {Raid: {Type: 0}}}\n"
        "  - {Name: e, MountDir: /e, StorageType: Efs, EfsSettings: {FileSystemId: fs-0123456789abcdef1,"
        " EncryptionInTransit: true}}"
    )
    ts = build_templates(plan)
    head = ts.main["Resources"]["HeadNode"]["Properties"]["UserData"]["Fn::Base64"]["Fn::Sub"][0]
    (lt,) = [
        r
        for b in ts.nested.values()
        for r in b["Resources"].values()
        if r["Type"] == "AWS::EC2::LaunchTemplate"
    ]
    compute = lt["Properties"]["LaunchTemplateData"]["UserData"]["Fn::Base64"]["Fn::Sub"][0]

    def checked(script: str) -> set[str]:
        return {
            line.split()[2]
            for line in script.splitlines()
            if line.startswith("command -v mount")
            or "command -v exportfs" in line
            or "command -v mdadm" in line
        }

    assert checked(head) == {"mount.nfs", "exportfs", "mdadm", "mount.efs", "mount.lustre"}
    assert checked(compute) == {"mount.nfs", "mount.efs", "mount.lustre"}
    assert "dnf install -y -q amazon-efs-utils" in head and "dnf install -y -q lustre-client" in compute


SIMPLE = (
    CORPUS / "cluster-configs" / "integ__performance_tests__test_simple__test_simple__pcluster.config.yaml"
)

_DEVICE_NAMESPACE = """
dev=$1; vol=$2; dir=$3; shift 3
major=$(( 0x$(stat -c %t "$dev") )); minor=$(( 0x$(stat -c %T "$dev") ))
mount -t tmpfs -o mode=0755 devtmp /dev
mknod -m 666 /dev/null c 1 3
mknod "$dev" b "$major" "$minor"
mkdir -p /dev/disk/by-id
ln -s "$dev" "/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_$vol"
"$@"
mountpoint -q "$dir"
"""


@NEEDS_ROOT
def test_the_head_node_program_formats_and_mounts_the_clusters_ebs_volume(
    moto: str, loop_device: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The provider creates the cluster in moto (its EBS volume among the stack's resources); the
    head's node program learns the volume's id from the stack and plans its EBS step; the step runs
    in a namespace where EC2's NVMe link for that volume id points at a loop device: formatted once,
    mounted at MountDir, kept on the second boot. Its NFS export (no NFS server in this kernel)
    and a compute node's NFS mount are checked as the steps they plan."""
    from corral.config.check import check_cluster_config
    from corral.node.agent import BootstrapSpec
    from corral.providers.aws import AwsProvider
    from corral.providers.aws.node import prepare
    from support.aws import make_network, rewrite_ids

    if not SIMPLE.exists():
        pytest.skip("needs the shared corpus (../shared/corpus)")
    ec2 = boto3.client("ec2")
    ec2.delete_key_pair(KeyName="mykey")
    net = make_network(ec2)
    s3 = boto3.client("s3")  # the config's custom action scripts
    s3.create_bucket(Bucket="my-test-bucket")
    for key in ("post.head.sh", "pre.compute.sh", "post.compute.sh"):
        s3.put_object(Bucket="my-test-bucket", Key=f"my-test-bucket/{key}", Body=b"#!/bin/sh\n")
    name, mount_dir = "awsstor-ebs", tmp_path / "shared"
    config = tmp_path / "cluster.yaml"
    config.write_text(
        rewrite_ids(SIMPLE.read_text(), net).replace("MountDir: /shared", f"MountDir: {mount_dir}")
    )
    report = check_cluster_config(config, cluster_name=name, target="aws")
    assert report.config is not None, report.findings
    provider = AwsProvider(tmp_path / "client-state")
    provider.create(build_plan(report.config, cluster_name=name), on_event=lambda r, m: None)
    try:
        volume = provider.storage_ids(name)["shared-ebs"]
        assert volume.startswith("vol-")
        context = {
            "artefact_bucket": "corral-123456789012-us-east-1",
            "cluster_name": name,
            "node_role": "HeadNode",
            "region": "us-east-1",
            "stack_name": name,
        }
        (tmp_path / "cluster.json").write_text(json.dumps(context))
        base = BootstrapSpec("ip-10-0-0-10", "ip-10-0-0-10", str(tmp_path / "status.json"))
        (tmp_path / "bootstrap.json").write_text(base.dump())
        monkeypatch.setenv("CORRAL_STATE_DIR", str(tmp_path / "head-state"))
        spec = prepare(
            tmp_path / "bootstrap.json",
            tmp_path / "cluster.json",
            tmp_path / "actions",
            root=tmp_path / "root",
            address="10.0.0.10",
            export_cidrs=("10.0.0.0/16",),
        )
        steps = [
            s[len(STORAGE_PROGRAM) :] for s in spec.services if s[: len(STORAGE_PROGRAM)] == STORAGE_PROGRAM
        ]
        ebs = next(s for s in steps if s[0] == "ebs")
        assert ebs == ("ebs", "--mount-dir", str(mount_dir), "--name", "shared-ebs", f"{volume}:/dev/sdf")
        assert ("export", str(mount_dir), "10.0.0.0/16") in steps
        step = [sys.executable, "-m", "corral.providers.aws.storage_node", *ebs]
        runs = []
        for _ in range(2):  # two boots of the head node on the same volume
            result = in_namespace(
                _DEVICE_NAMESPACE, loop_device, volume.replace("-", ""), str(mount_dir), *step
            )
            assert result.returncode == 0, result.stdout + result.stderr
            runs.append(result)
        assert "formatted ext4 (it held no file system)" in runs[0].stdout
        assert "file system ext4 kept" in runs[1].stdout
    finally:
        provider.delete(name)

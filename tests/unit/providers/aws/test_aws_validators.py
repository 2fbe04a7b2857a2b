"""The cloud validators' decisions (``findings_from``, pure) from the facts an account returns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from corral.config.check import check_cluster_config
from corral.providers.aws.validators import CloudFacts, Reservation, Subnet, findings_from

CONFIG = """
Image:
  Os: alinux2023
  CustomAmi: ami-0123456789abcdef0
HeadNode:
  InstanceType: c5.xlarge
  Networking:
    SubnetId: subnet-0123456789abcdef0
  Ssh:
    KeyName: mykey
Scheduling:
  Scheduler: slurm
  SlurmQueues:
  - Name: q1
    CapacityReservationTarget:
      CapacityReservationId: cr-0123456789abcdef0
    ComputeResources:
    - Name: cr1
      InstanceType: c6g.xlarge
    Networking:
      SubnetIds: [subnet-0123456789abcdef1]
"""

GOOD = CloudFacts(
    subnets={
        "subnet-0123456789abcdef0": Subnet("vpc-1", "us-east-1a"),
        "subnet-0123456789abcdef1": Subnet("vpc-1", "us-east-1a"),
    },
    vpc_dns={"vpc-1": (True, True)},
    key_pairs={"mykey": "ed25519"},
    images={"ami-0123456789abcdef0": "x86_64"},
    offered_types=frozenset({"c5.xlarge", "c6g.xlarge"}),
    type_architectures={"c5.xlarge": ("x86_64",), "c6g.xlarge": ("x86_64",)},
    reservations={"cr-0123456789abcdef0": Reservation("c6g.xlarge", "us-east-1a")},
)


def config(tmp_path: Path) -> Any:
    path = tmp_path / "c.yaml"
    path.write_text(CONFIG)
    report = check_cluster_config(path, cluster_name="awsval", target="aws", suppress=("ALL",))
    assert report.config is not None
    return report.config


def codes(facts: CloudFacts, tmp_path: Path) -> list[tuple[str, str, str]]:
    return [(f.code, f.path, f.message) for f in findings_from(config(tmp_path), facts)]


def test_an_account_with_everything_gives_no_finding(tmp_path: Path) -> None:
    assert codes(GOOD, tmp_path) == []


def test_subnets_in_two_vpcs_and_without_dns(tmp_path: Path) -> None:
    facts = CloudFacts(
        **{
            **GOOD.__dict__,
            "subnets": {
                "subnet-0123456789abcdef0": Subnet("vpc-1", "us-east-1a"),
                "subnet-0123456789abcdef1": Subnet("vpc-2", "us-east-1b"),
            },
            "vpc_dns": {"vpc-1": (True, False), "vpc-2": (True, True)},
        }
    )
    found = codes(facts, tmp_path)
    assert (
        "SubnetsValidator",
        "Scheduling/SlurmQueues[0]/Networking/SubnetIds",
        "Subnet subnet-0123456789abcdef1 is not in VPC vpc-1. "
        "Please make sure all subnets are in the same VPC.",
    ) in found
    assert (
        "SubnetsValidator",
        "HeadNode/Networking/SubnetId",
        "DNS Hostnames not enabled in the VPC vpc-1.",
    ) in found
    # the reservation's zone no longer matches the queue's subnet
    assert any(c == "CapacityReservationValidator" and "availability zone" in m for c, _, m in found)


def test_missing_things_are_named(tmp_path: Path) -> None:
    found = codes(CloudFacts(offered_types=frozenset({"c5.xlarge"})), tmp_path)
    assert (
        "SubnetsValidator",
        "HeadNode/Networking/SubnetId",
        "The subnet 'subnet-0123456789abcdef0' does not exist.",
    ) in found
    assert ("KeyPairValidator", "HeadNode/Ssh/KeyName", "The key pair 'mykey' does not exist.") in found
    assert (
        "InstanceTypeBaseAMICompatibleValidator",
        "Image/CustomAmi",
        "Invalid image 'ami-0123456789abcdef0'.",
    ) in found
    assert (
        "InstanceTypeValidator",
        "Scheduling/SlurmQueues[0]/ComputeResources[0]/InstanceType",
        "The instance type 'c6g.xlarge' is not supported.",
    ) in found
    assert (
        "CapacityReservationValidator",
        "Scheduling/SlurmQueues[0]/CapacityReservationTarget/CapacityReservationId",
        "The capacity reservation 'cr-0123456789abcdef0' does not exist.",
    ) in found


def test_architecture_and_reservation_type_mismatches(tmp_path: Path) -> None:
    facts = CloudFacts(
        **{
            **GOOD.__dict__,
            "type_architectures": {"c5.xlarge": ("x86_64",), "c6g.xlarge": ("arm64",)},
            "reservations": {"cr-0123456789abcdef0": Reservation("c5.xlarge", "us-east-1a")},
        }
    )
    found = codes(facts, tmp_path)
    assert any(c == "InstanceTypeBaseAMICompatibleValidator" and "c6g.xlarge" in m for c, _, m in found)
    assert (
        "CapacityReservationValidator",
        "Scheduling/SlurmQueues[0]/CapacityReservationTarget/CapacityReservationId",
        "Capacity reservation cr-0123456789abcdef0 must have the same instance type as c6g.xlarge.",
    ) in found

"""A small, valid cluster config used as the base of every broken variant, and the mutation helpers.

Variants are built by editing the YAML text, so every finding points at a real line.
"""

from __future__ import annotations

from collections.abc import Callable

BASE = """\
Image:
  Os: alinux2023
HeadNode:
  InstanceType: c5.xlarge
  Networking:
    SubnetId: subnet-12345678
  Ssh:
    KeyName: my-key
  CustomActions:
    OnNodeStart:
      Script: s3://my-bucket/head-start.sh
Scheduling:
  Scheduler: slurm
  SlurmSettings:
    ScaledownIdletime: 10
  SlurmQueues:
    - Name: compute
      CapacityType: ONDEMAND
      ComputeResources:
        - Name: small
          InstanceType: c5.xlarge
          MinCount: 0
          MaxCount: 4
        - Name: flex
          Instances:
            - InstanceType: c5.xlarge
            - InstanceType: m5.xlarge
          MinCount: 0
          MaxCount: 2
      Networking:
        SubnetIds:
          - subnet-12345678
      CustomActions:
        OnNodeConfigured:
          Sequence:
            - Script: https://example.com/configure.sh
            - Script: /opt/site/configure.sh
    - Name: gpu
      ComputeResources:
        - Name: g4
          InstanceType: g4dn.xlarge
          MaxCount: 2
      Networking:
        SubnetIds:
          - subnet-12345678
SharedStorage:
  - Name: home
    StorageType: Ebs
    MountDir: /shared
    EbsSettings:
      VolumeType: gp3
      Size: 100
  - Name: fsx
    StorageType: FsxLustre
    MountDir: /fsx
    FsxLustreSettings:
      StorageCapacity: 1200
      DeploymentType: SCRATCH_2
  - Name: efs
    StorageType: Efs
    MountDir: /efs
    EfsSettings:
      ThroughputMode: bursting
Tags:
  - Key: team
    Value: hpc
"""

Mutation = Callable[[str], str]


def sub(old: str, new: str, count: int = 1) -> Mutation:
    """Replace the first ``count`` occurrences of ``old`` (which must be present) with ``new``."""

    def apply(text: str) -> str:
        assert old in text, f"mutation anchor not in base config: {old!r}"
        return text.replace(old, new, count)

    return apply


def after(anchor: str, added: str) -> Mutation:
    """Insert ``added`` right after the first line containing ``anchor``."""

    def apply(text: str) -> str:
        lines = text.split("\n")
        for i, line in enumerate(lines):
            if anchor in line:
                lines[i + 1 : i + 1] = added.rstrip("\n").split("\n")
                return "\n".join(lines)
        raise AssertionError(f"anchor not found: {anchor!r}")

    return apply


def append(added: str) -> Mutation:
    return lambda text: text + added


def chain(*mutations: Mutation) -> Mutation:
    def apply(text: str) -> str:
        for mutation in mutations:
            text = mutation(text)
        return text

    return apply


def queues(count: int, crs_each: int = 1) -> Mutation:
    """Replace all queues with ``count`` queues of ``crs_each`` compute resources each."""

    def apply(text: str) -> str:
        head, rest = text.split("  SlurmQueues:\n", 1)
        tail = rest[rest.index("SharedStorage:") :]
        body = ["  SlurmQueues:"]
        for q in range(count):
            body += [f"    - Name: q{q}", "      ComputeResources:"]
            for c in range(crs_each):
                body += [
                    f"        - Name: cr{c}",
                    "          InstanceType: c5.large",
                    "          MaxCount: 1",
                ]
            body += ["      Networking:", "        SubnetIds:", "          - subnet-12345678"]
        return head + "\n".join(body) + "\n" + tail

    return apply


def storages(entries: str) -> Mutation:
    """Add SharedStorage entries (YAML list items indented by two spaces) after the base ones."""
    return sub("Tags:\n  - Key: team", entries.rstrip("\n") + "\nTags:\n  - Key: team")

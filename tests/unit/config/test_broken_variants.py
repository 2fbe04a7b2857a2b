# ruff: noqa: E501 - a table of YAML snippets reads better unwrapped
"""Broken variants: one mutation of a small valid config per rule, each rejected with the right
validator code at the right key path and line.

Every variant is checked for the AWS target (pcluster's levels); AWS-only rules must come back as
WARNINGs for the local target and every other rule keeps its level.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from corral.config.check import check_cluster_config
from corral.config.findings import Finding, Level

from ._broken_base import BASE, Mutation, after, append, chain, queues, storages, sub

E, W, INF = Level.ERROR, Level.WARNING, Level.INFO
Q0 = "Scheduling/SlurmQueues[0]"
Q1 = "Scheduling/SlurmQueues[1]"
CR0 = f"{Q0}/ComputeResources[0]"
CR1 = f"{Q0}/ComputeResources[1]"
GPU = f"{Q1}/ComputeResources[0]"
EBS, FSX, EFS = (
    "SharedStorage[0]/EbsSettings",
    "SharedStorage[1]/FsxLustreSettings",
    "SharedStorage[2]/EfsSettings",
)
SETTINGS = "Scheduling/SlurmSettings"
NAME = "base"


@dataclass(frozen=True)
class Variant:
    id: str
    mutation: Mutation
    code: str
    path: str
    level: Level = E
    cluster_name: str = NAME


def fsx(settings: str) -> Mutation:
    """Replace the FSx settings of the base config with ``settings`` (6-space indented lines)."""
    return sub("      StorageCapacity: 1200\n      DeploymentType: SCRATCH_2\n", settings)


def efs(settings: str) -> Mutation:
    return sub("      ThroughputMode: bursting\n", settings)


def ebs(settings: str) -> Mutation:
    return sub("      VolumeType: gp3\n      Size: 100\n", settings)


def slurm(settings: str) -> Mutation:
    return sub("    ScaledownIdletime: 10\n", "    ScaledownIdletime: 10\n" + settings)


def db(extra: str = "") -> str:
    return (
        "    Database:\n      Uri: db.example.com:3306\n      UserName: admin\n"
        "      PasswordSecretArn: arn:aws:secretsmanager:us-east-1:123456789012:secret:db\n" + extra
    )


SMALL_TYPE = "          InstanceType: c5.xlarge\n          MinCount: 0\n          MaxCount: 4\n"
FLEX_TYPES = "            - InstanceType: c5.xlarge\n            - InstanceType: m5.xlarge\n"
Q0_SUBNETS = "      Networking:\n        SubnetIds:\n          - subnet-12345678\n      CustomActions:"
Q0_PG = "      Networking:\n        SubnetIds:\n          - subnet-12345678\n"


def q0_networking(extra: str) -> Mutation:
    return sub(Q0_SUBNETS, Q0_PG + extra + "      CustomActions:")


def small(extra: str) -> Mutation:
    """Add keys (10-space indented lines) to the compute resource ``small``."""
    return after("- Name: small", extra.rstrip("\n"))


def small_type(name: str) -> Mutation:
    return sub(
        "          InstanceType: c5.xlarge\n          MinCount: 0\n          MaxCount: 4",
        f"          InstanceType: {name}\n          MinCount: 0\n          MaxCount: 4",
    )


EXISTING_EFS = "".join(
    f"  - Name: efs{i}\n    StorageType: Efs\n    MountDir: /efs{i}\n    EfsSettings:\n      FileSystemId: fs-{i:08d}\n"
    for i in range(20)
)
EXISTING_FSX = "".join(
    f"  - Name: zfs{i}\n    StorageType: FsxOpenZfs\n    MountDir: /zfs{i}\n    FsxOpenZfsSettings:\n"
    f"      VolumeId: fsvol-{i:017x}\n"
    for i in range(21)
)
EBS_EXTRA = "".join(
    f"  - Name: ebs{i}\n    StorageType: Ebs\n    MountDir: /ebs{i}\n    EbsSettings:\n      Size: 10\n"
    for i in range(5)
)
LOGIN_POOLS = "LoginNodes:\n  Pools:\n" + "".join(
    f"    - Name: pool{i}\n      InstanceType: c5.large\n      Count: 1\n"
    "      Networking:\n        SubnetIds:\n          - subnet-12345678\n"
    for i in range(11)
)
DS = (
    "DirectoryService:\n  DomainName: corp.example.com\n  DomainAddr: ldaps://corp.example.com\n"
    "  PasswordSecretArn: arn:aws:secretsmanager:us-east-1:123456789012:secret:ds\n"
    "  DomainReadOnlyUser: cn=ReadOnly,ou=Users,dc=corp,dc=example,dc=com\n"
)
MANY_TAGS = "".join(f"  - Key: tag{i}\n    Value: v\n" for i in range(40))
DRAS = "      DataRepositoryAssociations:\n" + "".join(
    f"        - Name: dra{i}\n          DataRepositoryPath: s3://bucket/d{i}\n          FileSystemPath: /d{i}\n"
    for i in range(9)
)

VARIANTS = [
    # ---- names
    Variant(
        "queue-name-upper", sub("- Name: compute\n", "- Name: Compute_Q\n"), "NameValidator", f"{Q0}/Name"
    ),
    Variant(
        "queue-name-too-long",
        sub("- Name: compute\n", "- Name: " + "a" * 26 + "\n"),
        "NameValidator",
        f"{Q0}/Name",
    ),
    Variant(
        "queue-name-default", sub("- Name: compute\n", "- Name: default\n"), "NameValidator", f"{Q0}/Name"
    ),
    Variant("cr-name-digit", sub("- Name: small\n", "- Name: 1small\n"), "NameValidator", f"{CR0}/Name"),
    Variant("cr-name-space", sub("- Name: small\n", "- Name: small one\n"), "NameValidator", f"{CR0}/Name"),
    Variant(
        "cr-name-too-long",
        sub("- Name: flex\n", "- Name: " + "f" * 30 + "\n"),
        "NameValidator",
        f"{CR1}/Name",
    ),
    Variant(
        "pool-name-bad",
        append(LOGIN_POOLS.replace("pool0", "Pool.0", 1)),
        "NameValidator",
        "LoginNodes/Pools[0]/Name",
    ),
    Variant(
        "duplicate-queue", sub("- Name: gpu\n", "- Name: compute\n"), "DuplicateNameValidator", f"{Q1}/Name"
    ),
    Variant(
        "duplicate-cr", sub("- Name: flex\n", "- Name: small\n"), "DuplicateNameValidator", f"{CR1}/Name"
    ),
    Variant(
        "duplicate-storage-name",
        sub("  - Name: fsx\n", "  - Name: home\n"),
        "DuplicateNameValidator",
        "SharedStorage[1]/Name",
    ),
    Variant(
        "duplicate-storage-id",
        storages(
            EXISTING_EFS.split("  - Name: efs1\n")[0]
            + EXISTING_EFS.split("  - Name: efs1\n")[0].replace("efs0", "efsb")
        ),
        "DuplicateNameValidator",
        "SharedStorage[4]/EfsSettings/FileSystemId",
    ),
    Variant("cluster-name-digit", lambda t: t, "ClusterNameValidator", "", cluster_name="1cluster"),
    Variant("cluster-name-underscore", lambda t: t, "ClusterNameValidator", "", cluster_name="my_cluster"),
    Variant("cluster-name-61", lambda t: t, "ClusterNameValidator", "", cluster_name="c" * 61),
    Variant("cluster-name-41-accounting", slurm(db()), "ClusterNameValidator", "", cluster_name="c" * 41),
    Variant(
        "storage-name-too-long",
        sub("  - Name: home\n", "  - Name: " + "h" * 31 + "\n"),
        "SharedStorageNameValidator",
        "SharedStorage[0]/Name",
    ),
    Variant(
        "storage-name-bad-char",
        sub("  - Name: home\n", "  - Name: home!\n"),
        "SharedStorageNameValidator",
        "SharedStorage[0]/Name",
    ),
    Variant(
        "storage-name-default",
        sub("  - Name: home\n", "  - Name: default\n"),
        "SharedStorageNameValidator",
        "SharedStorage[0]/Name",
    ),
    # ---- counts
    Variant(
        "min-over-max",
        sub("MinCount: 0\n          MaxCount: 4", "MinCount: 5\n          MaxCount: 4"),
        "ComputeResourceSizeValidator",
        f"{CR0}/MinCount",
    ),
    Variant(
        "capacity-block-min-zero",
        chain(
            sub("      CapacityType: ONDEMAND\n", "      CapacityType: CAPACITY_BLOCK\n"),
            small_type("p4d.24xlarge"),
            small(
                "          CapacityReservationTarget:\n            CapacityReservationId: cr-0123456789abcdef0\n"
            ),
        ),
        "ComputeResourceSizeValidator",
        f"{CR0}/MinCount",
    ),
    Variant("queues-51", queues(51), "MaxCountValidator", "Scheduling/SlurmQueues"),
    Variant("crs-per-queue-51", queues(1, 51), "MaxCountValidator", f"{Q0}/ComputeResources"),
    Variant("crs-per-cluster-51", queues(3, 17), "MaxCountValidator", "Scheduling/SlurmQueues"),
    Variant("login-pools-11", append(LOGIN_POOLS), "MaxCountValidator", "LoginNodes/Pools"),
    Variant("ebs-6", storages(EBS_EXTRA), "NumberOfStorageValidator", "SharedStorage[7]"),
    Variant(
        "new-fsx-2",
        storages(
            "  - Name: fsx2\n    StorageType: FsxLustre\n    MountDir: /fsx2\n    FsxLustreSettings:\n      StorageCapacity: 1200\n"
        ),
        "NumberOfStorageValidator",
        "SharedStorage[3]",
    ),
    Variant(
        "new-efs-2",
        storages("  - Name: efs2\n    StorageType: Efs\n    MountDir: /efs2\n"),
        "NumberOfStorageValidator",
        "SharedStorage[3]",
    ),
    Variant(
        "existing-efs-21",
        storages(
            EXISTING_EFS.replace("efs19", "efs19")
            + EXISTING_EFS.split("  - Name: efs1\n")[0]
            .replace("efs0", "efsx")
            .replace("fs-00000000", "fs-99999999")
        ),
        "NumberOfStorageValidator",
        "SharedStorage[23]",
    ),
    Variant("existing-fsx-21", storages(EXISTING_FSX), "NumberOfStorageValidator", "SharedStorage[23]"),
    # ---- instance types
    Variant(
        "head-type-unknown",
        sub("  InstanceType: c5.xlarge\n  Networking", "  InstanceType: c5.xlarg\n  Networking"),
        "InstanceTypeValidator",
        "HeadNode/InstanceType",
    ),
    Variant("cr-type-unknown", small_type("c5.huge"), "InstanceTypeValidator", f"{CR0}/InstanceType"),
    Variant(
        "flex-type-unknown",
        sub("            - InstanceType: m5.xlarge\n", "            - InstanceType: m5.xlargee\n"),
        "InstanceTypeValidator",
        f"{CR1}/Instances[1]/InstanceType",
    ),
    Variant(
        "pool-type-unknown",
        append(LOGIN_POOLS.split("    - Name: pool1")[0].replace("c5.large", "c5.larg")),
        "InstanceTypeValidator",
        "LoginNodes/Pools[0]/InstanceType",
    ),
    Variant(
        "arch-mismatch",
        small_type("c6g.xlarge"),
        "InstanceArchitectureCompatibilityValidator",
        f"{CR0}/InstanceType",
    ),
    Variant(
        "arch-mismatch-flex",
        sub("            - InstanceType: m5.xlarge\n", "            - InstanceType: m6g.xlarge\n"),
        "InstanceArchitectureCompatibilityValidator",
        f"{CR1}/Instances[1]/InstanceType",
    ),
    Variant(
        "os-micro",
        chain(sub("Os: alinux2023", "Os: ubuntu2204"), small_type("t3.micro")),
        "InstanceTypeOSCompatibleValidator",
        f"{CR0}/InstanceType",
        W,
    ),
    Variant(
        "flex-vcpus",
        sub(FLEX_TYPES, "            - InstanceType: c5.xlarge\n            - InstanceType: c5.2xlarge\n"),
        "InstancesCPUValidator",
        f"{CR1}/Instances",
    ),
    Variant(
        "flex-cores-no-smt",
        chain(
            sub(
                FLEX_TYPES, "            - InstanceType: c5.xlarge\n            - InstanceType: c7a.xlarge\n"
            ),
            after("- Name: flex", "          DisableSimultaneousMultithreading: true"),
        ),
        "InstancesCPUValidator",
        f"{CR1}/Instances",
    ),
    Variant(
        "flex-gpus",
        sub(FLEX_TYPES, "            - InstanceType: c5.xlarge\n            - InstanceType: g4dn.xlarge\n"),
        "InstancesAcceleratorsValidator",
        f"{CR1}/Instances",
    ),
    Variant(
        "ondemand-strategy",
        after("CapacityType: ONDEMAND", "      AllocationStrategy: capacity-optimized"),
        "InstancesAllocationStrategyValidator",
        f"{Q0}/AllocationStrategy",
    ),
    Variant(
        "spot-prioritized",
        sub(
            "      CapacityType: ONDEMAND\n",
            "      CapacityType: SPOT\n      AllocationStrategy: prioritized\n",
        ),
        "InstancesAllocationStrategyValidator",
        f"{Q0}/AllocationStrategy",
    ),
    Variant(
        "capacity-block-usage",
        chain(
            sub("      CapacityType: ONDEMAND\n", "      CapacityType: CAPACITY_BLOCK\n"),
            sub("MinCount: 0\n          MaxCount: 4", "MinCount: 4\n          MaxCount: 4"),
            small(
                "          CapacityReservationTarget:\n            CapacityReservationId: cr-0123456789abcdef0\n"
            ),
        ),
        "CapacityTypeValidator",
        f"{CR0}/InstanceType",
    ),
    Variant(
        "capacity-block-no-reservation",
        chain(
            sub("      CapacityType: ONDEMAND\n", "      CapacityType: CAPACITY_BLOCK\n"),
            small_type("p4d.24xlarge"),
        ),
        "CapacityTypeValidator",
        f"{CR0}/CapacityReservationTarget",
    ),
    Variant(
        "schedulable-memory-over",
        small("          SchedulableMemory: 9000\n"),
        "SchedulableMemoryValidator",
        f"{CR0}/SchedulableMemory",
    ),
    Variant(
        "schedulable-memory-zero",
        small("          SchedulableMemory: 0\n"),
        "SchedulableMemoryValidator",
        f"{CR0}/SchedulableMemory",
    ),
    Variant(
        "schedulable-memory-low",
        small("          SchedulableMemory: 4000\n"),
        "SchedulableMemoryValidator",
        f"{CR0}/SchedulableMemory",
        INF,
    ),
    Variant(
        "head-memory",
        sub("  InstanceType: c5.xlarge\n  Networking", "  InstanceType: t3.nano\n  Networking"),
        "HeadNodeMemorySizeValidator",
        "HeadNode/InstanceType",
    ),
    Variant(
        "memory-scheduling",
        slurm("    EnableMemoryBasedScheduling: true\n"),
        "InstancesMemorySchedulingWarningValidator",
        f"{CR1}/Instances",
        W,
    ),
    Variant(
        "gpu-maker",
        sub("InstanceType: g4dn.xlarge", "InstanceType: g4ad.xlarge"),
        "InstanceTypeAcceleratorManufacturerValidator",
        f"{GPU}/InstanceType",
        W,
    ),
    # ---- EFA and placement groups
    Variant(
        "efa-unsupported",
        small("          Efa:\n            Enabled: true\n"),
        "EfaValidator",
        f"{CR0}/Efa/Enabled",
    ),
    Variant(
        "gdr-without-efa",
        small("          Efa:\n            GdrSupport: true\n"),
        "EfaValidator",
        f"{CR0}/Efa/GdrSupport",
    ),
    Variant("efa-capable-not-enabled", small_type("c5n.18xlarge"), "EfaValidator", CR0, W),
    Variant(
        "efa-flex-unsupported",
        after("- Name: flex", "          Efa:\n            Enabled: true"),
        "InstancesEFAValidator",
        f"{CR1}/Efa/Enabled",
    ),
    Variant(
        "efa-no-placement-group",
        chain(small_type("c5n.18xlarge"), small("          Efa:\n            Enabled: true\n")),
        "EfaPlacementGroupValidator",
        f"{CR0}/Efa/Enabled",
    ),
    Variant(
        "efa-placement-disabled",
        chain(
            small_type("c5n.18xlarge"),
            small("          Efa:\n            Enabled: true\n"),
            q0_networking("        PlacementGroup:\n          Enabled: false\n"),
        ),
        "EfaPlacementGroupValidator",
        f"{Q0}/Networking/PlacementGroup",
        W,
    ),
    Variant(
        "efa-multi-az",
        chain(
            small("          Efa:\n            Enabled: true\n"),
            q0_networking("          - subnet-87654321\n"),
        ),
        "EfaMultiAzValidator",
        f"{CR0}/Efa/Enabled",
    ),
    Variant(
        "pg-multi-az",
        q0_networking("          - subnet-87654321\n        PlacementGroup:\n          Enabled: true\n"),
        "MultiAzPlacementGroupValidator",
        f"{Q0}/Networking/PlacementGroup",
    ),
    Variant(
        "pg-id-and-name",
        q0_networking("        PlacementGroup:\n          Id: pg-1\n          Name: pg-1\n"),
        "PlacementGroupNamingValidator",
        f"{Q0}/Networking/PlacementGroup/Id",
    ),
    Variant(
        "pg-name-disabled",
        q0_networking("        PlacementGroup:\n          Enabled: false\n          Name: my-pg\n"),
        "PlacementGroupNamingValidator",
        f"{Q0}/Networking/PlacementGroup/Enabled",
    ),
    Variant(
        "pg-unsupported-type",
        chain(
            small_type("t3.nano"),
            small("          Networking:\n            PlacementGroup:\n              Enabled: true\n"),
        ),
        "InstanceTypePlacementGroupValidator",
        f"{CR0}/InstanceType",
    ),
    Variant(
        "pg-capacity-block",
        chain(
            sub("      CapacityType: ONDEMAND\n", "      CapacityType: CAPACITY_BLOCK\n"),
            small_type("p4d.24xlarge"),
            sub("MinCount: 0\n          MaxCount: 4", "MinCount: 4\n          MaxCount: 4"),
            small(
                "          CapacityReservationTarget:\n            CapacityReservationId: cr-0123456789abcdef0\n          Networking:\n            PlacementGroup:\n              Enabled: true\n"
            ),
        ),
        "PlacementGroupCapacityTypeValidator",
        f"{CR0}/Networking/PlacementGroup",
        W,
    ),
    Variant(
        "pg-flexible",
        q0_networking("        PlacementGroup:\n          Enabled: true\n"),
        "InstancesNetworkingValidator",
        f"{Q0}/Networking/PlacementGroup",
        W,
    ),
    Variant(
        "multi-nic-public-ip",
        chain(
            sub("InstanceType: g4dn.xlarge", "InstanceType: p4d.24xlarge"),
            sub(
                "          - subnet-12345678\nSharedStorage:",
                "          - subnet-12345678\n        AssignPublicIp: true\nSharedStorage:",
            ),
        ),
        "MultiNetworkInterfacesInstancesValidator",
        f"{Q1}/Networking/AssignPublicIp",
    ),
    Variant(
        "single-type-multi-subnet",
        q0_networking("          - subnet-87654321\n"),
        "SingleInstanceTypeSubnetValidator",
        f"{Q0}/Networking/SubnetIds",
    ),
    # ---- mount dirs
    Variant(
        "reserved-usr",
        sub("MountDir: /shared", "MountDir: /usr"),
        "SharedStorageMountDirValidator",
        "SharedStorage[0]/MountDir",
    ),
    Variant(
        "reserved-opt-slurm",
        sub("MountDir: /fsx", "MountDir: /opt/slurm"),
        "SharedStorageMountDirValidator",
        "SharedStorage[1]/MountDir",
    ),
    Variant(
        "reserved-relative-etc",
        sub("MountDir: /efs", "MountDir: etc"),
        "SharedStorageMountDirValidator",
        "SharedStorage[2]/MountDir",
    ),
    Variant(
        "duplicate-mount-dir",
        sub("MountDir: /fsx", "MountDir: /shared"),
        "DuplicateMountDirValidator",
        "SharedStorage[1]/MountDir",
    ),
    Variant(
        "duplicate-mount-dir-slash",
        sub("MountDir: /efs", "MountDir: shared"),
        "DuplicateMountDirValidator",
        "SharedStorage[2]/MountDir",
    ),
    Variant(
        "overlapping-mount-dir",
        sub("MountDir: /fsx", "MountDir: /shared/fsx"),
        "OverlappingMountDirValidator",
        "SharedStorage[1]/MountDir",
    ),
    Variant(
        "ephemeral-clash",
        chain(small_type("c5d.xlarge"), sub("MountDir: /fsx", "MountDir: /scratch")),
        "DuplicateMountDirValidator",
        f"{Q0}/ComputeSettings/LocalStorage/EphemeralVolume/MountDir",
        W,
    ),
    Variant(
        "ephemeral-overlap",
        chain(small_type("c5d.xlarge"), sub("MountDir: /fsx", "MountDir: /scratch/data")),
        "OverlappingMountDirValidator",
        "SharedStorage[1]/MountDir",
    ),
    Variant(
        "file-cache-home",
        storages(
            "  - Name: cache\n    StorageType: FileCache\n    MountDir: /home\n    FileCacheSettings:\n      FileCacheId: fc-0123456789abcdef0\n"
        ),
        "SharedFileCacheNotHomeValidator",
        "SharedStorage[3]/MountDir",
    ),
    Variant(
        "ebs-kms-unencrypted",
        ebs("      KmsKeyId: key-1\n      Encrypted: false\n"),
        "KmsKeyIdEncryptedValidator",
        f"{EBS}/Encrypted",
    ),
    Variant(
        "efs-kms-unencrypted",
        efs("      KmsKeyId: key-1\n"),
        "KmsKeyIdEncryptedValidator",
        f"{EFS}/Encrypted",
    ),
    Variant(
        "head-efs-settings-on-ebs",
        after("    KeyName: my-key", "  SharedStorageEfsSettings:\n    Encrypted: true"),
        "SharedStorageEfsSettingsValidator",
        "HeadNode/SharedStorageEfsSettings",
    ),
    Variant(
        "ebs-bottleneck",
        sub("MinCount: 0\n          MaxCount: 4", "MinCount: 0\n          MaxCount: 200"),
        "SharedEbsPerformanceBottleNeckValidator",
        "SharedStorage[0]",
        W,
    ),
    Variant(
        "managed-fsx-multi-subnet",
        sub(
            "          - subnet-12345678\nSharedStorage:",
            "          - subnet-12345678\n          - subnet-87654321\nSharedStorage:",
        ),
        "ManagedFsxMultiAzValidator",
        "SharedStorage[1]",
    ),
    Variant(
        "deletion-retain",
        ebs("      DeletionPolicy: Retain\n"),
        "DeletionPolicyValidator",
        f"{EBS}/DeletionPolicy",
        INF,
    ),
    # ---- EBS
    Variant(
        "ebs-size-max",
        ebs("      VolumeType: gp3\n      Size: 20000\n"),
        "EbsVolumeTypeSizeValidator",
        f"{EBS}/Size",
    ),
    Variant(
        "ebs-st1-min",
        ebs("      VolumeType: st1\n      Size: 100\n"),
        "EbsVolumeTypeSizeValidator",
        f"{EBS}/Size",
    ),
    Variant(
        "ebs-io1-size-min",
        ebs("      VolumeType: io1\n      Size: 2\n      Iops: 100\n"),
        "EbsVolumeTypeSizeValidator",
        f"{EBS}/Size",
    ),
    Variant(
        "ebs-io1-iops-max",
        ebs("      VolumeType: io1\n      Size: 2000\n      Iops: 70000\n"),
        "EbsVolumeIopsValidator",
        f"{EBS}/Iops",
    ),
    Variant(
        "ebs-io1-iops-ratio",
        ebs("      VolumeType: io1\n      Size: 100\n      Iops: 6000\n"),
        "EbsVolumeIopsValidator",
        f"{EBS}/Iops",
    ),
    Variant(
        "ebs-gp3-iops-min",
        ebs("      VolumeType: gp3\n      Size: 100\n      Iops: 1000\n"),
        "EbsVolumeIopsValidator",
        f"{EBS}/Iops",
    ),
    Variant(
        "ebs-gp2-iops",
        ebs("      VolumeType: gp2\n      Size: 100\n      Iops: 300\n"),
        "EbsVolumeIopsValidator",
        f"{EBS}/Iops",
    ),
    Variant(
        "ebs-gp3-throughput",
        ebs("      VolumeType: gp3\n      Size: 100\n      Throughput: 2000\n"),
        "EbsVolumeThroughputValidator",
        f"{EBS}/Throughput",
    ),
    Variant(
        "ebs-gp3-throughput-ratio",
        ebs("      VolumeType: gp3\n      Size: 100\n      Throughput: 1000\n      Iops: 3000\n"),
        "EbsVolumeThroughputIopsValidator",
        f"{EBS}/Throughput",
    ),
    Variant(
        "head-root-st1",
        after(
            "    KeyName: my-key", "  LocalStorage:\n    RootVolume:\n      VolumeType: st1\n      Size: 100"
        ),
        "EbsVolumeTypeSizeValidator",
        "HeadNode/LocalStorage/RootVolume/Size",
    ),
    Variant(
        "queue-root-iops",
        after(
            "CapacityType: ONDEMAND",
            "      ComputeSettings:\n        LocalStorage:\n          RootVolume:\n            Iops: 20000",
        ),
        "EbsVolumeIopsValidator",
        f"{Q0}/ComputeSettings/LocalStorage/RootVolume/Iops",
    ),
    Variant(
        "root-encryption-mixed",
        after(
            "- Name: gpu",
            "      ComputeSettings:\n        LocalStorage:\n          RootVolume:\n            Encrypted: false",
        ),
        "RootVolumeEncryptionConsistencyValidator",
        f"{Q1}/ComputeSettings/LocalStorage/RootVolume/Encrypted",
        W,
    ),
    # ---- EFS
    Variant(
        "efs-iam-no-tls",
        efs("      IamAuthorization: true\n"),
        "EfsMountOptionsValidator",
        f"{EFS}/IamAuthorization",
    ),
    Variant(
        "efs-access-point-new-fs",
        efs("      AccessPointId: fsap-0123456789abcdef0\n      EncryptionInTransit: true\n"),
        "EfsAccessPointOptionsValidator",
        f"{EFS}/AccessPointId",
    ),
    Variant(
        "efs-access-point-no-tls",
        efs("      FileSystemId: fs-12345678\n      AccessPointId: fsap-0123456789abcdef0\n"),
        "EfsAccessPointOptionsValidator",
        f"{EFS}/AccessPointId",
    ),
    # ---- FSx for Lustre
    Variant(
        "fsx-capacity-scratch2",
        fsx("      StorageCapacity: 1300\n      DeploymentType: SCRATCH_2\n"),
        "FsxStorageCapacityValidator",
        f"{FSX}/StorageCapacity",
    ),
    Variant(
        "fsx-capacity-scratch1",
        fsx("      StorageCapacity: 2500\n      DeploymentType: SCRATCH_1\n"),
        "FsxStorageCapacityValidator",
        f"{FSX}/StorageCapacity",
    ),
    Variant(
        "fsx-capacity-hdd",
        fsx(
            "      StorageCapacity: 1800\n      DeploymentType: PERSISTENT_1\n      StorageType: HDD\n      PerUnitStorageThroughput: 12\n"
        ),
        "FsxStorageCapacityValidator",
        f"{FSX}/StorageCapacity",
    ),
    Variant(
        "fsx-capacity-missing", fsx("      DeploymentType: SCRATCH_2\n"), "FsxStorageCapacityValidator", FSX
    ),
    Variant(
        "fsx-persistent-no-throughput",
        fsx("      StorageCapacity: 1200\n      DeploymentType: PERSISTENT_2\n"),
        "FsxPersistentOptionsValidator",
        f"{FSX}/PerUnitStorageThroughput",
    ),
    Variant(
        "fsx-scratch-throughput",
        fsx(
            "      StorageCapacity: 1200\n      DeploymentType: SCRATCH_2\n      PerUnitStorageThroughput: 200\n"
        ),
        "FsxPersistentOptionsValidator",
        f"{FSX}/PerUnitStorageThroughput",
    ),
    Variant(
        "fsx-scratch-kms",
        fsx("      StorageCapacity: 1200\n      DeploymentType: SCRATCH_2\n      KmsKeyId: key-1\n"),
        "FsxPersistentOptionsValidator",
        f"{FSX}/KmsKeyId",
    ),
    Variant(
        "fsx-ssd-throughput",
        fsx(
            "      StorageCapacity: 1200\n      DeploymentType: PERSISTENT_1\n      PerUnitStorageThroughput: 125\n"
        ),
        "FsxStorageTypeOptionsValidator",
        f"{FSX}/PerUnitStorageThroughput",
    ),
    Variant(
        "fsx-hdd-persistent2",
        fsx(
            "      StorageCapacity: 6000\n      DeploymentType: PERSISTENT_2\n      StorageType: HDD\n      PerUnitStorageThroughput: 12\n"
        ),
        "FsxStorageTypeOptionsValidator",
        f"{FSX}/DeploymentType",
    ),
    Variant(
        "fsx-hdd-throughput",
        fsx(
            "      StorageCapacity: 6000\n      DeploymentType: PERSISTENT_1\n      StorageType: HDD\n      PerUnitStorageThroughput: 50\n"
        ),
        "FsxStorageTypeOptionsValidator",
        f"{FSX}/PerUnitStorageThroughput",
    ),
    Variant(
        "fsx-drive-cache-ssd",
        fsx(
            "      StorageCapacity: 1200\n      DeploymentType: PERSISTENT_1\n      PerUnitStorageThroughput: 50\n      DriveCacheType: READ\n"
        ),
        "FsxStorageTypeOptionsValidator",
        f"{FSX}/DriveCacheType",
    ),
    Variant(
        "fsx-export-no-import",
        fsx("      StorageCapacity: 1200\n      ExportPath: s3://bucket/out\n"),
        "FsxS3Validator",
        f"{FSX}/ExportPath",
    ),
    Variant(
        "fsx-chunk-no-import",
        fsx("      StorageCapacity: 1200\n      ImportedFileChunkSize: 1024\n"),
        "FsxS3Validator",
        f"{FSX}/ImportedFileChunkSize",
    ),
    Variant(
        "fsx-autoimport-no-import",
        fsx("      StorageCapacity: 1200\n      AutoImportPolicy: NEW\n"),
        "FsxS3Validator",
        f"{FSX}/AutoImportPolicy",
    ),
    Variant(
        "fsx-dra-and-import",
        fsx(
            "      StorageCapacity: 1200\n      ImportPath: s3://bucket\n"
            + DRAS.split("        - Name: dra1")[0]
        ),
        "FsxDraValidator",
        f"{FSX}/DataRepositoryAssociations",
    ),
    Variant(
        "fsx-dra-9",
        fsx(
            "      StorageCapacity: 1200\n      DeploymentType: PERSISTENT_2\n      PerUnitStorageThroughput: 125\n"
            + DRAS
        ),
        "FsxDraValidator",
        f"{FSX}/DataRepositoryAssociations",
    ),
    Variant(
        "fsx-import-not-s3",
        fsx("      StorageCapacity: 1200\n      ImportPath: https://bucket/in\n"),
        "S3BucketUriValidator",
        f"{FSX}/ImportPath",
    ),
    Variant(
        "fsx-dra-not-s3",
        fsx(
            "      StorageCapacity: 1200\n"
            + DRAS.split("        - Name: dra1")[0].replace("s3://bucket/d0", "/data/d0")
        ),
        "S3BucketUriValidator",
        f"{FSX}/DataRepositoryAssociations[0]/DataRepositoryPath",
    ),
    Variant(
        "fsx-backup-scratch",
        fsx(
            "      StorageCapacity: 1200\n      DeploymentType: SCRATCH_2\n      AutomaticBackupRetentionDays: 7\n"
        ),
        "FsxBackupOptionsValidator",
        f"{FSX}/AutomaticBackupRetentionDays",
    ),
    Variant(
        "fsx-backup-time-alone",
        fsx("      StorageCapacity: 1200\n      DailyAutomaticBackupStartTime: '02:00'\n"),
        "FsxBackupOptionsValidator",
        f"{FSX}/DailyAutomaticBackupStartTime",
    ),
    Variant(
        "fsx-copy-tags-alone",
        fsx("      StorageCapacity: 1200\n      CopyTagsToBackups: true\n"),
        "FsxBackupOptionsValidator",
        f"{FSX}/CopyTagsToBackups",
    ),
    Variant(
        "fsx-backup-s3-linked",
        fsx(
            "      StorageCapacity: 1200\n      DeploymentType: PERSISTENT_1\n      PerUnitStorageThroughput: 50\n      ImportPath: s3://bucket\n      AutomaticBackupRetentionDays: 7\n"
        ),
        "FsxBackupOptionsValidator",
        f"{FSX}/AutomaticBackupRetentionDays",
    ),
    # ---- networking
    Variant(
        "mixed-security-groups",
        q0_networking("        SecurityGroups:\n          - sg-12345678\n"),
        "MixedSecurityGroupOverwriteValidator",
        "Scheduling/SlurmQueues",
        W,
    ),
    # ---- custom actions and URLs
    Variant(
        "script-http",
        sub("Script: s3://my-bucket/head-start.sh", "Script: http://example.com/start.sh"),
        "UrlValidator",
        "HeadNode/CustomActions/OnNodeStart/Script",
    ),
    Variant(
        "script-ftp-sequence",
        sub("Script: /opt/site/configure.sh", "Script: ftp://example.com/c.sh"),
        "UrlValidator",
        f"{Q0}/CustomActions/OnNodeConfigured/Sequence[1]/Script",
    ),
    Variant(
        "script-s3-no-key",
        sub("Script: s3://my-bucket/head-start.sh", "Script: s3://my-bucket"),
        "UrlValidator",
        "HeadNode/CustomActions/OnNodeStart/Script",
    ),
    Variant(
        "include-file-http",
        slurm("    CustomSlurmSettingsIncludeFile: http://example.com/slurm.conf\n"),
        "UrlValidator",
        f"{SETTINGS}/CustomSlurmSettingsIncludeFile",
    ),
    # ---- tags
    Variant(
        "tag-reserved",
        append("  - Key: parallelcluster:version\n    Value: x\n"),
        "TagKeyValidator",
        "Tags[1]/Key",
    ),
    Variant("tag-duplicate", append("  - Key: team\n    Value: other\n"), "TagKeyValidator", "Tags[1]/Key"),
    Variant("tags-41", append(MANY_TAGS), "ComputeResourceTagsValidator", f"{CR0}/Tags"),
    Variant(
        "tags-overridden",
        after("- Name: compute", "      Tags:\n        - Key: team\n          Value: q"),
        "ComputeResourceTagsValidator",
        f"{Q0}/Tags",
        W,
    ),
    # ---- Slurm
    Variant(
        "slurm-resume-program",
        slurm("    CustomSlurmSettings:\n      - ResumeProgram: /bin/true\n"),
        "CustomSlurmSettingsValidator",
        f"{SETTINGS}/CustomSlurmSettings[0]/ResumeProgram",
    ),
    Variant(
        "slurm-suspend-program",
        slurm("    CustomSlurmSettings:\n      - MaxJobCount: 100\n      - SuspendProgram: /bin/true\n"),
        "CustomSlurmSettingsValidator",
        f"{SETTINGS}/CustomSlurmSettings[1]/SuspendProgram",
    ),
    Variant(
        "slurm-ctld-host",
        slurm("    CustomSlurmSettings:\n      - SlurmctldHost: other\n"),
        "CustomSlurmSettingsValidator",
        f"{SETTINGS}/CustomSlurmSettings[0]/SlurmctldHost",
    ),
    Variant(
        "slurm-prolog-lowercase",
        slurm("    CustomSlurmSettings:\n      - prolog: /bin/true\n"),
        "CustomSlurmSettingsValidator",
        f"{SETTINGS}/CustomSlurmSettings[0]/prolog",
    ),
    Variant(
        "slurm-accounting-key",
        slurm(db("    CustomSlurmSettings:\n      - AccountingStorageType: accounting_storage/none\n")),
        "CustomSlurmSettingsValidator",
        f"{SETTINGS}/CustomSlurmSettings[0]/AccountingStorageType",
    ),
    Variant(
        "queue-partition-name",
        after("CapacityType: ONDEMAND", "      CustomSlurmSettings:\n        PartitionName: other"),
        "CustomSlurmSettingsValidator",
        f"{Q0}/CustomSlurmSettings/PartitionName",
    ),
    Variant(
        "cr-node-name",
        small("          CustomSlurmSettings:\n            NodeName: other\n"),
        "CustomSlurmSettingsValidator",
        f"{CR0}/CustomSlurmSettings/NodeName",
    ),
    Variant(
        "cr-weight",
        small("          CustomSlurmSettings:\n            Weight: 5\n"),
        "CustomSlurmSettingsValidator",
        f"{CR0}/CustomSlurmSettings/Weight",
    ),
    Variant(
        "custom-node-st",
        slurm("    CustomSlurmSettings:\n      - NodeName: ext-st-1\n        CPUs: 4\n"),
        "CustomSlurmNodeNamesValidator",
        f"{SETTINGS}/CustomSlurmSettings",
    ),
    Variant(
        "include-and-settings",
        slurm(
            "    CustomSlurmSettings:\n      - MaxJobCount: 100\n    CustomSlurmSettingsIncludeFile: s3://bucket/slurm.conf\n"
        ),
        "CustomSlurmSettingsIncludeFileOnlyValidator",
        f"{SETTINGS}/CustomSlurmSettingsIncludeFile",
    ),
    Variant(
        "node-priorities",
        sub(
            "MinCount: 0\n          MaxCount: 4",
            "MinCount: 1\n          MaxCount: 4\n          StaticNodePriority: 2000",
        ),
        "SlurmNodePrioritiesWarningValidator",
        f"{Q0}/ComputeResources",
        W,
    ),
    Variant(
        "db-uri-scheme",
        slurm(db().replace("db.example.com:3306", "mysql://db.example.com:3306")),
        "DatabaseUriValidator",
        f"{SETTINGS}/Database/Uri",
    ),
    Variant(
        "db-uri-slash",
        slurm(db().replace("db.example.com:3306", "/db.example.com")),
        "DatabaseUriValidator",
        f"{SETTINGS}/Database/Uri",
    ),
    Variant(
        "db-uri-no-port",
        slurm(db().replace("db.example.com:3306", "db.example.com")),
        "DatabaseUriValidator",
        f"{SETTINGS}/Database/Uri",
        INF,
    ),
    Variant(
        "db-uri-bad-port",
        slurm(db().replace("db.example.com:3306", "db.example.com:99999")),
        "DatabaseUriValidator",
        f"{SETTINGS}/Database/Uri",
    ),
    Variant(
        "slurmdbd-and-database",
        slurm(
            db(
                "    ExternalSlurmdbd:\n      Host: dbd.example.com\n    MungeKeySecretArn: arn:aws:secretsmanager:us-east-1:123456789012:secret:munge\n"
            )
        ),
        "ExternalSlurmdbdVsDatabaseIncompatibility",
        f"{SETTINGS}/ExternalSlurmdbd",
    ),
    Variant(
        "slurmdbd-no-munge",
        slurm("    ExternalSlurmdbd:\n      Host: dbd.example.com\n"),
        "ExternalSlurmdbdRequiresCustomMungeKey",
        f"{SETTINGS}/ExternalSlurmdbd",
    ),
    Variant(
        "slurmdbd-unencrypted",
        slurm(
            "    ExternalSlurmdbd:\n      Host: dbd.example.com\n    MungeKeySecretArn: arn:aws:secretsmanager:us-east-1:123456789012:secret:munge\n"
        ),
        "ExternalSlurmdbdTrafficNotEncrypted",
        f"{SETTINGS}/ExternalSlurmdbd",
        W,
    ),
    Variant(
        "munge-arn-service",
        slurm("    MungeKeySecretArn: arn:aws:ssm:us-east-1:123456789012:parameter/munge\n"),
        "ArnServiceAndResourceValidator",
        f"{SETTINGS}/MungeKeySecretArn",
    ),
    # ---- monitoring
    Variant(
        "rotation-without-cloudwatch",
        append("Monitoring:\n  Logs:\n    CloudWatch:\n      Enabled: false\n"),
        "LogRotationValidator",
        "Monitoring/Logs/Rotation/Enabled",
        W,
    ),
    Variant(
        "detailed-monitoring",
        append("Monitoring:\n  DetailedMonitoring: true\n"),
        "DetailedMonitoringValidator",
        "Monitoring/DetailedMonitoring",
        W,
    ),
    # ---- IAM and directory service
    Variant(
        "iam-prefix-bad",
        append("Iam:\n  ResourcePrefix: bad prefix!\n"),
        "IamResourcePrefixValidator",
        "Iam/ResourcePrefix",
    ),
    Variant(
        "iam-prefix-long",
        append("Iam:\n  ResourcePrefix: /path/" + "n" * 31 + "\n"),
        "IamResourcePrefixValidator",
        "Iam/ResourcePrefix",
    ),
    Variant(
        "ds-domain-name",
        append(DS.replace("corp.example.com\n  DomainAddr", "corp example\n  DomainAddr")),
        "DomainNameValidator",
        "DirectoryService/DomainName",
    ),
    Variant(
        "ds-domain-addr-http",
        append(DS.replace("ldaps://corp", "http://corp")),
        "DomainAddrValidator",
        "DirectoryService/DomainAddr",
        W,
    ),
    Variant(
        "ds-ldap-tls-never",
        append(DS + "  LdapTlsReqCert: never\n"),
        "LdapTlsReqCertValidator",
        "DirectoryService/LdapTlsReqCert",
        W,
    ),
    Variant(
        "ds-sssd-id-provider",
        append(DS + "  AdditionalSssdConfigs:\n    id_provider: ad\n"),
        "AdditionalSssdConfigsValidator",
        "DirectoryService/AdditionalSssdConfigs/id_provider",
    ),
    Variant(
        "ds-sssd-access-provider",
        append(
            DS
            + "  LdapAccessFilter: memberOf=cn=hpc\n  AdditionalSssdConfigs:\n    access_provider: simple\n"
        ),
        "AdditionalSssdConfigsValidator",
        "DirectoryService/AdditionalSssdConfigs/access_provider",
    ),
    # ---- OS, DCV, Intel, Chef
    Variant("rocky-no-ami", sub("Os: alinux2023", "Os: rocky9"), "OsCustomAmiValidator", "Image/CustomAmi"),
    Variant(
        "dcv-no-gpu",
        after("    KeyName: my-key", "  Dcv:\n    Enabled: true\n    AllowedIps: 10.0.0.0/8"),
        "DcvValidator",
        "HeadNode/Dcv/Enabled",
        W,
    ),
    Variant(
        "dcv-open-world",
        after("    KeyName: my-key", "  Dcv:\n    Enabled: true"),
        "DcvValidator",
        "HeadNode/Dcv/AllowedIps",
        W,
    ),
    Variant(
        "intel-hpc-os",
        append("AdditionalPackages:\n  IntelSoftware:\n    IntelHpcPlatform: true\n"),
        "IntelHpcOsValidator",
        "AdditionalPackages/IntelSoftware/IntelHpcPlatform",
    ),
    Variant(
        "intel-hpc-arm",
        chain(
            sub("  InstanceType: c5.xlarge\n  Networking", "  InstanceType: c6g.xlarge\n  Networking"),
            append("AdditionalPackages:\n  IntelSoftware:\n    IntelHpcPlatform: true\n"),
        ),
        "IntelHpcArchitectureValidator",
        "AdditionalPackages/IntelSoftware/IntelHpcPlatform",
    ),
    Variant(
        "chef-reconfigure-timeout",
        append(
            'DevSettings:\n  Cookbook:\n    ExtraChefAttributes: \'{"cluster": {"slurm": {"reconfigure_timeout": 100}}}\'\n'
        ),
        "ExtraChefAttributesValidator",
        "DevSettings/Cookbook/ExtraChefAttributes",
    ),
    Variant(
        "chef-readiness-off",
        append(
            'DevSettings:\n  Cookbook:\n    ExtraChefAttributes: \'{"cluster": {"cluster_readiness_check_enabled": false}}\'\n'
        ),
        "ExtraChefAttributesValidator",
        "DevSettings/Cookbook/ExtraChefAttributes",
        W,
    ),
    Variant(
        "cluster-template-http",
        append("DevSettings:\n  ClusterTemplate: http://example.com/t.yaml\n"),
        "UrlValidator",
        "DevSettings/ClusterTemplate",
    ),
]


def _check(tmp_path: Path, variant: Variant, target: str) -> tuple[Finding, ...]:
    config = tmp_path / "cluster.yaml"
    config.write_text(variant.mutation(BASE))
    report = check_cluster_config(config, cluster_name=variant.cluster_name, target=target)
    assert report.config is not None, [f.location() for f in report.findings]
    return report.findings


def test_base_config_is_clean(tmp_path: Path) -> None:
    config = tmp_path / "cluster.yaml"
    config.write_text(BASE)
    report = check_cluster_config(config, cluster_name=NAME, target="aws", failure_level=Level.WARNING)
    assert not report.blocking, [f.location() for f in report.findings]
    assert {f.code for f in report.findings} <= {"DeletionPolicyValidator"}


def test_there_are_at_least_a_hundred_variants_and_ids_are_unique() -> None:
    assert len(VARIANTS) >= 100
    assert len({v.id for v in VARIANTS}) == len(VARIANTS)


@pytest.mark.parametrize("variant", VARIANTS, ids=[v.id for v in VARIANTS])
def test_variant_is_rejected_with_code_and_path(tmp_path: Path, variant: Variant) -> None:
    findings = _check(tmp_path, variant, "aws")
    hits = [f for f in findings if f.code == variant.code and f.path == variant.path]
    assert hits, f"no {variant.code} at {variant.path!r}; got " + "; ".join(
        f"{f.level.name} {f.code} {f.path}" for f in findings
    )
    hit = max(hits, key=lambda f: f.level)
    assert hit.level == variant.level, hit.location()
    assert hit.message and hit.file
    if variant.path:  # every finding on a key path carries a real line of the file
        assert hit.line is not None and hit.line >= 1, hit.location()
    # Rejected at the matching failure level, as pcluster's --validation-failure-level does.
    assert any(f.level >= variant.level for f in findings)


@pytest.mark.parametrize("variant", VARIANTS, ids=[v.id for v in VARIANTS])
def test_every_validator_has_the_same_level_on_every_provider(tmp_path: Path, variant: Variant) -> None:
    # pcluster's verdict on every provider: a config the local provider accepts deploys to AWS.
    def verdicts(target: str) -> list[tuple[str, str, Level, str]]:
        findings = _check(tmp_path, variant, target)
        return [(f.code, f.path, f.level, f.message) for f in findings if not f.code.startswith("Key")]

    assert verdicts("local") == verdicts("aws")

"""The validator registry: which offline validators run for cluster and image configs, and which of
ParallelCluster's validators belong to the AWS provider because they need a cloud API."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from corral.config.validators import (
    counts,
    custom_actions,
    ebs,
    efa,
    efs,
    fsx,
    iam,
    image,
    instances,
    monitoring,
    names,
    networking,
    slurm,
    software,
    storage,
    tags,
)
from corral.config.validators._base import ClusterValidator, ImageValidator

CLUSTER_VALIDATORS: tuple[ClusterValidator, ...] = (
    *names.VALIDATORS,
    *counts.VALIDATORS,
    *instances.VALIDATORS,
    *efa.VALIDATORS,
    *storage.VALIDATORS,
    *ebs.VALIDATORS,
    *efs.VALIDATORS,
    *fsx.VALIDATORS,
    *networking.VALIDATORS,
    *custom_actions.VALIDATORS,
    *tags.VALIDATORS,
    *slurm.VALIDATORS,
    *monitoring.VALIDATORS,
    *iam.VALIDATORS,
    *software.VALIDATORS,
)

IMAGE_VALIDATORS: tuple[ImageValidator, ...] = image.VALIDATORS

#: ParallelCluster validators that need a cloud API, with the reason; the AWS provider runs them.
AWS_ONLY_VALIDATORS: Mapping[str, str] = MappingProxyType(
    {
        "AmiOsCompatibleValidator": "reads the AMI's OS tags (ec2:DescribeImages)",
        "CapacityBlockHealthStatusValidator": "reads capacity block health (ec2 capacity reservations)",
        "CapacityReservationResourceGroupValidator": "reads the resource group's reservations",
        "CapacityReservationSizeValidator": "reads the reservation's instance count",
        "CapacityReservationValidator": "reads the capacity reservation (ec2:DescribeCapacityReservations)",
        "ComputeResourceLaunchTemplateValidator": "dry-runs ec2:RunInstances",
        "CustomAmiTagValidator": "reads the custom AMI's tags",
        "EbsVolumeSizeSnapshotValidator": "reads the snapshot size (ec2:DescribeSnapshots)",
        "EfaSecurityGroupValidator": "reads security group rules",
        "EfsIdValidator": "reads EFS mount targets per AZ",
        "ElasticIpValidator": "reads the Elastic IP allocation",
        "ExistingFsxNetworkingValidator": "reads the file system's network interfaces",
        "FeatureRegionValidator": "depends on the deployment region's service availability",
        "FsxAutoImportValidator": "reads the bucket's region (s3:GetBucketLocation)",
        "FsxBackupIdValidator": "reads the FSx backup",
        "HeadNodeLaunchTemplateValidator": "dry-runs ec2:RunInstances",
        "HostedZoneValidator": "reads the Route 53 hosted zone",
        "IamPolicyValidator": "reads the IAM policy",
        "AdditionalIamPolicyValidator": "reads the IAM policy",
        "InstanceProfileValidator": "reads the instance profile",
        "KeyPairValidator": "reads the EC2 key pair",
        "KmsKeyValidator": "reads the KMS key",
        "LambdaFunctionsVpcConfigValidator": "reads subnets and security groups",
        "LaunchTemplateValidator": "reads the launch template version",
        "MultiAzEbsVolumeValidator": "reads the volume's and subnets' availability zones",
        "MultiAzRootVolumeValidator": "reads the subnets' availability zones",
        "MungeKeySecretSizeAndBase64Validator": "reads the secret's value",
        "PasswordSecretArnValidator": "reads the secret",
        "PlacementGroupCapacityReservationValidator": "reads the reservation's placement group",
        "QueueSubnetsValidator": "reads the subnets' availability zones",
        "RegionValidator": "the deployment region is chosen by the AWS provider",
        "RoleValidator": "reads the IAM role",
        "RootVolumeSizeValidator": "reads the AMI's root volume size",
        "AMIVolumeSizeValidator": "reads the parent AMI's volume size",
        "S3BucketRegionValidator": "reads the bucket's region",
        "S3BucketValidator": "reads the bucket and its versioning",
        "SecurityGroupsValidator": "reads the security groups",
        "SharedEbsVolumeIdValidator": "reads the EBS volume's state",
        "SubnetsValidator": "reads the subnets",
        "UltraserverCapacityBlockSizeValidator": "reads the capacity blocks",
        "UnmanagedFsxMultiAzValidator": "reads the file system's availability zones",
    }
)

#: Validators Corral runs offline in part; the AWS provider adds the part that needs the cloud.
AWS_REMAINDER: Mapping[str, str] = MappingProxyType(
    {
        "InstanceTypeValidator": "offline: the catalog; on AWS: the region's instance type offerings",
        "UrlValidator": "offline: the URL form; on AWS: the object exists (s3:HeadObject, HTTPS GET)",
        "S3BucketUriValidator": "offline: the URI form; on AWS: the bucket exists (s3:HeadBucket)",
        "InstanceTypeBaseAMICompatibleValidator": "offline: image ARNs that name their architecture; "
        "on AWS: the AMI's architecture (ec2:DescribeImages)",
    }
)

#: Listed by ParallelCluster but not validators of a config: abstract bases.
ABSTRACT_VALIDATORS = frozenset({"AsyncValidator", "_LaunchTemplateValidator"})

__all__ = [
    "ABSTRACT_VALIDATORS",
    "AWS_ONLY_VALIDATORS",
    "AWS_REMAINDER",
    "CLUSTER_VALIDATORS",
    "IMAGE_VALIDATORS",
]

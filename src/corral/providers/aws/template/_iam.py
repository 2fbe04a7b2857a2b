"""IAM: the head node's and each queue's role and instance profile, least-privilege.

Scoping rules (the tests assert them):

- EC2 actions that support resource-level permissions are limited to the cluster's own resources:
  launch only from launch templates tagged ``corral:cluster-name=<cluster>``, only creating instances,
  volumes and network interfaces that carry that tag (the launch templates tag all three), tag at
  launch, re-tag and terminate only instances that carry it.
- ``iam:PassRole`` only for roles under the cluster's path (``/corral/<cluster>/``, behind the path
  part of ``Iam/ResourcePrefix``) and roles the config names, and only to EC2.
- DynamoDB only on the cluster's table, CloudWatch Logs only on its log group, CloudFormation only on
  its stack, Route 53 only on its hosted zone, S3 only on the buckets the config names (``S3Access``,
  custom action scripts, ``CustomSlurmSettingsIncludeFile``) and on the cluster's own prefix
  ``corral/<cluster>/`` of the provider's bucket (read only), Secrets Manager only on the secrets it names.
- ``ec2:Describe*`` calls support no resource-level permissions, so they are the one ``"*"``.

A role the config gives (``InstanceRole``) is referenced through a new instance profile; a profile the
config gives (``InstanceProfile``) is used as is. ``AdditionalIamPolicies`` become managed policy ARNs and
``Iam/PermissionsBoundary`` the boundary of every role Corral creates. The head node's role also
carries ``AmazonSSMManagedInstanceCore`` (SSM Run Command is how ``run_on_head`` reaches it); a role
the config gives must carry it itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from troposphere import GetAtt, Ref, Sub, Template
from troposphere.iam import InstanceProfile, Policy, Role

from corral.providers.aws.template._context import Cluster, Shared
from corral.providers.aws.template._names import CLUSTER_TAG, arn, s3_bucket_arns
from corral.providers.aws.template._userdata import artefact_bucket

_EC2_DESCRIBE = (
    "ec2:DescribeCapacityReservations",
    "ec2:DescribeFleets",
    "ec2:DescribeImages",
    "ec2:DescribeInstanceStatus",
    "ec2:DescribeInstanceTypes",
    "ec2:DescribeInstances",
    "ec2:DescribeLaunchTemplateVersions",
    "ec2:DescribeLaunchTemplates",
    "ec2:DescribeSubnets",
    "ec2:DescribeVolumes",
)
_LAUNCH = ["ec2:CreateFleet", "ec2:RunInstances"]
#: What a launch creates, tagged by the launch template's TagSpecifications (IAM evaluates those as
#: request tags); EC2 Fleet requests of type instant leave only a fleet record, which is not tagged.
_TAGGED_ON_LAUNCH = ("instance/*", "volume/*", "network-interface/*")
_LAUNCH_INPUTS = (
    "capacity-reservation/*",
    "fleet/*",
    "image/*",
    "key-pair/*",
    "placement-group/*",
    "security-group/*",
    "subnet/*",
)
_TABLE_HEAD = (
    "dynamodb:BatchGetItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DeleteItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
    "dynamodb:Scan",
    "dynamodb:UpdateItem",
)
_TABLE_COMPUTE = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem")
_LOGS = ("logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents")
_S3_READ = ("s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket")
_S3_WRITE = ("s3:DeleteObject", "s3:PutObject")


@dataclass(frozen=True)
class Profile:
    """How a node gets its permissions: the instance profile ARN and, when Corral made it, the role."""

    profile_arn: Any
    role_arn: Any = None


def allow_statement(
    sid: str, actions: Iterable[str], resources: Any, condition: Any = None
) -> dict[str, Any]:
    """An IAM ``Allow`` statement (actions sorted, so templates and policies diff stably)."""
    statement: dict[str, Any] = {
        "Sid": sid,
        "Effect": "Allow",
        "Action": sorted(actions),
        "Resource": resources,
    }
    if condition:
        statement["Condition"] = condition
    return statement


def _tag_condition(cluster: Cluster, key: str = "aws:ResourceTag") -> dict[str, Any]:
    return {"StringEquals": {f"{key}/{CLUSTER_TAG}": cluster.name}}


def _ec2_arns(patterns: Iterable[str]) -> list[Any]:
    return [arn("ec2", pattern) for pattern in patterns]


def _ec2_arns_any_account(patterns: Iterable[str]) -> list[Any]:
    """Images and snapshots may belong to other accounts (public AMIs)."""
    return [
        arn("ec2", pattern, account=False) if pattern.startswith("image") else arn("ec2", pattern)
        for pattern in patterns
    ]


def head_statements(cluster: Cluster, shared: Shared, hosted_zone: Any) -> list[dict[str, Any]]:
    """The head node's policy: launch and terminate its cluster's instances, run its control plane."""
    statements = _head_ec2_statements(cluster)
    statements += [
        allow_statement("NodeStateTable", _TABLE_HEAD, [shared.table_arn]),
        allow_statement("ClusterLogs", _LOGS, _log_arns(shared)),
        allow_statement(
            "ClusterStack",
            [
                "cloudformation:DescribeStackResource",
                "cloudformation:DescribeStackResources",
                "cloudformation:DescribeStacks",
                "cloudformation:SignalResource",
            ],
            [
                arn("cloudformation", "stack/${AWS::StackName}/*"),
                arn("cloudformation", "stack/${AWS::StackName}-*/*"),
            ],
        ),
    ]
    if hosted_zone is not None:
        statements.append(
            allow_statement(
                "ClusterDnsRecords",
                [
                    "route53:ChangeResourceRecordSets",
                    "route53:GetHostedZone",
                    "route53:ListResourceRecordSets",
                ],
                [Sub("arn:${AWS::Partition}:route53:::hostedzone/${Zone}", Zone=hosted_zone)],
            )
        )
    statements.append(_artifacts_statement(cluster))
    # the time-to-live and ``corral delete-cluster`` run on a node of the cluster (every cluster)
    statements += self_delete_statements(cluster)
    statements += _storage_statements(cluster)
    statements += _s3_statements(_head_buckets(cluster))
    secrets = _head_secrets(cluster)
    if secrets:
        statements.append(allow_statement("ClusterSecrets", ["secretsmanager:GetSecretValue"], secrets))
    return statements


#: The account's CloudFormation service role that deletes expired clusters' stacks
#: (``corral.providers.aws._expire``; not imported: the template package stays pure).
DELETER_ROLE = "role/corral/corral-stack-deleter-${AWS::Region}"


def self_delete_statements(cluster: Cluster) -> list[dict[str, Any]]:
    """Every cluster's head node may delete its own root stack (through the stack deleter role,
    passed only to CloudFormation) and its own artefacts, for its time-to-live (``expires_at``) and
    for ``corral delete-cluster`` run on one of its nodes; nothing more (terminating its instances
    it may already)."""
    bucket = artefact_bucket(cluster)
    return [
        allow_statement(
            "DeleteOwnStack",
            ["cloudformation:DeleteStack"],
            [arn("cloudformation", "stack/${AWS::StackName}/*")],
        ),
        allow_statement(
            "PassStackDeleterRole",
            ["iam:PassRole"],
            [arn("iam", DELETER_ROLE, region=False)],
            {"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}},
        ),
        allow_statement(
            "DeleteOwnArtifacts",
            ["s3:DeleteObject"],
            [Sub(f"arn:${{AWS::Partition}}:s3:::{bucket}/corral/{cluster.name}/*")],
        ),
        allow_statement(
            "ListOwnArtifacts",
            ["s3:ListBucket"],
            [Sub(f"arn:${{AWS::Partition}}:s3:::{bucket}")],
            {"StringLike": {"s3:prefix": [f"corral/{cluster.name}/*"]}},
        ),
    ]


def _head_ec2_statements(cluster: Cluster) -> list[dict[str, Any]]:
    """Launch from the cluster's templates, tag and terminate only the cluster's instances."""
    own = _tag_condition(cluster)
    return [
        allow_statement("Ec2Describe", _EC2_DESCRIBE, "*"),
        allow_statement("LaunchFromClusterTemplates", _LAUNCH, _ec2_arns(["launch-template/*"]), own),
        allow_statement(
            "LaunchOnlyTagged",
            _LAUNCH,
            _ec2_arns(_TAGGED_ON_LAUNCH),
            _tag_condition(cluster, "aws:RequestTag"),
        ),
        allow_statement("LaunchInputs", _LAUNCH, _ec2_arns_any_account(_LAUNCH_INPUTS)),
        allow_statement(
            "TagOnlyAtLaunch",
            ["ec2:CreateTags"],
            _ec2_arns(_TAGGED_ON_LAUNCH),
            {"StringEquals": {"ec2:CreateAction": ["CreateFleet", "RunInstances"]}},
        ),
        allow_statement("TagClusterInstances", ["ec2:CreateTags"], _ec2_arns(["instance/*"]), own),
        allow_statement(
            "TerminateClusterInstances", ["ec2:TerminateInstances"], _ec2_arns(["instance/*"]), own
        ),
        allow_statement(
            "PassClusterRoles",
            ["iam:PassRole"],
            _pass_role_arns(cluster),
            {"StringEquals": {"iam:PassedToService": Sub("ec2.${AWS::URLSuffix}")}},
        ),
    ]


def compute_statements(cluster: Cluster, queue: Any, shared: Shared) -> list[dict[str, Any]]:
    """A queue's compute node policy: read its cluster's state and config, write its logs."""
    statements = [
        allow_statement("Ec2Describe", ["ec2:DescribeInstances", "ec2:DescribeTags"], "*"),
        allow_statement(
            "TagClusterInstances", ["ec2:CreateTags"], _ec2_arns(["instance/*"]), _tag_condition(cluster)
        ),
        allow_statement("NodeStateTable", _TABLE_COMPUTE, [shared.table_arn]),
        allow_statement("ClusterLogs", _LOGS, _log_arns(shared)),
        _artifacts_statement(cluster),
        # the storage ids are root stack outputs (the root stack is named after the cluster)
        _stack_read_statement(cluster),
    ]
    statements += _storage_statements(cluster)
    return statements + _s3_statements(_queue_buckets(cluster, queue))


def ec2_assume_role_policy() -> dict[str, Any]:
    """The trust policy of an instance role: EC2 may assume it."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": Sub("ec2.${AWS::URLSuffix}")},
                "Action": "sts:AssumeRole",
            }
        ],
    }


def _stack_read_statement(cluster: Cluster) -> dict[str, Any]:
    """Reading the cluster's root stack (named after the cluster), whose outputs hold the storage ids."""
    return allow_statement(
        "ClusterStackRead",
        ["cloudformation:DescribeStacks"],
        [arn("cloudformation", f"stack/{cluster.name}/*")],
    )


def login_statements(cluster: Cluster, pool: Any, shared: Shared) -> list[dict[str, Any]]:
    """A login pool's policy: what a compute node reads (its cluster's artefacts, munge key and
    stack outputs, instance tags) and its log group; no node table, no launch, no terminate."""
    statements = [
        allow_statement("Ec2Describe", ["ec2:DescribeInstances", "ec2:DescribeTags"], "*"),
        allow_statement("ClusterLogs", _LOGS, _log_arns(shared)),
        _artifacts_statement(cluster),
        _stack_read_statement(cluster),
    ]
    statements += _storage_statements(cluster)
    urls = [
        s.script
        for event in (pool.custom_actions.on_node_start, pool.custom_actions.on_node_configured)
        for s in event
    ]
    return statements + _s3_statements(_script_grants(urls))


#: What a node reads to mount FSx file systems, ONTAP/OpenZFS volumes and File Caches.
_FSX_DESCRIBE = (
    "fsx:DescribeFileCaches",
    "fsx:DescribeFileSystems",
    "fsx:DescribeStorageVirtualMachines",
    "fsx:DescribeVolumes",
)


def _storage_statements(cluster: Cluster) -> list[dict[str, Any]]:
    """FSx's Describe calls on the account's FSx resources, when the cluster mounts any."""
    kinds = {s.storage_type for s in cluster.plan.storage}
    if not kinds & {"FsxLustre", "FsxOntap", "FsxOpenZfs", "FileCache"}:
        return []
    patterns = ["file-system/*", "volume/*/*", "storage-virtual-machine/*/*", "file-cache/*"]
    return [allow_statement("StorageDescribe", _FSX_DESCRIBE, [arn("fsx", p) for p in patterns])]


def _artifacts_statement(cluster: Cluster) -> dict[str, Any]:
    """Read the cluster's own artefacts (config, templates) under ``corral/<cluster>/`` in the
    provider's bucket: ``CustomS3Bucket``, else ``corral-<account>-<region>``."""
    bucket = artefact_bucket(cluster)
    objects = Sub(f"arn:${{AWS::Partition}}:s3:::{bucket}/corral/{cluster.name}/*")
    return allow_statement("ClusterArtifactsRead", ["s3:GetObject"], [objects])


def _log_arns(shared: Shared) -> list[Any]:
    """The log group and its streams (a log group's GetAtt Arn already ends in ``:*``)."""
    return [
        Sub(
            "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:${LogGroupName}:*",
            LogGroupName=shared.log_group_name,
        )
    ]


def _pass_role_arns(cluster: Cluster) -> list[Any]:
    arns: list[Any] = [arn("iam", f"role{cluster.role_path}*", region=False)]
    given = {q.iam.instance_role for q in cluster.config.scheduling.slurm_queues if q.iam.instance_role}
    arns += sorted(given)
    if any(q.iam.instance_profile for q in cluster.config.scheduling.slurm_queues):
        # The role inside a given instance profile is unknown offline: any role, still only to EC2.
        arns.append(arn("iam", "role/*", region=False))
    return arns


#: One S3 grant: (bucket, object key pattern, write). ``S3Access`` gives its ``BucketName`` (``*``
#: is every bucket, as in pcluster) and ``KeyName`` (default: every key); script URLs give read.
Grant = tuple[str, str, bool]


def _s3_statements(grants: list[Grant]) -> list[dict[str, Any]]:
    """Read access (and ListBucket) to each granted bucket and key pattern; write access to the
    grants that enable it, on their key pattern only."""
    if not grants:
        return []
    keys: dict[tuple[str, str], bool] = {}
    for bucket, key, write in grants:
        keys[(bucket, key)] = keys.get((bucket, key), False) or write
    read: list[Any] = []
    listed: set[str] = set()
    for bucket, key in sorted(keys):
        if bucket not in listed:
            listed.add(bucket)
            read.append(s3_bucket_arns(bucket)[0])
        read.append(s3_bucket_arns(bucket, key)[1])
    statements = [allow_statement("ConfiguredBucketsRead", _S3_READ, read)]
    writable = [s3_bucket_arns(b, k)[1] for (b, k), write in sorted(keys.items()) if write]
    if writable:
        statements.append(allow_statement("ConfiguredBucketsWrite", _S3_WRITE, writable))
    return statements


def _bucket_of(url: str | None) -> str | None:
    if url and url.startswith("s3://"):
        return url[len("s3://") :].split("/", 1)[0] or None
    return None


def _access_grants(s3_access: Iterable[Any]) -> list[Grant]:
    return [(a.bucket_name, a.key_name or "*", bool(a.enable_write_access)) for a in s3_access]


def _script_grants(urls: Iterable[str | None]) -> list[Grant]:
    return [(bucket, "*", False) for bucket in (_bucket_of(url) for url in urls) if bucket]


def _head_buckets(cluster: Cluster) -> list[Grant]:
    urls: list[str | None] = [a.script for a in cluster.plan.head_node.custom_actions]
    urls.append(cluster.plan.slurm.custom_settings_include_file)
    for _queue, actions in cluster.plan.queue_custom_actions:
        urls += [a.script for a in actions]
    return _access_grants(cluster.config.head_node.iam.s3_access) + _script_grants(urls)


def _queue_buckets(cluster: Cluster, queue: Any) -> list[Grant]:
    urls = [a.script for a in cluster.plan.custom_actions_for(queue.name)]
    return _access_grants(queue.iam.s3_access) + _script_grants(urls)


def _head_secrets(cluster: Cluster) -> list[str]:
    slurm = cluster.config.scheduling.slurm_settings
    found = [slurm.munge_key_secret_arn]
    if slurm.database is not None:
        found.append(slurm.database.password_secret_arn)
    if cluster.config.directory_service is not None:
        found.append(cluster.config.directory_service.password_secret_arn)
    return sorted({s for s in found if s})


#: What SSM Run Command (``AwsProvider.run_on_head``) and Session Manager need on the head node:
#: AWS's managed policy for SSM's agent (its own channels and instance information only).
SSM_MANAGED_POLICY = Sub("arn:${AWS::Partition}:iam::aws:policy/AmazonSSMManagedInstanceCore")


def add_node_profile(
    template: Template,
    cluster: Cluster,
    prefix: str,
    iam: Any,
    statements: list[dict[str, Any]],
    tags: list[dict[str, str]],
    managed_policies: Iterable[Any] = (),
) -> Profile:
    """The instance profile for one kind of node (``prefix`` names its resources): the config's own
    profile, a new profile around the config's role, or a new least-privilege role and profile
    (with ``managed_policies`` and the config's ``AdditionalIamPolicies`` attached)."""
    if iam.instance_profile:
        return Profile(profile_arn=iam.instance_profile)
    if iam.instance_role:
        name = iam.instance_role.rsplit("/", 1)[-1]
        template.add_resource(
            InstanceProfile(f"{prefix}InstanceProfile", Roles=[name], Path=cluster.role_path)
        )
        return Profile(profile_arn=GetAtt(f"{prefix}InstanceProfile", "Arn"), role_arn=iam.instance_role)
    role = Role(
        f"{prefix}Role",
        AssumeRolePolicyDocument=ec2_assume_role_policy(),
        Path=cluster.role_path,
        Policies=[
            Policy(
                PolicyName="corral-node", PolicyDocument={"Version": "2012-10-17", "Statement": statements}
            )
        ],
        Tags=tags,
    )
    managed = [*managed_policies, *(p.policy for p in iam.additional_iam_policies)]
    if managed:
        role.ManagedPolicyArns = managed
    boundary = cluster.config.iam.permissions_boundary if cluster.config.iam else None
    if boundary:
        role.PermissionsBoundary = boundary
    template.add_resource(role)
    template.add_resource(
        InstanceProfile(f"{prefix}InstanceProfile", Roles=[Ref(role)], Path=cluster.role_path)
    )
    return Profile(profile_arn=GetAtt(f"{prefix}InstanceProfile", "Arn"), role_arn=GetAtt(role, "Arn"))

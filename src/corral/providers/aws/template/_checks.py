"""Checks that a config can become a valid template, before any template is built.

Offline validation accepts some values that only AWS itself refuses: placeholder ARNs, an account id
of the wrong length, a made-up instance type, two storage entries with one name. CloudFormation would
refuse the stack minutes later; Corral refuses the config now, naming every bad value at once.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator

from corral.errors import BadRequestError
from corral.providers.aws.template._context import Cluster

_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:[a-z0-9-]+:[a-z0-9-]*:(\d{12}|aws)?:.+$")
_KMS = re.compile(
    r"^(arn:aws[a-zA-Z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)/.+"
    r"|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32}|alias/[a-zA-Z0-9/_-]+)$"
)
_INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9-]+$")


def check_renderable(cluster: Cluster) -> None:
    """Raise ``BadRequestError`` listing every value that would make CloudFormation refuse the stack."""
    problems = [*_arn_problems(cluster), *_kms_problems(cluster), *_instance_type_problems(cluster)]
    problems += list(_duplicate_problems(cluster))
    if problems:
        raise BadRequestError(
            f"cluster {cluster.name!r}: the config cannot become a CloudFormation template:\n  "
            + "\n  ".join(problems),
            hint="fix the values above; AWS would refuse them when the stack is created",
        )


def _arns(cluster: Cluster) -> Iterator[tuple[str, str | None]]:
    config = cluster.config
    head_iam = config.head_node.iam
    yield "HeadNode/Iam/InstanceRole", head_iam.instance_role
    yield "HeadNode/Iam/InstanceProfile", head_iam.instance_profile
    for policy in head_iam.additional_iam_policies:
        yield "HeadNode/Iam/AdditionalIamPolicies/Policy", policy.policy
    for queue in config.scheduling.slurm_queues:
        where = f"Scheduling/SlurmQueues[{queue.name}]/Iam"
        yield f"{where}/InstanceRole", queue.iam.instance_role
        yield f"{where}/InstanceProfile", queue.iam.instance_profile
        for policy in queue.iam.additional_iam_policies:
            yield f"{where}/AdditionalIamPolicies/Policy", policy.policy
    slurm = config.scheduling.slurm_settings
    yield "Scheduling/SlurmSettings/MungeKeySecretArn", slurm.munge_key_secret_arn
    if slurm.database is not None:
        yield "Scheduling/SlurmSettings/Database/PasswordSecretArn", slurm.database.password_secret_arn
    if config.directory_service is not None:
        yield "DirectoryService/PasswordSecretArn", config.directory_service.password_secret_arn
    if config.iam is not None:
        yield "Iam/PermissionsBoundary", config.iam.permissions_boundary


def _arn_problems(cluster: Cluster) -> list[str]:
    return [
        f"{path}: {value!r} is not an ARN"
        for path, value in _arns(cluster)
        if value and not _ARN.match(value)
    ]


def _kms_problems(cluster: Cluster) -> list[str]:
    found = []
    for entry in cluster.config.shared_storage:
        settings = entry.ebs_settings or entry.efs_settings or entry.fsx_lustre_settings
        key = getattr(settings, "kms_key_id", None)
        if key and not _KMS.match(key):
            found.append(f"SharedStorage[{entry.name}]/KmsKeyId: {key!r} is not a KMS key id, alias or ARN")
    return found


def _instance_type_problems(cluster: Cluster) -> list[str]:
    found = []
    head = cluster.config.head_node.instance_type
    if not _INSTANCE_TYPE.match(head):
        found.append(f"HeadNode/InstanceType: {head!r} is not an EC2 instance type")
    for queue in cluster.config.scheduling.slurm_queues:
        for cr in queue.compute_resources:
            for name in cr.instance_types:
                if not _INSTANCE_TYPE.match(name):
                    where = f"SlurmQueues[{queue.name}]/ComputeResources[{cr.name}]"
                    found.append(f"{where}: {name!r} is not an EC2 instance type")
    return found


def _duplicate_problems(cluster: Cluster) -> Iterator[str]:
    storage = cluster.config.shared_storage
    for name, count in sorted(Counter(entry.name for entry in storage).items()):
        if count > 1:
            yield f"SharedStorage: the name {name!r} is used {count} times"
    ids = []
    for entry in storage:
        settings = entry.ebs_settings or entry.efs_settings or entry.fsx_lustre_settings
        ids += [
            i for i in (getattr(settings, "volume_id", None), getattr(settings, "file_system_id", None)) if i
        ]
    for existing, count in sorted(Counter(ids).items()):
        if count > 1:
            yield f"SharedStorage: {existing!r} is named by {count} entries"

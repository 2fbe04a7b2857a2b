"""A cluster's time-to-live on AWS (``ClusterPlan.expires_at``, ``corral run --ttl``): its head node
deletes its own stack, with a role that may do nothing else.

CloudFormation deletes a stack's resources with the credentials of whoever asks, unless a service
role is named. So the head node's role gets only (``template._iam``, when the plan has
``expires_at``):

- ``cloudformation:DeleteStack`` on its own root stack (``stack/<cluster>/*``);
- ``iam:PassRole`` of exactly one role, the account's stack deleter
  (``/corral/corral-stack-deleter-<region>``), and only to CloudFormation;
- ``s3:DeleteObject``/``s3:ListBucket`` on its own artefacts (``corral/<cluster>/``);
- (already) terminating its own cluster's instances.

The stack deleter is a CloudFormation service role the provider creates once per account and region
(like the artefact bucket) when a cluster with a time-to-live is created: CloudFormation may assume
it to delete what Corral's stacks hold, and only resources that carry ``corral:cluster-name``
(where the service has tag conditions) or live under Corral's names and paths (IAM roles and
profiles under ``/corral/``, log groups under ``/aws/corral/``). It is kept (reused by the next
cluster), as the bucket is.

``expire`` (what the head's reconciler calls once ``expires_at`` passed): terminate the compute
instances (CreateFleet's, not the stack's), remove the artefacts, DeleteStack with the deleter
role; it returns at once (the delete ends the head node).
"""

from __future__ import annotations

import json
from typing import Any

from corral.errors import CorralError
from corral.providers.aws._clients import AwsClients
from corral.providers.aws._errors import BOTO_ERRORS, aws_call, error_code, translate
from corral.providers.aws.template._iam import allow_statement

DELETER_PATH = "/corral/"
_TAGGED = {"StringLike": {"aws:ResourceTag/corral:cluster-name": "*"}}


def deleter_role_name(region: str) -> str:
    return f"corral-stack-deleter-{region}"


def deleter_role_arn(account: str, region: str, partition: str = "aws") -> str:
    return f"arn:{partition}:iam::{account}:role{DELETER_PATH}{deleter_role_name(region)}"


def deleter_policy(account: str, region: str, partition: str = "aws") -> dict[str, Any]:
    """What CloudFormation may do with the deleter role: delete Corral's stacks' resources. Pure."""
    base = f"arn:{partition}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            allow_statement(
                "DeleteClusterStacks",
                [
                    "cloudformation:DeleteStack",
                    "cloudformation:DescribeStacks",
                    "cloudformation:ListStackResources",
                ],
                f"{base}:cloudformation:{region}:{account}:stack/*",
                _TAGGED,
            ),
            allow_statement(
                "Describe", ["autoscaling:Describe*", "ec2:Describe*", "elasticloadbalancing:Describe*"], "*"
            ),
            allow_statement(
                "DeleteTaggedEc2",
                [
                    "ec2:DeleteLaunchTemplate",
                    "ec2:DeleteNetworkInterface",
                    "ec2:DeletePlacementGroup",
                    "ec2:DeleteSecurityGroup",
                    "ec2:DeleteVolume",
                    "ec2:DetachVolume",
                    "ec2:DisassociateAddress",
                    "ec2:ReleaseAddress",
                    "ec2:RevokeSecurityGroupEgress",
                    "ec2:RevokeSecurityGroupIngress",
                    "ec2:TerminateInstances",
                ],
                "*",
                _TAGGED,
            ),
            allow_statement(
                "DeleteTaggedServices",
                [
                    "autoscaling:DeleteAutoScalingGroup",
                    "autoscaling:DeleteLifecycleHook",
                    "autoscaling:UpdateAutoScalingGroup",
                    "dynamodb:DeleteTable",
                    "dynamodb:DescribeTable",
                    "elasticfilesystem:DeleteFileSystem",
                    "elasticfilesystem:DeleteMountTarget",
                    "elasticloadbalancing:DeleteListener",
                    "elasticloadbalancing:DeleteLoadBalancer",
                    "elasticloadbalancing:DeleteTargetGroup",
                    "fsx:DeleteDataRepositoryAssociation",
                    "fsx:DeleteFileSystem",
                ],
                "*",
                _TAGGED,
            ),
            allow_statement(
                "DeleteClusterRoles",
                [
                    "iam:DeleteInstanceProfile",
                    "iam:DeleteRole",
                    "iam:DeleteRolePolicy",
                    "iam:DetachRolePolicy",
                    "iam:GetInstanceProfile",
                    "iam:GetRole",
                    "iam:ListAttachedRolePolicies",
                    "iam:ListInstanceProfilesForRole",
                    "iam:ListRolePolicies",
                    "iam:RemoveRoleFromInstanceProfile",
                ],
                [
                    f"{base}:iam::{account}:role/*corral/*",
                    f"{base}:iam::{account}:instance-profile/*corral/*",
                ],
            ),
            allow_statement(
                "DeleteClusterLogs",
                ["logs:DeleteLogGroup", "logs:DeleteRetentionPolicy", "logs:DescribeLogGroups"],
                f"{base}:logs:{region}:{account}:log-group:/aws/corral/*",
            ),
            allow_statement(
                "DeleteClusterZone",
                [
                    "route53:ChangeResourceRecordSets",
                    "route53:DeleteHostedZone",
                    "route53:GetChange",
                    "route53:GetHostedZone",
                    "route53:ListResourceRecordSets",
                ],
                [f"{base}:route53:::hostedzone/*", f"{base}:route53:::change/*"],
            ),
        ],
    }


def _trust() -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "cloudformation.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }


def ensure_deleter_role(clients: AwsClients) -> str:
    """The account's stack deleter role in this region (created, or its policy refreshed); its ARN."""
    iam = clients.client("iam")
    name = deleter_role_name(clients.region)
    try:
        arn = str(iam.get_role(RoleName=name)["Role"]["Arn"])
    except BOTO_ERRORS as exc:
        if error_code(exc) != "NoSuchEntity":
            raise translate(exc, "GetRole") from exc
        created = aws_call(
            "CreateRole",
            iam.create_role,
            RoleName=name,
            Path=DELETER_PATH,
            AssumeRolePolicyDocument=json.dumps(_trust()),
            Description="Corral: CloudFormation deletes clusters past their time-to-live (corral run --ttl)",
            Tags=[{"Key": "corral:purpose", "Value": "stack-deleter"}],
        )
        arn = str(created["Role"]["Arn"])
    partition = arn.split(":")[1]
    aws_call(
        "PutRolePolicy",
        iam.put_role_policy,
        RoleName=name,
        PolicyName="corral-delete-cluster-stacks",
        PolicyDocument=json.dumps(deleter_policy(clients.account_id(), clients.region, partition)),
    )
    return arn


def delete_own_stack(clients: AwsClients, cluster_name: str) -> None:
    """DeleteStack of the cluster's root stack with the deleter role (CloudFormation deletes what
    the stack holds with that role's permissions, not the caller's)."""
    arn = deleter_role_arn(clients.account_id(), clients.region, _partition(clients))
    aws_call("DeleteStack", clients.cfn.delete_stack, StackName=cluster_name, RoleARN=arn)


def _partition(clients: AwsClients) -> str:
    region = clients.region
    if region.startswith("cn-"):
        return "aws-cn"
    return "aws-us-gov" if region.startswith("us-gov-") else "aws"


__all__ = [
    "CorralError",
    "delete_own_stack",
    "deleter_policy",
    "deleter_role_arn",
    "deleter_role_name",
    "ensure_deleter_role",
]

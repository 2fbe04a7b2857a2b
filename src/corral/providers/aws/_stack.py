"""The cluster's CloudFormation stack: the artefact bucket, create, wait (reporting events), read, delete.

The stack is named after the cluster, as ParallelCluster names it, so ``aws cloudformation
describe-stacks --stack-name <cluster>`` finds it. Templates are uploaded to a per-account bucket
(``corral-<account>-<region>``, created when missing) because nested stacks need template URLs and
a root template may exceed CreateStack's 51,200-byte inline limit.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from corral.errors import NotFoundError, ProviderError
from corral.providers.aws._clients import AwsClients
from corral.providers.aws._errors import BOTO_ERRORS, aws_call, error_code, translate

#: Stack statuses at which a create has finished well or badly.
CREATE_DONE = frozenset({"CREATE_COMPLETE"})
CREATE_FAILED = frozenset(
    {"CREATE_FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "DELETE_COMPLETE", "DELETE_FAILED"}
)
DELETE_DONE = frozenset({"DELETE_COMPLETE"})
DELETE_FAILED = frozenset({"DELETE_FAILED"})

EventReport = Callable[[str, str], None]


def poll_interval(clients: AwsClients) -> float:
    """Seconds between two polls (``CORRAL_AWS_POLL_S`` in the clients' settings, default 5)."""
    return clients.settings.poll_s


def bucket_name(account: str, region: str) -> str:
    """The deterministic per-account, per-region artefact bucket."""
    return f"corral-{account}-{region}"[:63]


def ensure_bucket(clients: AwsClients) -> str:
    """The artefact bucket, created when it does not exist yet (every public access blocked)."""
    name = bucket_name(clients.account_id(), clients.region)
    s3 = clients.s3
    try:
        s3.head_bucket(Bucket=name)
        return name
    except BOTO_ERRORS as exc:
        if error_code(exc) not in ("404", "NoSuchBucket", "NotFound"):
            raise translate(exc, "HeadBucket") from exc
    kwargs: dict[str, Any] = {"Bucket": name}
    if clients.region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": clients.region}
    aws_call("CreateBucket", s3.create_bucket, **kwargs)
    block = {
        k: True for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
    }
    aws_call(
        "PutPublicAccessBlock", s3.put_public_access_block, Bucket=name, PublicAccessBlockConfiguration=block
    )
    return name


def existing_bucket(clients: AwsClients, name: str) -> str:
    """``name`` (the config's ``CustomS3Bucket``) after checking that it exists and is reachable."""
    try:
        clients.s3.head_bucket(Bucket=name)
    except BOTO_ERRORS as exc:
        if error_code(exc) in ("404", "NoSuchBucket", "NotFound"):
            raise NotFoundError(
                f"CustomS3Bucket {name!r} does not exist",
                hint="create it first, or drop CustomS3Bucket to let Corral use corral-<account>-<region>",
            ) from exc
        raise translate(exc, "HeadBucket") from exc
    return name


def upload(clients: AwsClients, bucket: str, key: str, body: str) -> str:
    """Put ``body`` at ``s3://bucket/key``; returns its HTTPS URL (what CloudFormation reads).

    The URL is S3's own virtual-hosted form even when ``AWS_ENDPOINT_URL`` points elsewhere:
    CloudFormation (AWS's, or an emulator's such as moto's) resolves it against its S3."""
    aws_call("PutObject", clients.s3.put_object, Bucket=bucket, Key=key, Body=body.encode())
    return f"https://{bucket}.s3.{clients.region}.amazonaws.com/{key}"


def read_object(clients: AwsClients, bucket: str, key: str) -> str:
    body = aws_call("GetObject", clients.s3.get_object, Bucket=bucket, Key=key)["Body"]
    return str(body.read().decode())


def delete_prefix(clients: AwsClients, bucket: str, prefix: str) -> None:
    """Remove every object under ``prefix`` (the cluster's artefacts) from the bucket, every page of
    them. A bucket that is already gone holds nothing: done."""
    token: str | None = None
    while True:
        try:
            listed = clients.s3.list_objects_v2(
                Bucket=bucket, Prefix=prefix, **({"ContinuationToken": token} if token else {})
            )
        except BOTO_ERRORS as exc:
            if error_code(exc) in ("NoSuchBucket", "404", "NotFound"):
                return
            raise translate(exc, "ListObjectsV2") from exc
        keys = [{"Key": o["Key"]} for o in listed.get("Contents", [])]
        if keys:
            aws_call("DeleteObjects", clients.s3.delete_objects, Bucket=bucket, Delete={"Objects": keys})
        token = listed.get("NextContinuationToken")
        if not token:
            return


@dataclass(frozen=True)
class StackView:
    """What DescribeStacks says about the cluster's stack."""

    stack_id: str
    status: str
    reason: str
    outputs: Mapping[str, str]


def describe(clients: AwsClients, name: str) -> StackView | None:
    """The stack, or None when there is none (or it is DELETE_COMPLETE)."""
    try:
        found = clients.cfn.describe_stacks(StackName=name)["Stacks"]
    except BOTO_ERRORS as exc:
        if error_code(exc) == "ValidationError" and "does not exist" in str(exc):
            return None
        raise translate(exc, "DescribeStacks") from exc
    if not found or found[0]["StackStatus"] == "DELETE_COMPLETE":
        return None
    stack = found[0]
    outputs = {o["OutputKey"]: str(o.get("OutputValue", "")) for o in stack.get("Outputs", [])}
    return StackView(stack["StackId"], stack["StackStatus"], stack.get("StackStatusReason", ""), outputs)


def create(
    clients: AwsClients,
    name: str,
    template_url: str,
    *,
    tags: Mapping[str, str],
    parameters: Mapping[str, str] | None = None,
    rollback: bool,
) -> str:
    """CreateStack (IAM capabilities granted, ``OnFailure`` per ``rollback``); returns the stack id."""
    result = aws_call(
        "CreateStack",
        clients.cfn.create_stack,
        StackName=name,
        TemplateURL=template_url,
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
        OnFailure="ROLLBACK" if rollback else "DO_NOTHING",
        Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in (parameters or {}).items()],
    )
    return str(result["StackId"])


def delete(clients: AwsClients, name: str) -> None:
    aws_call("DeleteStack", clients.cfn.delete_stack, StackName=name)


def wait(
    clients: AwsClients,
    name: str,
    *,
    done: frozenset[str],
    failed: frozenset[str],
    report: EventReport | None = None,
    timeout_s: float = 3600.0,
) -> StackView | None:
    """Poll until the stack reaches a status in ``done`` (returned) or ``failed`` (``ProviderError``
    naming the first failed resource). New stack events go to ``report(resource, message)``. A stack
    that disappears while waiting for DELETE_COMPLETE returns None."""
    seen: set[str] = set()
    deadline = time.monotonic() + timeout_s
    while True:
        view = describe(clients, name)
        if report is not None:
            _report_new_events(clients, name, seen, report)
        if view is None:
            if "DELETE_COMPLETE" in done:
                return None
            raise ProviderError(f"stack {name!r} disappeared", hint="see `corral get-cluster-stack-events`")
        if view.status in done:
            return view
        if view.status in failed:
            raise ProviderError(
                f"stack {name!r} is {view.status}: {first_failure(clients, name) or view.reason}",
                hint=f"see `corral get-cluster-stack-events -n {name}` for every resource's status",
            )
        if time.monotonic() > deadline:
            raise ProviderError(
                f"stack {name!r} is still {view.status} after {timeout_s:.0f} s",
                hint="look at the stack in the CloudFormation console; delete the cluster to clean up",
            )
        time.sleep(poll_interval(clients))


def _pages(operation: str, method: Any, items_key: str, **kwargs: Any) -> list[dict[str, Any]]:
    """Every item of a NextToken-paginated CloudFormation call, errors translated."""
    found: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        page = aws_call(operation, method, **kwargs, **({"NextToken": token} if token else {}))
        found.extend(page.get(items_key, []))
        token = page.get("NextToken")
        if not token:
            return found


def resources(clients: AwsClients, name: str) -> list[dict[str, Any]]:
    """The stack's resources (ListStackResources, every page)."""
    return _pages(
        "ListStackResources", clients.cfn.list_stack_resources, "StackResourceSummaries", StackName=name
    )


def tree_outputs(clients: AwsClients, name: str, need: Iterable[str] = ()) -> dict[str, str]:
    """The root stack's Outputs; when one of ``need`` is missing, completed from the nested stacks'
    Outputs (the root's win), with ``NodeStateTableName`` from the root's DynamoDB table and
    ``LogGroupName`` from its log group.

    The root re-exports what the provider needs, so on AWS one DescribeStacks answers (the head
    node's role may call no more); the completion exists because some emulators (moto 5.2) cannot
    evaluate ``GetAtt Nested.Outputs.X`` and then return no root Outputs at all."""
    root = describe(clients, name)
    if root is None:
        return {}
    if all(key in root.outputs for key in need):
        return dict(root.outputs)
    merged: dict[str, str] = {}
    for resource in resources(clients, name):
        kind, physical = resource["ResourceType"], resource.get("PhysicalResourceId", "")
        if kind == "AWS::CloudFormation::Stack" and physical:
            nested = describe(clients, physical)
            if nested is not None:
                merged.update(nested.outputs)
        elif kind == "AWS::DynamoDB::Table" and physical:
            merged.setdefault("NodeStateTableName", physical)
        elif kind == "AWS::Logs::LogGroup" and physical:
            merged.setdefault("LogGroupName", physical)
        elif kind == "AWS::Route53::HostedZone" and physical:
            merged.setdefault("HostedZoneId", physical)
    merged.update(root.outputs)
    return merged


def events(clients: AwsClients, name: str) -> list[dict[str, Any]]:
    """The stack's events, oldest first."""
    found = _pages("DescribeStackEvents", clients.cfn.describe_stack_events, "StackEvents", StackName=name)
    return sorted(found, key=lambda e: e["Timestamp"])


def _report_new_events(clients: AwsClients, name: str, seen: set[str], report: EventReport) -> None:
    try:
        found = events(clients, name)
    except ProviderError:
        return  # the stack is gone; its events with it
    for event in found:
        if event["EventId"] in seen:
            continue
        seen.add(event["EventId"])
        reason = event.get("ResourceStatusReason") or ""
        report(event["LogicalResourceId"], f"{event['ResourceStatus']} {reason}".strip())


def first_failure(clients: AwsClients, name: str) -> str:
    """``"<LogicalId>: <reason>"`` of the earliest resource that failed, or ``""``."""
    try:
        found = events(clients, name)
    except ProviderError:
        return ""
    for event in found:
        if event["ResourceStatus"].endswith("_FAILED") and event.get("ResourceStatusReason"):
            return f"{event['LogicalResourceId']}: {event['ResourceStatusReason']}"
    return ""


__all__ = [
    "CREATE_DONE",
    "CREATE_FAILED",
    "DELETE_DONE",
    "DELETE_FAILED",
    "StackView",
    "bucket_name",
    "create",
    "delete",
    "delete_prefix",
    "describe",
    "ensure_bucket",
    "events",
    "existing_bucket",
    "first_failure",
    "poll_interval",
    "read_object",
    "resources",
    "tree_outputs",
    "upload",
    "wait",
]

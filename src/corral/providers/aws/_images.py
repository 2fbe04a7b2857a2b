"""``build-image``, ``describe-image``, ``list-images`` and ``delete-image`` on AWS (#20.7).

An image is a CloudFormation stack named after the image id (``template._image``: EC2 Image
Builder components, recipe, infrastructure and distribution configuration, the image, its role and
build log group) and, once Image Builder has distributed it, an AMI tagged
``corral:image-id=<id>``. The config and template live under ``corral/images/<id>/`` in the
per-account artefact bucket (or ``CustomS3Bucket``).

pcluster's ``imageBuildStatus`` comes from both (``build_status``, pure): an AMI means
BUILD_COMPLETE, unless the stack is being deleted (DELETE_IN_PROGRESS / DELETE_FAILED); without
an AMI the stack's status maps as pcluster's: CREATE_IN_PROGRESS -> BUILD_IN_PROGRESS, CREATE_FAILED
and every ROLLBACK_* -> BUILD_FAILED, CREATE_COMPLETE -> BUILD_COMPLETE, DELETE_* as they are.
``imagebuilderImageStatus`` is Image Builder's own (GetImage) while the stack's image exists.

Corral keeps the build stack after a successful build (pcluster's cleanup Lambda deletes it; Corral
creates no Lambda functions): ``delete-image`` removes the AMI, its snapshots, the stack and the
artefacts.
"""

from __future__ import annotations

import contextlib
import json
import re
from datetime import datetime
from typing import Any

from corral import __version__
from corral.errors import BadRequestError, ConflictError, CorralError, NotFoundError
from corral.providers.aws import _stack
from corral.providers.aws._clients import AwsClients
from corral.providers.aws._errors import BOTO_ERRORS, aws_call, error_code, translate
from corral.providers.aws.template._image import (
    IMAGE_ID_TAG,
    IMAGE_RESOURCE,
    VERSION_TAG,
    build_image_template,
    image_log_group,
)

_BUILDING = {"CREATE_IN_PROGRESS": "BUILD_IN_PROGRESS", "CREATE_COMPLETE": "BUILD_COMPLETE"}
_DELETING = ("DELETE_IN_PROGRESS", "DELETE_FAILED", "DELETE_COMPLETE")
#: list-images --image-status -> the imageBuildStatus values it lists
STATUS_FILTER = {
    "AVAILABLE": ("BUILD_COMPLETE",),
    "PENDING": ("BUILD_IN_PROGRESS",),
    "FAILED": ("BUILD_FAILED", "DELETE_FAILED"),
}


def prefix(image_id: str) -> str:
    return f"corral/images/{image_id}/"


def build_status(stack_status: str | None, has_ami: bool) -> str:
    """pcluster's ``imageBuildStatus`` from the stack's status (None: no stack) and whether the
    AMI exists. Pure."""
    if stack_status in _DELETING:
        return str(stack_status)
    if has_ami:
        return "BUILD_COMPLETE"
    if stack_status is None:
        return "DELETE_COMPLETE"
    if stack_status in _BUILDING:
        return _BUILDING[stack_status]
    if stack_status == "CREATE_FAILED" or stack_status.startswith("ROLLBACK"):
        return "BUILD_FAILED"
    return "BUILD_COMPLETE" if stack_status.startswith("UPDATE") else "BUILD_IN_PROGRESS"


def summary(
    image_id: str, region: str, stack: dict[str, Any] | None, ami: dict[str, Any] | None
) -> dict[str, Any]:
    """pcluster's ``ImageInfoSummary`` from DescribeStacks' and DescribeImages' entries. Pure."""
    out: dict[str, Any] = {
        "imageId": image_id,
        "imageBuildStatus": build_status(stack["StackStatus"] if stack else None, ami is not None),
        "region": region,
        "version": _version(stack, ami),
    }
    if stack is not None:
        out["cloudformationStackStatus"] = stack["StackStatus"]
        out["cloudformationStackArn"] = stack["StackId"]
    if ami is not None:
        out["ec2AmiInfo"] = {"amiId": ami["ImageId"]}
    return out


def _tags(entry: dict[str, Any] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in (entry or {}).get("Tags", [])}


def _version(stack: dict[str, Any] | None, ami: dict[str, Any] | None) -> str:
    return _tags(ami).get(VERSION_TAG) or _tags(stack).get(VERSION_TAG) or __version__


def describe_document(
    image_id: str,
    region: str,
    stack: dict[str, Any] | None,
    ami: dict[str, Any] | None,
    builder_image: dict[str, Any] | None,
    config_url: str,
    account: str,
) -> dict[str, Any]:
    """pcluster's ``DescribeImageResponseContent``. Pure: ``stack`` a DescribeStacks entry,
    ``ami`` a DescribeImages entry, ``builder_image`` Image Builder's GetImage ``image``."""
    base = summary(image_id, region, stack, ami)
    out: dict[str, Any] = {
        "imageId": image_id,
        "region": region,
        "version": base["version"],
        "imageBuildStatus": base["imageBuildStatus"],
        "imageConfiguration": {"url": config_url},
        "imageBuildLogsArn": f"arn:aws:logs:{region}:{account}:log-group:{image_log_group(image_id)}",
    }
    if stack is not None:
        out["cloudformationStackStatus"] = stack["StackStatus"]
        if stack.get("StackStatusReason"):
            out["cloudformationStackStatusReason"] = stack["StackStatusReason"]
        out["cloudformationStackArn"] = stack["StackId"]
        out["cloudformationStackCreationTime"] = _iso(stack.get("CreationTime"))
        out["cloudformationStackTags"] = [{"key": k, "value": v} for k, v in sorted(_tags(stack).items())]
        out["creationTime"] = out["cloudformationStackCreationTime"]
    if builder_image is not None:
        state = builder_image.get("state", {})
        out["imagebuilderImageStatus"] = state.get("status", "")
        if state.get("reason"):
            out["imagebuilderImageStatusReason"] = state["reason"]
    if ami is not None:
        out["creationTime"] = _iso(ami.get("CreationDate"))
        out["ec2AmiInfo"] = {
            "amiId": ami["ImageId"],
            "amiName": ami.get("Name", ""),
            "architecture": ami.get("Architecture", ""),
            "state": str(ami.get("State", "")).upper(),
            "description": ami.get("Description", ""),
            "tags": [{"key": k, "value": v} for k, v in sorted(_tags(ami).items())],
        }
    return out


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return str(value or "")


# -- reading AWS -------------------------------------------------------------------------------


def find_ami(clients: AwsClients, image_id: str) -> dict[str, Any] | None:
    found = aws_call(
        "DescribeImages",
        clients.ec2.describe_images,
        Owners=["self"],
        Filters=[{"Name": f"tag:{IMAGE_ID_TAG}", "Values": [image_id]}],
    )["Images"]
    return found[0] if found else None


def find_stack(clients: AwsClients, image_id: str) -> dict[str, Any] | None:
    """The image's stack (DescribeStacks entry) when it carries ``corral:image-id``, else None."""
    try:
        found = clients.cfn.describe_stacks(StackName=image_id)["Stacks"]
    except BOTO_ERRORS as exc:
        if error_code(exc) == "ValidationError":
            return None
        raise translate(exc, "DescribeStacks") from exc
    stack = found[0] if found else None
    if stack is None or stack["StackStatus"] == "DELETE_COMPLETE":
        return None
    return stack if _tags(stack).get(IMAGE_ID_TAG) == image_id else None


def builder_image(clients: AwsClients, image_id: str) -> dict[str, Any] | None:
    """Image Builder's view of the stack's image (GetImage), or None when it cannot be read (no
    image yet, or an endpoint without Image Builder)."""
    try:
        found = [r for r in _stack.resources(clients, image_id) if r["LogicalResourceId"] == IMAGE_RESOURCE]
        arn = found[0].get("PhysicalResourceId", "") if found else ""
        if not arn.startswith("arn:"):
            return None
        return dict(clients.client("imagebuilder").get_image(imageBuildVersionArn=arn)["image"])
    except (CorralError, *BOTO_ERRORS):  # type: ignore[misc]  # no Image Builder here, or no image yet
        return None


def image_stacks(clients: AwsClients) -> list[dict[str, Any]]:
    """Every stack of this region that carries ``corral:image-id``."""
    pages = aws_call("DescribeStacks", lambda: list(clients.cfn.get_paginator("describe_stacks").paginate()))
    return [
        s
        for page in pages
        for s in page.get("Stacks", [])
        if IMAGE_ID_TAG in _tags(s) and s["StackStatus"] != "DELETE_COMPLETE"
    ]


def image_amis(clients: AwsClients) -> list[dict[str, Any]]:
    return list(
        aws_call(
            "DescribeImages",
            clients.ec2.describe_images,
            Owners=["self"],
            Filters=[{"Name": "tag-key", "Values": [IMAGE_ID_TAG]}],
        )["Images"]
    )


# -- the verbs ---------------------------------------------------------------------------------


def _root_device(clients: AwsClients, parent: str) -> str:
    """The parent AMI's root device name (an Image Builder ARN parent: ``/dev/xvda``)."""
    if not parent.startswith("ami-"):
        return "/dev/xvda"
    try:
        found = clients.ec2.describe_images(ImageIds=[parent])["Images"]
    except BOTO_ERRORS as exc:
        if not error_code(exc).startswith("InvalidAMIID"):
            raise translate(exc, "DescribeImages") from exc
        found = []
    if not found:
        raise BadRequestError(
            f"Build/ParentImage {parent!r} does not exist in {clients.region}",
            hint="name an AMI of this region (aws ec2 describe-images --image-ids ...)",
        )
    return str(found[0].get("RootDeviceName") or "/dev/xvda")


def build(
    clients: AwsClients, config: Any, config_text: str, image_id: str, *, rollback: bool
) -> dict[str, Any]:
    """Upload the config and template, CreateStack; pcluster's ImageInfoSummary (BUILD_IN_PROGRESS)."""
    if find_ami(clients, image_id) is not None or find_stack(clients, image_id) is not None:
        raise ConflictError(
            f"ParallelCluster image {image_id} already exists",
            hint=f"choose another image id, or delete it first: corral delete-image -i {image_id}",
        )
    if not re.fullmatch(r"[a-zA-Z][a-zA-Z0-9-]{0,127}", image_id):
        raise BadRequestError(
            f"image id {image_id!r} is not a valid stack name",
            hint="letters, digits and '-', starting with a letter",
        )
    bucket = (
        _stack.existing_bucket(clients, config.custom_s3_bucket)
        if config.custom_s3_bucket
        else _stack.ensure_bucket(clients)
    )
    template = build_image_template(
        config, image_id, root_device=_root_device(clients, config.build.parent_image)
    )
    _stack.upload(clients, bucket, prefix(image_id) + "image-config.yaml", config_text)
    url = _stack.upload(
        clients, bucket, prefix(image_id) + "image.json", json.dumps(template, sort_keys=True)
    )
    tags = {t.key: t.value for t in config.build.tags}
    tags.update({IMAGE_ID_TAG: image_id, VERSION_TAG: __version__, "corral:bucket": bucket})
    stack_id = _stack.create(clients, image_id, url, tags=tags, rollback=rollback)
    return {
        "imageId": image_id,
        "imageBuildStatus": "BUILD_IN_PROGRESS",
        "cloudformationStackStatus": "CREATE_IN_PROGRESS",
        "cloudformationStackArn": stack_id,
        "region": clients.region,
        "version": __version__,
    }


def describe(clients: AwsClients, image_id: str) -> dict[str, Any]:
    stack, ami = find_stack(clients, image_id), find_ami(clients, image_id)
    if stack is None and ami is None:
        raise NotFoundError(f"No image or stack associated with ParallelCluster image id: {image_id}.")
    bucket = _tags(stack).get("corral:bucket") or _stack.bucket_name(clients.account_id(), clients.region)
    url = clients.s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": prefix(image_id) + "image-config.yaml"}, ExpiresIn=3600
    )
    builder = builder_image(clients, image_id) if stack is not None else None
    return describe_document(image_id, clients.region, stack, ami, builder, url, clients.account_id())


def list_all(clients: AwsClients, image_status: str) -> list[dict[str, Any]]:
    wanted = STATUS_FILTER.get(image_status)
    if wanted is None:
        raise BadRequestError(
            f"unknown image status {image_status!r}", hint="use AVAILABLE, PENDING or FAILED"
        )
    amis = {_tags(a)[IMAGE_ID_TAG]: a for a in image_amis(clients)}
    stacks = {_tags(s)[IMAGE_ID_TAG]: s for s in image_stacks(clients)}
    found = [summary(i, clients.region, stacks.get(i), amis.get(i)) for i in sorted(set(amis) | set(stacks))]
    return [s for s in found if s["imageBuildStatus"] in wanted]


def delete(clients: AwsClients, image_id: str, *, force: bool) -> dict[str, Any]:
    """Deregister the AMI (and delete its snapshots), DeleteStack, remove the artefacts;
    pcluster's ImageInfoSummary (DELETE_IN_PROGRESS). An AMI instances still run from is refused
    without ``force``, as pcluster refuses it."""
    stack, ami = find_stack(clients, image_id), find_ami(clients, image_id)
    if stack is None and ami is None:
        raise NotFoundError(f"No image or stack associated with ParallelCluster image id: {image_id}.")
    if ami is not None and not force:
        _refuse_in_use(clients, image_id, ami["ImageId"])
    if ami is not None:
        aws_call("DeregisterImage", clients.ec2.deregister_image, ImageId=ami["ImageId"])
        for device in ami.get("BlockDeviceMappings", []):
            snapshot = device.get("Ebs", {}).get("SnapshotId")
            if snapshot:  # already gone, or shared: the AMI itself is gone
                with contextlib.suppress(CorralError):
                    aws_call("DeleteSnapshot", clients.ec2.delete_snapshot, SnapshotId=snapshot)
    bucket = _tags(stack).get("corral:bucket") or _stack.bucket_name(clients.account_id(), clients.region)
    if stack is not None:
        _stack.delete(clients, image_id)
    _stack.delete_prefix(clients, bucket, prefix(image_id))
    out = summary(image_id, clients.region, stack, ami)
    out["imageBuildStatus"] = "DELETE_IN_PROGRESS"
    if stack is not None:
        out["cloudformationStackStatus"] = "DELETE_IN_PROGRESS"
    return out


def stack_event(event: dict[str, Any]) -> dict[str, Any]:
    """pcluster's ``StackEvent`` from one DescribeStackEvents entry. Pure."""
    out: dict[str, Any] = {
        "stackId": event["StackId"],
        "eventId": event["EventId"],
        "stackName": event["StackName"],
        "logicalResourceId": event.get("LogicalResourceId", ""),
        "physicalResourceId": event.get("PhysicalResourceId", ""),
        "resourceType": event.get("ResourceType", ""),
        "timestamp": _iso(event.get("Timestamp")),
        "resourceStatus": event.get("ResourceStatus", ""),
    }
    for key, name in (
        ("ResourceStatusReason", "resourceStatusReason"),
        ("ResourceProperties", "resourceProperties"),
        ("ClientRequestToken", "clientRequestToken"),
    ):
        if event.get(key):
            out[name] = event[key]
    return out


def stack_events(clients: AwsClients, image_id: str) -> list[dict[str, Any]]:
    """The image stack's events, newest first (``get-image-stack-events``)."""
    stack = find_stack(clients, image_id)
    if stack is None:
        raise NotFoundError(f"No stack associated with ParallelCluster image id: {image_id}.")
    return [stack_event(e) for e in reversed(_stack.events(clients, stack["StackId"]))]


def log_sources(clients: AwsClients, image_id: str) -> list[Any]:
    """The streams of the build's log group (Image Builder writes ``<version>/<build>``)."""
    from corral.providers.aws._cloudwatch import log_sources as group_sources

    if find_stack(clients, image_id) is None and find_ami(clients, image_id) is None:
        raise NotFoundError(f"No image or stack associated with ParallelCluster image id: {image_id}.")
    return group_sources(clients, image_log_group(image_id), None)


def _refuse_in_use(clients: AwsClients, image_id: str, ami_id: str) -> None:
    running = aws_call(
        "DescribeInstances",
        clients.ec2.describe_instances,
        Filters=[
            {"Name": "image-id", "Values": [ami_id]},
            {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]},
        ],
    )["Reservations"]
    ids = sorted(i["InstanceId"] for r in running for i in r["Instances"])
    if ids:
        raise BadRequestError(
            f"Unable to delete image {image_id}: AMI {ami_id} is used by instances {', '.join(ids)}",
            hint="terminate them (delete the clusters that use it), or pass --force true",
        )


__all__ = [
    "STATUS_FILTER",
    "build",
    "build_status",
    "delete",
    "describe",
    "describe_document",
    "list_all",
    "summary",
]

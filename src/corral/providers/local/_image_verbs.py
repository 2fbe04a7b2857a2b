"""The image verbs of the local provider, in pcluster's JSON shapes (``openapi.yaml``):
``build-image`` (``_image_request``), ``describe-image``, ``list-images``, ``delete-image``, and
the image's log streams and stack events. ``LocalProvider`` inherits them."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

from corral import __version__
from corral.config.loader import load_image_config_text
from corral.errors import BadRequestError, ConflictError, ProviderError
from corral.images import status as st
from corral.providers.base import EventSink, LogSource, NodeRole
from corral.providers.local import _image_nodes, _image_request, _proc
from corral.providers.local._image_store import ImageRecord, ImageStore, log_stream_name

BUILDER_MARK = "corral.providers.local._image_build"
LOCAL_REGION = "local"


def _region(record: ImageRecord) -> str:
    return record.region or LOCAL_REGION


def stack_arn(record: ImageRecord) -> str:
    return f"arn:corral:cloudformation:{_region(record)}::stack/{record.image_id}/{record.ami_id}"


def logs_arn(record: ImageRecord) -> str:
    return f"arn:corral:logs:{_region(record)}::log-group:/corral/imagebuilder/{record.image_id}"


def summary(record: ImageRecord) -> dict[str, Any]:
    """pcluster's ``ImageInfoSummary``."""
    doc: dict[str, Any] = {
        "imageId": record.image_id,
        "imageBuildStatus": record.status,
        "cloudformationStackStatus": st.STACK_STATUS.get(record.status, "CREATE_IN_PROGRESS"),
        "cloudformationStackArn": stack_arn(record),
        "region": _region(record),
        "version": record.version or __version__,
    }
    if record.status in (st.BUILD_COMPLETE, st.DELETE_IN_PROGRESS, st.DELETE_FAILED):
        doc["ec2AmiInfo"] = {"amiId": record.ami_id}
    return doc


def describe(store: ImageStore, record: ImageRecord) -> dict[str, Any]:
    """pcluster's ``DescribeImageResponseContent``."""
    doc = summary(record)
    tags = [{"key": "parallelcluster:image_id", "value": record.image_id}]
    tags += [{"key": k, "value": v} for k, v in record.tags]
    doc.update(
        {
            "imageBuildLogsArn": logs_arn(record),
            "cloudformationStackTags": tags,
            "imageConfiguration": {"url": store.config_path(record.image_id).as_uri()},
            "imagebuilderImageStatus": record.imagebuilder_status,
        }
    )
    if record.created:
        doc["creationTime"] = doc["cloudformationStackCreationTime"] = record.created
    if record.reason:
        doc["cloudformationStackStatusReason"] = record.reason
        doc["imagebuilderImageStatusReason"] = record.reason
    manifest = store.manifest(record.image_id)
    if manifest is not None and record.status == st.BUILD_COMPLETE:
        doc["ec2AmiInfo"] = {
            "amiId": manifest.ami_id,
            "amiName": manifest.name,
            "architecture": manifest.architecture,
            "state": st.AMI_STATE[record.status],
            "tags": [{"key": k, "value": v} for k, v in manifest.tags],
            "description": manifest.description,
        }
    return doc


def builder_alive(record: ImageRecord) -> bool:
    """Whether the image's builder still runs. Just after the spawn its pid may still show the
    requesting corral's command line (before the exec): that counts as alive too."""
    if not record.builder_pid or not _proc.alive(record.builder_pid):
        return False
    argv = " ".join(_proc.cmdline(record.builder_pid))
    return BUILDER_MARK in argv or "corral" in argv


def settle(store: ImageStore, record: ImageRecord) -> ImageRecord:
    """A build whose builder is gone without saying so (``kill -9``) failed: record it."""
    if record.status != st.BUILD_IN_PROGRESS or builder_alive(record):
        return record
    current = store.get(record.image_id)
    if current.status != st.BUILD_IN_PROGRESS or builder_alive(current):
        return current
    reason = f"the image builder (pid {current.builder_pid}) ended without finishing the build"
    store.add_event(record.image_id, "ImageBuilderImage", "CREATE_FAILED", reason)
    return store.transition(record.image_id, st.BUILD_FAILED, reason=reason, imagebuilder_status="FAILED")


class LocalImageVerbs:
    """Mixin of ``LocalProvider`` (which provides ``state_dir``)."""

    state_dir: Path

    @property
    def image_store(self) -> ImageStore:
        return ImageStore(self.state_dir)

    def build_image(
        self,
        config_text: str,
        image_id: str,
        *,
        region: str | None,
        rollback_on_failure: bool = True,
        on_event: EventSink,
    ) -> dict[str, Any]:
        loaded = load_image_config_text(config_text, "image-config.yaml")
        record = _image_request.start_build(
            self.state_dir,
            loaded.config,
            image_id,
            config_text=config_text,
            region=region or loaded.config.region or LOCAL_REGION,
            version=__version__,
            rollback_on_failure=rollback_on_failure,
        )
        on_event(image_id, f"building {record.ami_id} (builder pid {record.builder_pid})")
        return summary(record)

    def describe_image(self, image_id: str, *, region: str | None) -> dict[str, Any]:
        store = self.image_store
        return describe(store, settle(store, store.get(image_id)))

    def list_images(self, *, image_status: str, region: str | None) -> list[dict[str, Any]]:
        if image_status not in st.STATUS_FILTER:
            raise BadRequestError(
                f"Bad Request: imageStatus {image_status!r} is not one of {', '.join(st.STATUS_FILTER)}"
            )
        store = self.image_store
        records = [settle(store, r) for r in store.records()]
        return [summary(r) for r in records if r.status in st.STATUS_FILTER[image_status]]

    def delete_image(self, image_id: str, *, region: str | None, force: bool = False) -> dict[str, Any]:
        store = self.image_store
        record = store.get(image_id)
        children = [
            r.image_id for r in store.records() if r.parent_ami == record.ami_id and r.image_id != image_id
        ]
        if children:
            raise ConflictError(
                f"Image '{image_id}' is the parent of {', '.join(children)}: their layers stack over it",
                hint=f"delete {', '.join(children)} first",
            )
        deleting = store.transition(image_id, st.DELETE_IN_PROGRESS, reason="")
        store.add_event(image_id, image_id, "DELETE_IN_PROGRESS", "User Initiated")
        try:
            remove_image(store, record)
        except (OSError, ProviderError) as exc:
            store.write(replace(deleting, status=st.DELETE_FAILED, reason=str(exc)))
            raise ProviderError(f"could not delete image {image_id}: {exc}") from exc
        return summary(deleting)

    def image_log_sources(self, image_id: str, *, region: str | None) -> list[LogSource]:
        store = self.image_store
        record = store.get(image_id)
        stream = log_stream_name(record.version)
        out = []
        for name, path in ((stream, store.logs_dir(image_id) / f"{stream.replace('/', '-')}.log"),):
            if path.exists():
                out.append(
                    LogSource(
                        name, path, NodeRole.HEAD, "imagebuilder", "imagebuilder", image_id, "imagebuilder"
                    )
                )
        return out

    def image_stack_events(self, image_id: str, *, region: str | None) -> list[dict[str, Any]]:
        store = self.image_store
        record = store.get(image_id)
        arn = stack_arn(record)
        events = []
        for n, event in enumerate(store.events(image_id)):
            doc = {
                "eventId": f"{record.ami_id}-{n}",
                "logicalResourceId": event["resource"],
                "physicalResourceId": arn if event["resource"] == image_id else event["resource"],
                "resourceStatus": event["status"],
                "resourceType": "AWS::CloudFormation::Stack"
                if event["resource"] == image_id
                else "AWS::ImageBuilder::Image",
                "stackId": arn,
                "stackName": image_id,
                "timestamp": event["timestamp"],
            }
            if event.get("reason"):
                doc["resourceStatusReason"] = event["reason"]
            events.append(doc)
        return list(reversed(events))


def remove_image(store: ImageStore, record: ImageRecord) -> None:
    """Stop the builder and every node of the image, then remove its directory: no process,
    network namespace, mount or layer is left."""
    if builder_alive(record):
        _proc.kill_pids([record.builder_pid], grace_s=5.0)
    nodes = store.nodes_dir(record.image_id)
    if nodes.is_dir():
        for directory in sorted(nodes.iterdir()):
            _image_nodes.stop(directory)
    shutil.rmtree(store.dir(record.image_id))


__all__ = ["LocalImageVerbs", "describe", "remove_image", "settle", "summary"]

"""The image verbs of ``ClusterService``: ``build-image`` (validated here, then built by the
provider), ``describe-image``, ``list-images``, ``delete-image`` (refused for an image a cluster
uses, unless forced), ``list-image-log-streams``, ``get-image-log-events``,
``get-image-stack-events`` and ``export-image-logs``, in pcluster's JSON shapes. The provider
does the work and answers in those shapes; the logs are read like a cluster's (``_log_access``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Unpack

from corral.config.findings import Level
from corral.errors import BadRequestError, ConflictError
from corral.providers import DEFAULT_PROVIDER
from corral.providers.base import Provider
from corral.service._log_access import (
    EventQuery,
    ExportedLogs,
    ExportRequest,
    LogEventList,
    LogStreamList,
)
from corral.service._validate import check_image, check_name

if TYPE_CHECKING:
    from corral.state import StateStore

IMAGE_STATUSES = ("AVAILABLE", "PENDING", "FAILED")


class ImageVerbs:
    """Mixin of ``ClusterService`` (which provides ``store`` and ``provider``)."""

    if TYPE_CHECKING:
        store: StateStore

        def provider(self, name: str) -> Provider: ...

    def build_image(
        self,
        config_path: str | Path,
        *,
        image_id: str,
        suppress: Sequence[str] = (),
        failure_level: Level = Level.ERROR,
        rollback_on_failure: bool = True,
        provider: str = DEFAULT_PROVIDER,
        region: str | None = None,
    ) -> dict[str, Any]:
        """pcluster's ``BuildImageResponseContent``: the image BUILD_IN_PROGRESS and the findings
        below the failure level. ``ConfigError`` (nothing built) when the config does not pass."""
        chosen = self.provider(provider)
        checked = check_image(
            config_path,
            image_id=image_id,
            suppress=suppress,
            failure_level=failure_level,
            target=chosen.traits.validation_target,
        )
        text = Path(config_path).read_text(encoding="utf-8")
        image = chosen.build_image(
            text,
            image_id,
            region=region,
            rollback_on_failure=rollback_on_failure,
            on_event=lambda _r, _m: None,
        )
        doc: dict[str, Any] = {"image": image}
        if checked.findings:
            doc["validationMessages"] = [f.to_validation_message() for f in checked.findings]
        return doc

    def describe_image(
        self, image_id: str, *, provider: str = DEFAULT_PROVIDER, region: str | None = None
    ) -> dict[str, Any]:
        check_name(image_id, "image-id")
        return self.provider(provider).describe_image(image_id, region=region)

    def list_images(
        self,
        image_status: str,
        *,
        next_token: str | None = None,
        provider: str = DEFAULT_PROVIDER,
        region: str | None = None,
    ) -> dict[str, Any]:
        """pcluster's ``ListImagesResponseContent`` (one page: a local store is small)."""
        if image_status not in IMAGE_STATUSES:
            raise BadRequestError(
                f"Bad Request: imageStatus must be one of {', '.join(IMAGE_STATUSES)}, got {image_status!r}"
            )
        if next_token:
            raise BadRequestError("Bad Request: invalid nextToken", hint="list-images answers in one page")
        images = self.provider(provider).list_images(image_status=image_status, region=region)
        return {"images": sorted(images, key=lambda i: str(i["imageId"]))}

    def delete_image(
        self,
        image_id: str,
        *,
        force: bool = False,
        provider: str = DEFAULT_PROVIDER,
        region: str | None = None,
    ) -> dict[str, Any]:
        """pcluster's ``DeleteImageResponseContent``. An image that a cluster's config names
        (``CustomAmi``) is refused unless ``force``."""
        check_name(image_id, "image-id")
        chosen = self.provider(provider)
        described = chosen.describe_image(image_id, region=region)
        ami = str(described.get("ec2AmiInfo", {}).get("amiId", ""))
        users = self.clusters_using(ami) if ami else []
        if users and not force:
            raise ConflictError(
                f"Unable to delete image {image_id}: its AMI {ami} is used by the cluster(s) "
                + ", ".join(users),
                hint=f"delete those clusters first, or `corral delete-image -i {image_id} --force true`",
            )
        return {"image": chosen.delete_image(image_id, region=region, force=force)}

    def clusters_using(self, ami_id: str) -> list[str]:
        """The clusters whose config names ``ami_id``."""
        return sorted(r.name for r in self.store.all() if ami_id in (r.config_text or ""))

    # -- logs and events --------------------------------------------------------------------------
    def list_image_log_streams(
        self,
        image_id: str,
        *,
        next_token: str | None = None,
        provider: str = DEFAULT_PROVIDER,
        region: str | None = None,
    ) -> LogStreamList:
        from corral.service import _log_access

        check_name(image_id, "image-id")
        sources = self.provider(provider).image_log_sources(image_id, region=region)
        where = self.provider(provider).describe_image(image_id, region=region)["region"]
        prefix = f"arn:corral:logs:{where}::log-group:/corral/imagebuilder/{image_id}:log-stream:"
        return _log_access.list_streams(sources, filters=(), next_token=next_token, arn_prefix=prefix)

    def get_image_log_events(
        self,
        image_id: str,
        log_stream_name: str,
        *,
        provider: str = DEFAULT_PROVIDER,
        region: str | None = None,
        **query: Unpack[EventQuery],
    ) -> LogEventList:
        from corral.service import _log_access

        check_name(image_id, "image-id")
        sources = self.provider(provider).image_log_sources(image_id, region=region)
        return _log_access.get_events(sources, log_stream_name, **query)

    def get_image_stack_events(
        self, image_id: str, *, provider: str = DEFAULT_PROVIDER, region: str | None = None
    ) -> dict[str, Any]:
        """pcluster's ``GetImageStackEventsResponseContent``, newest first (all of them: the
        interfaces page it with ``paged_doc``)."""
        check_name(image_id, "image-id")
        return {"events": self.provider(provider).image_stack_events(image_id, region=region)}

    def export_image_logs(
        self,
        image_id: str,
        *,
        provider: str = DEFAULT_PROVIDER,
        region: str | None = None,
        **request: Unpack[ExportRequest],
    ) -> ExportedLogs:
        """``export-image-logs``: a tar.gz of the build's log streams and its stack events."""
        from corral.service import _log_access

        check_name(image_id, "image-id")
        chosen = self.provider(provider)
        sources = chosen.image_log_sources(image_id, region=region)
        events = chosen.image_stack_events(image_id, region=region)
        extra = {f"{image_id}-cfn-events": _log_access.stack_events_text(events)}
        return _log_access.export(image_id, sources, filters=(), extra_files=extra, **request)


__all__ = ["IMAGE_STATUSES", "ImageVerbs"]

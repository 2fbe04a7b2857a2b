"""The image verbs of ``AwsProvider`` (``build-image``, ``describe-image``, ``list-images``,
``delete-image``): EC2 Image Builder stacks, see ``_images``."""

from __future__ import annotations

from typing import Any

from corral.providers.aws._clients import AwsClients
from corral.providers.base import EventSink, LogSource


class AwsImageVerbs:
    """Mixed into ``AwsProvider`` (which gives ``clients``)."""

    def clients(self, region: str | None) -> AwsClients:
        raise NotImplementedError

    def build_image(
        self,
        config_text: str,
        image_id: str,
        *,
        region: str | None,
        rollback_on_failure: bool = True,
        on_event: EventSink,
    ) -> dict[str, Any]:
        """CreateStack of the image's Image Builder stack; returns at once (BUILD_IN_PROGRESS)."""
        from corral.config.loader import load_image_config_text
        from corral.providers.aws import _images

        config = load_image_config_text(config_text).config
        clients = self.clients(region or config.region)
        on_event("CloudFormation", f"creating the Image Builder stack {image_id} in {clients.region}")
        return _images.build(clients, config, config_text, image_id, rollback=rollback_on_failure)

    def describe_image(self, image_id: str, *, region: str | None) -> dict[str, Any]:
        from corral.providers.aws import _images

        return _images.describe(self.clients(region), image_id)

    def list_images(self, *, image_status: str, region: str | None) -> list[dict[str, Any]]:
        from corral.providers.aws import _images

        return _images.list_all(self.clients(region), image_status)

    def delete_image(self, image_id: str, *, region: str | None, force: bool = False) -> dict[str, Any]:
        from corral.providers.aws import _images

        return _images.delete(self.clients(region), image_id, force=force)

    def image_log_sources(self, image_id: str, *, region: str | None) -> list[LogSource]:
        """The build log group's streams, read from CloudWatch Logs."""
        from corral.providers.aws import _images

        return _images.log_sources(self.clients(region), image_id)

    def image_stack_events(self, image_id: str, *, region: str | None) -> list[dict[str, Any]]:
        """The image stack's CloudFormation events, newest first, in pcluster's StackEvent shape."""
        from corral.providers.aws import _images

        return _images.stack_events(self.clients(region), image_id)


__all__ = ["AwsImageVerbs"]

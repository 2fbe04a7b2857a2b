"""Images as the service shows them: ``list-official-images`` (pcluster's ListOfficialImages shape)."""

from __future__ import annotations

from typing import Any

from corral import __version__
from corral.images import official_images


def list_official_images(*, os: str | None = None, architecture: str | None = None) -> dict[str, Any]:
    """``{"images": [AmiInfo, ...]}``: every ``Os`` with the official local image it boots from."""
    return {"images": official_images(__version__, os=os, architecture=architecture)}


__all__ = ["list_official_images"]

"""What the local provider says about a cluster's images, as findings (pure)."""

from __future__ import annotations

from typing import Any

from corral.config.findings import Finding, Level
from corral.images.official import OFFICIAL_OS, official_recipe

OS_CODE = "LocalImageOsValidator"


def os_findings(config: Any, *, nodes_boot_from_images: bool) -> list[Finding]:
    """One INFO for ``Image/Os``: which image the local provider gives that OS."""
    image = getattr(config, "image", None)
    os = str(getattr(image, "os", "") or "")
    if not os:
        return []
    ami = official_recipe().ami_id
    if nodes_boot_from_images:
        message = (
            f"the local provider boots {os} nodes from its official {OFFICIAL_OS} image {ami} "
            "(Debian 13 with Slurm 24.11, munge, OpenSSH and Python 3)"
        )
    else:
        message = (
            f"{os} is not applicable locally: CORRAL_LOCAL_NODE_ROOT=host runs nodes on this machine's own "
            f"root file system and Slurm (unset, they boot from the official {OFFICIAL_OS} image {ami})"
        )
    hint = f"software that needs {os} itself must be installed by a custom action"
    return [Finding(Level.INFO, OS_CODE, "Image/Os", message, hint)]


__all__ = ["OS_CODE", "os_findings"]

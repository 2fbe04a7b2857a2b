"""Node images, decided purely: the official image recipe and its id, the manifest every local
image carries, and how each of ParallelCluster's ``Os`` values maps to an image. Building, storing
and booting images is the providers' job (``corral.providers.local.images``)."""

from corral.images.findings import OS_CODE, os_findings
from corral.images.manifest import ImageManifest
from corral.images.official import (
    OFFICIAL_OS,
    PCLUSTER_OSES,
    OfficialRecipe,
    is_official_id,
    official_images,
    official_recipe,
)

__all__ = [
    "OFFICIAL_OS",
    "OS_CODE",
    "PCLUSTER_OSES",
    "ImageManifest",
    "OfficialRecipe",
    "is_official_id",
    "official_images",
    "official_recipe",
    "os_findings",
]

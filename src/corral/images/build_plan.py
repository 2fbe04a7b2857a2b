"""What a ``build-image`` will do, decided from the image config (pure): the parent, the
components in order, the OS update, the name and tags of the result, its size limit.

The components' documents are fetched by the provider; ``ImageBuildPlan.sources`` says from where
(a path, ``https://`` or ``s3://``; ``arn`` components are refused here, naming the ARN)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from corral.errors import BadRequestError
from corral.images.official import PCLUSTER_OSES, official_recipe

#: ParallelCluster's official parent images as Image Builder ARNs:
#: ``arn:aws:imagebuilder:REGION:aws:image/parallelcluster-3-16-0-alinux2023-x86-64/x.y.z``
PCLUSTER_IMAGE_ARN = re.compile(
    r"^arn:aws[a-z-]*:imagebuilder:[a-z0-9-]+:aws:image/parallelcluster-[0-9-]+-(?P<os>[a-z0-9]+)-"
    r"(?P<arch>x86-64|arm64)/"
)
#: EC2 Image Builder's managed OS images (``.../aws:image/ubuntu-server-22-lts-x86/x.y.z``)
AWS_IMAGE_ARN = re.compile(r"^arn:aws[a-z-]*:imagebuilder:[a-z0-9-]+:aws:image/")


@dataclass(frozen=True)
class ComponentSource:
    """One ``Build/Components`` entry: where its document comes from."""

    index: int  # 1-based, as the user counts them
    url: str

    @property
    def label(self) -> str:
        return f"component {self.index} ({self.url})"


@dataclass(frozen=True)
class ImageBuildPlan:
    image_id: str
    parent: str  # an ami id (official or local)
    sources: tuple[ComponentSource, ...]
    update_os_packages: bool
    ami_name: str
    #: ``Image/Tags``: the image's (ec2AmiInfo.tags)
    tags: tuple[tuple[str, str], ...]
    #: ``Build/Tags``: the build's resources' (cloudformationStackTags)
    build_tags: tuple[tuple[str, str], ...] = ()
    root_volume_gib: int | None = None
    description: str = ""


def parent_ami(parent: str, *, dpkg_arch: str | None = None) -> str:
    """``Build/ParentImage`` as a local ami id: an ``ami-`` id as is; a ParallelCluster (or Image
    Builder managed OS) image ARN maps to the official image of this architecture."""
    if parent.startswith("ami-"):
        return parent
    official = official_recipe(dpkg_arch)
    match = PCLUSTER_IMAGE_ARN.match(parent)
    if match:
        arch = match.group("arch").replace("-", "_")
        if arch != official.architecture:
            raise BadRequestError(
                f"Bad Request: Build/ParentImage {parent} is a {arch} image; this machine builds "
                f"{official.architecture} images",
                hint=f"use the {official.architecture} ParallelCluster image ARN, or {official.ami_id}",
            )
        if match.group("os") not in PCLUSTER_OSES:
            raise BadRequestError(f"Bad Request: Build/ParentImage {parent} names an unknown OS")
        return official.ami_id
    if AWS_IMAGE_ARN.match(parent):
        return official.ami_id
    raise BadRequestError(
        f"Bad Request: Build/ParentImage {parent} cannot be used locally: only ami ids and "
        "ParallelCluster or Image Builder managed image ARNs map to a local image",
        hint=f"use {official.ami_id} (the official image) or the ami id of an image you built",
    )


def component_sources(components: Any) -> tuple[ComponentSource, ...]:
    """The script components in order; an ``arn`` component is refused naming its ARN (Corral
    cannot fetch an Image Builder component's document from its ARN)."""
    sources = []
    for index, component in enumerate(components, start=1):
        if component.type == "arn":
            raise BadRequestError(
                f"Bad Request: Build/Components[{index}] is the Image Builder component "
                f"{component.value}: its document cannot be fetched locally",
                hint="download the component's document (aws imagebuilder get-component) and give it "
                "as Type: script with its path, https:// or s3:// URL",
            )
        sources.append(ComponentSource(index, str(component.value)))
    return tuple(sources)


def build_plan(config: Any, image_id: str, *, dpkg_arch: str | None = None) -> ImageBuildPlan:
    """The plan of ``build-image -i image_id`` for a validated ``ImageBuilderConfig``."""
    build = config.build
    tags = {t.key: t.value for t in config.image.tags}
    build_tags = {t.key: t.value for t in build.tags}
    volume = config.image.root_volume
    return ImageBuildPlan(
        image_id=image_id,
        parent=parent_ami(str(build.parent_image), dpkg_arch=dpkg_arch),
        sources=component_sources(build.components),
        update_os_packages=bool(build.update_os_packages.enabled),
        ami_name=str(config.image.name or image_id),
        tags=tuple(sorted(tags.items())),
        build_tags=tuple(sorted(build_tags.items())),
        root_volume_gib=int(volume.size) if volume is not None and volume.size else None,
    )


__all__ = ["ComponentSource", "ImageBuildPlan", "build_plan", "component_sources", "parent_ami"]

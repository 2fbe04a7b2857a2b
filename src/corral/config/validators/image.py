"""Image builder configs (``build-image``): the image id, the build instance type, components,
networking, the root volume and the development settings (ParallelCluster 3.16).

Image ids match ``^[a-zA-Z][a-zA-Z0-9-]{0,127}$``; at most 15 build components; a SubnetId needs
SecurityGroupIds; NVIDIA software needs a GPU instance type; the root volume is gp3 (1-16384 GiB).
The parent image's architecture is known offline only when ParentImage is an Image Builder ARN whose
name says it (``.../amazon-linux-2-arm64/...``); otherwise the AWS provider checks it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

from corral.config import catalog
from corral.config.findings import Finding
from corral.config.validators._base import ImageContext, error, g, items
from corral.config.validators.custom_actions import unused_packages
from corral.config.validators.ebs import SIZE_BOUNDS
from corral.config.validators.software import chef_attribute_findings
from corral.config.validators.tags import tag_key_findings

IMAGE_ID_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]{0,127}$")
MAX_COMPONENTS = 15
ARM_HINTS = ("arm64", "aarch64", "graviton")
X86_HINTS = ("x86_64", "x86", "amd64")


def image_id_problem(image_id: str) -> str | None:
    """Why ``image_id`` is not a valid image id, or None. Shared with the CLI."""
    if not IMAGE_ID_RE.match(image_id):
        return (
            f"invalid image id {image_id!r}: it may contain only letters, digits and hyphens, must start "
            "with a letter and be at most 128 characters"
        )
    return None


def image_id(ctx: ImageContext) -> Iterator[Finding]:
    """The image id's pattern and length."""
    problem = image_id_problem(ctx.image_id)
    if problem:
        yield error("ImageIdValidator", "", problem, "choose an id like 'my-image-1'")


def build_instance_type(ctx: ImageContext) -> Iterator[Finding]:
    """Build/InstanceType exists, has a GPU for NVIDIA software and matches the parent image."""
    name = g(ctx.config, "build", "instance_type")
    if not name:
        return
    it = catalog.get(name)
    path = "Build/InstanceType"
    if it is None:
        close = catalog.suggest(name)
        hint = f"did you mean {close[0]!r}?" if close else "use an EC2 instance type such as 'c5.xlarge'"
        yield error("InstanceTypeValidator", path, f"the instance type {name!r} is not supported", hint)
        return
    if g(ctx.config, "build", "installation", "nvidia_software", "enabled") and not it.gpu_count:
        yield error(
            "InstanceTypeSoftwareValidator",
            path,
            f"{name} has no GPU; NVIDIA software can be installed only on GPU instances",
            "use a GPU instance type or disable Installation/NvidiaSoftware",
        )
    parent_arch = parent_image_architecture(str(g(ctx.config, "build", "parent_image") or ""))
    if parent_arch and parent_arch not in it.architectures:
        yield error(
            "InstanceTypeBaseAMICompatibleValidator",
            path,
            f"the parent image is {parent_arch} but {name} supports {list(it.architectures)}",
            "use a parent image and an instance type of the same architecture",
        )


def parent_image_architecture(parent: str) -> str | None:
    """The architecture an Image Builder image ARN names (``...:image/amazon-linux-2-arm64/x.x.x``)."""
    if not parent.startswith("arn:"):
        return None
    name = parent.rsplit(":", 1)[-1].lower()
    if any(h in name for h in ARM_HINTS):
        return "arm64"
    if any(h in name for h in X86_HINTS):
        return "x86_64"
    return None


def components(ctx: ImageContext) -> Iterator[Finding]:
    """ComponentsValidator: at most 15 build components."""
    comps = items(ctx.config, "build", "components")
    if len(comps) > MAX_COMPONENTS:
        yield error(
            "ComponentsValidator",
            "Build/Components",
            f"{len(comps)} build components given; at most {MAX_COMPONENTS} are allowed",
            "merge some components",
        )


def subnet_security_groups(ctx: ImageContext) -> Iterator[Finding]:
    """SecurityGroupsAndSubnetValidator: a SubnetId needs SecurityGroupIds."""
    build = g(ctx.config, "build")
    if g(build, "subnet_id") and not items(build, "security_group_ids"):
        yield error(
            "SecurityGroupsAndSubnetValidator",
            "Build/SubnetId",
            f"SubnetId {g(build, 'subnet_id')} is given, so SecurityGroupIds is required",
            "add Build/SecurityGroupIds",
        )


def root_volume(ctx: ImageContext) -> Iterator[Finding]:
    """The image root volume's size and encryption."""
    volume = g(ctx.config, "image", "root_volume")
    size = g(volume, "size")
    low, high = SIZE_BOUNDS["gp3"]
    if size is not None and not low <= size <= high:
        yield error(
            "EbsVolumeTypeSizeValidator",
            "Image/RootVolume/Size",
            f"gp3 root volumes are {low}-{high} GiB ({size} given)",
            f"set Size within {low}-{high}",
        )
    if g(volume, "kms_key_id") and not g(volume, "encrypted"):
        yield error(
            "KmsKeyIdEncryptedValidator",
            "Image/RootVolume/Encrypted",
            "KmsKeyId is given, so the root volume must be encrypted",
            "set Encrypted: true",
        )


def image_tags(ctx: ImageContext) -> Iterator[Finding]:
    """Tag keys of the image and build: reserved prefix, duplicates."""
    yield from tag_key_findings("Image/Tags", items(ctx.config, "image", "tags"))
    yield from tag_key_findings("Build/Tags", items(ctx.config, "build", "tags"))


def dev_settings(ctx: ImageContext) -> Iterator[Finding]:
    """CliAttributeOverrides, Chef attributes and unused packages of the image DevSettings."""
    dev = g(ctx.config, "dev_settings")
    overrides = g(dev, "cli_attribute_overrides")
    if overrides:
        try:
            parsed = json.loads(overrides)
        except ValueError:
            parsed = None
            yield error(
                "CliAttributeOverridesValidator",
                "DevSettings/CliAttributeOverrides",
                "CliAttributeOverrides must be valid JSON",
            )
        if parsed is not None and not isinstance(parsed, dict):
            yield error(
                "CliAttributeOverridesValidator",
                "DevSettings/CliAttributeOverrides",
                "CliAttributeOverrides must be a JSON object",
            )
    yield from chef_attribute_findings(g(dev, "cookbook", "extra_chef_attributes"))
    yield from unused_packages(dev)


VALIDATORS = (
    image_id,
    build_instance_type,
    components,
    subnet_security_groups,
    root_volume,
    image_tags,
    dev_settings,
)

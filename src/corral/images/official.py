"""The official local images: one Debian 13 (trixie) root filesystem that every ``Os`` maps to.

The recipe is data; its key (a hash of everything that shapes the tree) is the machine-wide cache
key and gives the image its id, so the same recipe always names the same image, on every machine
and in every state directory. Bump ``RECIPE_REVISION`` when the build's post-processing changes.
"""

from __future__ import annotations

import hashlib
import json
import platform
import re
from dataclasses import asdict, dataclass

#: ParallelCluster 3.16's ``Image/Os`` choices.
PCLUSTER_OSES = ("alinux2023", "ubuntu2204", "ubuntu2404", "rhel8", "rocky8", "rhel9", "rocky9")
#: What every official local image really is.
OFFICIAL_OS = "debian13"
RECIPE_REVISION = 1

#: What a node runs: Slurm 24.11 (controller, node daemon, clients, accounting daemon), munge, sshd
#: (the CLI's ssh and login nodes), the node agent's Python (stdlib only; boto3 for s3:// sources),
#: and the tools custom actions and Slurm's own scripts expect on an instance.
NODE_PACKAGES = (
    "slurmctld",
    "slurmd",
    "slurm-client",
    "slurmdbd",
    "munge",
    "openssh-server",
    "python3",
    "python3-boto3",
    "iproute2",
    "procps",
    "ca-certificates",
    "curl",
    "less",
)

#: dpkg architecture -> EC2 architecture name
EC2_ARCH = {"amd64": "x86_64", "arm64": "arm64"}
#: ``uname -m`` -> dpkg architecture
MACHINE_DPKG_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}
AMI_ID_RE = re.compile(r"^ami-[0-9a-f]{8,17}$")


@dataclass(frozen=True)
class OfficialRecipe:
    """How the official image is bootstrapped (``debootstrap --variant=VARIANT --include=... SUITE``)."""

    suite: str
    variant: str
    packages: tuple[str, ...]
    dpkg_arch: str
    revision: int = RECIPE_REVISION

    @property
    def key(self) -> str:
        """sha256 of the recipe: the cache key."""
        blob = json.dumps(asdict(self), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()

    @property
    def ami_id(self) -> str:
        return "ami-" + self.key[:17]

    @property
    def architecture(self) -> str:
        return EC2_ARCH.get(self.dpkg_arch, self.dpkg_arch)

    @property
    def name(self) -> str:
        return f"corral-{OFFICIAL_OS}-slurm24.11-{self.architecture}-r{self.revision}"


def host_dpkg_arch() -> str:
    machine = platform.machine()
    return MACHINE_DPKG_ARCH.get(machine, machine)


def official_recipe(dpkg_arch: str | None = None) -> OfficialRecipe:
    """The official image's recipe for ``dpkg_arch`` (default: this machine's)."""
    arch = dpkg_arch or host_dpkg_arch()
    return OfficialRecipe(suite="trixie", variant="minbase", packages=NODE_PACKAGES, dpkg_arch=arch)


def is_official_id(ami_id: str, dpkg_arch: str | None = None) -> bool:
    return ami_id == official_recipe(dpkg_arch).ami_id


def official_images(
    version: str, *, os: str | None = None, architecture: str | None = None, dpkg_arch: str | None = None
) -> list[dict[str, str]]:
    """``list-official-images``: one entry (pcluster's ``AmiInfo``) per ``Os``, each the Debian 13
    image, filtered like pcluster's ``--os`` and ``--architecture``."""
    recipe = official_recipe(dpkg_arch)
    if architecture and architecture != recipe.architecture:
        return []
    return [
        {
            "amiId": recipe.ami_id,
            "os": name,
            "name": f"{recipe.name} ({name} -> {OFFICIAL_OS})",
            "version": version,
            "architecture": recipe.architecture,
        }
        for name in PCLUSTER_OSES
        if not os or os == name
    ]


__all__ = [
    "AMI_ID_RE",
    "NODE_PACKAGES",
    "OFFICIAL_OS",
    "PCLUSTER_OSES",
    "OfficialRecipe",
    "host_dpkg_arch",
    "is_official_id",
    "official_images",
    "official_recipe",
]

"""The manifest of a local image: what ``describe-image`` and a node's boot need to know about it.

Stored as ``manifest.json`` beside the image's read-only ``rootfs/``."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class ImageManifest:
    """One image: ``ami-`` id, name, parent (an image id, or "" for a bootstrapped base), OS and
    architecture, the Debian packages it holds with their versions, build time and tags."""

    ami_id: str
    name: str
    os: str
    architecture: str
    parent: str = ""
    #: ISO-8601 UTC
    build_time: str = ""
    packages: dict[str, str] = field(default_factory=dict)
    tags: tuple[tuple[str, str], ...] = ()
    #: the recipe key an official image was built from (its cache key); "" for a built image
    recipe_key: str = ""
    description: str = ""

    @property
    def slurm_version(self) -> str:
        """The Slurm version the image carries (``24.11.5``), or ""."""
        raw = self.packages.get("slurmctld") or self.packages.get("slurmd") or ""
        return raw.split(":", 1)[-1].split("-", 1)[0]

    @property
    def slurm_major(self) -> str:
        """``24.11`` for Slurm 24.11.5, or ""."""
        return ".".join(self.slurm_version.split(".")[:2])

    def dump(self) -> str:
        data = asdict(self)
        data["tags"] = [{"key": k, "value": v} for k, v in self.tags]
        return json.dumps(data, indent=1, sort_keys=True) + "\n"

    @classmethod
    def load(cls, text: str) -> ImageManifest:
        raw = json.loads(text)
        return cls(
            ami_id=str(raw["ami_id"]),
            name=str(raw["name"]),
            os=str(raw["os"]),
            architecture=str(raw["architecture"]),
            parent=str(raw.get("parent", "")),
            build_time=str(raw.get("build_time", "")),
            packages={str(k): str(v) for k, v in dict(raw.get("packages", {})).items()},
            tags=tuple((str(t["key"]), str(t["value"])) for t in raw.get("tags", ())),
            recipe_key=str(raw.get("recipe_key", "")),
            description=str(raw.get("description", "")),
        )


__all__ = ["ImageManifest"]

"""Where an AWS cluster lives, remembered in two places.

- Locally, ``<state_dir>/aws/<cluster>.json``: the region and the artefact bucket, so that delete,
  describe and instances find the stack again from the cluster name alone.
- In the artefact bucket, ``corral/<cluster>/cluster.json``: the cluster name and the validated
  config. The head node's Resume program rebuilds the very same ``ClusterPlan`` from it (the plan
  is a pure function of the config), so ``launch`` works wherever the credentials allow.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from corral.plan import ClusterPlan, plan_from_json, plan_to_json
from corral.runtime.files import write_atomic


@dataclass(frozen=True)
class ClusterSite:
    """The region and bucket of one cluster's stack."""

    cluster_name: str
    region: str
    bucket: str

    @property
    def prefix(self) -> str:
        """The key prefix of the cluster's artefacts in the bucket."""
        return f"corral/{self.cluster_name}/"


def site_path(state_dir: Path, cluster_name: str) -> Path:
    return Path(state_dir) / "aws" / f"{cluster_name}.json"


def save_site(state_dir: Path, site: ClusterSite) -> None:
    write_atomic(
        site_path(state_dir, site.cluster_name), json.dumps(asdict(site), sort_keys=True), dir_mode=0o700
    )


def load_site(state_dir: Path, cluster_name: str) -> ClusterSite | None:
    try:
        data = json.loads(site_path(state_dir, cluster_name).read_text(encoding="utf-8"))
        return ClusterSite(data["cluster_name"], data["region"], data["bucket"])
    except (OSError, ValueError, KeyError):
        return None


def forget_site(state_dir: Path, cluster_name: str) -> None:
    site_path(state_dir, cluster_name).unlink(missing_ok=True)


def cluster_document(plan: ClusterPlan) -> str:
    """``cluster.json``: the plan in its one stored form (``corral.plan.plan_to_json``)."""
    if plan.config is None:
        raise ValueError("the plan carries no config")
    return plan_to_json(plan)


def plan_from_document(text: str) -> ClusterPlan:
    """The ``ClusterPlan`` that ``cluster_document`` stored."""
    return plan_from_json(text)


__all__ = [
    "ClusterSite",
    "cluster_document",
    "forget_site",
    "load_site",
    "plan_from_document",
    "save_site",
    "site_path",
]

"""Which image each part of a cluster boots from (pure): ``Image/CustomAmi`` for the whole
cluster, ``HeadNode/Image/CustomAmi`` for the head, ``SlurmQueues/Image/CustomAmi`` per queue and
``LoginNodes/Pools/Image/CustomAmi`` per login pool, each falling back to the cluster's, then to the
official image."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ClusterImages:
    """The ``CustomAmi`` values a cluster config names ("" where it names none)."""

    cluster: str = ""
    head: str = ""
    queues: dict[str, str] = field(default_factory=dict)
    pools: dict[str, str] = field(default_factory=dict)

    def head_ami(self, official: str) -> str:
        return self.head or self.cluster or official

    def queue_ami(self, queue: str, official: str) -> str:
        return self.queues.get(queue) or self.cluster or official

    def pool_ami(self, pool: str, official: str) -> str:
        return self.pools.get(pool) or self.cluster or official

    def located(self) -> list[tuple[str, str]]:
        """``(config path, ami id)`` of every CustomAmi the config writes."""
        out = [("Image/CustomAmi", self.cluster)] if self.cluster else []
        out += [("HeadNode/Image/CustomAmi", self.head)] if self.head else []
        for index, ami in enumerate(self.queues.values()):
            if ami:
                out.append((f"Scheduling/SlurmQueues[{index}]/Image/CustomAmi", ami))
        for index, ami in enumerate(self.pools.values()):
            if ami:
                out.append((f"LoginNodes/Pools[{index}]/Image/CustomAmi", ami))
        return out


def cluster_images(config: Any) -> ClusterImages:
    """The CustomAmi values of a ``ClusterConfig``."""
    image = getattr(config, "image", None)
    head = getattr(getattr(config, "head_node", None), "image", None)
    queues = getattr(getattr(config, "scheduling", None), "slurm_queues", None) or ()
    pools = getattr(getattr(config, "login_nodes", None), "pools", None) or ()
    return ClusterImages(
        cluster=str(getattr(image, "custom_ami", None) or ""),
        head=str(getattr(head, "custom_ami", None) or ""),
        queues={
            str(q.name): str(getattr(q.image, "custom_ami", None) or "") if q.image else "" for q in queues
        },
        pools={
            str(p.name): str(getattr(p.image, "custom_ami", None) or "") if p.image else "" for p in pools
        },
    )


__all__ = ["ClusterImages", "cluster_images"]

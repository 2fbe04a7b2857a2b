"""What every validator shares: the context it reads, the finding constructors and the walkers that
yield each queue, compute resource and storage together with its key path.

A validator is a plain function ``(ctx) -> Iterable[Finding]``; it never raises for a bad config and
never performs I/O. Key paths use the YAML keys, e.g.
``Scheduling/SlurmQueues[1]/ComputeResources[0]/MinCount``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from corral.config import catalog
from corral.config.catalog import InstanceTypeInfo
from corral.config.findings import Finding, Level


def _always_present(_path: str) -> bool:
    return True


@dataclass(frozen=True)
class ClusterContext:
    """Everything a cluster validator may read: the typed model, the cluster name and the catalog.

    ``present(path)`` says whether the user wrote the key at ``path`` (as opposed to a default the
    model materialised); validators use it where ParallelCluster distinguishes "unset" from "false".
    """

    config: Any
    cluster_name: str
    present: Callable[[str], bool] = field(default=_always_present)

    def instance(self, name: str | None) -> InstanceTypeInfo | None:
        return catalog.get(name) if name else None


@dataclass(frozen=True)
class ImageContext:
    """Everything an image validator may read: the typed image builder model and the image id."""

    config: Any
    image_id: str
    present: Callable[[str], bool] = field(default=_always_present)

    def instance(self, name: str | None) -> InstanceTypeInfo | None:
        return catalog.get(name) if name else None


ClusterValidator = Callable[[ClusterContext], Iterable[Finding]]
ImageValidator = Callable[[ImageContext], Iterable[Finding]]


def g(obj: Any, *names: str) -> Any:
    """Follow attributes ``names`` from ``obj``; None as soon as one is missing or None."""
    for name in names:
        if obj is None:
            return None
        obj = getattr(obj, name, None)
    return obj


def items(obj: Any, *names: str) -> tuple[Any, ...]:
    """The sequence at ``names`` as a tuple (empty when unset)."""
    value = g(obj, *names)
    if value is None:
        return ()
    return tuple(value)


def error(code: str, path: str, message: str, hint: str = "") -> Finding:
    return Finding(Level.ERROR, code, path, message, hint)


def warning(code: str, path: str, message: str, hint: str = "") -> Finding:
    return Finding(Level.WARNING, code, path, message, hint)


def info(code: str, path: str, message: str, hint: str = "") -> Finding:
    return Finding(Level.INFO, code, path, message, hint)


# ------------------------------------------------------------------ walkers

QUEUES = "Scheduling/SlurmQueues"


def queues(config: Any) -> Iterator[tuple[str, Any]]:
    """Each Slurm queue with its path ``Scheduling/SlurmQueues[i]``."""
    for i, queue in enumerate(items(config, "scheduling", "slurm_queues")):
        yield f"{QUEUES}[{i}]", queue


def compute_resources(config: Any) -> Iterator[tuple[str, Any, Any]]:
    """Each compute resource with its path and its queue."""
    for qpath, queue in queues(config):
        for j, cr in enumerate(items(queue, "compute_resources")):
            yield f"{qpath}/ComputeResources[{j}]", queue, cr


def storages(config: Any) -> Iterator[tuple[str, Any]]:
    """Each SharedStorage entry with its path ``SharedStorage[i]``."""
    for i, storage in enumerate(items(config, "shared_storage")):
        yield f"SharedStorage[{i}]", storage


def login_pools(config: Any) -> Iterator[tuple[str, Any]]:
    for i, pool in enumerate(items(config, "login_nodes", "pools")):
        yield f"LoginNodes/Pools[{i}]", pool


def cr_instance_types(cr: Any) -> tuple[tuple[str, str], ...]:
    """``(relative path, instance type)`` for each instance type of a compute resource."""
    single = g(cr, "instance_type")
    if single:
        return (("InstanceType", single),)
    return tuple(
        (f"Instances[{k}]/InstanceType", g(entry, "instance_type"))
        for k, entry in enumerate(items(cr, "instances"))
        if g(entry, "instance_type")
    )


def is_flexible(cr: Any) -> bool:
    """True when the compute resource lists ``Instances`` rather than a single ``InstanceType``."""
    return not g(cr, "instance_type") and bool(items(cr, "instances"))


def enum_value(value: Any) -> Any:
    """The plain value of an enum member, or the value itself (models may use either)."""
    return getattr(value, "value", value)


def storage_type(storage: Any) -> str:
    return str(enum_value(g(storage, "storage_type")) or "")


def head_architecture(ctx: ClusterContext | Any) -> str | None:
    """The head node's architecture from the catalog, or None if the type is unknown."""
    info_ = catalog.get(g(ctx.config, "head_node", "instance_type") or "")
    return info_.architecture if info_ else None


def os_name(config: Any) -> str:
    return str(enum_value(g(config, "image", "os")) or "")


def multi_az(queue: Any) -> bool:
    """Offline stand-in for ParallelCluster's "queue spans several AZs": more than one subnet.

    Without the cloud, subnet→AZ mapping is unknown; several subnets is the only configuration in
    which a queue can span AZs, so this never misses a multi-AZ queue.
    """
    return len(items(queue, "networking", "subnet_ids")) > 1


def normalise_dir(path: str) -> str:
    path = path if path.startswith("/") else "/" + path
    return path.rstrip("/") or "/"

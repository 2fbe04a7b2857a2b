"""Counts and sizes: MinCount/MaxCount, the 50-queue and 50-compute-resource limits, login pools,
and how many shared storages of each kind a cluster may have.

Limits (ParallelCluster 3.16): 50 queues; 50 compute resources per queue and 50 in the whole cluster;
10 login node pools; 5 EBS volumes; one new EFS, one new FSx and one RAID; 20 existing EFS and 20
existing FSx (Lustre, OpenZFS, ONTAP and File Cache together).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from corral.config.findings import Finding
from corral.config.validators._base import (
    QUEUES,
    ClusterContext,
    compute_resources,
    enum_value,
    error,
    g,
    items,
    queues,
    storage_type,
    storages,
)

MAX_QUEUES = 50
MAX_COMPUTE_RESOURCES_PER_QUEUE = 50
MAX_COMPUTE_RESOURCES_PER_CLUSTER = 50
MAX_LOGIN_POOLS = 10
MAX_EBS = 5
MAX_NEW = {"EFS": 1, "FSx": 1, "RAID": 1}
MAX_EXISTING = {"EFS": 20, "FSx": 20, "RAID": 0}


def compute_resource_size(ctx: ClusterContext) -> Iterator[Finding]:
    """ComputeResourceSizeValidator: MinCount <= MaxCount; capacity blocks need MinCount == MaxCount > 0."""
    for path, queue, cr in compute_resources(ctx.config):
        low, high = g(cr, "min_count"), g(cr, "max_count")
        if low is None or high is None:
            continue
        if high < low:
            yield error(
                "ComputeResourceSizeValidator",
                f"{path}/MinCount",
                f"MinCount ({low}) must be less than or equal to MaxCount ({high})",
                f"lower MinCount to at most {high} or raise MaxCount to at least {low}",
            )
        if enum_value(g(queue, "capacity_type")) == "CAPACITY_BLOCK":
            if high != low:
                yield error(
                    "ComputeResourceSizeValidator",
                    f"{path}/MaxCount",
                    "MaxCount must equal MinCount when using a Capacity Block reservation",
                    f"set MaxCount to {low}",
                )
            if low == 0:
                yield error(
                    "ComputeResourceSizeValidator",
                    f"{path}/MinCount",
                    "MinCount must be greater than 0 when using a Capacity Block reservation",
                    "set MinCount to the number of instances in the reservation",
                )


def _too_many(path: str, what: str, count: int, limit: int) -> Finding:
    return error(
        "MaxCountValidator",
        path,
        f"invalid number of {what} ({count}): at most {limit} are supported",
        f"remove {count - limit} of them",
    )


def max_counts(ctx: ClusterContext) -> Iterator[Finding]:
    """MaxCountValidator: 50 queues, 50 compute resources per queue and per cluster, 10 login pools."""
    cfg = ctx.config
    all_queues = list(queues(cfg))
    if len(all_queues) > MAX_QUEUES:
        yield _too_many(QUEUES, "SlurmQueues", len(all_queues), MAX_QUEUES)
    total = 0
    for qpath, queue in all_queues:
        count = len(items(queue, "compute_resources"))
        total += count
        if count > MAX_COMPUTE_RESOURCES_PER_QUEUE:
            yield _too_many(
                f"{qpath}/ComputeResources",
                "ComputeResources per Queue",
                count,
                MAX_COMPUTE_RESOURCES_PER_QUEUE,
            )
    if total > MAX_COMPUTE_RESOURCES_PER_CLUSTER:
        yield _too_many(QUEUES, "ComputeResources per Cluster", total, MAX_COMPUTE_RESOURCES_PER_CLUSTER)
    pools = items(cfg, "login_nodes", "pools")
    if len(pools) > MAX_LOGIN_POOLS:
        yield _too_many("LoginNodes/Pools", "LoginNodePools", len(pools), MAX_LOGIN_POOLS)


def _classify(storage: object) -> tuple[str, bool] | None:
    """``(kind, existing)`` for the storage counts: kind is EBS, RAID, EFS or FSx."""
    kind = storage_type(storage)
    if kind == "Ebs":
        if g(storage, "ebs_settings", "raid") is not None:
            return "RAID", False
        return "EBS", bool(g(storage, "ebs_settings", "volume_id"))
    if kind == "Efs":
        return "EFS", bool(g(storage, "efs_settings", "file_system_id"))
    if kind == "FsxLustre":
        return "FSx", bool(g(storage, "fsx_lustre_settings", "file_system_id"))
    if kind in ("FsxOpenZfs", "FsxOntap", "FileCache"):
        return "FSx", True
    return None


def number_of_storage(ctx: ClusterContext) -> Iterator[Finding]:
    """NumberOfStorageValidator: how many EBS, new and existing EFS/FSx/RAID storages a cluster may have."""
    new: Counter[str] = Counter()
    existing: Counter[str] = Counter()
    ebs = 0
    last_path: dict[str, str] = {}
    for path, storage in storages(ctx.config):
        kind = _classify(storage)
        if kind is None:
            continue
        name, is_existing = kind
        if name == "EBS":
            ebs += 1
            last_path["EBS"] = path
            continue
        (existing if is_existing else new)[name] += 1
        last_path[("existing " if is_existing else "new ") + name] = path
    checks = [("EBS", ebs, MAX_EBS)]
    checks += [(f"new {k}", new[k], MAX_NEW[k]) for k in MAX_NEW]
    checks += [(f"existing {k}", existing[k], MAX_EXISTING[k]) for k in MAX_EXISTING]
    for label, count, limit in checks:
        if count > limit:
            yield error(
                "NumberOfStorageValidator",
                last_path.get(label, "SharedStorage"),
                f"too many {label} shared storage entries ({count}): at most {limit} supported",
                f"remove {count - limit} {label} entries from SharedStorage",
            )


VALIDATORS = (compute_resource_size, max_counts, number_of_storage)

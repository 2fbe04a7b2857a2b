"""EBS volumes (shared EBS and the head-node and queue root volumes): size, IOPS and throughput.

Facts (ParallelCluster 3.16 / EC2): sizes in GiB — standard 1-1024, io1 4-16384, io2 4-65536,
gp2/gp3 1-16384, st1/sc1 500-16384; IOPS only for io1 (100-64000, ≤ 50 per GiB), io2 (100-256000,
≤ 1000 per GiB) and gp3 (3000-16000, ≤ 500 per GiB); gp3 throughput 125-1000 MiB/s and at most
0.25 MiB/s per IOPS.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from corral.config.findings import Finding
from corral.config.validators._base import (
    ClusterContext,
    enum_value,
    error,
    g,
    queues,
    storage_type,
    storages,
    warning,
)

SIZE_BOUNDS = {
    "standard": (1, 1024),
    "io1": (4, 16 * 1024),
    "io2": (4, 64 * 1024),
    "gp2": (1, 16 * 1024),
    "gp3": (1, 16 * 1024),
    "st1": (500, 16 * 1024),
    "sc1": (500, 16 * 1024),
}
IOPS_BOUNDS = {"io1": (100, 64000), "io2": (100, 256000), "gp3": (3000, 16000)}
IOPS_PER_GIB = {"io1": 50, "io2": 1000, "gp3": 500}
GP3_THROUGHPUT = (125, 1000)
GP3_THROUGHPUT_PER_IOPS = 0.25
GP3_DEFAULT_IOPS = 3000


def _volumes(ctx: ClusterContext) -> Iterator[tuple[str, Any]]:
    """Every EBS-shaped volume with its path: shared EBS settings and the root volumes."""
    for path, storage in storages(ctx.config):
        if storage_type(storage) == "Ebs" and g(storage, "ebs_settings") is not None:
            yield f"{path}/EbsSettings", g(storage, "ebs_settings")
    head_root = g(ctx.config, "head_node", "local_storage", "root_volume")
    if head_root is not None:
        yield "HeadNode/LocalStorage/RootVolume", head_root
    for qpath, queue in queues(ctx.config):
        root = g(queue, "compute_settings", "local_storage", "root_volume")
        if root is not None:
            yield f"{qpath}/ComputeSettings/LocalStorage/RootVolume", root


def _vtype(volume: Any) -> str:
    return str(enum_value(g(volume, "volume_type")) or "gp3")


def volume_size(ctx: ClusterContext) -> Iterator[Finding]:
    """EbsVolumeTypeSizeValidator: the size range of the volume type."""
    for path, volume in _volumes(ctx):
        vtype, size = _vtype(volume), g(volume, "size")
        if size is None or vtype not in SIZE_BOUNDS:
            continue
        low, high = SIZE_BOUNDS[vtype]
        if size > high:
            yield error(
                "EbsVolumeTypeSizeValidator",
                f"{path}/Size",
                f"{vtype} volumes can be at most {high} GiB ({size} given)",
                f"set Size to at most {high}",
            )
        elif size < low:
            yield error(
                "EbsVolumeTypeSizeValidator",
                f"{path}/Size",
                f"{vtype} volumes must be at least {low} GiB ({size} given)",
                f"set Size to at least {low}",
            )


def volume_iops(ctx: ClusterContext) -> Iterator[Finding]:
    """EbsVolumeIopsValidator: IOPS range and IOPS-per-GiB of io1/io2/gp3; none for other types."""
    for path, volume in _volumes(ctx):
        vtype, iops, size = _vtype(volume), g(volume, "iops"), g(volume, "size")
        if not iops:
            continue
        where = f"{path}/Iops"
        if vtype not in IOPS_BOUNDS:
            if ctx.present(where):
                yield error(
                    "EbsVolumeIopsValidator",
                    where,
                    f"Iops is not supported for {vtype} volumes",
                    "remove Iops, or use io1, io2 or gp3",
                )
            continue
        low, high = IOPS_BOUNDS[vtype]
        if not low <= iops <= high:
            yield error(
                "EbsVolumeIopsValidator",
                where,
                f"Iops must be between {low} and {high} for {vtype} volumes ({iops} given)",
                f"set Iops within {low}-{high}",
            )
        elif size and iops > size * IOPS_PER_GIB[vtype]:
            yield error(
                "EbsVolumeIopsValidator",
                where,
                f"Iops to size ratio {iops / size:g} is too high for {vtype}; the maximum is "
                f"{IOPS_PER_GIB[vtype]}",
                f"raise Size to at least {-(-iops // IOPS_PER_GIB[vtype])} GiB or lower Iops",
            )


def volume_throughput(ctx: ClusterContext) -> Iterator[Finding]:
    """EbsVolumeThroughputValidator / EbsVolumeThroughputIopsValidator: gp3 throughput rules."""
    for path, volume in _volumes(ctx):
        throughput = g(volume, "throughput")
        if _vtype(volume) != "gp3" or throughput is None:
            continue
        low, high = GP3_THROUGHPUT
        where = f"{path}/Throughput"
        if not low <= throughput <= high:
            yield error(
                "EbsVolumeThroughputValidator",
                where,
                f"Throughput must be between {low} and {high} MiB/s for gp3 volumes ({throughput} given)",
                f"set Throughput within {low}-{high}",
            )
            continue
        iops = g(volume, "iops") or GP3_DEFAULT_IOPS
        if throughput > iops * GP3_THROUGHPUT_PER_IOPS:
            yield error(
                "EbsVolumeThroughputIopsValidator",
                where,
                f"Throughput to Iops ratio {throughput / iops:g} is too high; the maximum is 0.25",
                f"raise Iops to at least {int(throughput / GP3_THROUGHPUT_PER_IOPS)} or lower Throughput",
            )


def root_volume_encryption(ctx: ClusterContext) -> Iterator[Finding]:
    """RootVolumeEncryptionConsistencyValidator: every queue encrypts its root volume alike."""
    settings = [
        (qpath, g(q, "name"), g(q, "compute_settings", "local_storage", "root_volume", "encrypted"))
        for qpath, q in queues(ctx.config)
    ]
    if not settings:
        return
    _ref_path, ref_name, ref = settings[0]
    for qpath, name, encrypted in settings[1:]:
        if encrypted != ref:
            yield warning(
                "RootVolumeEncryptionConsistencyValidator",
                f"{qpath}/ComputeSettings/LocalStorage/RootVolume/Encrypted",
                f"root volume encryption of queue {name!r} differs from queue {ref_name!r}",
                "use the same Encrypted value in every queue (SCPs may enforce encryption)",
            )


VALIDATORS = (volume_size, volume_iops, volume_throughput, root_volume_encryption)

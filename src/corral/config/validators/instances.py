"""Instance types: they exist, their architectures agree, they suit the OS, the capacity type and the
memory settings, and the instance types of one compute resource (``Instances``) are alike.

Facts from ParallelCluster 3.16: the compute architectures must include the head node's; a
flexible compute resource needs one vCPU count (cores when SMT is disabled), one GPU and accelerator
count and maker; on-demand allows the lowest-price and prioritized allocation strategies only, spot
forbids prioritized, capacity blocks take none; memory-based scheduling warns when the memory of a
flexible resource's types differs by more than 4096 MiB and 20 %; the head node needs
``min(max compute nodes / 25 + 0.6, 16)`` GB of memory.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping

from corral.config import catalog
from corral.config.catalog import InstanceTypeInfo
from corral.config.findings import Finding
from corral.config.validators._base import (
    ClusterContext,
    compute_resources,
    cr_instance_types,
    enum_value,
    error,
    g,
    head_architecture,
    info,
    is_flexible,
    login_pools,
    os_name,
    warning,
)

ON_DEMAND_STRATEGIES = ("lowest-price", "prioritized")
MEMORY_DIFF_MIB = 4096
MEMORY_DIFF_RATIO = 0.20
MICRO_NANO_WARNING_OSES = ("ubuntu2204", "ubuntu2404", "rhel8", "rocky8", "rhel9", "rocky9")
P6E_GB200_UNSUPPORTED_OSES = ("rhel8", "rocky8", "rhel9")


def _all_instance_types(ctx: ClusterContext) -> Iterator[tuple[str, str]]:
    """``(path, instance type)`` for the head node, every compute resource and every login pool."""
    head = g(ctx.config, "head_node", "instance_type")
    if head:
        yield "HeadNode/InstanceType", head
    for path, _queue, cr in compute_resources(ctx.config):
        for rel, name in cr_instance_types(cr):
            yield f"{path}/{rel}", name
    for path, pool in login_pools(ctx.config):
        if g(pool, "instance_type"):
            yield f"{path}/InstanceType", g(pool, "instance_type")


def instance_type_exists(ctx: ClusterContext) -> Iterator[Finding]:
    """InstanceTypeValidator: every instance type is in the catalog (with a did-you-mean).

    A compute resource's type is an ERROR on every target: its vCPUs and memory become the Slurm node
    definition, so no provider can build the node without it. The head node's and login pools' types
    only matter to EC2, so the local provider reports them as WARNINGs."""
    for path, name in _all_instance_types(ctx):
        if catalog.get(name) is None:
            close = catalog.suggest(name)
            hint = f"did you mean {close[0]!r}?" if close else "use an EC2 instance type such as 'c5.xlarge'"
            message = f"the instance type {name!r} is not supported"
            yield error("InstanceTypeValidator", path, message, hint)


def architecture_compatibility(ctx: ClusterContext) -> Iterator[Finding]:
    """InstanceArchitectureCompatibilityValidator: compute types support the head node's architecture."""
    head_arch = head_architecture(ctx)
    if head_arch is None:
        return
    head = g(ctx.config, "head_node", "instance_type")
    for path, _queue, cr in compute_resources(ctx.config):
        for rel, name in cr_instance_types(cr):
            it = catalog.get(name)
            if it is not None and head_arch not in it.architectures:
                yield error(
                    "InstanceArchitectureCompatibilityValidator",
                    f"{path}/{rel}",
                    f"the compute instance type {name!r} supports {list(it.architectures)}, none of which "
                    f"matches the head node instance type {head!r} ({head_arch})",
                    f"use a {head_arch} instance type here, or a head node of the same architecture",
                )


def os_compatibility(ctx: ClusterContext) -> Iterator[Finding]:
    """InstanceTypeOSCompatibleValidator: micro/nano types and p6e-gb200 against the OS."""
    os = os_name(ctx.config)
    for path, name in _all_instance_types(ctx):
        if os in MICRO_NANO_WARNING_OSES and ("micro" in name or "nano" in name):
            yield warning(
                "InstanceTypeOSCompatibleValidator",
                path,
                f"the instance type {name!r} is not recommended with {os}",
                "use an instance type with at least 1.7 GB of memory",
            )
        if name.startswith("p6e-gb200") and os in P6E_GB200_UNSUPPORTED_OSES:
            yield error(
                "InstanceTypeOSCompatibleValidator",
                path,
                f"the instance type {name!r} is not supported with OS {os}",
                "use alinux2023, ubuntu2204, ubuntu2404 or rocky9",
            )


def memory_info(ctx: ClusterContext) -> Iterator[Finding]:
    """InstanceTypeMemoryInfoValidator: the catalog knows each type's memory."""
    for path, name in _all_instance_types(ctx):
        it = catalog.get(name)
        if it is not None and it.memory_mib <= 0:
            yield error("InstanceTypeMemoryInfoValidator", path, f"no memory information for {name!r}")


def accelerator_manufacturer(ctx: ClusterContext) -> Iterator[Finding]:
    """InstanceTypeAcceleratorManufacturerValidator: GPUs are NVIDIA, accelerators AWS."""
    for path, _queue, cr in compute_resources(ctx.config):
        for rel, name in cr_instance_types(cr):
            it = catalog.get(name)
            if it is None:
                continue
            if it.gpu_count and (it.gpu_manufacturer or "").upper() != "NVIDIA":
                yield warning(
                    "InstanceTypeAcceleratorManufacturerValidator",
                    f"{path}/{rel}",
                    f"the GPU manufacturer {it.gpu_manufacturer!r} of {name!r} is not supported natively",
                    "use a custom AMI with the right drivers",
                )
            if it.accelerator_count and (it.accelerator_manufacturer or "").upper() != "AWS":
                yield warning(
                    "InstanceTypeAcceleratorManufacturerValidator",
                    f"{path}/{rel}",
                    f"the accelerator manufacturer {it.accelerator_manufacturer!r} of {name!r} is "
                    "not supported",
                    "use a custom AMI with the right drivers",
                )


def capacity_type(ctx: ClusterContext) -> Iterator[Finding]:
    """CapacityTypeValidator: capacity blocks need a reservation; each type supports the usage class."""
    usage = {"ONDEMAND": "on-demand", "SPOT": "spot", "CAPACITY_BLOCK": "capacity-block"}
    for path, queue, cr in compute_resources(ctx.config):
        ctype = str(enum_value(g(queue, "capacity_type")) or "ONDEMAND")
        reservation = g(cr, "capacity_reservation_target", "capacity_reservation_id") or g(
            queue, "capacity_reservation_target", "capacity_reservation_id"
        )
        if ctype == "CAPACITY_BLOCK" and not reservation:
            yield error(
                "CapacityTypeValidator",
                f"{path}/CapacityReservationTarget",
                "a CapacityReservationId is required when the queue's CapacityType is CAPACITY_BLOCK",
                "add CapacityReservationTarget/CapacityReservationId: cr-...",
            )
        for rel, name in cr_instance_types(cr):
            it = catalog.get(name)
            if it is not None and it.usage_classes and usage.get(ctype, "") not in it.usage_classes:
                yield error(
                    "CapacityTypeValidator",
                    f"{path}/{rel}",
                    f"usage type {usage.get(ctype, ctype)!r} is not supported by the instance type {name!r}",
                    f"choose another instance type or CapacityType (it supports {list(it.usage_classes)})",
                )


def _infos(cr: object) -> dict[str, InstanceTypeInfo]:
    found = {}
    for _rel, name in cr_instance_types(cr):
        it = catalog.get(name)
        if it is not None:
            found[name] = it
    return found


def _homogeneous(code: str, path: str, what: str, values: Mapping[str, object]) -> Iterator[Finding]:
    if len(set(values.values())) > 1:
        yield error(
            code,
            path,
            f"the instance types of this compute resource must have the same {what} ({values})",
            f"list only instance types with the same {what}",
        )


def flexible_instances(ctx: ClusterContext) -> Iterator[Finding]:
    """The Instances[] rules: CPUs, accelerators, networking and allocation strategy."""
    for path, queue, cr in compute_resources(ctx.config):
        if not is_flexible(cr):
            continue
        infos = _infos(cr)
        where = f"{path}/Instances"
        if g(cr, "disable_simultaneous_multithreading"):
            cores = {n: i.cores for n, i in infos.items()}
            yield from _homogeneous("InstancesCPUValidator", where, "number of CPU cores", cores)
        else:
            vcpus = {n: i.vcpus for n, i in infos.items()}
            yield from _homogeneous("InstancesCPUValidator", where, "number of vCPUs", vcpus)
        for what, attr in (
            ("number of GPUs", "gpu_count"),
            ("number of inference accelerators", "accelerator_count"),
            ("GPU manufacturer", "gpu_manufacturer"),
            ("accelerator manufacturer", "accelerator_manufacturer"),
        ):
            values = {n: getattr(i, attr) for n, i in infos.items()}
            yield from _homogeneous("InstancesAcceleratorsValidator", where, what, values)
        yield from _network_cards(where, infos)
        yield from _allocation_strategy(path, queue)


def _network_cards(where: str, infos: dict[str, InstanceTypeInfo]) -> Iterator[Finding]:
    cards = {i.network_cards for i in infos.values()}
    if len(cards) > 1:
        yield warning(
            "InstancesNetworkingValidator",
            where,
            f"the instance types have different numbers of network cards (min {min(cards)}, "
            f"max {max(cards)}); nodes get {min(cards)}",
            "list instance types with the same number of network cards",
        )
    efa = {i.max_efa_interfaces for i in infos.values()}
    if len(efa) > 1:
        yield warning(
            "InstancesNetworkingValidator",
            where,
            f"the instance types have different maximum EFA interfaces (min {min(efa)}, max {max(efa)})",
            "EFA is configured for the type with the fewest interfaces",
        )


def _allocation_strategy(path: str, queue: object) -> Iterator[Finding]:
    ctype = str(enum_value(g(queue, "capacity_type")) or "ONDEMAND")
    strategy = enum_value(g(queue, "allocation_strategy"))
    where = path.rsplit("/ComputeResources", 1)[0] + "/AllocationStrategy"
    if ctype == "ONDEMAND" and strategy and strategy not in ON_DEMAND_STRATEGIES:
        yield error(
            "InstancesAllocationStrategyValidator",
            where,
            "on-demand capacity supports only the lowest-price and prioritized allocation "
            f"strategies, not {strategy!r}",
            "set AllocationStrategy: lowest-price",
        )
    if ctype == "SPOT" and strategy == "prioritized":
        yield error(
            "InstancesAllocationStrategyValidator",
            where,
            "spot capacity does not support the prioritized allocation strategy",
            "use capacity-optimized-prioritized or price-capacity-optimized",
        )


def memory_scheduling(ctx: ClusterContext) -> Iterator[Finding]:
    """InstancesMemorySchedulingWarningValidator: memory-based scheduling with unequal memory."""
    if not g(ctx.config, "scheduling", "slurm_settings", "enable_memory_based_scheduling"):
        return
    for path, _queue, cr in compute_resources(ctx.config):
        infos = _infos(cr)
        if not is_flexible(cr) or len(infos) < 2:
            continue
        memories = [i.memory_mib for i in infos.values()]
        low, high = min(memories), max(memories)
        if high - low > MEMORY_DIFF_MIB and (high - low) / low > MEMORY_DIFF_RATIO:
            yield warning(
                "InstancesMemorySchedulingWarningValidator",
                f"{path}/Instances",
                "memory-based scheduling with instance types of different memory leaves memory unused: "
                f"the Slurm node gets the smallest ({low} MiB)",
                "list instance types with similar memory",
            )


def schedulable_memory(ctx: ClusterContext) -> Iterator[Finding]:
    """SchedulableMemoryValidator: at least 1 MiB, at most the type's memory, INFO below 95 %."""
    for path, _queue, cr in compute_resources(ctx.config):
        wanted = g(cr, "schedulable_memory")
        if wanted is None:
            continue
        where = f"{path}/SchedulableMemory"
        if wanted < 1:
            yield error("SchedulableMemoryValidator", where, "SchedulableMemory must be at least 1 MiB")
        infos = _infos(cr)
        if not infos:
            continue
        smallest = min(infos.values(), key=lambda i: i.memory_mib)
        if wanted > smallest.memory_mib:
            yield error(
                "SchedulableMemoryValidator",
                where,
                f"SchedulableMemory ({wanted} MiB) exceeds the memory of {smallest.name} "
                f"({smallest.memory_mib} MiB)",
                f"set it to at most {smallest.memory_mib}",
            )
        elif wanted < math.floor(0.95 * smallest.memory_mib):
            yield info(
                "SchedulableMemoryValidator",
                where,
                f"SchedulableMemory is below 95% of the memory of {smallest.name} "
                f"({smallest.memory_mib} MiB)",
            )


def head_node_memory(ctx: ClusterContext) -> Iterator[Finding]:
    """HeadNodeMemorySizeValidator: the head node has memory for the compute fleet it manages."""
    head = g(ctx.config, "head_node", "instance_type")
    it = catalog.get(head or "")
    if it is None:
        return
    nodes = sum(int(g(cr, "max_count") or 0) for _p, _q, cr in compute_resources(ctx.config))
    required = min(nodes / 25 + 0.6, 16)
    have = it.memory_mib / 1024
    if have < required:
        yield error(
            "HeadNodeMemorySizeValidator",
            "HeadNode/InstanceType",
            f"the head node instance type {head} has {have:g} GB of memory; {required:g} GB are needed "
            f"to manage {nodes} compute nodes",
            "choose a larger head node instance type",
        )


VALIDATORS = (
    instance_type_exists,
    architecture_compatibility,
    os_compatibility,
    memory_info,
    accelerator_manufacturer,
    capacity_type,
    flexible_instances,
    memory_scheduling,
    schedulable_memory,
    head_node_memory,
)

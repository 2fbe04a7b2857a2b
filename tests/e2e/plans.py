"""Hand-built plans for the end-to-end tests (the config layer is tested on its own)."""

from __future__ import annotations

from collections.abc import Sequence

from corral.plan import (
    ClusterPlan,
    CustomActionSpec,
    HeadNodeSpec,
    NodeKind,
    NodeShape,
    NodeSpec,
    PartitionSpec,
    SlurmPlan,
    StorageSpec,
)

SHAPE = NodeShape("c5.large", cpus=2, sockets=1, cores_per_socket=1, threads_per_core=2, real_memory_mib=1800)
GPU_SHAPE = NodeShape(
    "g4dn.12xlarge",
    cpus=48,
    sockets=1,
    cores_per_socket=24,
    threads_per_core=2,
    real_memory_mib=180000,
    gpus=4,
    gpu_type="t4",
)


def queue_nodes(queue: str, cr: str, static: int, dynamic: int, shape: NodeShape = SHAPE) -> list[NodeSpec]:
    out = []
    for kind, count, tag in ((NodeKind.STATIC, static, "st"), (NodeKind.DYNAMIC, dynamic, "dy")):
        out += [
            NodeSpec(
                f"{queue}-{tag}-{cr}-{i}", queue, cr, kind, i, shape, 1, (kind.value, shape.instance_type, cr)
            )
            for i in range(1, count + 1)
        ]
    return out


def plan(
    name: str,
    queues: Sequence[tuple[str, str, int, int]] = (("q1", "c1", 1, 3), ("q2", "c2", 0, 3)),
    *,
    storage: tuple[StorageSpec, ...] = (),
    head_actions: tuple[CustomActionSpec, ...] = (),
    queue_actions: tuple[tuple[str, tuple[CustomActionSpec, ...]], ...] = (),
    partition_settings: tuple[tuple[str, str], ...] = (),
    slurm_settings: tuple[tuple[str, str], ...] = (),
    include_file: str | None = None,
) -> ClusterPlan:
    """Queues as (name, compute resource, static count, dynamic count); the first is the default.
    A queue named ``gpu`` gets 4-GPU nodes."""
    nodes: list[NodeSpec] = []
    partitions = []
    for i, (queue, cr, static, dynamic) in enumerate(queues):
        members = queue_nodes(queue, cr, static, dynamic, GPU_SHAPE if queue == "gpu" else SHAPE)
        nodes += members
        settings = partition_settings if i == 0 else ()
        partitions.append(
            PartitionSpec(queue, tuple(n.name for n in members), i == 0, custom_settings=settings)
        )
    return ClusterPlan(
        cluster_name=name,
        os="alinux2023",
        region=None,
        head_node=HeadNodeSpec(SHAPE, head_actions),
        nodes=tuple(nodes),
        partitions=tuple(partitions),
        storage=storage,
        slurm=SlurmPlan(
            10,
            memory_based_scheduling=False,
            queue_update_strategy="COMPUTE_FLEET_STOP",
            custom_settings=slurm_settings,
            custom_settings_include_file=include_file,
        ),
        queue_custom_actions=queue_actions,
    )

"""The one builder of hand-made ClusterPlans for tests (independent of the config layer, which is
tested on its own): unit tests of the service, Slurm rendering, the providers and the daemons, and
the end-to-end tests, all build their plans here.

- ``shape(...)``: a ``NodeShape``; ``SHAPE``/``GPU_SHAPE`` are the end-to-end tests' nodes.
- ``nodes(queue, cr, static, dynamic, shape)``: a compute resource's nodes, named as pcluster does.
- ``plan(name, queues, ...)``: queues as (name, compute resource, static count, dynamic count).
- ``small_plan``, ``engine_plan``, ``two_queue_plan``, ``rich_plan``: the fixed plans the unit
  tests share.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

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

Features = Callable[[NodeKind, NodeShape, str], tuple[str, ...]]


def shape(
    instance_type: str = "c5.xlarge",
    cpus: int = 4,
    memory: int = 7200,
    gpus: int = 0,
    *,
    cores_per_socket: int | None = None,
    threads_per_core: int = 1,
) -> NodeShape:
    """One socket; ``cpus`` cores unless ``cores_per_socket`` says otherwise; T4 GPUs."""
    return NodeShape(
        instance_type=instance_type,
        cpus=cpus,
        sockets=1,
        cores_per_socket=cpus if cores_per_socket is None else cores_per_socket,
        threads_per_core=threads_per_core,
        real_memory_mib=memory,
        gpus=gpus,
        gpu_type="t4" if gpus else "",
    )


SHAPE = shape("c5.large", 2, 1800, cores_per_socket=1, threads_per_core=2)
GPU_SHAPE = shape("g4dn.12xlarge", 48, 180000, gpus=4, cores_per_socket=24, threads_per_core=2)


def _features(kind: NodeKind, node_shape: NodeShape, cr: str) -> tuple[str, ...]:
    return (kind.value, node_shape.instance_type, cr)


def nodes(
    queue: str,
    cr: str,
    static: int,
    dynamic: int,
    node_shape: NodeShape = SHAPE,
    *,
    weight: int = 1,
    features: Features = _features,
) -> list[NodeSpec]:
    """``{queue}-st-{cr}-N`` then ``{queue}-dy-{cr}-N``; features (kind, instance type, cr)."""
    out = []
    for kind, count, tag in ((NodeKind.STATIC, static, "st"), (NodeKind.DYNAMIC, dynamic, "dy")):
        out += [
            NodeSpec(
                name=f"{queue}-{tag}-{cr}-{i}",
                queue=queue,
                compute_resource=cr,
                kind=kind,
                index=i,
                shape=node_shape,
                weight=weight,
                features=features(kind, node_shape, cr),
            )
            for i in range(1, count + 1)
        ]
    return out


#: the end-to-end tests' name for ``nodes``
queue_nodes = nodes


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
    members: list[NodeSpec] = []
    partitions = []
    for i, (queue, cr, static, dynamic) in enumerate(queues):
        queue_members = nodes(queue, cr, static, dynamic, GPU_SHAPE if queue == "gpu" else SHAPE)
        members += queue_members
        settings = partition_settings if i == 0 else ()
        partitions.append(
            PartitionSpec(queue, tuple(n.name for n in queue_members), i == 0, custom_settings=settings)
        )
    return ClusterPlan(
        cluster_name=name,
        os="alinux2023",
        region=None,
        head_node=HeadNodeSpec(SHAPE, head_actions),
        nodes=tuple(members),
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


def _xlarge_plan(name: str, static: int, dynamic: int, q2_features: Features) -> ClusterPlan:
    """Two c5.xlarge queues: ``q1`` (default) with ``static`` + ``dynamic`` nodes featuring kind
    and instance type, ``q2`` one dynamic node with ``q2_features``; a t3.medium head node."""
    xlarge = shape("c5.xlarge", 4, 7500, cores_per_socket=2, threads_per_core=2)
    q1 = nodes("q1", "cr1", static, dynamic, xlarge, features=lambda k, s, _cr: (k.value, s.instance_type))
    q2 = nodes("q2", "cr2", 0, 1, xlarge, features=q2_features)
    return ClusterPlan(
        cluster_name=name,
        os="alinux2023",
        region="us-east-1",
        head_node=HeadNodeSpec(shape=NodeShape("t3.medium", 2, 1, 1, 2, 3800)),
        nodes=(*q1, *q2),
        partitions=(
            PartitionSpec("q1", tuple(n.name for n in q1), True),
            PartitionSpec("q2", tuple(n.name for n in q2), False),
        ),
        storage=(),
        slurm=SlurmPlan(10, False, "TERMINATE"),
    )


def small_plan(name: str = "demo", *, static: int = 1, dynamic: int = 2) -> ClusterPlan:
    """The service tests' plan: two queues; ``q1`` has ``static`` static and ``dynamic`` dynamic
    nodes, ``q2`` one dynamic node; a region, a tag, Home storage, a custom Slurm setting."""
    return replace(
        _xlarge_plan(name, static, dynamic, lambda k, _s, _cr: (k.value,)),
        storage=(StorageSpec("home", "Home", "/home", "Retain"),),
        slurm=SlurmPlan(10, False, "TERMINATE", custom_settings=(("MaxJobCount", "1000"),)),
        tags=(("team", "hpc"),),
    )


def engine_plan(name: str) -> ClusterPlan:
    """The reconciler engine tests' plan: q1 has one static and one dynamic node, q2 one dynamic
    node (c5.xlarge, features kind and instance type); nothing else."""
    return _xlarge_plan(name, 1, 1, lambda k, s, _cr: (k.value, s.instance_type))


def two_queue_plan(
    name: str = "demo", *, static: int = 1, dynamic: int = 3, scaledown: int = 10
) -> ClusterPlan:
    """The Slurm tests' plan: q1 (default): one CR with ``static`` + ``dynamic`` nodes; q2: two
    dynamic nodes."""
    q1 = nodes("q1", "c1", static, dynamic, shape("c5.large", 2, 1800))
    q2 = nodes("q2", "c2", 0, 2, shape("c5.large", 2, 1800))
    return ClusterPlan(
        cluster_name=name,
        os="alinux2023",
        region=None,
        head_node=HeadNodeSpec(shape("t3.medium", 2, 3800)),
        nodes=(*q1, *q2),
        partitions=(
            PartitionSpec("q1", tuple(n.name for n in q1), default=True),
            PartitionSpec("q2", tuple(n.name for n in q2), default=False),
        ),
        storage=(),
        slurm=SlurmPlan(scaledown, memory_based_scheduling=False, queue_update_strategy="COMPUTE_FLEET_STOP"),
    )


def rich_plan() -> ClusterPlan:
    """GPUs, weights, custom settings at every level, memory-based scheduling, an include file."""
    cpu = nodes("cpu", "small", 2, 10, shape("c5.xlarge", 4, 7200), weight=17)
    cpu_big = nodes("cpu", "big", 0, 4, shape("c5.4xlarge", 16, 30000), weight=68)
    gpu = nodes("gpu", "g4", 0, 2, shape("g4dn.xlarge", 4, 15000, gpus=1), weight=52)
    gpu = [replace(n, custom_settings=(("CoreSpecCount", "1"), ("Weight", "99"))) for n in gpu]
    return ClusterPlan(
        cluster_name="rich",
        os="ubuntu2204",
        region="eu-west-1",
        head_node=HeadNodeSpec(
            shape("c5.2xlarge", 8, 15000),
            custom_actions=(CustomActionSpec("OnNodeStart", "s3://bucket/head.sh", ("a", "b")),),
        ),
        nodes=(*cpu, *cpu_big, *gpu),
        partitions=(
            PartitionSpec(
                "cpu",
                tuple(n.name for n in (*cpu, *cpu_big)),
                default=True,
                custom_settings=(("MaxNodes", "8"), ("MaxTime", "2-00:00:00")),
            ),
            PartitionSpec("gpu", tuple(n.name for n in gpu), default=False, job_exclusive=True),
        ),
        storage=(StorageSpec("data", "Efs", "/shared", "Retain"),),
        slurm=SlurmPlan(
            5,
            memory_based_scheduling=True,
            queue_update_strategy="DRAIN",
            custom_settings=(("SchedulerType", "sched/builtin"), ("MaxArraySize", "5000")),
            custom_settings_include_file="https://example.com/extra.conf",
        ),
    )


__all__ = [
    "GPU_SHAPE",
    "SHAPE",
    "engine_plan",
    "nodes",
    "plan",
    "queue_nodes",
    "rich_plan",
    "shape",
    "small_plan",
    "two_queue_plan",
]

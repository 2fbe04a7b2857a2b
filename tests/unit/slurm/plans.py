"""Hand-built ClusterPlans for the Slurm and local-provider unit tests."""

from __future__ import annotations

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


def shape(instance_type: str = "c5.xlarge", cpus: int = 4, memory: int = 7200, gpus: int = 0) -> NodeShape:
    return NodeShape(
        instance_type=instance_type,
        cpus=cpus,
        sockets=1,
        cores_per_socket=cpus,
        threads_per_core=1,
        real_memory_mib=memory,
        gpus=gpus,
        gpu_type="t4" if gpus else "",
    )


def nodes(
    queue: str, cr: str, static: int, dynamic: int, node_shape: NodeShape, weight: int = 1
) -> list[NodeSpec]:
    out = []
    for kind, count, tag in ((NodeKind.STATIC, static, "st"), (NodeKind.DYNAMIC, dynamic, "dy")):
        for i in range(1, count + 1):
            out.append(
                NodeSpec(
                    name=f"{queue}-{tag}-{cr}-{i}",
                    queue=queue,
                    compute_resource=cr,
                    kind=kind,
                    index=i,
                    shape=node_shape,
                    weight=weight,
                    features=(kind.value, node_shape.instance_type, cr),
                )
            )
    return out


def two_queue_plan(
    name: str = "demo", *, static: int = 1, dynamic: int = 3, scaledown: int = 10
) -> ClusterPlan:
    """q1 (default): one CR with ``static`` + ``dynamic`` nodes; q2: two dynamic nodes."""
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

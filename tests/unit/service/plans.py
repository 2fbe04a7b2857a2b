"""Hand-built ClusterPlans for service tests (independent of the config layer)."""

from __future__ import annotations

from corral.plan import (
    ClusterPlan,
    HeadNodeSpec,
    NodeKind,
    NodeShape,
    NodeSpec,
    PartitionSpec,
    SlurmPlan,
    StorageSpec,
)

SHAPE = NodeShape(
    "c5.xlarge", cpus=4, sockets=1, cores_per_socket=2, threads_per_core=2, real_memory_mib=7500
)


def small_plan(name: str = "demo", *, static: int = 1, dynamic: int = 2) -> ClusterPlan:
    """Two queues; ``q1`` has ``static`` static and ``dynamic`` dynamic nodes, ``q2`` one dynamic node."""
    nodes = [
        NodeSpec(f"q1-st-cr1-{i}", "q1", "cr1", NodeKind.STATIC, i, SHAPE, 1, ("static", "c5.xlarge"))
        for i in range(1, static + 1)
    ]
    nodes += [
        NodeSpec(f"q1-dy-cr1-{i}", "q1", "cr1", NodeKind.DYNAMIC, i, SHAPE, 1, ("dynamic", "c5.xlarge"))
        for i in range(1, dynamic + 1)
    ]
    nodes.append(NodeSpec("q2-dy-cr2-1", "q2", "cr2", NodeKind.DYNAMIC, 1, SHAPE, 1, ("dynamic",)))
    q1 = tuple(n.name for n in nodes if n.queue == "q1")
    return ClusterPlan(
        cluster_name=name,
        os="alinux2023",
        region="us-east-1",
        head_node=HeadNodeSpec(shape=NodeShape("t3.medium", 2, 1, 1, 2, 3800)),
        nodes=tuple(nodes),
        partitions=(PartitionSpec("q1", q1, True), PartitionSpec("q2", ("q2-dy-cr2-1",), False)),
        storage=(StorageSpec("home", "Home", "/home", "Retain"),),
        slurm=SlurmPlan(10, False, "TERMINATE", custom_settings=(("MaxJobCount", "1000"),)),
        tags=(("team", "hpc"),),
    )

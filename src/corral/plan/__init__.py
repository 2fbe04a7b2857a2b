"""The plan layer: pure functions from a validated config to what gets built and changed."""

from corral.plan._plan import (
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

__all__ = [
    "ClusterPlan",
    "CustomActionSpec",
    "HeadNodeSpec",
    "NodeKind",
    "NodeShape",
    "NodeSpec",
    "PartitionSpec",
    "SlurmPlan",
    "StorageSpec",
]

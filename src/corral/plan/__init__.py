"""The plan layer: pure functions from a validated config to what gets built and changed.

The plan records load eagerly (plain dataclasses); ``build_plan`` and the change-set functions need
the pydantic config model and load on first use, so the Slurm programs that read a plan stay fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from corral.plan._plan import (
    ACTION_EVENTS,
    ClusterPlan,
    CustomActionSpec,
    DataRepositorySpec,
    HeadNodeSpec,
    LoginPoolSpec,
    NodeKind,
    NodeShape,
    NodeSpec,
    PartitionSpec,
    SlurmPlan,
    StorageSpec,
    event_rank,
)
from corral.runtime.lazy import lazy_getattr

if TYPE_CHECKING:
    from corral.plan._build import build_plan, node_name
    from corral.plan._stored import plan_from_json, plan_to_json
    from corral.plan.changeset import Change, ChangeSet, diff

# Lazily imported public names -> the module that defines them.
_LAZY = {
    "build_plan": "corral.plan._build",
    "node_name": "corral.plan._build",
    "Change": "corral.plan.changeset",
    "ChangeSet": "corral.plan.changeset",
    "diff": "corral.plan.changeset",
    "plan_from_json": "corral.plan._stored",
    "plan_to_json": "corral.plan._stored",
}


__getattr__ = lazy_getattr(__name__, _LAZY)


__all__ = [
    "ACTION_EVENTS",
    "Change",
    "ChangeSet",
    "ClusterPlan",
    "CustomActionSpec",
    "DataRepositorySpec",
    "HeadNodeSpec",
    "LoginPoolSpec",
    "NodeKind",
    "NodeShape",
    "NodeSpec",
    "PartitionSpec",
    "SlurmPlan",
    "StorageSpec",
    "build_plan",
    "diff",
    "event_rank",
    "node_name",
    "plan_from_json",
    "plan_to_json",
]

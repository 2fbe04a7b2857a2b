"""The plan layer: pure functions from a validated config to what gets built and changed.

The plan records load eagerly (plain dataclasses); ``build_plan`` and the change-set functions need
the pydantic config model and load on first use, so the Slurm programs that read a plan stay fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from corral.plan._plan import (
    ClusterPlan,
    CustomActionSpec,
    DataRepositorySpec,
    HeadNodeSpec,
    NodeKind,
    NodeShape,
    NodeSpec,
    PartitionSpec,
    SlurmPlan,
    StorageSpec,
)

if TYPE_CHECKING:
    from corral.plan._build import build_plan, node_name
    from corral.plan.changeset import Change, ChangeSet, diff

# Lazily imported public names -> the module that defines them.
_LAZY = {
    "build_plan": "corral.plan._build",
    "node_name": "corral.plan._build",
    "Change": "corral.plan.changeset",
    "ChangeSet": "corral.plan.changeset",
    "diff": "corral.plan.changeset",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'corral.plan' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "Change",
    "ChangeSet",
    "ClusterPlan",
    "CustomActionSpec",
    "DataRepositorySpec",
    "HeadNodeSpec",
    "NodeKind",
    "NodeShape",
    "NodeSpec",
    "PartitionSpec",
    "SlurmPlan",
    "StorageSpec",
    "build_plan",
    "diff",
    "node_name",
]

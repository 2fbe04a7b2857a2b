"""The one stored form of a ``ClusterPlan``: JSON through the generic codec (``corral.runtime.codec``).

The service records it (so a background worker builds exactly the plan that was validated) and the
aws provider uploads the same document as the cluster's ``cluster.json`` (which the head node's
programs read back), so a plan is written and read one way everywhere.
"""

from __future__ import annotations

import functools

from corral.plan._plan import ClusterPlan
from corral.runtime.codec import dumps, loads


def plan_to_json(plan: ClusterPlan) -> str:
    """``plan`` as a JSON document (dataclasses as objects, tuples as arrays, enums as values, the
    validated config as its YAML-shaped JSON)."""
    return dumps(plan)


@functools.lru_cache(maxsize=64)
def plan_from_json(text: str | bytes) -> ClusterPlan:
    """The ``ClusterPlan`` that ``plan_to_json`` wrote; equal to the original. Plans are frozen,
    so the same text gives the same (shared) plan: every describe-cluster decodes the recorded
    plan, and the API serves hundreds of those a second."""
    return loads(ClusterPlan, text)


__all__ = ["plan_from_json", "plan_to_json"]

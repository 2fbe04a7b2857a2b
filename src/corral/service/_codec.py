"""The ClusterPlan as JSON, so a background worker builds exactly the plan that was validated
(``corral.runtime.codec``, the generic codec, does the work)."""

from __future__ import annotations

import functools

from corral.plan import ClusterPlan
from corral.runtime.codec import decode, dumps, loads


def plan_to_json(plan: ClusterPlan) -> str:
    """``plan`` as a JSON document (dataclasses as objects, tuples as arrays, enums as values)."""
    return dumps(plan)


@functools.lru_cache(maxsize=64)
def plan_from_json(text: str) -> ClusterPlan:
    """The ``ClusterPlan`` that ``plan_to_json`` wrote; equal to the original. Plans are frozen,
    so the same text gives the same (shared) plan: every describe-cluster decodes the recorded
    plan, and the API serves hundreds of those a second."""
    return loads(ClusterPlan, text)


__all__ = ["decode", "plan_from_json", "plan_to_json"]

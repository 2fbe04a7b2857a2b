"""Insufficient-capacity fail-over (ParallelCluster's "fast insufficient capacity fail-over"), pure.

When a node cannot be launched for lack of capacity, the ResumeProgram marks it DOWN with
``(Code:InsufficientInstanceCapacity)Failure when resuming nodes`` (or another code of
``scaling.INSUFFICIENT_CAPACITY_CODES``) and powers it down, so its job is requeued. The reconciler
then takes the node's compute resource out for ``insufficient_capacity_timeout`` (600 s by default;
zero or less turns the fail-over off):

- every powered-down dynamic node of that compute resource is set DOWN with the same reason, so
  Slurm routes the queue's jobs to its other compute resources;
- nodes that are up (static ones, dynamic ones running jobs) are left alone;
- once the timeout has passed since the first failure, the DOWN nodes are reset (powered down,
  IDLE again), so the compute resource is tried again.

The outage starts at the earliest time Slurm recorded for such a reason among the compute
resource's dynamic nodes (``Reason=... [root@2026-01-01T10:00:00]``), so it survives a reconciler
restart and re-setting the reason on another node does not extend it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from corral.daemons.scaling import failure_reason, reason_code
from corral.daemons.scaling import is_insufficient_capacity as _is_ice
from corral.slurm.status import NodeState

#: ParallelCluster's default ``insufficient_capacity_timeout`` (seconds).
DEFAULT_INSUFFICIENT_CAPACITY_TIMEOUT_S = 600.0
_NODE_NAME = re.compile(r"^(?P<queue>[A-Za-z0-9_-]+?)-(?:st|dy)-(?P<cr>[A-Za-z0-9_-]+)-\d+$")
_REASON_TIME = re.compile(r"\[[^@\]]*@(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\]\s*$")


def compute_resource_of(node_name: str) -> tuple[str, str] | None:
    """``(queue, compute resource)`` of a ``{queue}-{st|dy}-{cr}-{N}`` node name."""
    match = _NODE_NAME.match(node_name)
    return (match.group("queue"), match.group("cr")) if match else None


def reason_time(reason: str) -> datetime | None:
    """When Slurm recorded the reason (its ``[user@time]`` suffix, slurmctld's local time)."""
    match = _REASON_TIME.search(reason)
    if match is None:
        return None
    try:
        return datetime.fromisoformat(match.group(1)).astimezone()
    except ValueError:
        return None


def is_insufficient_capacity(node: NodeState) -> bool:
    """DOWN (or on its way there) because a launch found no capacity."""
    return _is_ice(node.reason)


@dataclass(frozen=True)
class Outage:
    """A compute resource without capacity since ``since``; ``reason`` is set on its nodes."""

    queue: str
    compute_resource: str
    since: datetime
    reason: str

    def active(self, now: datetime, timeout_s: float) -> bool:
        return (now - self.since).total_seconds() < timeout_s


def outages(
    nodes: Iterable[NodeState], dynamic: frozenset[str], now: datetime
) -> dict[tuple[str, str], Outage]:
    """The compute resources whose dynamic nodes carry an insufficient-capacity reason, each
    with the earliest time such a reason was set (``now`` when Slurm gave none)."""
    found: dict[tuple[str, str], Outage] = {}
    for node in nodes:
        key = compute_resource_of(node.name)
        if key is None or node.name not in dynamic or not is_insufficient_capacity(node):
            continue
        since = min(reason_time(node.reason) or now, now)
        previous = found.get(key)
        if previous is None or since < previous.since:
            code = reason_code(node.reason) or ""
            found[key] = Outage(key[0], key[1], since, failure_reason(code))
    return found


__all__ = [
    "DEFAULT_INSUFFICIENT_CAPACITY_TIMEOUT_S",
    "Outage",
    "compute_resource_of",
    "is_insufficient_capacity",
    "outages",
    "reason_time",
]

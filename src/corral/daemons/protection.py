"""Protected mode: ParallelCluster's answer to a queue whose nodes can never bootstrap.

Without it, a node whose OnNodeStart/OnNodeConfigured script fails is marked DOWN, replaced, its
job requeued, and the next node fails again, forever. ``track_protection`` counts consecutive
bootstrap failures of the nodes of each queue; at the threshold (``protected_failure_count``, 10 by
default as in ``clustermgtd``) the queue becomes *protected*: the reconciler sets its partition
INACTIVE (jobs stay pending, Slurm launches no node for them) and never powers its nodes up.

- A bootstrap failure is a node seen DOWN with the reason the node agent sets
  (``bootstrap failure: …``); a node is counted once per failure (while it stays failed it is not
  counted again).
- A successful bootstrap resets the queue's count: a node up in Slurm, whose instance is running
  (its agent finished), still so ``settle_s`` after it was first seen so (a failing node is briefly
  up before its agent marks it DOWN).
- An administrator ends protected mode by setting the partition UP again (``update-compute-fleet``
  start, or ``scontrol update PartitionName=… State=UP``): a protected queue whose partition was
  seen INACTIVE and is now UP is released, and its count restarts at zero.

Everything here is pure; the loop keeps the ``Protection`` record from one observation to the next.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from corral.slurm.status import NodeState

#: The reason the node agent gives Slurm when a node's bootstrap fails (``corral.node.agent``).
BOOTSTRAP_FAILURE_PREFIX = "bootstrap failure"
PROTECTED_REASON = "Corral: protected mode"
DEFAULT_PROTECTED_FAILURE_COUNT = 10
#: Longer than a failing agent takes to stop its services and mark the node DOWN (about 4 s).
DEFAULT_SETTLE_S = 10.0
_QUEUE_OF_NAME = re.compile(r"^(.+)-(?:st|dy)-")


def queue_of(node: NodeState) -> str | None:
    """The node's queue: its partition, else the ``{queue}-st|dy-…`` prefix of its name."""
    if node.partitions:
        return node.partitions[0]
    match = _QUEUE_OF_NAME.match(node.name)
    return match.group(1) if match else None


def bootstrap_failed(node: NodeState) -> bool:
    return node.state == "DOWN" and node.reason.startswith(BOOTSTRAP_FAILURE_PREFIX)


@dataclass(frozen=True)
class ProtectedQueue:
    reason: str
    since: datetime
    #: Its partition has been seen INACTIVE since; seen UP afterwards, an administrator released it.
    applied: bool = False


@dataclass(frozen=True)
class Healthy:
    """A node seen up on ``instance_id`` since ``since``; ``credited`` once it reset its queue."""

    instance_id: str
    since: datetime
    credited: bool = False


@dataclass(frozen=True)
class Protection:
    """What protected mode remembers between observations."""

    #: queue → consecutive bootstrap failures of its nodes
    failures: Mapping[str, int] = field(default_factory=dict)
    #: nodes currently failed by their bootstrap (each was counted once)
    failed_nodes: frozenset[str] = frozenset()
    healthy: Mapping[str, Healthy] = field(default_factory=dict)
    protected: Mapping[str, ProtectedQueue] = field(default_factory=dict)

    def applied(self) -> frozenset[str]:
        """Protected queues whose partition has been seen INACTIVE."""
        return frozenset(q for q, p in self.protected.items() if p.applied)

    def pending(self) -> dict[str, ProtectedQueue]:
        """Protected queues whose partition has not been seen INACTIVE yet."""
        return {q: p for q, p in self.protected.items() if not p.applied}

    def status(self) -> dict[str, object]:
        """The JSON the loop writes for people and tools (``protected.json``)."""
        return {
            "protectedQueues": [
                {
                    "queue": q,
                    "reason": p.reason,
                    "since": p.since.isoformat(),
                    "failures": self.failures.get(q, 0),
                }
                for q, p in sorted(self.protected.items())
            ],
            "bootstrapFailures": {q: n for q, n in sorted(self.failures.items()) if n},
        }

    @classmethod
    def from_status(cls, text: str) -> Protection:
        """Protected queues from a status file written earlier (a restarted loop keeps them;
        counts restart at zero). Raises ValueError/KeyError on a malformed file."""
        raw = json.loads(text)
        protected = {
            str(q["queue"]): ProtectedQueue(
                str(q["reason"]), datetime.fromisoformat(q["since"]), applied=True
            )
            for q in raw.get("protectedQueues", [])
        }
        return cls(protected=protected)


def _released(
    previous: Mapping[str, ProtectedQueue], partitions: Mapping[str, str]
) -> tuple[dict[str, ProtectedQueue], set[str]]:
    """Protected queues still protected (INACTIVE seen → applied), and those an administrator
    released (partition UP after it was INACTIVE, or partition gone)."""
    kept: dict[str, ProtectedQueue] = {}
    released: set[str] = set()
    for queue, entry in previous.items():
        state = partitions.get(queue)
        if state is None or (entry.applied and state == "UP"):
            released.add(queue)
        elif not entry.applied and state != "UP":
            kept[queue] = replace(entry, applied=True)
        else:
            kept[queue] = entry
    return kept, released


def _successes(
    previous: Mapping[str, Healthy],
    nodes: Iterable[NodeState],
    running: Mapping[str, str],
    now: datetime,
    settle_s: float,
) -> tuple[dict[str, Healthy], set[str]]:
    """Nodes up on a running instance, and the queues a node newly proved healthy in."""
    healthy: dict[str, Healthy] = {}
    proved: set[str] = set()
    for node in nodes:
        instance_id = running.get(node.name)
        if not node.ready or instance_id is None:
            continue
        seen = previous.get(node.name)
        if seen is None or seen.instance_id != instance_id:
            seen = Healthy(instance_id, now)
        if not seen.credited and (now - seen.since).total_seconds() >= settle_s:
            seen = replace(seen, credited=True)
            queue = queue_of(node)
            if queue:
                proved.add(queue)
        healthy[node.name] = seen
    return healthy, proved


def track_protection(
    previous: Protection,
    nodes: Iterable[NodeState],
    running: Mapping[str, str],
    partitions: Mapping[str, str],
    now: datetime,
    *,
    threshold: int = DEFAULT_PROTECTED_FAILURE_COUNT,
    settle_s: float = DEFAULT_SETTLE_S,
) -> Protection:
    """The next ``Protection`` from one observation: ``nodes`` (Slurm), ``running`` (node → id of
    its instance whose agent finished) and ``partitions`` (name → state)."""
    nodes = list(nodes)
    protected, released = _released(previous.protected, partitions)
    failures = {q: n for q, n in previous.failures.items() if q not in released}
    failed_now = {n.name for n in nodes if bootstrap_failed(n)}
    for node in nodes:
        queue = queue_of(node)
        if node.name in failed_now and node.name not in previous.failed_nodes and queue:
            failures[queue] = failures.get(queue, 0) + 1
    healthy, proved = _successes(previous.healthy, nodes, running, now, settle_s)
    for queue in proved & failures.keys():
        failures[queue] = 0
    for queue, count in sorted(failures.items()):
        if count >= threshold and queue not in protected:
            reason = f"{PROTECTED_REASON}: {count} consecutive bootstrap failures of nodes of queue {queue}"
            protected[queue] = ProtectedQueue(reason, now)
    return Protection(failures, frozenset(failed_now), healthy, protected)

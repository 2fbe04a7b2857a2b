"""A compute node's lifecycle: an explicit transition table, timestamped records, one event per move.

The reconciler observes each node (Slurm's state plus the provider's instance) once per pass and
``classify`` names the lifecycle state it is in. ``transition`` moves the node's ``NodeLifecycle``
record there along the table and returns the event to record. Observation is periodic, so a node
may have moved through several states between two passes (IDLE → TERMINATING → POWERED_DOWN within
one interval): such a jump is recorded with the states it must have gone through (``via``), found
in the table. A jump the table cannot explain at all is rejected: the record stays where it was and
the event says so, so that a wrong classification shows up instead of silently rewriting history.

Everything here is pure; the loop persists the records (JSON, ``dump_records``/``load_records``)
and appends the events to ``<cluster>/log/reconciler.events``.
"""

from __future__ import annotations

import enum
import json
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from corral.daemons.protection import bootstrap_failed
from corral.slurm.status import NodeState

#: How many past transitions a record keeps (the timeouts only need the recent ones).
HISTORY_LENGTH = 8
_BOOTING = frozenset({"POWER_UP", "POWERING_UP"})
_STOPPING = frozenset({"POWER_DOWN", "POWERING_DOWN"})
_BUSY = frozenset({"ALLOCATED", "MIXED", "COMPLETING"})


class NodeStatus(enum.StrEnum):
    POWERED_DOWN = "POWERED_DOWN"  # no instance; Slurm powers it up when a job needs it
    LAUNCHING = "LAUNCHING"  # Slurm asked for an instance; none exists yet
    BOOTSTRAPPING = "BOOTSTRAPPING"  # the instance exists; its agent runs the bootstrap
    IDLE = "IDLE"  # registered, no job
    ALLOCATED = "ALLOCATED"  # running jobs (ALLOCATED, MIXED or COMPLETING)
    DRAINING = "DRAINING"  # DRAIN set (by an administrator or Corral): no new job
    UNHEALTHY = "UNHEALTHY"  # DOWN, not responding, or its instance is gone: to be replaced
    FAILED = "FAILED"  # its bootstrap failed (an OnNodeStart/OnNodeConfigured script)
    TERMINATING = "TERMINATING"  # being powered down: its instance goes, its jobs are requeued


S = NodeStatus

#: Every edge of the lifecycle, and what makes a node take it. Order matters for ``path``: of two
#: equally short routes, the one through the edge listed first is taken (a node that vanished
#: between two passes was more likely powered down than failed).
TRANSITIONS: Mapping[tuple[NodeStatus, NodeStatus], str] = {
    (S.POWERED_DOWN, S.LAUNCHING): "power up requested (a pending job, or the reconciler for a static node)",
    (S.LAUNCHING, S.BOOTSTRAPPING): "the instance was launched; its bootstrap runs",
    (S.LAUNCHING, S.UNHEALTHY): "the launch failed or timed out (ResumeTimeout): Slurm set it DOWN",
    (S.LAUNCHING, S.TERMINATING): "powered down before an instance came up",
    (S.LAUNCHING, S.POWERED_DOWN): "the power up was cancelled",
    (S.BOOTSTRAPPING, S.IDLE): "slurmd registered: the node is in service",
    (S.BOOTSTRAPPING, S.ALLOCATED): "slurmd registered and the waiting job started",
    (S.BOOTSTRAPPING, S.FAILED): "a bootstrap script failed: the agent set the node DOWN",
    (S.BOOTSTRAPPING, S.UNHEALTHY): "the bootstrap timed out or the instance died while booting",
    (S.BOOTSTRAPPING, S.TERMINATING): "powered down while booting (boot timeout or replacement)",
    (S.IDLE, S.ALLOCATED): "a job started",
    (S.IDLE, S.DRAINING): "drained",
    (S.IDLE, S.TERMINATING): "idle past SuspendTime (dynamic), or powered down",
    (S.IDLE, S.UNHEALTHY): "DOWN, not responding, or its instance is gone",
    (S.ALLOCATED, S.IDLE): "its jobs finished",
    (S.ALLOCATED, S.DRAINING): "drained while running jobs",
    (S.ALLOCATED, S.TERMINATING): "powered down (forced): its jobs are requeued",
    (S.ALLOCATED, S.UNHEALTHY): "DOWN, not responding, or its instance is gone while running jobs",
    (S.DRAINING, S.IDLE): "resumed",
    (S.DRAINING, S.ALLOCATED): "resumed while its jobs still run",
    (S.DRAINING, S.TERMINATING): "powered down while drained",
    (S.DRAINING, S.UNHEALTHY): "DOWN, not responding, or its instance is gone while drained",
    (S.UNHEALTHY, S.TERMINATING): "replaced: its instance is terminated and the node powered down",
    (S.UNHEALTHY, S.IDLE): "it answered again",
    (S.UNHEALTHY, S.ALLOCATED): "it answered again, with its jobs",
    (S.UNHEALTHY, S.FAILED): "the agent reported a bootstrap failure",
    (S.UNHEALTHY, S.POWERED_DOWN): "reset by a power down",
    (S.FAILED, S.TERMINATING): "replaced after its bootstrap failure",
    (S.FAILED, S.POWERED_DOWN): "reset by a power down",
    (S.TERMINATING, S.POWERED_DOWN): "powered down: no instance remains",
    (S.TERMINATING, S.LAUNCHING): "powered up again as soon as the power down finished",
}


def classify(node: NodeState, *, has_instance: bool) -> NodeStatus:
    """The lifecycle state of a node as observed now (Slurm's view, and whether an instance exists)."""
    flags = node.flags
    if flags & _STOPPING:
        return S.TERMINATING
    if bootstrap_failed(node):
        return S.FAILED
    if "POWERED_DOWN" in flags and not flags & _BOOTING:
        return S.UNHEALTHY if node.state == "DOWN" else S.POWERED_DOWN
    if node.state == "DOWN":
        return S.UNHEALTHY
    if flags & _BOOTING:
        return S.BOOTSTRAPPING if has_instance else S.LAUNCHING
    if "NOT_RESPONDING" in flags or not has_instance or node.state in ("FUTURE", "UNKNOWN"):
        return S.UNHEALTHY
    if "DRAIN" in flags:
        return S.DRAINING
    return S.ALLOCATED if node.state in _BUSY else S.IDLE


@dataclass(frozen=True)
class NodeLifecycle:
    """Where a node is in its lifecycle, since when, on which instance, and how it got there."""

    name: str
    status: NodeStatus
    since: datetime
    instance_id: str | None = None
    #: (status, entered at) of the latest states, oldest first, the current one last
    history: tuple[tuple[NodeStatus, datetime], ...] = ()

    def age_s(self, now: datetime) -> float:
        """Seconds spent in the current state."""
        return (now - self.since).total_seconds()


@dataclass(frozen=True)
class NodeEvent:
    """One recorded transition (``accepted`` False: the table could not explain it; not applied)."""

    time: datetime
    node: str
    old: NodeStatus | None
    new: NodeStatus
    reason: str
    via: tuple[NodeStatus, ...] = ()
    instance_id: str | None = None
    accepted: bool = True

    def message(self) -> str:
        if self.old is None:
            return f"node {self.node} first seen {self.new}"
        path = " → ".join([self.old, *self.via, self.new])
        verdict = "" if self.accepted else " REJECTED (not a lifecycle transition)"
        return f"node {self.node} {path}{verdict}: {self.reason}"


def path(old: NodeStatus, new: NodeStatus) -> tuple[NodeStatus, ...] | None:
    """The intermediate states of the shortest route from ``old`` to ``new`` in the table
    (``()`` for a direct edge), or None when there is no route."""
    if (old, new) in TRANSITIONS:
        return ()
    came_from: dict[NodeStatus, NodeStatus] = {old: old}
    queue = deque([old])
    while queue:
        here = queue.popleft()
        for a, b in TRANSITIONS:
            if a is here and b not in came_from:
                came_from[b] = here
                if b is new:
                    hops = []
                    while came_from[b] is not old:
                        b = came_from[b]
                        hops.append(b)
                    return tuple(reversed(hops))
                queue.append(b)
    return None


def _moved(
    record: NodeLifecycle, status: NodeStatus, now: datetime, instance_id: str | None
) -> NodeLifecycle:
    history = (*record.history, (status, now))[-HISTORY_LENGTH:]
    return replace(record, status=status, since=now, instance_id=instance_id, history=history)


def transition(
    record: NodeLifecycle | None,
    name: str,
    observed: NodeStatus,
    now: datetime,
    *,
    instance_id: str | None = None,
) -> tuple[NodeLifecycle, NodeEvent | None]:
    """The record after observing ``name`` in ``observed`` state, and the event to record (None
    when nothing changed). A new instance under an unchanged state is a change too (it was
    replaced between two passes)."""
    if record is None:
        first = NodeLifecycle(name, observed, now, instance_id, ((observed, now),))
        return first, NodeEvent(now, name, None, observed, "first observation", instance_id=instance_id)
    replaced = instance_id is not None and record.instance_id not in (None, instance_id)
    if observed is record.status and not replaced:
        if instance_id is not None and record.instance_id is None:
            return replace(record, instance_id=instance_id), None
        return record, None
    if observed is record.status:
        via = (S.TERMINATING, S.POWERED_DOWN, S.LAUNCHING, S.BOOTSTRAPPING)
        reason = f"instance {record.instance_id} replaced by {instance_id} between two passes"
        event = NodeEvent(now, name, record.status, observed, reason, via, instance_id)
        return _moved(record, observed, now, instance_id), event
    hops = path(record.status, observed)
    if hops is None:
        event = NodeEvent(
            now, name, record.status, observed, "no such transition", instance_id=instance_id, accepted=False
        )
        return record, event
    last = hops[-1] if hops else record.status
    reason = TRANSITIONS[(last, observed)]
    if hops:
        reason += " (intermediate states fell between two passes)"
    event = NodeEvent(now, name, record.status, observed, reason, hops, instance_id)
    return _moved(record, observed, now, instance_id), event


def track_nodes(
    previous: Mapping[str, NodeLifecycle],
    nodes: Iterable[NodeState],
    instances: Mapping[str, str],
    now: datetime,
) -> tuple[dict[str, NodeLifecycle], list[NodeEvent]]:
    """Every node's record after one observation (``instances``: node → instance id), and the
    events of the nodes that moved. Nodes Slurm no longer lists are dropped."""
    records: dict[str, NodeLifecycle] = {}
    events: list[NodeEvent] = []
    for node in nodes:
        instance_id = instances.get(node.name)
        observed = classify(node, has_instance=instance_id is not None)
        record, event = transition(previous.get(node.name), node.name, observed, now, instance_id=instance_id)
        records[node.name] = record
        if event is not None:
            events.append(event)
    return records, events


def dump_records(records: Mapping[str, NodeLifecycle]) -> str:
    """The records as JSON (``load_records`` reads it back)."""
    return json.dumps(
        {
            name: {
                "status": r.status.value,
                "since": r.since.isoformat(),
                "instanceId": r.instance_id,
                "history": [[s.value, t.isoformat()] for s, t in r.history],
            }
            for name, r in sorted(records.items())
        },
        indent=1,
    )


def load_records(text: str) -> dict[str, NodeLifecycle]:
    """Records written by ``dump_records``. Raises ValueError/KeyError/TypeError when malformed."""
    raw = json.loads(text)
    return {
        name: NodeLifecycle(
            name,
            NodeStatus(r["status"]),
            datetime.fromisoformat(r["since"]),
            r.get("instanceId"),
            tuple((NodeStatus(s), datetime.fromisoformat(t)) for s, t in r.get("history", [])),
        )
        for name, r in raw.items()
    }

"""Corral beyond pcluster's update policies: which blocked changes a provider applies live, and what
an update does to the node set. Pure functions over ``ChangeSet``s and ``ClusterPlan``s.

pcluster refuses many changes while the compute fleet runs (``_update_checks``). Slurm can apply
several of them safely to a running cluster; a provider that can says which *kinds* it applies live
(``LIVE_KINDS`` names them all), and ``relax`` marks those changes allowed, saying so in the reason:

- ``queues``: add or remove a queue (nodes of a removed queue are drained and terminated first);
- ``compute_resources``: add or remove a compute resource;
- ``capacity``: ``MaxCount`` and ``MinCount`` (nodes past the new end are drained, then removed;
  static nodes launched or terminated);
- ``instances``: ``InstanceType``/``Instances``, only with ``QueueUpdateStrategy`` DRAIN (nodes are
  replaced as their jobs end) or TERMINATE (replaced now, jobs requeued); with COMPUTE_FLEET_STOP
  the stop is required, as pcluster does;
- ``slurm_settings``: ``ScaledownIdletime``, ``EnableMemoryBasedScheduling``;
- ``custom_actions``: a queue's OnNodeStart/OnNodeConfigured (nodes launched after use them);
- ``tags``: queue and compute-resource tags;
- ``storage``: shared storage added or removed (never ``/home``), mounted into or out of the
  running nodes;
- ``login_pools``: a login node pool (or the whole ``LoginNodes`` section) removed while its login
  nodes run: they are retired as scale-in retires them (users warned, stopped after the pool's
  GracetimePeriod).

``node_delta(old, new)`` lists the nodes an update adds, removes and reshapes, so the service can
find the jobs it would touch before anything changes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from corral.plan._plan import ClusterPlan
from corral.plan.changeset import Change, ChangeSet

_Q = r"Scheduling/SlurmQueues\[[^\]]+\]"
_CR = _Q + r"/ComputeResources\[[^\]]+\]"

#: (pattern over a change's path, kind): the first match decides.
_KINDS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), kind)
    for pattern, kind in (
        (rf"^{_Q}$", "queues"),
        (rf"^{_CR}$", "compute_resources"),
        (rf"^{_CR}/(MaxCount|MinCount)$", "capacity"),
        (rf"^{_CR}/(InstanceType|Instances(\[[^\]]+\])?(/.*)?)$", "instances"),
        (r"^Scheduling/SlurmSettings/(ScaledownIdletime|EnableMemoryBasedScheduling)$", "slurm_settings"),
        (rf"^{_Q}/CustomActions(/.*)?$", "custom_actions"),
        (rf"^{_Q}(/ComputeResources\[[^\]]+\])?/Tags(\[[^\]]+\])?(/.*)?$", "tags"),
        (r"^SharedStorage\[[^\]]+\]$", "storage"),
        (r"^LoginNodes(/Pools\[[^\]]+\])?$", "login_pools"),
    )
)

LIVE_KINDS = frozenset(kind for _, kind in _KINDS)

LIVE_REASON = "applied live by Corral, with the compute fleet running"


def live_kind(change: Change) -> str | None:
    """The kind of live change ``change`` is (see the module docstring), or None."""
    for pattern, kind in _KINDS:
        if pattern.match(change.path):
            return kind
    return None


def _home(change: Change) -> bool:
    item = change.new if change.new is not None else change.old
    return isinstance(item, dict) and str(item.get("MountDir", "")).rstrip("/") in ("home", "/home")


def can_apply_live(change: Change, kinds: frozenset[str], strategy: str) -> bool:
    """Whether a provider that applies ``kinds`` live can apply this (pcluster-blocked) change."""
    kind = live_kind(change)
    if kind is None or kind not in kinds:
        return False
    if kind == "instances" and strategy == "COMPUTE_FLEET_STOP":
        return False
    return not (kind == "storage" and _home(change))


def relax(changes: ChangeSet, kinds: frozenset[str], strategy: str) -> ChangeSet:
    """``changes`` with every blocked change the provider applies live (``kinds``) allowed, its
    reason saying so; changes pcluster allows, and those no provider can apply live, are kept
    (an instance type change refused for want of a QueueUpdateStrategy says how to get it live)."""
    if not kinds:
        return changes
    relaxed = []
    for c in changes.changes:
        if not c.allowed and can_apply_live(c, kinds, strategy):
            c = replace(c, allowed=True, reason=f"{LIVE_REASON} (pcluster: {c.reason})", remedy="")
        elif not c.allowed and live_kind(c) == "instances" and "instances" in kinds:
            c = replace(
                c,
                remedy=f"{c.remedy}, or set Scheduling/SlurmSettings/QueueUpdateStrategy: DRAIN (nodes"
                " are replaced as their jobs end) or TERMINATE (replaced now, jobs requeued)",
            )
        relaxed.append(c)
    return replace(changes, changes=tuple(relaxed))


@dataclass(frozen=True)
class NodeDelta:
    """What an update does to the node set, by Slurm node name."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    #: same name, another instance type (or shape): replaced per QueueUpdateStrategy
    reshaped: tuple[str, ...] = ()
    #: partitions (queues) that disappear
    removed_queues: tuple[str, ...] = ()
    #: static nodes to start (new static nodes, and dynamic ones that became static)
    static_added: tuple[str, ...] = ()

    @property
    def touched(self) -> tuple[str, ...]:
        """Nodes whose jobs the update would end: removed or reshaped."""
        return tuple(sorted({*self.removed, *self.reshaped}))


def node_delta(old: ClusterPlan, new: ClusterPlan) -> NodeDelta:
    """The nodes ``new`` adds, removes and reshapes relative to ``old``."""
    before = {n.name: n for n in old.nodes}
    after = {n.name: n for n in new.nodes}
    old_static = {n.name for n in old.static_nodes}
    return NodeDelta(
        added=tuple(n for n in after if n not in before),
        removed=tuple(n for n in before if n not in after),
        reshaped=tuple(n for n in after if n in before and after[n].shape != before[n].shape),
        removed_queues=tuple(
            p.name for p in old.partitions if p.name not in {q.name for q in new.partitions}
        ),
        static_added=tuple(n.name for n in new.static_nodes if n.name not in old_static),
    )


__all__ = ["LIVE_KINDS", "LIVE_REASON", "NodeDelta", "can_apply_live", "live_kind", "node_delta", "relax"]

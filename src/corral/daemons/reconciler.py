"""The reconciler: the role ParallelCluster's ``clustermgtd`` plays on the head node.

Static nodes are kept up and unhealthy nodes are replaced. ``reconcile`` only decides: from what
was observed (Slurm's node states and the provider's instances) it returns the ``Actions`` to take.
A thin loop (``corral.daemons._loop``, run as ``python -m corral.daemons.reconcilerd``) observes and
applies them.

A replacement goes through Slurm, so that jobs are requeued and Slurm's own power-saving state
stays the truth: terminate the instance and ``POWER_DOWN_FORCE`` the node (its jobs are requeued;
after SuspendTimeout it is ``IDLE+POWERED_DOWN``, DOWN cleared). A powered-down static node is then
powered up again (ResumeProgram launches a new instance); a dynamic node stays powered down until
a job needs it.

Rules, only while the fleet is running (partitions UP):

- a node an administrator drained (DRAIN with a reason not set by Corral) is never touched;
- a node being powered up is left alone while its instance is younger than the boot grace
  (ResumeTimeout, the compute node bootstrap timeout); Slurm marks it DOWN when it times out;
  but one whose agent already reported a bootstrap failure (DOWN, ``bootstrap failure: ...``,
  possible before slurmd registers) is replaced at once;
- a node being powered down is left alone;
- a node that is DOWN, whose instance is gone, or that has not responded for longer than the
  unresponsive grace, is replaced (static and dynamic alike, as ``clustermgtd`` does);
- a powered-down static node is powered up;
- an instance whose node is powered down (an orphan) is terminated;
- a queue in protected mode (``corral.daemons.protection``: too many consecutive bootstrap
  failures) has its partition set INACTIVE, and its nodes are never powered up;
- a compute resource whose launch found no capacity (``corral.daemons.capacity``) is taken out
  for ``insufficient_capacity_timeout_s``: its powered-down dynamic nodes are set DOWN and kept
  so, then reset.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from corral.daemons.capacity import (
    DEFAULT_INSUFFICIENT_CAPACITY_TIMEOUT_S,
    Outage,
    compute_resource_of,
    outages,
)
from corral.daemons.protection import Protection, bootstrap_failed, queue_of
from corral.plan import ClusterPlan, NodeKind
from corral.slurm import hostlist
from corral.slurm.status import NodeState

#: Reasons Corral sets start with this; a DRAIN with any other reason is an administrator's.
REASON_PREFIX = "Corral"
#: Flags meaning Slurm is powering the node up (POWER_UP: queued, POWERING_UP: in progress).
BOOTING_FLAGS = frozenset({"POWER_UP", "POWERING_UP"})
#: Flags meaning Slurm is powering the node down (POWER_DOWN: queued, POWERING_DOWN: in progress).
STOPPING_FLAGS = frozenset({"POWER_DOWN", "POWERING_DOWN"})

#: Longer than one slurmctld ping interval (SlurmdTimeout/3, 100 s by default): NOT_RESPONDING is
#: only cleared by the node's next message, so one lost ping must not cost the node.
DEFAULT_UNRESPONSIVE_GRACE_S = 120.0
DEFAULT_ORPHAN_GRACE_S = 10.0


@dataclass(frozen=True)
class FleetSpec:
    """What the reconciler needs to know about the cluster's compute nodes."""

    static: frozenset[str]
    dynamic: frozenset[str]
    #: A node booting for longer than this is replaced (ResumeTimeout / bootstrap timeout).
    boot_grace_s: float
    #: A NOT_RESPONDING node is replaced after this long (a single missed ping is not a failure).
    unresponsive_grace_s: float = DEFAULT_UNRESPONSIVE_GRACE_S
    #: An instance of a powered-down node is terminated once older than this (a launch may be racing).
    orphan_grace_s: float = DEFAULT_ORPHAN_GRACE_S
    #: A compute resource without capacity stays out this long (<= 0: no fail-over).
    insufficient_capacity_timeout_s: float = DEFAULT_INSUFFICIENT_CAPACITY_TIMEOUT_S

    @classmethod
    def from_plan(cls, plan: ClusterPlan) -> FleetSpec:
        return cls(
            static=frozenset(n.name for n in plan.nodes if n.kind is NodeKind.STATIC),
            dynamic=frozenset(n.name for n in plan.nodes if n.kind is NodeKind.DYNAMIC),
            boot_grace_s=float(plan.compute_node_bootstrap_timeout_s),
        )

    @classmethod
    def from_slurm(cls, nodes: Iterable[NodeState], resume_timeout_s: float) -> FleetSpec:
        """The spec Slurm is running with: static nodes carry the ``static`` feature; a node with
        neither feature is static when named ``{queue}-st-{cr}-{N}`` (what ``clustermgtd`` reads)."""
        nodes = list(nodes)
        static = frozenset(
            n.name for n in nodes if n.static or ("dynamic" not in n.features and "-st-" in n.name)
        )
        return cls(
            static=static,
            dynamic=frozenset(n.name for n in nodes) - static,
            boot_grace_s=resume_timeout_s,
        )


@dataclass(frozen=True)
class NodeInstance:
    """The instance currently backing a node, as the provider reports it."""

    instance_id: str
    launch_time: datetime


@dataclass(frozen=True)
class ObservedCluster:
    """One observation: Slurm's view of every node, and the instances that exist.

    ``unresponsive_since`` maps a NOT_RESPONDING node to when the loop first saw it so
    (``track_unresponsive`` keeps it from one observation to the next)."""

    nodes: tuple[NodeState, ...]
    instances: Mapping[str, NodeInstance] = field(default_factory=dict)
    unresponsive_since: Mapping[str, datetime] = field(default_factory=dict)
    #: Protected mode's record (``track_protection`` keeps it from one observation to the next).
    protection: Protection = field(default_factory=Protection)

    def node(self, name: str) -> NodeState | None:
        for node in self.nodes:
            if node.name == name:
                return node
        return None


class ActionKind(enum.StrEnum):
    PROTECT = "protect"  # scontrol PartitionName=<queue> State=INACTIVE (``node`` is the queue)
    TERMINATE = "terminate"  # provider.terminate: the node's instance goes away
    POWER_DOWN = "power_down"  # scontrol State=POWER_DOWN_FORCE: jobs requeued, node reset
    POWER_UP = "power_up"  # scontrol State=POWER_UP: ResumeProgram launches an instance
    DISABLE = "disable"  # scontrol State=DOWN Reason=(Code:...): its compute resource has no capacity


@dataclass(frozen=True)
class Action:
    kind: ActionKind
    node: str
    reason: str

    def describe(self) -> str:
        return f"{self.kind.value} {self.node}: {self.reason}"


@dataclass(frozen=True)
class Actions:
    """What to do, in the order to do it: protections (no job starts on a protected queue when
    its nodes' jobs are requeued), terminations, then power-downs, then power-ups."""

    items: tuple[Action, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.items)

    def nodes(self, kind: ActionKind) -> list[str]:
        return [a.node for a in self.items if a.kind is kind]

    def scontrol_commands(self) -> list[list[str]]:
        """The ``scontrol`` argv lists that carry out the power-downs and power-ups."""
        commands = []
        for action in self.items:
            if action.kind is ActionKind.PROTECT:
                commands.append(["scontrol", "update", f"PartitionName={action.node}", "State=INACTIVE"])
            if action.kind is ActionKind.POWER_DOWN:
                reason = f"{REASON_PREFIX}: replacing unhealthy node ({action.reason})"[:200]
                commands.append(
                    [
                        "scontrol",
                        "update",
                        f"NodeName={action.node}",
                        "State=POWER_DOWN_FORCE",
                        f"Reason={reason}",
                    ]
                )
        for reason, nodes in self._disabled().items():
            argv = ["scontrol", "update", f"NodeName={hostlist.compress(nodes)}", "State=DOWN"]
            commands.append([*argv, f"Reason={reason}"])
        up = self.nodes(ActionKind.POWER_UP)
        if up:
            commands.append(["scontrol", "update", f"NodeName={hostlist.compress(up)}", "State=POWER_UP"])
        return commands

    def _disabled(self) -> dict[str, list[str]]:
        grouped: dict[str, list[str]] = {}
        for action in self.items:
            if action.kind is ActionKind.DISABLE:
                grouped.setdefault(action.reason, []).append(action.node)
        return grouped


def admin_drained(node: NodeState) -> bool:
    """Drained by someone other than Corral: the administrator keeps the node."""
    return "DRAIN" in node.flags and not node.reason.startswith(REASON_PREFIX)


def _age_s(since: datetime, now: datetime) -> float:
    return (now - since).total_seconds()


def _unhealthy(
    spec: FleetSpec, node: NodeState, instance: NodeInstance | None, observed: ObservedCluster, now: datetime
) -> str | None:
    """Why an up (not booting, not powering down) node must be replaced, or None if it is healthy."""
    if node.state == "DOWN":
        return f"down: {node.reason or 'no reason given'}"
    if instance is None:
        return "its instance is gone"
    since = observed.unresponsive_since.get(node.name)
    if "NOT_RESPONDING" in node.flags and since and _age_s(since, now) > spec.unresponsive_grace_s:
        return f"not responding for {_age_s(since, now):.0f} s"
    return None


def _decide_capacity(
    spec: FleetSpec, node: NodeState, outage: Outage | None, now: datetime
) -> list[Action] | None:
    """The fail-over's actions for a powered-down dynamic node of a compute resource without
    capacity (``capacity``): DOWN while the outage lasts, left DOWN; None: the usual rules apply
    (a node that is up, a static node, no outage, or an outage past its timeout: reset)."""
    if (
        outage is None
        or node.name not in spec.dynamic
        or not outage.active(now, spec.insufficient_capacity_timeout_s)
    ):
        return None
    if (
        "POWERED_DOWN" not in node.flags
        or node.flags & (BOOTING_FLAGS | STOPPING_FLAGS)
        or admin_drained(node)
    ):
        return None
    if node.state == "DOWN":
        return []  # kept out until the outage ends; the usual rule would reset it now
    return [Action(ActionKind.DISABLE, node.name, outage.reason)]


def _decide_node(
    spec: FleetSpec,
    node: NodeState,
    observed: ObservedCluster,
    now: datetime,
    out: Mapping[tuple[str, str], Outage] | None = None,
) -> list[Action]:
    key = compute_resource_of(node.name)
    capacity = _decide_capacity(spec, node, (out or {}).get(key) if key else None, now)
    actions = _decide_node_health(spec, node, observed, now) if capacity is None else capacity
    if queue_of(node) in observed.protection.protected:
        # Protected mode: never launch a node of the queue again until an administrator says so.
        return [a for a in actions if a.kind is not ActionKind.POWER_UP]
    return actions


def _decide_node_health(
    spec: FleetSpec, node: NodeState, observed: ObservedCluster, now: datetime
) -> list[Action]:
    instance = observed.instances.get(node.name)
    if admin_drained(node) or node.flags & STOPPING_FLAGS:
        return []
    if node.flags & BOOTING_FLAGS:
        if bootstrap_failed(node):
            # The agent reported the failure before slurmd registered (a busy machine): Slurm would
            # keep the node POWERING_UP until ResumeTimeout, so the failure is acted on now.
            failure = f"down: {node.reason}"
            return [
                Action(ActionKind.TERMINATE, node.name, failure),
                Action(ActionKind.POWER_DOWN, node.name, failure),
            ]
        if instance is not None and _age_s(instance.launch_time, now) > spec.boot_grace_s:
            reason = f"still booting after {spec.boot_grace_s:.0f} s"
            return [
                Action(ActionKind.TERMINATE, node.name, reason),
                Action(ActionKind.POWER_DOWN, node.name, reason),
            ]
        return []
    if "POWERED_DOWN" in node.flags:
        actions = []
        if node.state == "DOWN":
            # A DOWN node stays DOWN while powered down: a power-down resets it to IDLE.
            actions.append(
                Action(ActionKind.POWER_DOWN, node.name, f"down: {node.reason or 'no reason given'}")
            )
        elif node.name in spec.static:
            actions.append(Action(ActionKind.POWER_UP, node.name, "static node is powered down"))
        if instance is not None and _age_s(instance.launch_time, now) > spec.orphan_grace_s:
            actions.insert(
                0, Action(ActionKind.TERMINATE, node.name, f"orphaned instance {instance.instance_id}")
            )
        return actions
    why = _unhealthy(spec, node, instance, observed, now)
    if why is None:
        return []
    return [Action(ActionKind.TERMINATE, node.name, why), Action(ActionKind.POWER_DOWN, node.name, why)]


def unknown_instances(spec: FleetSpec, observed: ObservedCluster, now: datetime) -> list[Action]:
    """Terminate instances the provider has for nodes Slurm does not list at all (a queue removed
    by an update, a launch for a node that no longer exists), once older than the orphan grace."""
    known = {n.name for n in observed.nodes}
    unknown = sorted(name for name in observed.instances if name not in known)
    return [
        Action(ActionKind.TERMINATE, name, f"orphaned instance {i.instance_id}: Slurm has no node {name}")
        for name, i in ((name, observed.instances[name]) for name in unknown)
        if _age_s(i.launch_time, now) > spec.orphan_grace_s
    ]


def reconcile(spec: FleetSpec, observed: ObservedCluster, now: datetime, *, fleet_running: bool) -> Actions:
    """The actions that bring the fleet back to health; none while the fleet is not running
    (stopping, stopped, or partitions in mixed states), since ``update-compute-fleet`` owns it then."""
    if not fleet_running:
        return Actions()
    decided = [
        Action(ActionKind.PROTECT, queue, entry.reason)
        for queue, entry in sorted(observed.protection.pending().items())
    ]
    out = outages(observed.nodes, spec.dynamic, now) if spec.insufficient_capacity_timeout_s > 0 else {}
    for node in sorted(observed.nodes, key=lambda n: n.name):
        if node.name in spec.static or node.name in spec.dynamic:
            decided += _decide_node(spec, node, observed, now, out)
    decided += unknown_instances(spec, observed, now)
    order = {
        ActionKind.PROTECT: 0,
        ActionKind.TERMINATE: 1,
        ActionKind.POWER_DOWN: 2,
        ActionKind.DISABLE: 3,
        ActionKind.POWER_UP: 4,
    }
    return Actions(tuple(sorted(decided, key=lambda a: order[a.kind])))


def track_unresponsive(
    previous: Mapping[str, datetime], nodes: Iterable[NodeState], now: datetime
) -> dict[str, datetime]:
    """When each currently NOT_RESPONDING node was first seen so (nodes that answer again drop out)."""
    return {n.name: previous.get(n.name, now) for n in nodes if "NOT_RESPONDING" in n.flags}

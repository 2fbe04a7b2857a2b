"""Login nodes of a local cluster as they are on disk (``_login`` makes and stops them): each in
``<cluster>/login/<name>/`` with its slot (``slot.json``), identity, agent status and, once
retired, ``retire_at``; what ``describe-cluster`` and ``describe-cluster-instances`` report of them,
and which node ``corral ssh --login-pool`` picks (round robin over the healthy ones)."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from corral.providers.base import Instance, InstanceState, LoginPoolStatus, NodeRole
from corral.providers.local import _nodes
from corral.providers.local._layout import ClusterDescriptor, ClusterLayout, LoginNode, LoginPoolRecord
from corral.providers.local._login_rules import DEFAULT_GRACE_S

LOGIN_DIR = "login"


def login_dir(layout: ClusterLayout) -> Path:
    return layout.root / LOGIN_DIR


def node_dir(layout: ClusterLayout, name: str) -> Path:
    return login_dir(layout) / name


# -- observing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Observed:
    """A login node as found on disk."""

    node: LoginNode
    alive: bool
    status: str  # "", "ready" or "failed" (the agent's status file)
    retire_at: float | None
    instance_id: str
    launched: datetime | None
    #: its pool's GracetimePeriod (seconds) when it was launched
    grace_s: int = DEFAULT_GRACE_S

    @property
    def healthy(self) -> bool:
        return self.alive and self.status == "ready" and self.retire_at is None


def observe(layout: ClusterLayout) -> list[Observed]:
    found = []
    base = login_dir(layout)
    for directory in sorted(base.iterdir()) if base.is_dir() else []:
        try:
            raw = json.loads((directory / "slot.json").read_text())
            node = LoginNode(str(raw["pool"]), int(raw["index"]), directory.name, str(raw["address"]))
        except (OSError, ValueError, KeyError, TypeError):
            continue
        identity = _nodes.read_identity(directory)
        retire_at = None
        with contextlib.suppress(OSError, ValueError):
            retire_at = float((directory / "retire_at").read_text())
        found.append(
            Observed(
                node=node,
                alive=_nodes.holder_pid(directory) is not None,
                status=str(_nodes.read_status(directory / "status.json").get("status", "")),
                retire_at=retire_at,
                instance_id=identity[0] if identity else "",
                launched=identity[1] if identity else None,
                grace_s=int(raw.get("grace_s", DEFAULT_GRACE_S)),
            )
        )
    return found


def instances(layout: ClusterLayout, descriptor: ClusterDescriptor) -> list[Instance]:
    """The live login nodes as instances (role LoginNode, with their pool)."""
    return [
        Instance(
            instance_id=o.instance_id,
            role=NodeRole.LOGIN,
            instance_type=(descriptor.login_pool(o.node.pool) or _unknown).instance_type,
            private_ip=o.node.address,
            state=InstanceState.RUNNING if o.status in ("ready", "failed") else InstanceState.PENDING,
            launch_time=o.launched,
            pool=o.node.pool,
        )
        for o in observe(layout)
        if o.alive and o.launched is not None
    ]


_unknown = LoginPoolRecord("", "", 0, 0, 0)


def pool_statuses(layout: ClusterLayout, descriptor: ClusterDescriptor) -> list[LoginPoolStatus]:
    """describe-cluster's ``loginNodes``: per pool, ``active`` when every wanted node serves,
    ``failed`` when one failed its bootstrap, else ``pending``; the address is the node ``corral
    ssh --login-pool`` would pick next (no load balancer here); healthy and unhealthy counts."""
    seen = observe(layout)
    out = []
    for pool in descriptor.login_pools:
        nodes = [o for o in seen if o.node.pool == pool.name and o.node.index <= pool.count]
        healthy = [o for o in nodes if o.healthy]
        failed = any(o.status == "failed" for o in nodes)
        status = "failed" if failed else "active" if len(healthy) == pool.count else "pending"
        pick = next_node(layout, pool.name, advance=False)
        out.append(
            LoginPoolStatus(
                pool_name=pool.name,
                status=status,
                address=pick.address if pick else None,
                healthy=len(healthy),
                unhealthy=len([o for o in nodes if o.alive]) - len(healthy),
            )
        )
    return out


def next_node(layout: ClusterLayout, pool: str, *, advance: bool = True) -> LoginNode | None:
    """The pool's serving node whose turn it is (round robin over the healthy nodes by slot, as a
    load balancer spreads connections); ``advance`` moves the turn on."""
    healthy = sorted(
        (o.node for o in observe(layout) if o.node.pool == pool and o.healthy), key=lambda n: n.index
    )
    if not healthy:
        return None
    turn_file = login_dir(layout) / f".{pool}.turn"
    try:
        turn = int(turn_file.read_text())
    except (OSError, ValueError):
        turn = 0
    if advance:
        turn_file.write_text(f"{turn + 1}\n")
    return healthy[turn % len(healthy)]


__all__ = [
    "LOGIN_DIR",
    "Observed",
    "instances",
    "login_dir",
    "next_node",
    "node_dir",
    "observe",
    "pool_statuses",
]

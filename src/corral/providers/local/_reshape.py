"""A running node whose instance type an update changes, under ``QueueUpdateStrategy: DRAIN``.

Slurm 24.11's ``scontrol reconfigure`` aborts (requeues) every running job whose node's socket or
core count changed. So DRAIN keeps the job: such a node keeps its current instance type, in the
cluster's descriptor and in slurm.conf, while it is drained (``POWER_DOWN_ASAP``). When it is
terminated (its jobs done, it powers down), ``finish`` gives it the new instance type: the
descriptor and slurm.conf take the updated plan's shape and Slurm reconfigures, so the node's next
launch is of the new type.

``<cluster>/reshape.json`` holds the shape each deferred node still runs with (the updated plan
is the descriptor's); it goes once no node is deferred.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from corral.plan import ClusterPlan, NodeSpec
from corral.providers.local._layout import ClusterDescriptor, ClusterLayout
from corral.runtime.codec import decode, encode

FILE = "reshape.json"


def _path(layout: ClusterLayout) -> Path:
    return layout.root / FILE


def running_shapes(layout: ClusterLayout) -> dict[str, NodeSpec]:
    """node -> the NodeSpec it still runs with (none when no node is deferred)."""
    try:
        doc = json.loads(_path(layout).read_text())
    except (OSError, ValueError):
        return {}
    return {name: decode(NodeSpec, spec) for name, spec in doc.get("running", {}).items()}


def deferred(
    layout: ClusterLayout, old: ClusterPlan | None, new: ClusterPlan, reshaped: Sequence[str]
) -> dict[str, NodeSpec]:
    """The running ``reshaped`` nodes that keep their shape for now (DRAIN only): node -> the
    NodeSpec they run with (kept from an earlier update, else the old plan's)."""
    if new.slurm.queue_update_strategy != "DRAIN" or not reshaped:
        return {}
    earlier = running_shapes(layout)
    before = {n.name: n for n in old.nodes} if old else {}
    kept = {}
    for name in reshaped:
        spec = earlier.get(name) or before.get(name)
        if spec is not None:
            kept[name] = spec
    return kept


def conf_plan(plan: ClusterPlan, kept: Mapping[str, NodeSpec]) -> ClusterPlan:
    """The plan slurm.conf is rendered from: ``plan`` with the kept nodes' running shapes."""
    if not kept:
        return plan
    return replace(plan, nodes=tuple(kept.get(n.name, n) for n in plan.nodes))


def keep_types(descriptor: ClusterDescriptor, kept: Mapping[str, NodeSpec]) -> ClusterDescriptor:
    """The descriptor with the kept nodes' running instance types."""
    if not kept:
        return descriptor
    nodes = tuple(
        replace(n, instance_type=kept[n.name].shape.instance_type) if n.name in kept else n
        for n in descriptor.nodes
    )
    return replace(descriptor, nodes=nodes)


def save(layout: ClusterLayout, kept: Mapping[str, NodeSpec]) -> None:
    path = _path(layout)
    if not kept:
        path.unlink(missing_ok=True)
        return
    doc = {"running": {k: encode(v) for k, v in kept.items()}}
    tmp = path.with_name(f".{FILE}.{os.getpid()}")
    tmp.write_text(json.dumps(doc))
    tmp.replace(path)


@contextlib.contextmanager
def locked(layout: ClusterLayout) -> Iterator[None]:
    fd = os.open(layout.root / ".reshape.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def finish(layout: ClusterLayout, names: Sequence[str]) -> bool:
    """Terminated ``names`` that were deferred take the updated plan's (the descriptor's) instance
    type: the descriptor and slurm.conf are rewritten and Slurm reconfigures. True when any was
    deferred."""
    from corral.providers.local import _cluster, _daemons

    if not _path(layout).exists():
        return False
    with locked(layout):
        running = running_shapes(layout)
        done = [n for n in names if n in running]
        if not done:
            return False
        kept = {k: v for k, v in running.items() if k not in done}
        descriptor = ClusterDescriptor.load(layout.descriptor)
        plan = descriptor.plan
        wanted = {n.name: n.shape.instance_type for n in plan.nodes}
        nodes = tuple(
            replace(n, instance_type=wanted[n.name]) if n.name in done and n.name in wanted else n
            for n in descriptor.nodes
        )
        descriptor = replace(descriptor, nodes=nodes)
        layout.descriptor.write_text(descriptor.dump())
        _cluster.write_files(conf_plan(plan, kept), layout, descriptor)
        save(layout, kept)
        _daemons.scontrol(layout, "reconfigure")
        return True


__all__ = ["conf_plan", "deferred", "finish", "keep_types", "running_shapes", "save"]

"""Capacity limits of a local cluster, so that insufficient capacity is real and testable.

EC2 runs out of an instance type in an Availability Zone; a laptop runs out of memory. A local
cluster can be given limits, and a launch beyond them fails with the same
``InsufficientCapacityError`` (code ``InsufficientInstanceCapacity``) an EC2 fleet returns, so the
scaling strategies and the compute-resource fail-over run for real.

The limits are a comma-separated list of ``key=value``:

- ``total=N``: at most N compute nodes running at once;
- ``memory_mib=M``: at most M MiB of compute-node memory (each instance type's catalog memory);
- ``<instance type>=N``: at most N nodes of that type (``c5.xlarge=2``);
- ``<instance type>:memory_mib=M``: at most M MiB on nodes of that type.

They are read at every launch from ``<cluster dir>/capacity`` (edit it on a live cluster to
change capacity; an empty or missing file means no limit). ``CORRAL_LOCAL_CAPACITY`` set when the
cluster is created is written to that file; set when a launch runs, it applies if there is no file.
Example: ``CORRAL_LOCAL_CAPACITY="c5.xlarge=2,total=10,memory_mib=65536"``.

Counting is right under concurrent launches (several ResumePrograms, a reconciler): admission
runs under an exclusive lock on ``<cluster dir>/capacity.lock`` and counts the nodes that have an
instance (a ``nodes/<node>/instance_id``) plus the reservations of launches in flight
(``reservations/<node>``, holding the launching pid; one whose process is gone is void).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from corral.errors import ProviderError
from corral.providers.local import _proc
from corral.providers.local._layout import ClusterLayout, NodeRecord

CAPACITY_ENV = "CORRAL_LOCAL_CAPACITY"
CAPACITY_FILE = "capacity"
ICE_CODE = "InsufficientInstanceCapacity"
_HINT = "write e.g. 'total=10,c5.xlarge=2,memory_mib=65536,c5.xlarge:memory_mib=16384'"


@dataclass(frozen=True)
class Limit:
    nodes: int | None = None
    memory_mib: int | None = None


@dataclass(frozen=True)
class CapacityLimits:
    """The limits: in total, and per instance type."""

    total: Limit = Limit()
    per_type: dict[str, Limit] = field(default_factory=dict)

    @property
    def limited(self) -> bool:
        return self.total != Limit() or any(limit != Limit() for limit in self.per_type.values())

    @property
    def needs_memory(self) -> bool:
        limits = [self.total, *self.per_type.values()]
        return any(limit.memory_mib is not None for limit in limits)

    @classmethod
    def parse(cls, text: str, where: str = CAPACITY_ENV) -> CapacityLimits:
        """Parse the ``key=value,...`` form; raise ``ProviderError`` naming the bad item."""
        total: dict[str, int] = {}
        per_type: dict[str, dict[str, int]] = {}
        for item in (i.strip() for i in text.replace("\n", ",").split(",")):
            if not item or item.startswith("#"):
                continue
            key, sep, value = (part.strip() for part in item.partition("="))
            if not sep or not value.isdigit():
                raise ProviderError(f"{where}: {item!r} is not key=<whole number>", hint=_HINT)
            if key in ("total", "nodes"):
                total["nodes"] = int(value)
            elif key == "memory_mib":
                total["memory_mib"] = int(value)
            elif key.endswith(":memory_mib"):
                per_type.setdefault(key.removesuffix(":memory_mib"), {})["memory_mib"] = int(value)
            elif ":" in key or not key:
                raise ProviderError(f"{where}: unknown limit {key!r}", hint=_HINT)
            else:
                per_type.setdefault(key, {})["nodes"] = int(value)
        return cls(Limit(**total), {t: Limit(**v) for t, v in per_type.items()})


@dataclass(frozen=True)
class Slot:
    """One node, as capacity sees it."""

    node: str
    instance_type: str
    memory_mib: int = 0


@dataclass(frozen=True)
class Admission:
    admitted: tuple[str, ...]
    #: node -> message, for the nodes refused (all with ``ICE_CODE``)
    refused: dict[str, str]


@dataclass
class _Usage:
    """Running totals, so that admitting N nodes costs O(N)."""

    nodes: int = 0
    memory_mib: int = 0
    by_type: dict[str, tuple[int, int]] = field(default_factory=dict)

    def add(self, slot: Slot) -> None:
        count, memory = self.by_type.get(slot.instance_type, (0, 0))
        self.by_type[slot.instance_type] = (count + 1, memory + slot.memory_mib)
        self.nodes += 1
        self.memory_mib += slot.memory_mib

    def over(self, limits: CapacityLimits, slot: Slot) -> str | None:
        """Why adding ``slot`` breaks a limit, or None."""
        typed = self.by_type.get(slot.instance_type, (0, 0))
        checks = [
            ("in total", limits.total, (self.nodes, self.memory_mib)),
            (slot.instance_type, limits.per_type.get(slot.instance_type), typed),
        ]
        for label, limit, (count, memory) in checks:
            if limit is None:
                continue
            if limit.nodes is not None and count + 1 > limit.nodes:
                return f"capacity of {limit.nodes} node(s) {label} reached"
            if limit.memory_mib is not None and memory + slot.memory_mib > limit.memory_mib:
                return f"capacity of {limit.memory_mib} MiB {label} reached"
        return None


def admit(
    limits: CapacityLimits, running: Sequence[Slot], requested: Sequence[Slot], *, all_or_nothing: bool
) -> Admission:
    """Which requested nodes fit beside the running ones, in the order given. A requested node
    that is already running is admitted without counting twice. With ``all_or_nothing`` one
    refusal refuses the whole request (EC2's MinTargetCapacity equal to the target)."""
    up = {s.node for s in running}
    usage = _Usage()
    for slot in running:
        usage.add(slot)
    admitted: list[str] = []
    refused: dict[str, str] = {}
    for slot in requested:
        if slot.node in up:
            admitted.append(slot.node)
            continue
        why = usage.over(limits, slot)
        if why is None:
            usage.add(slot)
            admitted.append(slot.node)
        else:
            refused[slot.node] = f"{slot.instance_type} for {slot.node}: {why}"
    if all_or_nothing and refused:
        first = next(iter(refused.values()))
        every = f"{first} (all-or-nothing launch of {len(requested)} node(s))"
        return Admission((), {s.node: every for s in requested})
    return Admission(tuple(admitted), refused)


# -- the thin layer: files, lock, reservations ----------------------------------------------------


def capacity_file(layout: ClusterLayout) -> Path:
    return layout.root / CAPACITY_FILE


def read_limits(layout: ClusterLayout) -> CapacityLimits:
    """The cluster's limits: its capacity file, else ``CORRAL_LOCAL_CAPACITY``, else none."""
    path = capacity_file(layout)
    try:
        return CapacityLimits.parse(path.read_text(), where=str(path))
    except FileNotFoundError:
        return CapacityLimits.parse(os.environ.get(CAPACITY_ENV, ""))


def validate_environment() -> None:
    """Raise ``ProviderError`` when ``CORRAL_LOCAL_CAPACITY`` is set but malformed."""
    CapacityLimits.parse(os.environ.get(CAPACITY_ENV, ""))


def record_limits(layout: ClusterLayout) -> None:
    """At create: keep ``CORRAL_LOCAL_CAPACITY`` (validated) in the cluster's capacity file."""
    text = os.environ.get(CAPACITY_ENV, "").strip()
    if text:
        CapacityLimits.parse(text)
        capacity_file(layout).write_text(text + "\n")


def _reservations(layout: ClusterLayout) -> Path:
    return layout.root / "reservations"


@contextlib.contextmanager
def _locked(layout: ClusterLayout) -> Iterator[None]:
    with open(layout.root / "capacity.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _occupied(layout: ClusterLayout) -> set[str]:
    """Nodes that hold capacity: an instance on disk, or a live launch's reservation."""
    busy = {p.parent.name for p in layout.nodes_dir.glob("*/instance_id")}
    for path in _reservations(layout).glob("*"):
        pid = _proc.read_pid(path)
        if pid is not None and _proc.alive(pid):
            busy.add(path.name)
        else:
            path.unlink(missing_ok=True)
    return busy


def reserve(
    layout: ClusterLayout,
    nodes: Sequence[NodeRecord],
    all_nodes: Sequence[NodeRecord],
    memory_of: Callable[[str], int],
    *,
    all_or_nothing: bool,
) -> Admission:
    """Admit ``nodes`` under the cluster's limits and reserve the admitted ones for this process
    until ``release``. Without limits every node is admitted and nothing is written."""
    limits = read_limits(layout)
    if not limits.limited:
        return Admission(tuple(n.name for n in nodes), {})
    memory = memory_of if limits.needs_memory else (lambda _t: 0)
    slot = lambda n: Slot(n.name, n.instance_type, memory(n.instance_type))  # noqa: E731
    with _locked(layout):
        busy = _occupied(layout)
        running = [slot(n) for n in all_nodes if n.name in busy]
        decision = admit(limits, running, [slot(n) for n in nodes], all_or_nothing=all_or_nothing)
        _reservations(layout).mkdir(exist_ok=True)
        for name in decision.admitted:
            if name not in busy:
                (_reservations(layout) / name).write_text(f"{os.getpid()}\n")
    return decision


def release(layout: ClusterLayout, node: str) -> None:
    """Drop a launch's reservation (the node now counts through its instance, or failed)."""
    (_reservations(layout) / node).unlink(missing_ok=True)

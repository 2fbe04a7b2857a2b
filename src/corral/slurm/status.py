"""Parsers for ``scontrol -o show node|partition``, ``sinfo`` and ``squeue`` output (pure), and the
argv that produce that output, so any provider can run them on its head node.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A key starts a new field when preceded by a space: "Reason=stopped fleet [root@t]" keeps its spaces.
_FIELD = re.compile(r"(?:^|\s)([A-Za-z][A-Za-z0-9_:/.]*)=")

#: Node state flags that mean "not usable yet" while Slurm is powering a node up.
POWERING_FLAGS = frozenset({"POWERED_DOWN", "POWERING_UP", "POWER_UP", "NOT_RESPONDING"})

SCONTROL_NODES_ARGV = ("scontrol", "-o", "show", "node")
SCONTROL_PARTITIONS_ARGV = ("scontrol", "-o", "show", "partition")
SINFO_ARGV = ("sinfo", "-h", "-o", "%P|%a|%D|%T|%N")
SQUEUE_ARGV = ("squeue", "-h", "-a", "-o", "%i|%j|%u|%T|%D|%N|%r")


def parse_fields(line: str) -> dict[str, str]:
    """``Key=Value Key2=Value with spaces`` → dict. Values run up to the next `` Key=``."""
    matches = list(_FIELD.finditer(line))
    fields: dict[str, str] = {}
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(line)
        fields[match.group(1)] = line[match.end() : end].strip()
    return fields


@dataclass(frozen=True)
class NodeState:
    """One node as ``scontrol -o show node`` reports it."""

    name: str
    state: str  # base state: IDLE, ALLOCATED, MIXED, DOWN, ...
    flags: frozenset[str]  # CLOUD, POWERED_DOWN, POWERING_UP, DRAIN, NOT_RESPONDING, ...
    addr: str = ""
    features: tuple[str, ...] = ()
    partitions: tuple[str, ...] = ()
    reason: str = ""

    @property
    def powered_down(self) -> bool:
        return "POWERED_DOWN" in self.flags and "POWERING_UP" not in self.flags

    @property
    def powering_down(self) -> bool:
        return "POWERING_DOWN" in self.flags

    @property
    def ready(self) -> bool:
        """Up and registered: not powered down, not booting, responding, not down."""
        return not (self.flags & POWERING_FLAGS) and self.state not in {"DOWN", "FUTURE", "UNKNOWN"}

    @property
    def failed(self) -> bool:
        return self.state == "DOWN" or bool(self.flags & {"FAIL", "DRAIN", "INVALID_REG"})

    @property
    def static(self) -> bool:
        return "static" in self.features


def parse_state(text: str) -> tuple[str, frozenset[str]]:
    """``IDLE+CLOUD+POWERED_DOWN`` → ("IDLE", {"CLOUD", "POWERED_DOWN"})."""
    base, *flags = text.split("+") if text else ("UNKNOWN",)
    return base.upper(), frozenset(flag.upper() for flag in flags)


def _split_list(value: str) -> tuple[str, ...]:
    return tuple(v for v in value.split(",") if v and v != "(null)")


def parse_nodes(output: str) -> list[NodeState]:
    """Every node of ``scontrol -o show node`` output."""
    nodes: list[NodeState] = []
    for line in output.splitlines():
        fields = parse_fields(line.strip())
        if "NodeName" not in fields:
            continue
        state, flags = parse_state(fields.get("State", ""))
        nodes.append(
            NodeState(
                name=fields["NodeName"],
                state=state,
                flags=flags,
                addr=fields.get("NodeAddr", ""),
                features=_split_list(fields.get("AvailableFeatures", "")),
                partitions=_split_list(fields.get("Partitions", "")),
                reason="" if fields.get("Reason", "(null)") == "(null)" else fields.get("Reason", ""),
            )
        )
    return nodes


@dataclass(frozen=True)
class PartitionState:
    name: str
    state: str  # UP, DOWN, DRAIN, INACTIVE
    nodes: str = ""  # hostlist expression
    default: bool = False


def parse_partitions(output: str) -> list[PartitionState]:
    """Every partition of ``scontrol -o show partition`` output."""
    partitions: list[PartitionState] = []
    for line in output.splitlines():
        fields = parse_fields(line.strip())
        if "PartitionName" not in fields:
            continue
        partitions.append(
            PartitionState(
                name=fields["PartitionName"],
                state=fields.get("State", "UNKNOWN").upper(),
                nodes="" if fields.get("Nodes") == "(null)" else fields.get("Nodes", ""),
                default=fields.get("Default", "NO").upper() == "YES",
            )
        )
    return partitions


@dataclass(frozen=True)
class SinfoRow:
    partition: str
    default: bool
    availability: str
    node_count: int
    state: str
    nodes: str


def parse_sinfo(output: str) -> list[SinfoRow]:
    """Rows of ``sinfo`` run with ``SINFO_ARGV``."""
    rows: list[SinfoRow] = []
    for line in output.splitlines():
        parts = line.strip().split("|")
        if len(parts) != 5:
            continue
        partition, availability, count, state, nodes = parts
        rows.append(
            SinfoRow(
                partition=partition.rstrip("*"),
                default=partition.endswith("*"),
                availability=availability,
                node_count=int(count),
                state=state,
                nodes=nodes,
            )
        )
    return rows


@dataclass(frozen=True)
class JobRow:
    job_id: str
    name: str
    user: str
    state: str  # PENDING, CONFIGURING, RUNNING, COMPLETING, ...
    node_count: int
    nodes: str
    reason: str


def parse_squeue(output: str) -> list[JobRow]:
    """Rows of ``squeue`` run with ``SQUEUE_ARGV``."""
    rows: list[JobRow] = []
    for line in output.splitlines():
        parts = line.strip().split("|")
        if len(parts) != 7:
            continue
        job_id, name, user, state, count, nodes, reason = parts
        rows.append(JobRow(job_id, name, user, state, int(count or 0), nodes, reason))
    return rows

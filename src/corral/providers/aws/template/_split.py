"""Nested queue stacks: pack queues into as few templates as CloudFormation's limits allow.

Each queue is rendered alone first (a small template dict), then queues are packed in config order
into chunks whose resources, outputs and JSON size stay under the budgets below, which sit below
CloudFormation's hard limits (500 resources, 200 outputs, 1 MB for a template read from S3) with
room for the parameters and metadata every chunk repeats. Packing is greedy and deterministic:
the same config gives the same chunks, and a queue is never split across two stacks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from corral.errors import LimitExceededError

_REF = re.compile(r'\{"Ref":"([A-Za-z0-9:]+)"\}')

#: CloudFormation's limits per template.
CFN_MAX_RESOURCES = 500
CFN_MAX_OUTPUTS = 200
CFN_MAX_PARAMETERS = 200
CFN_MAX_BYTES_S3 = 1_048_576
#: What a nested stack may use, leaving headroom under the limits.
MAX_RESOURCES = 450
MAX_OUTPUTS = 180
MAX_BYTES = 900_000


@dataclass(frozen=True)
class Piece:
    """One queue's part of a nested stack: its resources and outputs, and their JSON size."""

    queue: str
    resources: dict[str, Any]
    outputs: dict[str, Any]
    size: int = field(default=0)
    #: Every name the piece ``Ref``s (the nested stack declares only the parameters among them).
    references: frozenset[str] = frozenset()

    @classmethod
    def of(cls, queue: str, rendered: dict[str, Any]) -> Piece:
        resources = rendered.get("Resources", {})
        outputs = rendered.get("Outputs", {})
        text = json.dumps([resources, outputs], separators=(",", ":"))
        return cls(queue, resources, outputs, len(text), frozenset(_REF.findall(text)))


def pack(
    pieces: Sequence[Piece],
    *,
    max_resources: int | None = None,
    max_outputs: int | None = None,
    max_bytes: int | None = None,
) -> list[list[Piece]]:
    """Pieces grouped, in order, into chunks that fit the budgets (the module's ``MAX_*`` where not
    given); a piece that alone exceeds a budget raises ``LimitExceededError`` (it fits no template)."""
    chunks: list[list[Piece]] = []
    current: list[Piece] = []
    used = [0, 0, 0]
    limits = [
        MAX_RESOURCES if max_resources is None else max_resources,
        MAX_OUTPUTS if max_outputs is None else max_outputs,
        MAX_BYTES if max_bytes is None else max_bytes,
    ]
    for piece in pieces:
        need = [len(piece.resources), len(piece.outputs), piece.size]
        if any(n > limit for n, limit in zip(need, limits, strict=True)):
            raise LimitExceededError(
                f"queue {piece.queue!r} alone needs {need[0]} resources, {need[1]} outputs and "
                f"{need[2]} bytes of template, more than one CloudFormation stack can hold",
                hint="split the queue's compute resources across more queues",
            )
        if current and any(u + n > limit for u, n, limit in zip(used, need, limits, strict=True)):
            chunks.append(current)
            current, used = [], [0, 0, 0]
        current.append(piece)
        used = [u + n for u, n in zip(used, need, strict=True)]
    if current:
        chunks.append(current)
    return chunks


def stack_logical_id(index: int) -> str:
    """``QueueStack1``, ``QueueStack2``, ...: the root's AWS::CloudFormation::Stack resources."""
    return f"QueueStack{index + 1}"

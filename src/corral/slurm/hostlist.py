"""Slurm hostlist expressions (``q1-dy-c1-[1-3,5],q2-st-c2-1``): expand and compress, pure."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable

_TRAILING_NUMBER = re.compile(r"^(.*?)(\d+)$")


def _split_top_level(expression: str) -> list[str]:
    """Split on commas that are not inside brackets."""
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for char in expression:
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [p for p in (part.strip() for part in parts) if p]


def _expand_range(body: str) -> list[str]:
    values: list[str] = []
    for item in body.split(","):
        if "-" in item:
            low, high = item.split("-", 1)
            width = len(low) if low.startswith("0") else 0
            values.extend(str(i).zfill(width) for i in range(int(low), int(high) + 1))
        else:
            values.append(item)
    return values


def expand(expression: str) -> list[str]:
    """Every host name an expression denotes, in order (``a[1-2]b[3,4]`` → a1b3 a1b4 a2b3 a2b4)."""
    names: list[str] = []
    for part in _split_top_level(expression):
        pieces = re.split(r"(\[[^\]]*\])", part)
        choices = [_expand_range(p[1:-1]) if p.startswith("[") else [p] for p in pieces if p]
        names.extend("".join(combo) for combo in itertools.product(*choices))
    return names


def _ranges(numbers: list[int]) -> str:
    spans: list[str] = []
    start = prev = numbers[0]
    for number in [*numbers[1:], None]:
        if number is not None and number == prev + 1:
            prev = number
            continue
        spans.append(str(start) if start == prev else f"{start}-{prev}")
        if number is not None:
            start = prev = number
    return ",".join(spans)


def compress(names: Iterable[str]) -> str:
    """A compact expression for ``names``, keeping their order of first prefix appearance.

    Names sharing a prefix and ending in a number without leading zeros fold into one bracket.
    """
    groups: dict[str, list[int]] = {}
    order: list[tuple[str, str | None]] = []
    for name in names:
        match = _TRAILING_NUMBER.match(name)
        if match and not (len(match.group(2)) > 1 and match.group(2).startswith("0")):
            prefix = match.group(1)
            if prefix not in groups:
                groups[prefix] = []
                order.append((prefix, None))
            groups[prefix].append(int(match.group(2)))
        else:
            order.append((name, name))
    out: list[str] = []
    for prefix, literal in order:
        if literal is not None:
            out.append(literal)
            continue
        numbers = sorted(set(groups[prefix]))
        out.append(f"{prefix}{numbers[0]}" if len(numbers) == 1 else f"{prefix}[{_ranges(numbers)}]")
    return ",".join(out)

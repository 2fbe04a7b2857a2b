"""The daemons' event records: JSON lines a person or a tool can read, one per happening.

Shaped like ParallelCluster's ``clustermgtd.events`` (``datetime``, ``cluster-name``,
``component``, ``level``, ``event-type``, ``message``, ``detail``). The reconciler writes
``<cluster>/log/reconciler.events`` (node transitions, its actions, protected mode, fleet
requests) and the supervisor ``<cluster>/log/supervisor.events`` (restarts).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from corral.daemons.lifecycle import NodeEvent

JSONValue = str | int | float | bool | None | list[str]


@dataclass(frozen=True)
class Event:
    time: datetime
    component: str
    event_type: str
    message: str
    level: str = "INFO"
    detail: Mapping[str, JSONValue] = field(default_factory=dict)

    def to_json(self, cluster: str) -> dict[str, object]:
        return {
            "datetime": self.time.isoformat(timespec="milliseconds"),
            "cluster-name": cluster,
            "component": self.component,
            "level": self.level,
            "event-type": self.event_type,
            "message": self.message,
            "detail": dict(self.detail),
        }


def node_event(event: NodeEvent) -> Event:
    """A lifecycle transition as an event (a rejected one is a WARNING)."""
    return Event(
        event.time,
        "reconciler",
        "node-transition" if event.accepted else "node-transition-rejected",
        event.message(),
        "INFO" if event.accepted else "WARNING",
        {
            "node": event.node,
            "from": event.old.value if event.old else None,
            "to": event.new.value,
            "via": [s.value for s in event.via],
            "instance-id": event.instance_id,
        },
    )


class EventLog:
    """Appends events to a JSON-lines file, each line in one ``write`` on an O_APPEND descriptor
    (concurrent writers never interleave); with no path it writes nothing."""

    def __init__(self, path: Path | None, cluster: str) -> None:
        self.path, self.cluster = path, cluster

    def write(self, events: Iterable[Event]) -> int:
        """Append ``events``; returns how many were written (0 without a path or on error)."""
        lines = [json.dumps(e.to_json(self.cluster)) + "\n" for e in events]
        if not lines or self.path is None:
            return 0
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError:
            return 0
        try:
            for line in lines:
                os.write(fd, line.encode())
        finally:
            os.close(fd)
        return len(lines)


def read_events(path: Path) -> list[dict[str, object]]:
    """Every event in a JSON-lines file (unreadable lines skipped; none when there is no file)."""
    try:
        text = path.read_text()
    except OSError:
        return []
    out = []
    for line in text.splitlines():
        try:
            out.append(dict(json.loads(line)))
        except (ValueError, TypeError):
            continue
    return out

"""Log streams and events with CloudWatch's semantics, computed from log files (pure).

- ``parse_events``: each line of a file is an event. Its timestamp is the one the line starts with
  (Slurm's ``[2026-11-22T23:01:02.123]``, munged's ``2026-11-22 23:01:02 +0000``, Python logging's
  ``2026-11-22 23:01:02,123``, ISO 8601, a custom action log's ``=== <ISO time>`` header, or a JSON
  line's ``timestamp``/``datetime``/``time``); a line without one inherits the previous event's (the
  first timestamp of the file before any, the file's mtime when the file has none). Indented lines
  and tracebacks continue the previous event.
- ``page_events``: ``get-cluster-log-events``: without ``start_from_head`` the last ``limit`` events,
  with it the first; ``nextToken`` moves forward, ``prevToken`` backward; tokens are opaque
  (base64 JSON of a line position), so they stay valid while the file grows.
- ``parse_filters``/``select_sources``: pcluster's ``private-dns-name`` and ``node-type`` filters.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import overload

from corral.errors import BadRequestError
from corral.providers.base import LogSource, NodeRole

#: CloudWatch's GetLogEvents answers at most 10,000 events or 1 MB.
MAX_EVENTS = 10_000
MAX_PAGE_BYTES = 1_048_576
#: DescribeLogStreams' page size.
STREAMS_PAGE = 50

_STAMP = re.compile(
    r"(?:=== )?\[?(?P<date>\d{4}-\d{2}-\d{2})[T ](?P<time>\d{2}:\d{2}:\d{2})(?:[.,](?P<frac>\d{1,9}))?"
    r"(?:\s?(?P<tz>Z|[+-]\d{2}:?\d{2}))?\]?"
)
_JSON_TIME_KEYS = ("timestamp", "datetime", "time", "ts", "@timestamp")
_TRACEBACK_STARTS = (
    "Traceback (most recent call last):",
    "During handling of the above exception",
    "The above exception was the direct cause",
)


@dataclass(frozen=True)
class LogEvent:
    """One event: its time, its text (several lines for a traceback), and the line it starts on."""

    timestamp: datetime
    message: str
    line: int


@dataclass(frozen=True)
class EventPage:
    events: tuple[LogEvent, ...]
    next_token: str
    prev_token: str


@dataclass(frozen=True)
class StreamFilter:
    private_dns_name: str | None = None
    node_type: str | None = None


# -- timestamps and parsing -------------------------------------------------------------------------


def _aware(value: datetime) -> datetime:
    """Naive times are the machine's local time (Slurm and Python logging write local time)."""
    return value.astimezone(UTC)


def parse_timestamp(line: str) -> datetime | None:
    """The timestamp a log line starts with, as an aware UTC datetime, or None."""
    if line.startswith("{"):
        return _json_timestamp(line)
    match = _STAMP.match(line)
    if match is None:
        return None
    date, clock, frac, tz = match.group("date", "time", "frac", "tz")
    try:  # fromisoformat takes 1 to 9 fractional digits, Z and +HHMM (Python 3.11)
        value = datetime.fromisoformat(f"{date}T{clock}.{frac or 0}{tz or ''}")
    except ValueError:
        return None
    return _aware(value)


def _json_timestamp(line: str) -> datetime | None:
    try:
        doc = json.loads(line)
    except ValueError:
        return None
    if not isinstance(doc, dict):
        return None
    for key in _JSON_TIME_KEYS:
        value = doc.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            seconds = value / 1000 if value > 1e11 else value  # epoch milliseconds or seconds
            return datetime.fromtimestamp(seconds, UTC)
        if isinstance(value, str):
            stamp = parse_timestamp(value)
            if stamp is not None:
                return stamp
    return None


class LogIndex(Sequence[LogEvent]):
    """A file's lines grouped into events, each timestamp parsed only when the event is read, so
    that a page of a large file costs its grouping (a cheap pass) plus its own events."""

    def __init__(self, text: str, *, fallback: datetime) -> None:
        self._lines = text.splitlines()
        self._fallback = _aware(fallback)
        self.starts, self._ends = _group(self._lines)
        self._stamps: dict[int, datetime] = {}
        self._first_stamp: datetime | bool | None = False  # False: not searched yet

    def __len__(self) -> int:
        return len(self.starts)

    @overload
    def __getitem__(self, index: int) -> LogEvent: ...
    @overload
    def __getitem__(self, index: slice) -> list[LogEvent]: ...
    def __getitem__(self, index: int | slice) -> LogEvent | list[LogEvent]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        start, end = self.starts[index], self._ends[index]
        text = (
            self._lines[start]
            if end == start + 1
            else "\n".join(text for text in self._lines[start:end] if text.strip())
        )
        return LogEvent(self.timestamp(index), text, start)

    def timestamp(self, index: int) -> datetime:
        """The event's own timestamp, else the previous event's, else the file's first, else the
        fallback (the file's mtime)."""
        if index in self._stamps:
            return self._stamps[index]
        found = None
        for i in range(index, -1, -1):
            found = self._stamps.get(i) or parse_timestamp(self._lines[self.starts[i]])
            if found is not None:
                break
        stamp = found or self._first() or self._fallback
        self._stamps[index] = stamp
        return stamp

    def _first(self) -> datetime | None:
        if self._first_stamp is False:
            self._first_stamp = next((s for s in map(parse_timestamp, self._lines) if s is not None), None)
        return self._first_stamp if isinstance(self._first_stamp, datetime) else None

    def timestamps(self) -> list[datetime]:
        """Every event's timestamp, in one pass (what a time window needs)."""
        current = self._first() or self._fallback
        found = []
        for i, start in enumerate(self.starts):
            current = self._stamps.get(i) or parse_timestamp(self._lines[start]) or current
            found.append(current)
        self._stamps.update(enumerate(found))
        return found

    def select(self, keep: Sequence[int]) -> LogSelection:
        """The events at indexes ``keep`` (ascending), still built only when read."""
        return LogSelection(self, list(keep))


class LogSelection(Sequence[LogEvent]):
    """Some events of a ``LogIndex`` (a time window), built only when read."""

    def __init__(self, index: LogIndex, keep: list[int]) -> None:
        self._index = index
        self._keep = keep
        self.starts = [index.starts[i] for i in keep]

    def __len__(self) -> int:
        return len(self._keep)

    @overload
    def __getitem__(self, index: int) -> LogEvent: ...
    @overload
    def __getitem__(self, index: slice) -> list[LogEvent]: ...
    def __getitem__(self, index: int | slice) -> LogEvent | list[LogEvent]:
        if isinstance(index, slice):
            return [self._index[i] for i in self._keep[index]]
        return self._index[self._keep[index]]


def _group(lines: list[str]) -> tuple[list[int], list[int]]:
    """(start, end) line ranges of the events: blank lines are skipped; indented lines and
    tracebacks continue the event before them, and so does the exception line that ends a
    traceback (the first unindented line after its frames, unless it has a timestamp)."""
    starts: list[int] = []
    ends: list[int] = []
    in_traceback = previous_indented = False
    for number, line in enumerate(lines):
        if not line or line.isspace():
            continue
        indented = line[0] in " \t"
        if starts and (indented or line.startswith(_TRACEBACK_STARTS)):
            in_traceback = in_traceback or not indented
        elif not (starts and in_traceback and previous_indented and parse_timestamp(line) is None):
            starts.append(number)
            ends.append(number + 1)
            in_traceback = previous_indented = False
            continue
        ends[-1] = number + 1
        previous_indented = indented
    return starts, ends


def parse_events(text: str, *, fallback: datetime) -> list[LogEvent]:
    """The events of a log file's ``text``, in file order (see the module docstring)."""
    return list(LogIndex(text, fallback=fallback))


def expires_any(events: Sequence[LogEvent], retention_days: int | None, now: datetime | None = None) -> bool:
    """Whether the oldest event is past retention (log files are written in time order)."""
    if not retention_days or not events:
        return False
    return events[0].timestamp < (now or datetime.now(UTC)) - timedelta(days=retention_days)


def window(
    events: Sequence[LogEvent],
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    retention_days: int | None = None,
    now: datetime | None = None,
) -> Sequence[LogEvent]:
    """Events with ``start <= timestamp < end`` (either bound optional) that are not expired:
    with ``retention_days``, events older than that many days before ``now`` are gone."""
    low = start
    if retention_days:
        cutoff = (now or datetime.now(UTC)) - timedelta(days=retention_days)
        low = cutoff if low is None else max(low, cutoff)
    if isinstance(events, LogIndex):  # decide on the timestamps alone; build only the page's events
        stamps = events.timestamps()
        return events.select(
            [i for i, t in enumerate(stamps) if (low is None or t >= low) and (end is None or t < end)]
        )
    return [e for e in events if (low is None or e.timestamp >= low) and (end is None or e.timestamp < end)]


# -- pagination -------------------------------------------------------------------------------------


def encode_token(direction: str, position: int | str) -> str:
    raw = json.dumps({"d": direction, "p": position}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str, directions: Sequence[str]) -> tuple[str, int | str]:
    """(direction, position) of a token made by ``encode_token``; ``BadRequestError`` otherwise."""
    try:
        raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        direction, position = raw["d"], raw["p"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        direction, position = None, None
    if direction not in directions or not isinstance(position, int | str) or isinstance(position, bool):
        raise BadRequestError(
            f"invalid nextToken {token!r}",
            hint="pass a nextToken or prevToken exactly as a previous answer gave it",
        )
    return direction, position


def _within_size(events: Sequence[LogEvent], from_end: bool) -> list[LogEvent]:
    """Keep at most MAX_PAGE_BYTES of messages (at least one event), from the start or the end."""
    ordered = list(reversed(events)) if from_end else list(events)
    kept: list[LogEvent] = []
    size = 0
    for event in ordered:
        size += len(event.message.encode()) + 26
        if kept and size > MAX_PAGE_BYTES:
            break
        kept.append(event)
    return list(reversed(kept)) if from_end else kept


def page_events(
    events: Sequence[LogEvent],
    *,
    start_from_head: bool = False,
    limit: int | None = None,
    token: str | None = None,
) -> EventPage:
    """One page of ``events`` (already filtered, in file order), as CloudWatch's GetLogEvents pages:
    forward from a ``nextToken`` or the head, backward from a ``prevToken`` or the tail."""
    if limit is not None and limit <= 0:
        raise BadRequestError("'limit' must be a positive integer.", hint="e.g. --limit 100")
    size = min(limit or MAX_EVENTS, MAX_EVENTS)
    # a LogIndex knows its events' lines without building (and timestamping) every event
    lines = events.starts if isinstance(events, LogIndex | LogSelection) else [e.line for e in events]
    end_position = lines[-1] + 1 if lines else 0
    if token is not None:
        direction, position = decode_token(token, ("f", "b"))
        if not isinstance(position, int):
            raise BadRequestError(f"invalid nextToken {token!r}", hint="use a token of this log stream")
    else:
        direction, position = ("f", 0) if start_from_head else ("b", end_position)
    cut = bisect.bisect_left(lines, position)
    if direction == "f":
        chosen = _within_size(events[cut : cut + size], from_end=False)
    else:
        chosen = _within_size(events[max(0, cut - size) : cut], from_end=True)
    if chosen:
        return EventPage(
            tuple(chosen), encode_token("f", chosen[-1].line + 1), encode_token("b", chosen[0].line)
        )
    return EventPage((), encode_token("f", position), encode_token("b", position))


def page_streams(
    names: Sequence[str], token: str | None, size: int = STREAMS_PAGE
) -> tuple[list[str], str | None]:
    """One page of sorted stream ``names`` after the token's name, and the next token (None at the end)."""
    ordered = sorted(names)
    start = 0
    if token is not None:
        _, after = decode_token(token, ("s",))
        start = bisect.bisect_right(ordered, str(after))
    chosen = ordered[start : start + size]
    more = start + size < len(ordered)
    return chosen, encode_token("s", chosen[-1]) if more and chosen else None


# -- filters -----------------------------------------------------------------------------------------

_FILTER = re.compile(r"Name=([^=,]+),Values=([^= ]+)")
ACCEPTED_FILTERS = ("private-dns-name", "node-type")


def parse_filters(filters: Sequence[str]) -> StreamFilter:
    """pcluster's ``--filters 'Name=private-dns-name,Values=ip-10-0-0-101' 'Name=node-type,Values=HeadNode'``:
    one value per filter, ``node-type`` only ``HeadNode``, not both at once."""
    found: dict[str, str] = {}
    for text in filters:
        for item in text.split():
            match = _FILTER.fullmatch(item)
            if match is None:
                raise BadRequestError(
                    f"Invalid filters {list(filters)}. They must be in the form Name=...,Values=...",
                    hint="e.g. --filters Name=node-type,Values=HeadNode",
                )
            name, values = match.groups()
            if name not in ACCEPTED_FILTERS:
                raise BadRequestError(
                    f"Filter {name} not supported.", hint="use private-dns-name or node-type"
                )
            if "," in values:
                raise BadRequestError(
                    f"Filter {name} doesn't accept comma separated strings as value.", hint="give one value"
                )
            found[name] = values
    result = StreamFilter(found.get("private-dns-name"), found.get("node-type"))
    if result.node_type is not None and result.node_type != "HeadNode":
        raise BadRequestError(
            "The only accepted value for Node Type filter is 'HeadNode'.",
            hint="Name=node-type,Values=HeadNode",
        )
    if result.node_type and result.private_dns_name:
        raise BadRequestError(
            "Private DNS Name and Node Type filters cannot be set at the same time.", hint="use one of them"
        )
    return result


def select_sources(sources: Sequence[LogSource], wanted: StreamFilter) -> list[LogSource]:
    """Sources matching the filter: ``private-dns-name`` is a machine's short private DNS name
    (``ip-10-0-0-101``), its hostname, or a prefix of stream names (as pcluster uses it)."""
    chosen = list(sources)
    if wanted.node_type == "HeadNode":
        chosen = [s for s in chosen if s.role is NodeRole.HEAD]
    name = wanted.private_dns_name
    if name is not None:
        chosen = [
            s
            for s in chosen
            if name in (s.private_dns_name, s.hostname) or s.stream_name.startswith(name + ".")
        ]
    return chosen


def parse_time(value: str | None, what: str) -> datetime | None:
    """An ISO 8601 ``--start-time``/``--end-time`` (a date alone, a time without zone: UTC)."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise BadRequestError(
            f"{what} filter must be in the ISO 8601 format: YYYY-MM-DDThh:mm:ssZ. "
            "(e.g. 1984-09-15T19:20:30Z or 1984-09-15).",
            hint=f"e.g. --{what.replace('_', '-')} 2026-01-01T00:00:00Z",
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def check_bounds(start: datetime | None, end: datetime | None) -> None:
    if start is not None and end is not None and start >= end:
        raise BadRequestError(
            "start_time filter must be earlier than end_time filter.", hint="swap or widen the bounds"
        )


__all__ = [
    "EventPage",
    "LogEvent",
    "LogIndex",
    "LogSelection",
    "StreamFilter",
    "check_bounds",
    "decode_token",
    "encode_token",
    "expires_any",
    "page_events",
    "page_streams",
    "parse_events",
    "parse_filters",
    "parse_time",
    "parse_timestamp",
    "select_sources",
    "window",
]

"""Reading a cluster's log streams from the files its provider names, and exporting them.

The decisions (parsing, windows, pages, filters) are in ``_logs``; this module reads files, builds
pcluster's response shapes (``ListClusterLogStreams``, ``GetClusterLogEvents``,
``export-cluster-logs``) and writes archives.
"""

from __future__ import annotations

import json
import tarfile
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypedDict, Unpack

from corral.errors import BadRequestError, NotFoundError
from corral.providers.base import LogSource
from corral.service import _logs
from corral.service._views import iso

#: Bytes read at each end of a file to find its first and last timestamps (list-cluster-log-streams).
EDGE_BYTES = 65_536


class EventQuery(TypedDict, total=False):
    """What a ``get-*-log-events`` request may say besides its stream: the interval (ISO 8601,
    start inclusive, end exclusive), the order, the page size and the page."""

    start_time: str | None
    end_time: str | None
    start_from_head: bool
    limit: int | None
    next_token: str | None


class ExportRequest(TypedDict, total=False):
    """What an ``export-*-logs`` request may say: where the archive goes (a file or directory,
    and/or ``s3://bucket/prefix/``) and the interval it covers."""

    output_file: str | None
    bucket: str | None
    bucket_prefix: str | None
    keep_s3_objects: bool
    start_time: str | None
    end_time: str | None


@dataclass(frozen=True)
class StreamSummary:
    """A stream as DescribeLogStreams reports it."""

    name: str
    arn: str
    first: datetime
    last: datetime
    ingested: datetime
    size: int = 0  # bytes of the file: its ``uploadSequenceToken`` (grows with every write)

    def to_json(self) -> dict[str, Any]:
        return {
            "logStreamName": self.name,
            "creationTime": iso(self.first),
            "firstEventTimestamp": iso(self.first),
            "lastEventTimestamp": iso(self.last),
            "lastIngestionTime": iso(self.ingested),
            "uploadSequenceToken": str(self.size),
            "logStreamArn": self.arn,
        }


@dataclass(frozen=True)
class LogStreamList:
    streams: tuple[StreamSummary, ...]
    next_token: str | None = None

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"logStreams": [s.to_json() for s in self.streams]}
        if self.next_token:
            doc["nextToken"] = self.next_token
        return doc


@dataclass(frozen=True)
class LogEventList:
    page: _logs.EventPage

    def to_json(self) -> dict[str, Any]:
        return {
            "events": [{"timestamp": iso(e.timestamp), "message": e.message} for e in self.page.events],
            "nextToken": self.page.next_token,
            "prevToken": self.page.prev_token,
        }


@dataclass(frozen=True)
class ExportedLogs:
    """Where ``export-cluster-logs`` put the archive: pcluster's ``{"path": …}`` for a local file,
    ``{"url": …}`` (presigned) for S3, plus Corral's ``s3Url`` for the object itself."""

    path: str | None = None
    url: str | None = None
    s3_url: str | None = None

    def to_json(self) -> dict[str, str]:
        doc = {}
        if self.path is not None:
            doc["path"] = self.path
        if self.url is not None:
            doc["url"] = self.url
        if self.s3_url is not None:
            doc["s3Url"] = self.s3_url
        return doc


def read_events(source: LogSource) -> _logs.LogIndex:
    """The events of the stream, timestamped on demand (none when it is gone)."""
    reader = source.open()
    return _logs.LogIndex(reader.read_text(), fallback=reader.last_write())


def select_events(
    source: LogSource, start: datetime | None, end: datetime | None
) -> Sequence[_logs.LogEvent]:
    """The source's events in ``[start, end)`` that have not expired. Without bounds and with
    nothing expired, the lazy index itself: a page then timestamps only its own events."""
    events = read_events(source)
    if start is None and end is None and not _logs.expires_any(events, source.retention_days):
        return events
    return _logs.window(events, start=start, end=end, retention_days=source.retention_days)


def summarize(source: LogSource, arn_prefix: str) -> StreamSummary:
    """First and last event times from the stream's ends (at most EDGE_BYTES each); its last
    write when it has no timestamp."""
    reader = source.open()
    ingested = reader.last_write()
    size = reader.size()
    head, tail = reader.edges(EDGE_BYTES)
    first = next((t for t in map(_logs.parse_timestamp, head) if t is not None), None)
    last = next((t for t in map(_logs.parse_timestamp, reversed(tail)) if t is not None), None)
    first = first or last or ingested
    return StreamSummary(
        source.stream_name, arn_prefix + source.stream_name, first, last or first, ingested, size
    )


def list_streams(
    sources: Sequence[LogSource], *, filters: Sequence[str], next_token: str | None, arn_prefix: str
) -> LogStreamList:
    """``list-cluster-log-streams``: filtered, sorted by name, 50 per page."""
    chosen = {s.stream_name: s for s in _logs.select_sources(sources, _logs.parse_filters(filters))}
    names, token = _logs.page_streams(list(chosen), next_token)
    return LogStreamList(tuple(summarize(chosen[n], arn_prefix) for n in names), token)


def find_stream(sources: Sequence[LogSource], name: str) -> LogSource:
    """The source called ``name``; a node relaunched since keeps its streams under the same
    hostname and identifier, so those match whatever instance id ``name`` carries."""
    for source in sources:
        if source.stream_name == name:
            return source
    hostname, _, rest = name.partition(".")
    identifier = rest.partition(".")[2]
    for source in sources:
        if (source.hostname, source.identifier) == (hostname, identifier):
            return source
    raise NotFoundError(
        f"The specified log stream {name} does not exist.",
        hint="list the streams with `corral list-cluster-log-streams -n <cluster>`",
    )


def get_events(sources: Sequence[LogSource], stream_name: str, **query: Unpack[EventQuery]) -> LogEventList:
    """``get-cluster-log-events`` of one stream."""
    start = _logs.parse_time(query.get("start_time"), "start_time")
    end = _logs.parse_time(query.get("end_time"), "end_time")
    _logs.check_bounds(start, end)
    limit = query.get("limit")
    if limit is not None and limit <= 0:
        raise BadRequestError("'limit' must be a positive integer.", hint="e.g. --limit 100")
    source = find_stream(sources, stream_name)
    page = _logs.page_events(
        select_events(source, start, end),
        start_from_head=query.get("start_from_head", False),
        limit=limit,
        token=query.get("next_token"),
    )
    return LogEventList(page)


def write_archive(
    cluster_name: str,
    sources: Sequence[LogSource],
    *,
    directory: Path,
    start_time: str | None,
    end_time: str | None,
    filters: Sequence[str],
    extra_files: dict[str, str],
) -> Path:
    """``<directory>/<cluster>-logs-<yyyyMMddHHmm>.tar.gz``: one file per stream (``<ISO time>
    <message>`` lines, in the time bounds, expired events left out) plus ``extra_files``."""
    start = _logs.parse_time(start_time, "start_time")
    end = _logs.parse_time(end_time, "end_time")
    _logs.check_bounds(start, end)
    chosen = _logs.select_sources(sources, _logs.parse_filters(filters))
    root = f"{cluster_name}-logs-{datetime.now(UTC).strftime('%Y%m%d%H%M')}"
    archive = directory / f"{root}.tar.gz"
    with tempfile.TemporaryDirectory(prefix="corral-logs-") as tmp, tarfile.open(archive, "w:gz") as tar:
        for source in chosen:
            events = select_events(source, start, end)
            text = "".join(f"{iso(e.timestamp)} {e.message}\n" for e in events)
            member = source.stream_name.replace("/", "-")  # an image's stream is "<version>/1"
            tar.add(_write(Path(tmp) / member, text), arcname=f"{root}/{member}")
        for name, text in extra_files.items():
            tar.add(_write(Path(tmp) / name, text), arcname=f"{root}/{name}")
    return archive


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def export(
    cluster_name: str,
    sources: Sequence[LogSource],
    *,
    filters: Sequence[str],
    extra_files: dict[str, str],
    **request: Unpack[ExportRequest],
) -> ExportedLogs:
    """``export-cluster-logs``: the archive goes to ``output_file`` (a file, or an existing
    directory to put it in), or to ``s3://bucket/prefix/`` (both when ``keep_s3_objects``)."""
    output_file, bucket = request.get("output_file"), request.get("bucket")
    if output_file is None and bucket is None:
        raise BadRequestError(
            "export-cluster-logs needs --output-file or --bucket",
            hint=f"e.g. `corral export-cluster-logs -n {cluster_name} --output-file .` (or --bucket NAME)",
        )
    target = Path(output_file).absolute() if output_file else None
    with tempfile.TemporaryDirectory(prefix="corral-export-") as tmp:
        archive = write_archive(
            cluster_name,
            sources,
            directory=Path(tmp),
            start_time=request.get("start_time"),
            end_time=request.get("end_time"),
            filters=filters,
            extra_files=extra_files,
        )
        url = s3_url = None
        if bucket is not None and (target is None or request.get("keep_s3_objects", False)):
            from corral.providers import s3

            key = "/".join(p for p in ((request.get("bucket_prefix") or "").strip("/"), archive.name) if p)
            url, s3_url = s3.upload(archive, bucket, key), f"s3://{bucket}/{key}"
        path = None
        if target is not None:
            final = target / archive.name if target.is_dir() else target
            final.parent.mkdir(parents=True, exist_ok=True)
            final.write_bytes(archive.read_bytes())
            path = str(final)
    return ExportedLogs(path=path, url=url, s3_url=s3_url)


def stack_events_text(events: Sequence[dict[str, Any]]) -> str:
    return json.dumps({"events": list(events)}, indent=2) + "\n"


__all__ = [
    "EventQuery",
    "ExportRequest",
    "ExportedLogs",
    "LogEventList",
    "LogStreamList",
    "StreamSummary",
    "export",
    "find_stream",
    "get_events",
    "list_streams",
    "read_events",
    "select_events",
    "summarize",
    "write_archive",
]

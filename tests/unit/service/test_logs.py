"""Log events with CloudWatch's semantics: parsing, windows, pages and tokens, filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from corral.errors import BadRequestError
from corral.providers.base import LogSource, NodeRole
from corral.service import _logs
from corral.service._logs import LogEvent, page_events, parse_events, parse_timestamp

T0 = datetime(2026, 11, 22, 23, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("[2026-11-22T23:01:02.123] slurmctld: error", datetime(2026, 11, 22, 23, 1, 2, 123000, UTC)),
        ("2026-11-22 23:01:02 +0000 Info:      Found 1 user", datetime(2026, 11, 22, 23, 1, 2, tzinfo=UTC)),
        ("2026-11-22T23:01:02.5+01:00 x", datetime(2026, 11, 22, 22, 1, 2, 500000, UTC)),
        ("2026-11-22T23:01:02Z x", datetime(2026, 11, 22, 23, 1, 2, tzinfo=UTC)),
        (
            '{"time": "2026-11-22T23:01:02Z", "action": "replace"}',
            datetime(2026, 11, 22, 23, 1, 2, tzinfo=UTC),
        ),
        ('{"ts": 1795388462.25}', datetime.fromtimestamp(1795388462.25, UTC)),
        (
            '{"datetime": "2026-11-22T23:08:54.124+00:00", "component": "reconciler"}',
            datetime(2026, 11, 22, 23, 8, 54, 124000, UTC),
        ),
        (
            "=== 2026-11-22T23:25:45Z OnNodeConfigured /x/fail.sh args=[]",
            datetime(2026, 11, 22, 23, 25, 45, tzinfo=UTC),
        ),
        (
            "2026-11-22T23:08:53.755 supervisor[1568] supervising",
            datetime(2026, 11, 22, 23, 8, 53, 755000).astimezone(UTC),
        ),
    ],
)
def test_parse_timestamp_of_known_formats(line: str, expected: datetime) -> None:
    assert parse_timestamp(line) == expected


def test_naive_timestamps_are_local_time() -> None:
    # Python logging's asctime and Slurm write the machine's local time, without a zone
    naive = datetime(2026, 11, 22, 23, 1, 2, 123000)
    assert parse_timestamp("2026-11-22 23:01:02,123 INFO reconciler") == naive.astimezone(UTC)


@pytest.mark.parametrize(
    "line", ["[agent] OnNodeStart: running s3://b/x.sh", "", "{not json", '{"a": 1}', "[1]"]
)
def test_lines_without_timestamp(line: str) -> None:
    assert parse_timestamp(line) is None


def test_lines_inherit_and_tracebacks_attach() -> None:
    text = "\n".join(
        [
            "preamble without time",
            "2026-11-22T23:00:01Z first",
            "plain output line",
            "2026-11-22T23:00:02Z ERROR failed",
            "Traceback (most recent call last):",
            '  File "x.py", line 1, in <module>',
            "ValueError: boom",
            "after the traceback",
            "",
        ]
    )
    events = parse_events(text, fallback=T0)
    first = T0 + timedelta(seconds=1)
    second = T0 + timedelta(seconds=2)
    assert [(e.timestamp, e.message.splitlines()[0], e.line) for e in events] == [
        (first, "preamble without time", 0),  # before any timestamp: the file's first one
        (first, "2026-11-22T23:00:01Z first", 1),
        (first, "plain output line", 2),
        (second, "2026-11-22T23:00:02Z ERROR failed", 3),
        (second, "after the traceback", 7),
    ]
    assert events[3].message.endswith("ValueError: boom")


def test_file_without_timestamps_uses_the_fallback() -> None:
    events = parse_events("a\nb\n", fallback=T0)
    assert [(e.timestamp, e.message) for e in events] == [(T0, "a"), (T0, "b")]


def test_window_bounds_and_retention() -> None:
    events = [LogEvent(T0 + timedelta(days=d), str(d), d) for d in range(10)]
    got = _logs.window(events, start=T0 + timedelta(days=2), end=T0 + timedelta(days=5))
    assert [e.message for e in got] == ["2", "3", "4"]  # start inclusive, end exclusive
    now = T0 + timedelta(days=10)
    assert [e.message for e in _logs.window(events, retention_days=3, now=now)] == ["7", "8", "9"]
    assert len(_logs.window(events, retention_days=None, now=now)) == 10


def _events(n: int) -> list[LogEvent]:
    # gaps in line numbers, as multi-line events and blank lines leave them
    return [LogEvent(T0 + timedelta(seconds=i), f"m{i}", 3 * i + 1) for i in range(n)]


def test_default_is_the_tail_and_start_from_head_the_head() -> None:
    events = _events(10)
    assert [e.message for e in page_events(events, limit=3).events] == ["m7", "m8", "m9"]
    assert [e.message for e in page_events(events, limit=3, start_from_head=True).events] == [
        "m0",
        "m1",
        "m2",
    ]


@given(n=st.integers(0, 40), limit=st.integers(1, 12))
def test_forward_pages_concatenate_to_the_whole(n: int, limit: int) -> None:
    events = _events(n)
    page = page_events(events, start_from_head=True, limit=limit)
    seen = list(page.events)
    for _ in range(n + 2):
        page = page_events(events, limit=limit, token=page.next_token)
        if not page.events:
            break
        seen += page.events
    assert seen == events
    # at the end the token stays put: new events appended later are picked up from there
    assert page_events(events, limit=limit, token=page.next_token).events == ()


@given(n=st.integers(0, 40), limit=st.integers(1, 12))
def test_backward_pages_concatenate_to_the_whole(n: int, limit: int) -> None:
    events = _events(n)
    page = page_events(events, limit=limit)
    seen = list(page.events)
    for _ in range(n + 2):
        page = page_events(events, limit=limit, token=page.prev_token)
        if not page.events:
            break
        seen = list(page.events) + seen
    assert seen == events


def test_next_token_of_the_tail_sees_appended_events() -> None:
    events = _events(5)
    tail = page_events(events, limit=2)
    grown = [*events, LogEvent(T0, "new", 100)]
    assert [e.message for e in page_events(grown, token=tail.next_token).events] == ["new"]


def test_page_is_capped_at_one_megabyte() -> None:
    big = [LogEvent(T0, "x" * 300_000, i) for i in range(10)]
    page = page_events(big, start_from_head=True)
    assert 1 <= len(page.events) <= 4


@pytest.mark.parametrize("token", ["garbage", "eyJ4IjoxfQ", _logs.encode_token("s", "name")])
def test_bad_tokens_are_bad_requests(token: str) -> None:
    with pytest.raises(BadRequestError, match="invalid nextToken"):
        page_events(_events(3), token=token)


def test_limit_must_be_positive() -> None:
    with pytest.raises(BadRequestError, match="positive"):
        page_events(_events(3), limit=0)


@given(names=st.sets(st.text("abc.-", min_size=1, max_size=6), max_size=30), size=st.integers(1, 7))
def test_stream_pages_cover_every_name_once(names: set[str], size: int) -> None:
    got, token = _logs.page_streams(list(names), None, size)
    seen = list(got)
    while token is not None:
        got, token = _logs.page_streams(list(names), token, size)
        seen += got
    assert seen == sorted(names)


def _source(name: str, role: NodeRole, dns: str) -> LogSource:
    hostname, instance, identifier = name.split(".", 2)
    return LogSource(name, Path("/dev/null"), role, hostname, dns, instance, identifier)


SOURCES = [
    _source("head.i-1.slurmctld", NodeRole.HEAD, "ip-10-0-0-1"),
    _source("head.i-1.cfn-init", NodeRole.HEAD, "ip-10-0-0-1"),
    _source("q1-st-c1-1.i-2.slurmd", NodeRole.COMPUTE, "ip-10-0-0-2"),
]


def _names(filters: list[str]) -> list[str]:
    return [s.stream_name for s in _logs.select_sources(SOURCES, _logs.parse_filters(filters))]


def test_filters() -> None:
    assert _names([]) == [s.stream_name for s in SOURCES]
    assert _names(["Name=node-type,Values=HeadNode"]) == ["head.i-1.slurmctld", "head.i-1.cfn-init"]
    assert _names(["Name=private-dns-name,Values=ip-10-0-0-2"]) == ["q1-st-c1-1.i-2.slurmd"]
    assert _names(["Name=private-dns-name,Values=q1-st-c1-1"]) == ["q1-st-c1-1.i-2.slurmd"]
    # pcluster's form: several filters in one argument, separated by spaces
    assert _names(["Name=private-dns-name,Values=head"]) == ["head.i-1.slurmctld", "head.i-1.cfn-init"]


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        (["node-type=HeadNode"], "must be in the form"),
        (["Name=instance-id,Values=i-1"], "not supported"),
        (["Name=private-dns-name,Values=a,b"], "comma separated"),
        (["Name=node-type,Values=Compute"], "only accepted value"),
        (["Name=node-type,Values=HeadNode Name=private-dns-name,Values=x"], "same time"),
    ],
)
def test_bad_filters(filters: list[str], message: str) -> None:
    with pytest.raises(BadRequestError, match=message):
        _logs.parse_filters(filters)


def test_times() -> None:
    assert _logs.parse_time("2026-01-02", "start_time") == datetime(2026, 1, 2, tzinfo=UTC)
    assert _logs.parse_time("2026-01-02T03:04:05+02:00", "x") == datetime(2026, 1, 2, 1, 4, 5, tzinfo=UTC)
    with pytest.raises(BadRequestError, match="ISO 8601"):
        _logs.parse_time("yesterday", "start_time")
    with pytest.raises(BadRequestError, match="earlier"):
        _logs.check_bounds(T0, T0)


LINE = st.sampled_from(
    [
        "[2026-11-22T23:00:01.000] a",
        "2026-11-22T23:00:05Z b",
        "plain",
        "  indented",
        "Traceback (most recent call last):",
        "ValueError: boom",
        "",
        '{"time": "2026-11-22T22:59:00Z"}',
    ]
)


@given(lines=st.lists(LINE, max_size=30), order=st.randoms(use_true_random=False), limit=st.integers(1, 5))
def test_lazy_index_equals_eager_events(lines: list[str], order: object, limit: int) -> None:
    text = "\n".join(lines)
    eager = parse_events(text, fallback=T0)
    lazy = _logs.LogIndex(text, fallback=T0)
    indexes = list(range(len(lazy)))
    order.shuffle(indexes)  # type: ignore[attr-defined]
    assert {i: lazy[i] for i in indexes} == dict(enumerate(eager))  # any access order, same events
    for head in (True, False):
        assert page_events(
            _logs.LogIndex(text, fallback=T0), start_from_head=head, limit=limit
        ) == page_events(eager, start_from_head=head, limit=limit)


@given(
    lines=st.lists(LINE, max_size=30),
    low=st.none() | st.integers(-90, 400),
    high=st.none() | st.integers(-90, 400),
    limit=st.integers(1, 5),
)
def test_lazy_window_equals_eager_window(
    lines: list[str], low: int | None, high: int | None, limit: int
) -> None:
    text = "\n".join(lines)
    start = None if low is None else T0 + timedelta(seconds=low)
    end = None if high is None else T0 + timedelta(seconds=high)
    eager = _logs.window(parse_events(text, fallback=T0), start=start, end=end)
    lazy = _logs.window(_logs.LogIndex(text, fallback=T0), start=start, end=end)
    assert list(lazy) == list(eager)
    for head in (True, False):
        assert page_events(lazy, start_from_head=head, limit=limit) == page_events(
            eager, start_from_head=head, limit=limit
        )

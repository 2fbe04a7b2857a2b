"""list-cluster-log-streams, get-cluster-log-events and export-cluster-logs through the real CLI
(subprocesses) with the fake provider, checked against pcluster's response schemas."""

from __future__ import annotations

import io
import json
import tarfile
import urllib.request
from pathlib import Path

import pytest

from corral.providers.base import NodeRole
from corral.providers.fake import FakeProvider
from support.servers import s3_server

from .openapi import validate
from .test_cli_lifecycle import EXAMPLE, ok, run

LINES = 25


@pytest.fixture
def state(tmp_path: Path) -> Path:
    """A fake cluster ``demo`` whose compute node has a 25-line slurmd log (one line a minute)."""
    ok(run(tmp_path, "create-cluster", "-n", "demo", "-c", str(EXAMPLE), "--wait"))
    fake = FakeProvider(persist_dir=tmp_path / "fake-provider")
    node = next(i for i in fake.instances("demo") if i.role is NodeRole.COMPUTE)
    text = "".join(f"[2026-11-22T10:{m:02d}:00.000] line {m}\n" for m in range(LINES))
    fake.write_log("demo", node, "slurmd", text)
    return tmp_path


def _slurmd(state: Path) -> str:
    doc = ok(run(state, "list-cluster-log-streams", "-n", "demo"))
    validate("ListClusterLogStreamsResponseContent", doc)
    (name,) = [s["logStreamName"] for s in doc["logStreams"] if s["logStreamName"].endswith(".slurmd")]
    return str(name)


def _events(state: Path, *args: str) -> dict[str, object]:
    doc = ok(run(state, "get-cluster-log-events", "-n", "demo", *args))
    validate("GetClusterLogEventsResponseContent", doc)
    return dict(doc)


def _messages(doc: dict[str, object]) -> list[str]:
    return [str(e["message"]).split("] ", 1)[1] for e in doc["events"]]  # type: ignore[attr-defined]


def test_streams_filters_and_summary(state: Path) -> None:
    doc = ok(run(state, "list-cluster-log-streams", "-n", "demo"))
    names = sorted(s["logStreamName"] for s in doc["logStreams"])
    assert names == [s["logStreamName"] for s in doc["logStreams"]]  # sorted by name, as pcluster
    assert any(n.endswith(".cfn-init") for n in names) and any(n.endswith(".slurmd") for n in names)
    slurmd = next(s for s in doc["logStreams"] if s["logStreamName"].endswith(".slurmd"))
    assert (slurmd["firstEventTimestamp"], slurmd["lastEventTimestamp"]) == (
        "2026-11-22T10:00:00.000Z",  # the container's local time is UTC
        f"2026-11-22T10:{LINES - 1:02d}:00.000Z",
    )
    head = ok(
        run(state, "list-cluster-log-streams", "-n", "demo", "--filters", "Name=node-type,Values=HeadNode")
    )
    assert [s["logStreamName"].rsplit(".", 1)[1] for s in head["logStreams"]] == ["cfn-init"]
    dns = slurmd["logStreamName"].split(".")[0]
    by_dns = ok(
        run(
            state,
            "list-cluster-log-streams",
            "-n",
            "demo",
            "--filters",
            f"Name=private-dns-name,Values={dns}",
        )
    )
    assert [s["logStreamName"] for s in by_dns["logStreams"]] == [slurmd["logStreamName"]]


def test_bad_filter_is_a_bad_request(state: Path) -> None:
    result = run(
        state, "list-cluster-log-streams", "-n", "demo", "--filters", "Name=node-type,Values=Compute"
    )
    assert result.returncode != 0
    assert "only accepted value" in json.loads(result.stdout)["message"]


def test_tail_head_and_paging(state: Path) -> None:
    stream = _slurmd(state)
    assert _messages(_events(state, "--log-stream-name", stream, "--limit", "3")) == [
        "line 22",
        "line 23",
        "line 24",
    ]
    seen: list[str] = []
    doc = _events(state, "--log-stream-name", stream, "--start-from-head", "true", "--limit", "10")
    while doc["events"]:
        seen += _messages(doc)
        doc = _events(
            state, "--log-stream-name", stream, "--limit", "10", "--next-token", str(doc["nextToken"])
        )
    assert seen == [f"line {m}" for m in range(LINES)]
    back = _events(state, "--log-stream-name", stream, "--limit", "3", "--next-token", str(doc["prevToken"]))
    assert _messages(back) == ["line 22", "line 23", "line 24"]


def test_time_bounds(state: Path) -> None:
    stream = _slurmd(state)
    doc = _events(
        state,
        "--log-stream-name",
        stream,
        "--start-time",
        "2026-11-22T10:05:00Z",
        "--end-time",
        "2026-11-22T10:08:00Z",
    )
    assert _messages(doc) == ["line 5", "line 6", "line 7"]
    bad = run(
        state, "get-cluster-log-events", "-n", "demo", "--log-stream-name", stream, "--start-time", "noon"
    )
    assert bad.returncode != 0 and "ISO 8601" in json.loads(bad.stdout)["message"]


def test_unknown_stream_is_not_found(state: Path) -> None:
    result = run(state, "get-cluster-log-events", "-n", "demo", "--log-stream-name", "nope.i-1.slurmd")
    assert result.returncode != 0
    assert "does not exist" in json.loads(result.stdout)["message"]


def _members(data: bytes) -> dict[str, str]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return {
            m.name.split("/", 1)[1]: tar.extractfile(m).read().decode()  # type: ignore[union-attr]
            for m in tar.getmembers()
            if m.isfile()
        }


def test_export_to_a_directory_with_bounds(state: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    doc = ok(
        run(
            state,
            "export-cluster-logs",
            "-n",
            "demo",
            "--output-file",
            str(out),
            "--start-time",
            "2026-11-22T10:20:00Z",
            "--filters",
            "Name=private-dns-name,Values=" + _slurmd(state).split(".")[0],
        )
    )
    archive = Path(doc["path"])
    assert (
        archive.parent == out and archive.name.startswith("demo-logs-") and archive.name.endswith(".tar.gz")
    )
    members = _members(archive.read_bytes())
    slurmd = next(text for name, text in members.items() if name.endswith(".slurmd"))
    assert [line.split("] ", 1)[1] for line in slurmd.splitlines()] == [f"line {m}" for m in range(20, LINES)]
    assert "CREATE_COMPLETE" in members["demo-cfn-events"]
    assert not any(name.endswith(".cfn-init") for name in members)  # filtered out


def test_export_needs_a_destination(state: Path) -> None:
    result = run(state, "export-cluster-logs", "-n", "demo")
    assert result.returncode != 0 and "--output-file or --bucket" in json.loads(result.stdout)["message"]


def test_export_to_s3(state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with s3_server(monkeypatch, "exports") as client:
        doc = ok(
            run(state, "export-cluster-logs", "-n", "demo", "--bucket", "exports", "--bucket-prefix", "p/q")
        )
        key = doc["s3Url"].removeprefix("s3://exports/")
        assert key.startswith("p/q/demo-logs-")
        members = _members(client.get_object(Bucket="exports", Key=key)["Body"].read())
        assert any(name.endswith(".slurmd") for name in members)
        with urllib.request.urlopen(doc["url"]) as answer:  # the presigned URL works
            assert _members(answer.read()) == members


def test_table_output_shows_brackets_verbatim(state: Path) -> None:
    fake = FakeProvider(persist_dir=state / "fake-provider")
    head = next(i for i in fake.instances("demo") if i.role is NodeRole.HEAD)
    stream = fake.write_log("demo", head, "agent", "[agent] bootstrap [bold]done[/bold]\n").name
    result = run(
        state, "get-cluster-log-events", "-n", "demo", "--log-stream-name", stream, "--output", "table"
    )
    assert result.returncode == 0, result.stderr
    assert "[agent] bootstrap [bold]done[/bold]" in result.stdout  # data, not rich markup


def test_cloudwatch_logs_disabled_keeps_no_streams_as_pcluster(tmp_path: Path) -> None:
    # Monitoring/Logs/CloudWatch/Enabled: false: pcluster keeps the logs on the machines only, so
    # the log verbs answer "not enabled" and the export holds the stack events alone.
    config = tmp_path / "no-cloudwatch.yaml"
    config.write_text(EXAMPLE.read_text() + "Monitoring:\n  Logs:\n    CloudWatch:\n      Enabled: false\n")
    ok(run(tmp_path, "create-cluster", "-n", "quiet", "-c", str(config), "--wait"))
    fake = FakeProvider(persist_dir=tmp_path / "fake-provider")
    node = next(i for i in fake.instances("quiet") if i.role is NodeRole.COMPUTE)
    fake.write_log("quiet", node, "slurmd", "[2026-11-22T10:00:00.000] line 0\n")
    expected = "Bad Request: CloudWatch logging is not enabled for cluster quiet."
    for verb in (
        ["list-cluster-log-streams", "-n", "quiet"],
        ["get-cluster-log-events", "-n", "quiet", "--log-stream-name", "x.i-0.slurmd"],
    ):
        result = run(tmp_path, *verb)
        assert result.returncode == 1, result.stdout
        assert json.loads(result.stdout)["message"] == expected
    out = tmp_path / "out"
    out.mkdir()
    doc = ok(run(tmp_path, "export-cluster-logs", "-n", "quiet", "--output-file", str(out)))
    assert set(_members(Path(doc["path"]).read_bytes())) == {"quiet-cfn-events"}

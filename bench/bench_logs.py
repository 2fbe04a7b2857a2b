"""Log events benchmark: time to the first page of ``get-cluster-log-events`` on a 100k-line log.

Run from the repository root:  .venv/bin/python bench/bench_logs.py [--lines N] [--runs N]

It writes a slurmctld-like log (``[ISO time] message`` lines, a 4-line traceback every 1,000 lines)
and times, in-process (warm, median of --runs): the default tail page (--limit 100), the head page
(--start-from-head true --limit 100), a page in the middle through a nextToken, a time-bounded page,
and the stream summary of list-cluster-log-streams; then the whole CLI in a fresh process
(``corral get-cluster-log-events --limit 100`` on a fake-provider cluster holding that log).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _measure import median_ms

from corral.providers.base import LogSource, NodeRole
from corral.service import _log_access

ROOT = Path(__file__).resolve().parent.parent
START = datetime(2026, 11, 22, tzinfo=UTC)
TRACEBACK = 'Traceback (most recent call last):\n  File "x.py", line 1\n    boom()\nValueError: boom\n'


def write_log(path: Path, lines: int) -> None:
    with path.open("w") as out:
        for i in range(lines):
            stamp = (START + timedelta(milliseconds=37 * i)).isoformat(timespec="milliseconds")[:23]
            out.write(
                f"[{stamp}] sched: Allocate JobId={i} NodeList=q1-dy-c1-{i % 50} #CPUs=2 Partition=q1\n"
            )
            if i % 1000 == 999:
                out.write(TRACEBACK)


def in_process(path: Path, runs: int) -> list[tuple[str, float]]:
    source = LogSource("head.i-1.slurmctld", path, NodeRole.HEAD, "head", "ip-10-0-0-1", "i-1", "slurmctld")

    def get(**kwargs: object) -> _log_access.LogEventList:
        args: dict[str, object] = {
            "start_time": None,
            "end_time": None,
            "start_from_head": False,
            "limit": 100,
            "next_token": None,
        }
        args.update(kwargs)
        return _log_access.get_events([source], source.stream_name, **args)  # type: ignore[arg-type]

    middle = get(start_from_head=True, limit=50_000).page.next_token
    bounded = (START + timedelta(minutes=30)).isoformat()
    return [
        ("tail page (default, --limit 100)", median_ms(get, runs)),
        (
            "head page (--start-from-head true --limit 100)",
            median_ms(lambda: get(start_from_head=True), runs),
        ),
        ("page after a nextToken in the middle", median_ms(lambda: get(next_token=middle), runs)),
        (
            "--start-time 30 min in, --limit 100",
            median_ms(lambda: get(start_time=bounded, start_from_head=True), runs),
        ),
        (
            "stream summary (list-cluster-log-streams)",
            median_ms(lambda: _log_access.summarize(source, "arn:"), runs),
        ),
    ]


def cli_cold(path: Path, runs: int) -> tuple[float, float]:
    """Median wall times, in fresh processes, of ``corral get-cluster-log-events --limit 100`` on a
    fake-provider cluster holding the log, and of ``corral describe-cluster`` (the start-up floor)."""
    from corral.providers.fake import FakeProvider

    corral = [sys.executable, "-m", "corral.cli.main"]
    with tempfile.TemporaryDirectory() as state:
        env = {**os.environ, "CORRAL_STATE_DIR": state, "CORRAL_PROVIDER": "fake"}
        config = ROOT / "examples" / "demo.yaml"
        create = [*corral, "create-cluster", "-n", "bench", "-c", str(config), "--wait"]
        subprocess.run(create, env=env, check=True, capture_output=True)
        fake = FakeProvider(persist_dir=Path(state) / "fake-provider")
        head = next(i for i in fake.instances("bench") if i.role is NodeRole.HEAD)
        stream = fake.write_log("bench", head, "slurmctld", path.read_text()).name
        get = [
            *corral,
            "get-cluster-log-events",
            "-n",
            "bench",
            "--log-stream-name",
            stream,
            "--limit",
            "100",
        ]
        describe = [*corral, "describe-cluster", "-n", "bench"]

        def runner(argv: list[str]) -> Callable[[], object]:
            return lambda: subprocess.run(argv, env=env, check=True, capture_output=True)

        return median_ms(runner(get), runs), median_ms(runner(describe), runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "slurmctld.log"
        write_log(path, args.lines)
        size = path.stat().st_size / 1e6
        print(f"log: {args.lines} events ({size:.1f} MB), median of {args.runs} runs")
        print("| operation | time |\n|---|---:|")
        for what, ms in in_process(path, args.runs):
            print(f"| {what} | {ms:.0f} ms |")
        get, describe = cli_cold(path, args.runs)
        print(f"| whole CLI, fresh process: get-cluster-log-events --limit 100 | {get:.0f} ms |")
        print(f"| (start-up floor: describe-cluster, fresh process) | {describe:.0f} ms |")


if __name__ == "__main__":
    main()

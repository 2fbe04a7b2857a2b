"""AWS log verbs benchmark: ``get-cluster-log-events`` and ``list-cluster-log-streams`` reading
CloudWatch Logs through the aws provider's reader, against a moto server on loopback.

Run from the repository root:  .venv/bin/python bench/bench_awslogs.py [--events N] [--runs N]

It starts moto (``ThreadedMotoServer`` on 127.0.0.1), creates a log group, puts N slurmctld-like
events into one stream (batches of 10,000, PutLogEvents' limit) and times, in-process (median of
--runs after one warm-up): the latest page (--limit 100), the head page (--start-from-head true
--limit 100), and the stream summary of list-cluster-log-streams. The reader fetches the whole
stream (GetLogEvents, every page) for each request, so the times grow with the stream.
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import UTC, datetime, timedelta

from _measure import median_ms

START = datetime(2026, 11, 22, tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    os.environ.update(
        AWS_ENDPOINT_URL=f"http://{host}:{port}",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_REGION="us-east-1",
    )
    from corral.providers.aws._clients import AwsClients
    from corral.providers.aws._cloudwatch import log_sources, put_events
    from corral.service import _log_access

    clients = AwsClients("us-east-1")
    group, stream = "/aws/corral/bench-0123abcd", "ip-10-0-0-1.i-0123456789abcdef0.slurmctld"
    clients.client("logs").create_log_group(logGroupName=group)
    events = []
    for i in range(args.events):
        stamp = START + timedelta(milliseconds=37 * i)
        line = f"[{stamp.isoformat(timespec='milliseconds')[:23]}] sched: Allocate JobId={i} #CPUs=2"
        events.append((stamp, line))
    began = time.perf_counter()
    for start in range(0, len(events), 10_000):
        put_events(clients, group, stream, events[start : start + 10_000])
    put_s = time.perf_counter() - began

    def get(**kwargs: object) -> object:
        sources = log_sources(clients, group, "i-0123456789abcdef0")
        options: dict[str, object] = {"start_time": None, "end_time": None, "next_token": None}
        options.update(kwargs)
        return _log_access.get_events(sources, stream, **options)  # type: ignore[arg-type]

    rows = [
        ("latest page (--limit 100)", median_ms(lambda: get(limit=100, start_from_head=False), args.runs)),
        (
            "head page (--start-from-head --limit 100)",
            median_ms(lambda: get(limit=100, start_from_head=True), args.runs),
        ),
        (
            "list-cluster-log-streams summary",
            median_ms(
                lambda: _log_access.list_streams(
                    log_sources(clients, group, None), filters=(), next_token=None, arn_prefix="arn:"
                ),
                args.runs,
            ),
        ),
    ]
    server.stop()
    print(f"events: {args.events}, put in {put_s:.2f} s; median of {args.runs} runs")
    for name, ms in rows:
        print(f"| {name} | {ms:.0f} ms |")


if __name__ == "__main__":
    main()

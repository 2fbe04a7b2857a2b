"""Latency of the REST API under load: ``GET /v3/clusters/{name}`` and ``GET /v3/clusters`` at 50 and
200 concurrent clients on loopback, and the server's memory meanwhile.

    .venv/bin/python bench/bench_api.py [--duration 30] [--clients 50 200] [--rate 500] [--provider fake]

Starts ``corral api serve`` on a free loopback port over a fresh state directory with one cluster
(``examples/demo.yaml``; the fake provider by default, ``--provider local`` builds a real one as
root), creates a token, and for each (operation, clients) pair runs ``clients`` concurrent
keep-alive connections (httpx, asyncio) for ``duration`` seconds. With ``--rate R`` the clients
share an open-loop schedule of R requests/s (each request is due at its slot; latency is measured
from the slot, so a server that falls behind shows it); ``--rate 0`` is closed loop, as fast as
the server answers. Reports achieved requests/s, p50/p90/p99/max latency, errors, and the server's
peak and final RSS (from /proc). The load generator shares the machine's two cores with the server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from tests.unit.api.server import running_server  # noqa: E402


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used (/proc/PID/stat fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class MemoryWatch(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop = pid, 0, threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.2):
            self.peak = max(self.peak, rss_kib(self.pid))


async def _request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes) -> int:
    """One keep-alive HTTP/1.1 GET; its status. A raw client: httpx's own cost per request would
    eat most of a core at these rates and measure the load tool instead of the server."""
    writer.write(raw)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    await reader.readexactly(length)
    return status


async def load(
    url: str, token: str, path: str, clients: int, duration: float, rate: float
) -> dict[str, float]:
    host, port = url.removeprefix("http://").split(":")
    raw = (
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
        "Accept: application/json\r\n\r\n"
    ).encode()
    latencies: list[float] = []
    errors = 0
    start = time.perf_counter() + 0.5
    end = start + duration
    slot = {"n": 0}

    async def worker() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            while True:
                if rate > 0:
                    due = start + slot["n"] / rate
                    slot["n"] += 1
                    if due >= end:
                        return
                    wait = due - time.perf_counter()
                    if wait > 0:
                        await asyncio.sleep(wait)
                else:
                    due = time.perf_counter()
                    if due >= end:
                        return
                try:
                    ok = await _request(reader, writer, raw) == 200
                except (OSError, asyncio.IncompleteReadError, ValueError):
                    ok = False
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, int(port))
                if ok:
                    latencies.append(time.perf_counter() - due)
                else:
                    errors += 1
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(clients)))
    elapsed = max(time.perf_counter() - start, 1e-9)
    qs = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50_ms": qs[49] * 1000,
        "p90_ms": qs[89] * 1000,
        "p99_ms": qs[98] * 1000,
        "max_ms": max(latencies, default=0) * 1000,
        "errors": errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=30)
    parser.add_argument("--clients", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--rate", type=float, default=500, help="total requests/s (0: closed loop)")
    parser.add_argument("--provider", default="fake")
    parser.add_argument("--cluster", default="bench-api")
    args = parser.parse_args()
    state = Path(tempfile.mkdtemp(prefix="corral-bench-api-"))
    with running_server(state, provider=args.provider) as server:
        demo = (ROOT / "examples" / "demo.yaml").read_text()
        headers = {"Authorization": f"Bearer {server.token}"}
        made = httpx.post(
            f"{server.url}/v3/clusters",
            headers=headers,
            timeout=60,
            json={"clusterName": args.cluster, "clusterConfiguration": demo},
        )
        assert made.status_code == 202, made.text
        deadline = time.monotonic() + 600
        while (
            httpx.get(f"{server.url}/v3/clusters/{args.cluster}", headers=headers).json()["clusterStatus"]
            != "CREATE_COMPLETE"
        ):
            assert time.monotonic() < deadline, "cluster not created"
            time.sleep(1)
        watch = MemoryWatch(server.process.pid)
        watch.start()
        idle = rss_kib(server.process.pid)
        rows = []
        for path in (f"/v3/clusters/{args.cluster}", "/v3/clusters"):
            for clients in args.clients:
                cpu = cpu_seconds(server.process.pid)
                result = asyncio.run(load(server.url, server.token, path, clients, args.duration, args.rate))
                used = cpu_seconds(server.process.pid) - cpu
                result["server_cpu_ms_per_request"] = 1000 * used / max(result["requests"], 1)
                result.update({"path": path, "clients": clients, "rss_peak_mib": watch.peak / 1024})
                rows.append(result)
                print(json.dumps(result), flush=True)
        watch.stop.set()
        print(
            json.dumps(
                {
                    "rss_idle_mib": idle / 1024,
                    "rss_peak_mib": watch.peak / 1024,
                    "rss_final_mib": rss_kib(server.process.pid) / 1024,
                }
            )
        )
        httpx.delete(f"{server.url}/v3/clusters/{args.cluster}", headers=headers)
        deadline = time.monotonic() + 600
        while httpx.get(f"{server.url}/v3/clusters/{args.cluster}", headers=headers).status_code != 404:
            if time.monotonic() > deadline:
                break
            time.sleep(1)
    print("| operation | clients | target rps | achieved rps | p50 | p90 | p99 | max | errors | CPU/req |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| GET {r['path']} | {r['clients']} | {args.rate:g} | {r['rps']:.0f} | {r['p50_ms']:.1f} ms | "
            f"{r['p90_ms']:.1f} ms | {r['p99_ms']:.1f} ms | {r['max_ms']:.0f} ms | {r['errors']} | "
            f"{r['server_cpu_ms_per_request']:.2f} ms |"
        )
    shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    main()

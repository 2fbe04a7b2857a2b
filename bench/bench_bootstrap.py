"""Benchmark of the bootstrap path: fetching many small custom action scripts from s3://, running
them, and creating the research lab's config (examples/lab/cluster.yaml) end to end.

Measures, against a moto S3 server on loopback (started here, in-process):
  1. fetch N small scripts (N = 5, 50, 200): the previous way (one boto3 client and one download
     after another per script) vs ``fetch_all`` (16 threads sharing one client) cold, and warm
     (every copy already there: one HEAD per script to check its ETag); median of ``--runs``;
  2. run N trivial actions through the agent's ``run_action`` (fork/exec + its log file);
  3. ``corral create-cluster -c examples/lab/cluster.yaml --wait`` -> CREATE_COMPLETE (needs root,
     Slurm and namespaces; ``--creates`` runs, median), and ``delete-cluster --wait``.

    sudo .venv/bin/python bench/bench_bootstrap.py [--runs 5] [--creates 3] [--no-cluster]
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib.util
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3

from corral.node import fetch as fetch_mod
from corral.node.actions import Action, run_action

ROOT = Path(__file__).parents[1]
LAB = ROOT / "examples" / "lab"
SIZES = (5, 50, 200)
BUCKET = "bench-scripts"


def median_time(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def previous_fetch(sources: list[str], dest: Path) -> None:
    """What fetch did before: a new client per script, one download after another."""
    dest.mkdir(parents=True, exist_ok=True)
    for source in sources:
        bucket, key = fetch_mod.split_s3_url(source)
        client = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
        client.download_file(bucket, key, str(dest / fetch_mod.cached_name(source)))


def _measure_fetch(sources: list[str], runs: int) -> tuple[float, float, float]:
    with tempfile.TemporaryDirectory() as scratch:
        base = Path(scratch)
        counter = iter(range(10_000))
        old = median_time(lambda: previous_fetch(sources, base / f"old{next(counter)}"), runs)
        cold = median_time(lambda: fetch_mod.fetch_all(sources, base / f"cold{next(counter)}"), runs)
        fetch_mod.fetch_all(sources, base / "warm")
        warm = median_time(lambda: fetch_mod.fetch_all(sources, base / "warm"), runs)
    return old, cold, warm


def bench_fetch(client: Any, runs: int) -> list[tuple[int, float, float, float]]:
    rows = []
    for n in SIZES:
        sources = []
        for i in range(n):
            key = f"n{n}/{i:03d}-step.sh"
            client.put_object(Bucket=BUCKET, Key=key, Body=f"#!/bin/sh\necho step {i} $1\n".encode())
            sources.append(f"s3://{BUCKET}/{key}")
        old, cold, warm = _measure_fetch(sources, runs)
        rows.append((n, old, cold, warm))
        print(
            f"fetch {n:>3} scripts: previous {old:.3f} s, fetch_all cold {cold:.3f} s, warm {warm:.3f} s",
            flush=True,
        )
    return rows


def _run_all(actions: list[Action], env: dict[str, str]) -> None:
    for action in actions:
        run_action(action, env)


def bench_run(runs: int) -> list[tuple[int, float]]:
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        script = Path(scratch) / "noop.sh"
        script.write_text("#!/bin/sh\necho ok $1\n")
        script.chmod(0o755)
        env = {"PATH": os.environ["PATH"]}
        for n in SIZES:
            actions = [
                Action(
                    "OnNodeConfigured", str(script), ("x",), "s3://b/noop.sh", f"{scratch}/logs/{i:02d}.log"
                )
                for i in range(n)
            ]
            seconds = median_time(functools.partial(_run_all, actions, env), runs)
            rows.append((n, seconds))
            print(
                f"run {n:>3} trivial actions: {seconds:.3f} s ({seconds / n * 1000:.1f} ms each)", flush=True
            )
    return rows


def bench_lab(creates: int) -> tuple[list[float], list[float]]:
    spec = importlib.util.spec_from_file_location("lab_seed", LAB / "seed.py")
    assert spec and spec.loader
    seed = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(seed)
    seed.seed(boto3.client("s3"))
    corral = Path(sys.executable).with_name("corral")
    state = Path(tempfile.mkdtemp(prefix="corral-bench-bootstrap-"))
    env = {**os.environ, "CORRAL_STATE_DIR": str(state)}
    create_times, delete_times = [], []
    try:
        for _ in range(creates):
            name = f"benchlab-{secrets.token_hex(3)}"
            started = time.perf_counter()
            subprocess.run(
                [str(corral), "create-cluster", "-c", str(LAB / "cluster.yaml"), "-n", name, "--wait"],
                env=env, check=True, capture_output=True, timeout=300,
            )  # fmt: skip
            create_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            subprocess.run(
                [str(corral), "delete-cluster", "-n", name, "--wait"],
                env=env,
                check=True,
                capture_output=True,
            )
            delete_times.append(time.perf_counter() - started)
            print(f"lab create {create_times[-1]:.2f} s, delete {delete_times[-1]:.2f} s", flush=True)
    finally:
        shutil.rmtree(state, ignore_errors=True)
    return create_times, delete_times


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise SystemExit(f"moto_server did not listen on port {port}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--creates", type=int, default=3)
    parser.add_argument("--no-cluster", action="store_true")
    args = parser.parse_args()
    # A server process of its own, as a user runs it (in-process, it would share our GIL).
    port = free_port()
    moto = subprocess.Popen(
        [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    os.environ.update(
        AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
    )
    wait_for_port(port)
    try:
        client = boto3.client("s3")
        client.create_bucket(Bucket=BUCKET)
        bench_fetch(client, args.runs)
        bench_run(args.runs)
        if not args.no_cluster:
            creates, deletes = bench_lab(args.creates)
            print(
                f"lab create-cluster --wait: median {statistics.median(creates):.2f} s "
                f"(min {min(creates):.2f}, max {max(creates):.2f}); "
                f"delete median {statistics.median(deletes):.2f} s"
            )
    finally:
        moto.terminate()
        moto.wait()


if __name__ == "__main__":
    main()

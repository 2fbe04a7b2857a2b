"""``corral run`` of a 2-node hello job on the demo config: whole-process wall time, and its split into
create, stage, run (queue + run), collect and delete, as ``corral run --json`` reports it.

    .venv/bin/python bench/bench_run.py [--runs 5]

Runs as root (real local clusters). There is no peer to run side by side here: pcluster has no such
command (the HPC Ops pattern is a pipeline of create-cluster, an ssh'd sbatch and delete-cluster
against AWS, minutes per phase).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def one_run(state: Path, index: int) -> tuple[float, dict[str, float], dict[str, object]]:
    env = {**os.environ, "CORRAL_STATE_DIR": str(state)}
    argv = [sys.executable, "-m", "corral.cli.main", "run", "-c", str(ROOT / "examples/demo.yaml")]
    argv += ["-n", f"bnrun{index}", str(ROOT / "examples/hello.sbatch"), "--json"]
    started = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600)
    wall = time.monotonic() - started
    if done.returncode != 0:
        sys.exit(f"run {index} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    report = json.loads(done.stdout)
    return wall, report["phases"], report["jobs"][0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    walls: list[float] = []
    phases: dict[str, list[float]] = {}
    queued: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-run-") as tmp:
        for i in range(args.runs):
            wall, split, job = one_run(Path(tmp) / "state", i)
            walls.append(wall)
            for name, seconds in split.items():
                phases.setdefault(name, []).append(seconds)
            queued.append(float(job["queuedSeconds"] or 0))
            line = "  ".join(f"{k} {v:.2f}" for k, v in split.items())
            print(f"run {i}: {wall:.2f} s  {line}", flush=True)
    print(f"\ncorral run, 2-node hello on examples/demo.yaml, {args.runs} runs (median):")
    low, high = min(walls), max(walls)
    print(f"  whole process     {statistics.median(walls):6.2f} s  (min {low:.2f}, max {high:.2f})")
    for name, values in phases.items():
        print(f"  {name:<17} {statistics.median(values):6.2f} s")
    print(f"  of run: queued    {statistics.median(queued):6.2f} s (submit -> start, a dynamic node boots)")


if __name__ == "__main__":
    main()

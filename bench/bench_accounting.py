"""Slurm accounting on a local cluster: how fast job records reach the database under a burst of short
jobs, and the delay from a job's end to its ``sacct`` record.

    .venv/bin/python bench/bench_accounting.py [--jobs 2000] [--static 2]

Creates a cluster with ``Database`` (a MariaDB stand-in, slurmdbd on the head) and ``--static``
static nodes, submits ``--jobs`` ``true`` jobs at once (one job array: a record per task), and
reports: submit rate, records per second reaching the database (from the first submit until every
job has its final record), and the median/max delay between a job's end (slurmctld's EndTime) and
the moment its final record is visible in ``sacct``, sampled on 20 jobs. Runs as root; deletes
the cluster and the stand-in at the end. No peer runs here: pcluster's accounting needs RDS.
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
from datetime import datetime
from pathlib import Path

CONFIG = """\
Region: us-east-1
Image: {{Os: alinux2023}}
HeadNode: {{InstanceType: c5.xlarge, Networking: {{SubnetId: subnet-0123456789abcdef0}}}}
Scheduling:
  Scheduler: slurm
  SlurmSettings:
    CustomSlurmSettings: [{{MaxArraySize: 100001}}]
    Database: {{Uri: bench-db.example.com:3306, UserName: bench,
               PasswordSecretArn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:bench-x"}}
  SlurmQueues:
    - Name: q
      ComputeResources: [{{Name: c, InstanceType: c5.4xlarge, MinCount: {static}, MaxCount: {static}}}]
      Networking: {{SubnetIds: [subnet-0123456789abcdef0]}}
"""


def corral(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "corral.cli.main", *args], input=stdin, capture_output=True, text=True, env=env
    )
    if done.returncode != 0:
        sys.exit(f"corral {' '.join(args[:2])} failed: {done.stdout}{done.stderr}")
    return done.stdout


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--static", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-acct-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(CORRAL_STATE_DIR=f"{tmp}/state", AWS_SHARED_CREDENTIALS_FILE=f"{tmp}/none")
        config = Path(tmp) / "c.yaml"
        config.write_text(CONFIG.format(static=args.static))
        name = "bnacct"
        started = time.monotonic()
        corral(env, "create-cluster", "-c", str(config), "-n", name, "--wait")
        print(f"create --wait with a new stand-in: {time.monotonic() - started:.1f} s", flush=True)
        try:
            measure(env, name, args.jobs)
        finally:
            corral(env, "delete-cluster", "-n", name, "--wait")
            uri = json.loads(corral(env, "list-databases"))["databases"][0]["uri"]
            corral(env, "delete-database", "--uri", uri)


def measure(env: dict[str, str], name: str, jobs: int) -> None:
    # one array of short jobs: each task is a job with its own accounting record
    t0 = time.monotonic()
    out = corral(env, "ssh", "-n", name, "--", "sbatch", "--parsable", "-p", "q", f"--array=1-{jobs}",
                 "-o", "/dev/null", "--wrap", "true")  # fmt: skip
    base = out.strip().split(";")[0]
    ids = [f"{base}_{i}" for i in range(1, jobs + 1)]
    submitted = time.monotonic() - t0
    print(f"submitted {len(ids)} jobs in {submitted:.1f} s ({len(ids) / submitted:.0f}/s)", flush=True)
    sample = set(ids[:: max(1, len(ids) // 20)])
    seen: dict[str, float] = {}
    ends: dict[str, datetime] = {}
    while len(seen) < len(ids):
        out = corral(env, "ssh", "-n", name, "--", "sacct", "-a", "-X", "-n", "-P", "-o", "JobID,State,End",
                     "-S", "2000-01-01")  # fmt: skip
        now = time.monotonic()
        for line in out.splitlines():
            job, state, end = line.split("|")
            if job in seen or state in ("PENDING", "RUNNING") or not end or end == "Unknown":
                continue
            seen[job] = now
            if job in sample:
                ends[job] = datetime.fromisoformat(end)
        if now - t0 > 3600:
            sys.exit(f"only {len(seen)} of {len(ids)} records after an hour")
        time.sleep(0.5)
    total = max(seen.values()) - t0
    print(f"all {len(ids)} final records in the database {total:.1f} s after the first submit: "
          f"{len(ids) / total:.1f} records/s", flush=True)  # fmt: skip
    wall0 = datetime.now().timestamp() - (time.monotonic() - t0)  # wall clock at t0
    delays = [(seen[j] - t0) - (ends[j].timestamp() - wall0) for j in ends]
    print(
        f"end -> sacct delay on {len(delays)} sampled jobs: median {statistics.median(delays):.1f} s,"
        f" max {max(delays):.1f} s (sacct polled every 0.5 s; End has 1 s resolution)"
    )


if __name__ == "__main__":
    main()

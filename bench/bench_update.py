"""update-cluster benchmarks.

Run from the repository root (as root, for the live part):

    .venv/bin/python bench/bench_update.py [--anchor-python PATH] [--runs N] [--skip-live]

1. **Change set on the 50-queue limit config** (``bench/configs/limit-50q-50cr.yaml``) against a
   copy with a change in every queue (MaxCount, a queue's CustomSlurmSettings, ScaledownIdletime):
   Corral's ``corral.plan.diff`` plus its live-update verdicts (``relax``), warm, in one process,
   next to pcluster's own ``ConfigPatch(cluster, base, target)`` + ``check()`` in its own venv
   (``pip install aws-parallelcluster==3.16.1`` into a venv outside the repository; pass its
   python with ``--anchor-python``), on the same two files, in the same run. The anchor's cluster
   is a stand-in object answering "the fleet is running" offline (its real one asks DynamoDB).
   Also the whole ``update-cluster --dryrun true`` in-process (validation, both configs loaded,
   the change set) against a cluster recorded with the fake provider.
2. **Live update of a running local cluster to UPDATE_COMPLETE**, a job running throughout: add a
   queue, raise a MaxCount, change CustomSlurmSettings, each timed from the service's ``update``
   call (validation, change set, job check, record) to UPDATE_COMPLETE (``run_update``).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
LIMIT = ROOT / "bench" / "configs" / "limit-50q-50cr.yaml"

ANCHOR = r"""
import json, sys, time, yaml
from pcluster.config.config_patch import ConfigPatch

class Cluster:  # stand-in: the fleet is running, no login nodes (the real one reads DynamoDB/EC2)
    name = "bench"
    stack_name = "bench"
    def has_running_capacity(self): return True
    def has_running_login_nodes(self, pool_name=None): return False

base = yaml.safe_load(open(sys.argv[1]))
target = yaml.safe_load(open(sys.argv[2]))
runs = int(sys.argv[3])
times = []
for _ in range(runs + 1):
    start = time.perf_counter()
    patch = ConfigPatch(Cluster(), base, target)
    allowed, rows = patch.check()
    times.append(time.perf_counter() - start)
print(json.dumps({"times": times[1:], "changes": len(patch.changes), "allowed": allowed}))
"""


def changed_limit_config(text: str) -> str:
    doc = yaml.safe_load(text)
    settings = doc["Scheduling"]["SlurmSettings"]
    settings["ScaledownIdletime"] = int(settings.get("ScaledownIdletime", 10)) + 5
    for i, queue in enumerate(doc["Scheduling"]["SlurmQueues"]):
        queue["ComputeResources"][0]["MaxCount"] = int(queue["ComputeResources"][0].get("MaxCount", 10)) + 1
        if i % 2 == 0:
            queue["CustomSlurmSettings"] = {"MaxTime": str(100 + i)}
    return yaml.safe_dump(doc, sort_keys=False)


def corral_change_set(base: Path, target: Path, runs: int) -> dict[str, object]:
    from corral.config.loader import load_cluster_config
    from corral.plan import diff
    from corral.plan.live import LIVE_KINDS, relax

    old, new = load_cluster_config(base).config, load_cluster_config(target).config
    times = []
    for _ in range(runs + 1):
        start = time.perf_counter()
        changes = relax(diff(old, new, fleet_status="RUNNING"), LIVE_KINDS, "DRAIN")
        times.append(time.perf_counter() - start)
    return {"times": times[1:], "changes": len(changes), "allowed": changes.allowed}


def corral_dry_run(base: Path, target: Path, runs: int) -> list[float]:
    from corral.providers.fake import FakeProvider
    from corral.service import ClusterService
    from corral.state import StateStore

    with tempfile.TemporaryDirectory(prefix="bench-update-") as tmp:
        provider = FakeProvider()
        service = ClusterService(StateStore(Path(tmp)), lambda _n: provider)
        service.create("bench", base, provider="fake", suppress=["ALL"])
        service.run_create("bench")
        times = []
        for _ in range(runs + 1):
            start = time.perf_counter()
            service.update("bench", target, dry_run=True, suppress=["ALL"])
            times.append(time.perf_counter() - start)
        return times[1:]


def anchor_change_set(python: str, base: Path, target: Path, runs: int) -> dict[str, object]:
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1"}
    out = subprocess.run(
        [python, "-c", ANCHOR, str(base), str(target), str(runs)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.1f} ms"


def bench_change_set(anchor: str | None, runs: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-update-") as tmp:
        base = Path(tmp) / "base.yaml"
        target = Path(tmp) / "target.yaml"
        base.write_text(LIMIT.read_text())
        target.write_text(changed_limit_config(LIMIT.read_text()))
        corral = corral_change_set(base, target, runs)
        print(
            f"change set, 50-queue limit config: Corral diff+verdicts {ms(corral['times'])} "  # type: ignore[arg-type]
            f"({corral['changes']} changes, allowed={corral['allowed']})"
        )
        dry = corral_dry_run(base, target, max(3, runs // 5))
        print(
            f"  Corral update-cluster --dryrun in-process (validation + both configs + change set): {ms(dry)}"
        )
        if anchor:
            theirs = anchor_change_set(anchor, base, target, runs)
            ratio = statistics.median(theirs["times"]) / statistics.median(corral["times"])  # type: ignore[arg-type]
            print(
                f"  pcluster 3.16.1 ConfigPatch+check {ms(theirs['times'])} "  # type: ignore[arg-type]
                f"({theirs['changes']} changes, allowed={theirs['allowed']}); Corral is {ratio:.1f}x faster"
            )


LIVE_BASE = {
    "Region": "us-east-1",
    "Image": {"Os": "alinux2023"},
    "HeadNode": {"InstanceType": "c5.large", "Networking": {"SubnetId": "subnet-0123456789abcdef0"}},
    "Scheduling": {
        "Scheduler": "slurm",
        "SlurmQueues": [
            {
                "Name": "q1",
                "ComputeResources": [
                    {"Name": "c1", "InstanceType": "c5.large", "MinCount": 1, "MaxCount": 2}
                ],
                "Networking": {"SubnetIds": ["subnet-0123456789abcdef0"]},
            }
        ],
    },
}


def live_steps() -> list[tuple[str, dict[str, object]]]:
    add_queue = copy.deepcopy(LIVE_BASE)
    q2 = copy.deepcopy(add_queue["Scheduling"]["SlurmQueues"][0])  # type: ignore[index]
    q2["Name"] = "q2"
    q2["ComputeResources"][0].update(Name="c2", MinCount=0)
    add_queue["Scheduling"]["SlurmQueues"].append(q2)  # type: ignore[index]
    raise_max = copy.deepcopy(add_queue)
    raise_max["Scheduling"]["SlurmQueues"][0]["ComputeResources"][0]["MaxCount"] = 10  # type: ignore[index]
    settings = copy.deepcopy(raise_max)
    settings["Scheduling"]["SlurmSettings"] = {"CustomSlurmSettings": [{"MaxJobCount": 20000}]}  # type: ignore[index]
    return [
        ("add a queue", add_queue),
        ("raise a MaxCount", raise_max),
        ("change CustomSlurmSettings", settings),
    ]


def job_state(provider: object, name: str, job: str) -> str:
    result = provider.run_on_head(name, ["squeue", "-h", "-j", job, "-o", "%T %r"])  # type: ignore[attr-defined]
    return str(result.stdout.strip().split(" ")[0] if result.stdout.strip() else "gone")


def bench_live() -> None:
    from corral.providers.local import LocalProvider
    from corral.service import ClusterService
    from corral.state import StateStore

    with tempfile.TemporaryDirectory(prefix="bench-update-live-") as tmp:
        provider = LocalProvider(Path(tmp) / "state")
        service = ClusterService(StateStore(provider.state_dir), lambda _n: provider)
        name = f"upbench-{os.getpid()}"
        path = Path(tmp) / "c0.yaml"
        path.write_text(yaml.safe_dump(LIVE_BASE))
        service.create(name, path, provider="local", suppress=["ALL"])
        try:
            service.run_create(name)
            job = provider.run_on_head(name, ["sbatch", "--parsable", "--wrap", "sleep 600"]).stdout.strip()
            while job_state(provider, name, job) != "RUNNING":
                time.sleep(0.2)
            for i, (what, doc) in enumerate(live_steps(), start=1):
                path = Path(tmp) / f"c{i}.yaml"
                path.write_text(yaml.safe_dump(doc))
                start = time.perf_counter()
                service.update(name, path, suppress=["ALL"])
                status = service.run_update(name).stack_status
                took = time.perf_counter() - start
                state = job_state(provider, name, job)
                print(f"live update, {what}: {status} in {took:.2f} s (job {job} {state})")
        finally:
            provider.delete(name)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--anchor-python", help="python of a venv with aws-parallelcluster==3.16.1")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--skip-live", action="store_true")
    args = parser.parse_args()
    bench_change_set(args.anchor_python, args.runs)
    if not args.skip_live:
        bench_live()
    sys.stdout.flush()


if __name__ == "__main__":
    main()

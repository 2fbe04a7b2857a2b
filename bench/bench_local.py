"""Benchmark of local clusters (needs root, Slurm and namespaces).

Measures, on this machine:
  1. create: ``LocalProvider.create`` (head, munged, slurmctld, one static node idle) -> returned,
     median of ``--creates`` runs (the CLI's ``create-cluster --wait`` adds its own start-up on top;
     ``--cli`` measures that too when the ``corral`` command is installed);
  2. scale-up: ``sbatch`` -> the job's first instruction on a powered-down dynamic node (the job
     stamps ``date +%s.%N``), median of ``--runs`` runs, each on a different powered-down node;
  3. memory per idle node: PSS of every process in the node's namespaces (holder + slurmd);
  4. many nodes: one job over ``--many`` powered-down dynamic nodes, submit -> all nodes ran it,
     host memory used before/after.

    sudo .venv/bin/python bench/bench_local.py [--creates 3] [--runs 7] [--many 100] [--cli]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _measure import pss_kib

from corral.plan import (
    ClusterPlan,
    HeadNodeSpec,
    NodeKind,
    NodeShape,
    NodeSpec,
    PartitionSpec,
    SlurmPlan,
)
from corral.providers.local import LocalProvider, _net

SHAPE = NodeShape("c5.large", cpus=2, sockets=1, cores_per_socket=1, threads_per_core=2, real_memory_mib=1800)


def make_plan(name: str, static: int, dynamic: int, queue: str = "q1") -> ClusterPlan:
    nodes = [
        NodeSpec(f"{queue}-{tag}-c1-{i}", queue, "c1", kind, i, SHAPE, 1, (kind.value, "c5.large", "c1"))
        for kind, count, tag in ((NodeKind.STATIC, static, "st"), (NodeKind.DYNAMIC, dynamic, "dy"))
        for i in range(1, count + 1)
    ]
    return ClusterPlan(
        cluster_name=name,
        os="alinux2023",
        region=None,
        head_node=HeadNodeSpec(SHAPE),
        nodes=tuple(nodes),
        partitions=(PartitionSpec(queue, tuple(n.name for n in nodes), True),),
        storage=(),
        slurm=SlurmPlan(10, memory_based_scheduling=False, queue_update_strategy="COMPUTE_FLEET_STOP"),
    )


def run(provider: LocalProvider, name: str, *argv: str) -> str:
    result = provider.run_on_head(name, list(argv), timeout=120)
    if result.returncode != 0:
        raise SystemExit(f"{argv}: {result.stderr}")
    return result.stdout


def wait_for(condition, timeout: float, what: str, interval: float = 0.02):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise SystemExit(f"timed out waiting for {what}")


def bench_create(provider: LocalProvider, creates: int) -> list[float]:
    times = []
    for _ in range(creates):
        name = f"bench-c-{secrets.token_hex(3)}"
        started = time.monotonic()
        provider.create(make_plan(name, 1, 4), on_event=lambda r, m: None)
        times.append(time.monotonic() - started)
        provider.delete(name)
    return times


def bench_create_cli(state_dir: Path, creates: int) -> list[float]:
    """``corral create-cluster --wait`` wall time, with a config from examples/ when present."""
    config = Path(__file__).resolve().parents[1] / "examples" / "demo.yaml"
    corral = Path(sys.executable).with_name("corral")
    if not config.exists() or not corral.exists():
        print(f"(skipping CLI create: need {config} and {corral})")
        return []
    env = {**os.environ, "CORRAL_STATE_DIR": str(state_dir)}
    times = []
    for _ in range(creates):
        name = f"bench-cli-{secrets.token_hex(3)}"
        started = time.monotonic()
        subprocess.run(
            [str(corral), "create-cluster", "-c", str(config), "-n", name, "--wait"],
            env=env,
            check=True,
            capture_output=True,
        )
        times.append(time.monotonic() - started)
        subprocess.run(
            [str(corral), "delete-cluster", "-n", name, "--wait"], env=env, check=False, capture_output=True
        )
    return times


def bench_scale_up(provider: LocalProvider, runs: int) -> list[float]:
    name = f"bench-s-{secrets.token_hex(3)}"
    provider.create(make_plan(name, 0, runs), on_event=lambda r, m: None)
    shared = provider.layout(name).root / "shared" / "home"
    try:
        run(provider, name, "mkdir", "-p", "/home/bench")
        times = []
        for i in range(1, runs + 1):
            submitted = time.time()
            job = run(
                provider,
                name,
                "sbatch",
                "--parsable",
                "-w",
                f"q1-dy-c1-{i}",
                "-o",
                "/dev/null",
                "--wrap",
                "date +%s.%N > /home/bench/start-$SLURM_JOB_ID",
            ).strip()
            stamp = shared / "bench" / f"start-{job}"
            wait_for(lambda stamp=stamp: stamp.exists() and stamp.read_text().strip(), 60, f"job {job}")
            times.append(float(stamp.read_text()) - submitted)
        return times
    finally:
        provider.delete(name)


def used_mib() -> int:
    info = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
    kib = lambda key: int(info[key].split()[0])  # noqa: E731
    return (kib("MemTotal") - kib("MemAvailable")) // 1024


def bench_many(provider: LocalProvider, count: int) -> dict[str, float]:
    name = f"bench-m-{secrets.token_hex(3)}"
    before = used_mib()
    provider.create(make_plan(name, 0, count), on_event=lambda r, m: None)
    try:
        submitted = time.monotonic()
        job = run(
            provider,
            name,
            "sbatch",
            "--parsable",
            f"-N{count}",
            "-o",
            "/home/many-%j.out",
            "--wrap",
            "srun hostname | sort | uniq | wc -l",
        ).strip()
        out = provider.layout(name).root / "shared" / "home" / f"many-{job}.out"

        def finished() -> bool:
            state = run(provider, name, "squeue", "-h", "-j", job, "-o", "%T").strip()
            return state == "" and out.exists()

        wait_for(finished, 600, f"the {count}-node job", interval=0.2)
        elapsed = time.monotonic() - submitted
        distinct = int(out.read_text().split()[-1])
        idle = [i for i in provider.instances(name) if i.node_name]
        per_node = []
        for instance in idle:
            pids = _net.netns_pids(_net.node_netns(name, instance.node_name or ""))
            per_node.append(sum(pss_kib(p) for p in pids))
        after = used_mib()
        return {
            "nodes_requested": count,
            "nodes_that_ran_the_job": distinct,
            "instances_up": len(idle),
            "submit_to_done_s": elapsed,
            "pss_per_idle_node_kib_median": statistics.median(per_node) if per_node else 0,
            "host_used_mib_before": before,
            "host_used_mib_with_nodes_up": after,
        }
    finally:
        provider.delete(name)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--creates", type=int, default=3)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--many", type=int, default=100)
    parser.add_argument("--cli", action="store_true", help="also time `corral create-cluster --wait`")
    args = parser.parse_args()
    os.environ.setdefault("CORRAL_LOCAL_SCALEDOWN_SECONDS", "600")
    with tempfile.TemporaryDirectory(prefix="corral-bench-") as tmp:
        provider = LocalProvider(Path(tmp))
        provider.check_prerequisites()
        results: dict[str, object] = {}
        creates = bench_create(provider, args.creates)
        results["create_s"] = {"median": statistics.median(creates), "runs": creates}
        if args.cli:
            cli = bench_create_cli(Path(tmp), args.creates)
            if cli:
                results["cli_create_wait_s"] = {"median": statistics.median(cli), "runs": cli}
        ups = bench_scale_up(provider, args.runs)
        results["sbatch_to_start_s"] = {"median": statistics.median(ups), "runs": ups}
        results["many"] = bench_many(provider, args.many)
    print(json.dumps(results, indent=2, default=lambda x: round(x, 3)))


if __name__ == "__main__":
    main()

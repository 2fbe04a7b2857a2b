"""Benchmark of the aws provider against a moto server on loopback (started here, in-process).

For each config: ``AwsProvider.create`` (bucket, uploads, CreateStack, wait for CREATE_COMPLETE,
head node lookup), ``launch_batch`` of N dynamic nodes (CreateFleet, CreateTags per instance,
DescribeInstances, the DynamoDB node table), ``terminate`` of them, and ``delete`` (DeleteStack and
wait, artefacts removed). Medians of ``--runs``. moto answers in-process, so this measures Corral's
own overhead and API call count, not AWS's provisioning time.

    .venv/bin/python bench/bench_awsprov.py [--runs 3] [--nodes 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import boto3
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from corral.config.check import check_cluster_config  # noqa: E402
from corral.plan import ClusterPlan, build_plan  # noqa: E402
from corral.providers.aws import AwsProvider  # noqa: E402
from support.aws import aws_endpoint, make_network, rewrite_ids  # noqa: E402
from support.corpus import CORPUS  # noqa: E402

CONFIGS = {
    "simple (1 queue, EBS)": "integ__performance_tests__test_simple__test_simple__pcluster.config.yaml",
    "failover (4 CRs)": "integ__schedulers__test_slurm__test_fast_capacity_failover__pcluster.config.yaml",
    "bench (scheduler perf)": (
        "bench__test_scheduler_performance__test_scheduler_performance__pcluster.config.yaml"
    ),
}


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run_one(
    provider: AwsProvider, plan: ClusterPlan, nodes: int, calls: Callable[[], int]
) -> dict[str, float]:
    name = plan.cluster_name
    dynamic = [n.name for n in plan.nodes if n.kind.value == "dynamic"][:nodes]
    out = {"create": timed(lambda: provider.create(plan, on_event=lambda r, m: None))}
    before = calls()
    out["launch"] = timed(lambda: provider.launch_batch(name, dynamic))
    out["launch_calls"] = calls() - before
    out["launched"] = len(dynamic)
    out["terminate"] = timed(lambda: provider.terminate(name, dynamic))
    out["delete"] = timed(lambda: provider.delete(name))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--nodes", type=int, default=20)
    args = parser.parse_args()
    with pytest.MonkeyPatch.context() as mp, aws_endpoint(mp) as proxy, tempfile.TemporaryDirectory() as tmp:
        net = make_network(boto3.client("ec2"))
        provider = AwsProvider(Path(tmp) / "state")
        print("| config | create | launch N dynamic | API calls for the launch | terminate | delete |")
        print("|---|---:|---:|---:|---:|---:|")
        for index, (label, filename) in enumerate(CONFIGS.items()):
            results = []
            for run in range(args.runs):
                path = Path(tmp) / f"c{run}.yaml"
                path.write_text(rewrite_ids((CORPUS / "cluster-configs" / filename).read_text(), net))
                # a new name each time: the log group (DeletionPolicy Retain) outlives the stack
                name = f"awsbench{index}x{run}"
                report = check_cluster_config(path, cluster_name=name, target="aws")
                assert report.config is not None
                plan = build_plan(report.config, cluster_name=name)
                results.append(run_one(provider, plan, args.nodes, lambda: len(proxy._faults.calls)))

            def med(key: str, results: list[dict[str, float]] = results) -> float:
                return statistics.median(r[key] for r in results)

            create, launch, terminate, delete = (
                med(k) * 1000 for k in ("create", "launch", "terminate", "delete")
            )
            print(
                f"| {label} | {create:.0f} ms | {launch:.0f} ms ({med('launched'):.0f} nodes) "
                f"| {med('launch_calls'):.0f} | {terminate:.0f} ms | {delete:.0f} ms |"
            )


if __name__ == "__main__":
    main()

"""Scaling decision benchmark: how long the ResumeProgram's pure work takes for a big resume.

Run from the repository root:  .venv/bin/python bench/bench_scaling.py [--nodes 1000] [--runs 20]

For a resume file of N nodes (jobs of 1 to 8 nodes, round-robin over 4 compute resources, a
third of the requested capacity refused) it times, per strategy: parsing the JSON file
(``parse_resume_file``), planning the launches (``plan_launches``) and deciding what to keep,
terminate and mark DOWN (``decide``); and the local provider's capacity admission
(``_capacity.admit``) of the N nodes against a per-type limit. Median of ``--runs`` runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

from corral.daemons.scaling import ScalingStrategy, decide, parse_resume_file, plan_launches
from corral.providers.local._capacity import CapacityLimits, Slot, admit
from corral.slurm import hostlist


def resume_file(nodes: int) -> str:
    """Jobs of 1..8 nodes over compute resources cr0..cr3 until ``nodes`` nodes are requested."""
    names: list[str] = []
    jobs = []
    job_id, size = 1, 1
    while len(names) < nodes:
        take = min(size, nodes - len(names))
        mine = [f"q1-dy-cr{(len(names) + i) % 4}-{len(names) + i + 1}" for i in range(take)]
        names += mine
        jobs.append(
            {
                "job_id": job_id,
                "nodes_alloc": hostlist.compress(mine),
                "nodes_resume": hostlist.compress(mine),
            }
        )
        job_id, size = job_id + 1, size % 8 + 1
    return json.dumps({"all_nodes_resume": hostlist.compress(names), "jobs": jobs})


def median_ms(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    text = resume_file(args.nodes)
    request = parse_resume_file(text)
    refused = {n: "InsufficientInstanceCapacity" for i, n in enumerate(request.nodes) if i % 3 == 0}
    launched = [n for n in request.nodes if n not in refused]
    print(f"{len(request.nodes)} nodes, {len(request.jobs)} jobs, resume file {len(text) / 1024:.0f} KiB")
    print(f"parse_resume_file: {median_ms(lambda: parse_resume_file(text), args.runs):.2f} ms")
    for strategy in ScalingStrategy:
        planned = median_ms(lambda s=strategy: plan_launches(request, s), args.runs)  # type: ignore[misc]
        decided = median_ms(lambda s=strategy: decide(request, s, launched, refused), args.runs)  # type: ignore[misc]
        steps = len(plan_launches(request, strategy))
        kept = len(decide(request, strategy, launched, refused).keep)
        print(
            f"{strategy.value:>22}: plan {planned:.2f} ms ({steps} launch calls),"
            f" decide {decided:.2f} ms (keeps {kept})"
        )
    limits = CapacityLimits.parse(f"c5.large={args.nodes // 2}")
    slots = [Slot(n, "c5.large", 3800) for n in request.nodes]
    admitted = median_ms(
        lambda: admit(limits, slots[: args.nodes // 4], slots, all_or_nothing=False), args.runs
    )
    print(f"capacity admit of {len(slots)} nodes beside {args.nodes // 4} running: {admitted:.2f} ms")


if __name__ == "__main__":
    main()

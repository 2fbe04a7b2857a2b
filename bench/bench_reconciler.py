"""Benchmark of the reconciler daemon.

1. Decision time per pass, without Slurm: for 1,000, 10,000 and 50,000 simulated nodes (a mix of
   states: idle and busy static nodes, powered-down and booting dynamic nodes, DOWN, not
   responding, drained, bootstrap failures, orphans), the pure work of one pass: parse
   ``scontrol -o show node`` output, ``track_unresponsive``, ``track_protection``, the lifecycle
   (``track_nodes``) and ``reconcile``. The lifecycle runs against the previous pass's records (the
   steady state: few nodes move). Median of ``--runs`` passes; growth per node between sizes.
2. ``--live`` (root, Slurm, namespaces): on a real local cluster, the time from a static node's
   machine dying (SIGKILL to every process in its namespace) to its replacement being IDLE in
   Slurm, median of ``--deaths`` deaths.

    .venv/bin/python bench/bench_reconciler.py [--runs 5] [--sizes 1000,10000,50000] [--live --deaths 3]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import secrets
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

from corral.daemons.lifecycle import track_nodes
from corral.daemons.protection import Protection, track_protection
from corral.daemons.reconciler import FleetSpec, NodeInstance, ObservedCluster, reconcile, track_unresponsive
from corral.providers.local._net import netns_pids, node_netns
from corral.slurm.status import NodeState, parse_nodes

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)

#: (share of nodes, kind, Slurm state, reason, has an instance)
MIX = (
    (0.40, "st", "IDLE+CLOUD", "", True),
    (0.15, "st", "ALLOCATED+CLOUD", "", True),
    (0.25, "dy", "IDLE+CLOUD+POWERED_DOWN", "", False),
    (0.08, "dy", "MIXED+CLOUD", "", True),
    (0.04, "dy", "IDLE+CLOUD+POWERING_UP", "", True),
    (0.03, "st", "DOWN+CLOUD", "Not responding", True),
    (0.02, "st", "IDLE+CLOUD+NOT_RESPONDING", "", True),
    (0.02, "dy", "IDLE+CLOUD+DRAIN", "maintenance", True),
    (0.01, "dy", "DOWN+CLOUD", "bootstrap failure: OnNodeConfigured script exited with 1", True),
)


def scontrol_output(n: int) -> tuple[str, dict[str, NodeInstance]]:
    """``scontrol -o show node`` text for ``n`` nodes in 20 queues, and their instances."""
    lines, instances = [], {}
    i = 0
    for share, kind, state, reason, has_instance in MIX:
        for _ in range(max(1, round(share * n))):
            queue = f"q{i % 20}"
            name = f"{queue}-{kind}-c1-{i}"
            feature = "static" if kind == "st" else "dynamic"
            why = f" Reason={reason} [root@2026-01-01T11:00:00]" if reason else ""
            lines.append(
                f"NodeName={name} Arch=x86_64 CoresPerSocket=1 CPUAlloc=0 CPUTot=2 "
                f"AvailableFeatures={feature},c5.large ActiveFeatures={feature},c5.large "
                f"NodeAddr=10.0.{i // 250}.{i % 250} State={state} Partitions={queue}{why}"
            )
            if has_instance:
                instances[name] = NodeInstance(f"i-{i:017x}", NOW - timedelta(seconds=3600))
            i += 1
    return "\n".join(lines) + "\n", instances


def one_pass(nodes: list[NodeState], instances: dict[str, NodeInstance], state: dict[str, object]) -> int:
    """The pure decisions of one reconciler pass; returns how many actions it decided."""
    unresponsive = track_unresponsive(state.get("unresponsive", {}), nodes, NOW)  # type: ignore[arg-type]
    running = {name: i.instance_id for name, i in instances.items()}
    partitions = {f"q{q}": "UP" for q in range(20)}
    protection = track_protection(state.get("protection", Protection()), nodes, running, partitions, NOW)  # type: ignore[arg-type]
    records, _events = track_nodes(state.get("records", {}), nodes, running, NOW)  # type: ignore[arg-type]
    observed = ObservedCluster(tuple(nodes), instances, unresponsive, protection)
    actions = reconcile(FleetSpec.from_slurm(nodes, 1800.0), observed, NOW, fleet_running=True)
    state.update(unresponsive=unresponsive, protection=protection, records=records)
    return len(actions.items)


def timed(fn: Callable[[], object], *, collect: bool = True) -> float:
    """Seconds ``fn`` takes; ``collect`` False keeps Python's cyclic GC out of the measurement."""
    gc.collect()
    if not collect:
        gc.disable()
    try:
        started = time.perf_counter()
        fn()
        return time.perf_counter() - started
    finally:
        gc.enable()


def decision_times(sizes: list[int], runs: int) -> list[tuple[int, float, float, float]]:
    """(nodes, median decision s, the same without cyclic GC, median parse s) per size."""
    out = []
    for n in sizes:
        text, instances = scontrol_output(n)
        nodes = parse_nodes(text)
        state: dict[str, object] = {}
        one_pass(nodes, instances, state)  # first pass: every node is new
        passes = [timed(partial(one_pass, nodes, instances, state)) for _ in range(runs)]
        no_gc = [timed(partial(one_pass, nodes, instances, state), collect=False) for _ in range(runs)]
        parses = [timed(partial(parse_nodes, text)) for _ in range(runs)]
        out.append((n, statistics.median(passes), statistics.median(no_gc), statistics.median(parses)))
        print(f"{n:>6} nodes: decisions {statistics.median(passes) * 1000:8.1f} ms", flush=True)
    return out


def report_decisions(rows: list[tuple[int, float, float, float]]) -> None:
    print(
        "\n| nodes | decisions per pass (median) | per node | growth vs previous size "
        "| same, cyclic GC off | parsing scontrol |"
    )
    print("|---:|---:|---:|---|---:|---:|")
    previous = None
    for n, t, no_gc, parse in rows:
        growth = ""
        if previous:
            pn, pt = previous
            growth = f"{t / pt:.1f}x time for {n / pn:.0f}x nodes (per node {(t / n) / (pt / pn):.2f}x)"
        print(
            f"| {n:,} | {t * 1000:.0f} ms | {t / n * 1e6:.1f} us | {growth} "
            f"| {no_gc * 1000:.0f} ms ({no_gc / n * 1e6:.1f} us/node) | {parse * 1000:.0f} ms |"
        )
        previous = (n, t)


def live_replacement(deaths: int) -> list[float]:
    """Seconds from a static node's machine dying to its replacement being IDLE, per death."""
    from corral.providers.local import LocalProvider

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.e2e.plans import plan

    provider = LocalProvider(Path(tempfile.mkdtemp(prefix="corral-bench-rec-")))
    name = f"benchrec-{secrets.token_hex(2)}"
    node = "q1-st-c1-1"
    took = []
    try:
        provider.create(plan(name, queues=(("q1", "c1", 1, 0),)), on_event=lambda r, m: None)
        for _ in range(deaths):
            old = _instance(provider, name, node)
            _kill_machine(name, node)
            started = time.monotonic()
            while not _idle_on_new(provider, name, node, old):
                if time.monotonic() - started > 180:
                    raise SystemExit("the node was not replaced within 180 s")
                time.sleep(0.1)
            took.append(time.monotonic() - started)
            print(f"death -> replacement IDLE: {took[-1]:.1f} s", flush=True)
    finally:
        provider.delete(name)
    return took


def _instance(provider: object, name: str, node: str) -> str | None:
    ids = [i.instance_id for i in provider.instances(name) if i.node_name == node]  # type: ignore[attr-defined]
    return ids[0] if ids else None


def _idle_on_new(provider: object, name: str, node: str, old: str | None) -> bool:
    new = _instance(provider, name, node)
    out = provider.run_on_head(name, ["scontrol", "-o", "show", "node", node]).stdout  # type: ignore[attr-defined]
    nodes = parse_nodes(out)
    return bool(new and new != old and nodes and nodes[0].ready and nodes[0].state == "IDLE")


def _kill_machine(name: str, node: str) -> None:
    pids = netns_pids(node_netns(name, node))
    for sig in (signal.SIGSTOP, signal.SIGKILL):
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, sig)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--live", action="store_true", help="also time a real node's replacement")
    parser.add_argument("--deaths", type=int, default=3)
    args = parser.parse_args()
    report_decisions(decision_times([int(s) for s in args.sizes.split(",")], args.runs))
    if args.live:
        took = live_replacement(args.deaths)
        print(
            f"\ndeath -> replacement IDLE: median {statistics.median(took):.1f} s over {len(took)} "
            f"({', '.join(f'{t:.1f}' for t in took)} s)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

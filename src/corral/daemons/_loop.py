"""The reconciler's thin loop: observe through the provider, ``reconcile``, apply, sleep, repeat.

``python -m corral.daemons.reconciler STATE_DIR CLUSTER [--provider local] [--interval 2]
[--pid-file PATH] [--protected-failure-count 10] [--status-file PATH]``. Every action is printed
(with a timestamp) to stdout, which the provider sends to the cluster's log directory. With
``--pid-file`` the loop exits once that file no longer names it: deleting the cluster (or starting
another reconciler) retires it even if its stop was missed. With ``--status-file`` the queues in
protected mode are written there (JSON) whenever they change, and read back when the loop starts.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from corral.daemons.protection import DEFAULT_PROTECTED_FAILURE_COUNT, Protection, queue_of, track_protection
from corral.daemons.reconciler import (
    ActionKind,
    Actions,
    FleetSpec,
    NodeInstance,
    ObservedCluster,
    reconcile,
    track_unresponsive,
)
from corral.errors import CorralError
from corral.providers.base import InstanceState, NodeRole, Provider
from corral.slurm.fleet import FleetStatus, fleet_status
from corral.slurm.status import (
    SCONTROL_NODES_ARGV,
    SCONTROL_PARTITIONS_ARGV,
    NodeState,
    PartitionState,
    parse_nodes,
    parse_partitions,
)

DEFAULT_INTERVAL_S = 2.0
DEFAULT_RESUME_TIMEOUT_S = 1800.0
_RESUME_TIMEOUT = re.compile(r"^ResumeTimeout\s*=\s*(\d+)", re.MULTILINE)
Log = Callable[[str], None]


def log(message: str) -> None:
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
    print(f"{stamp} reconciler[{os.getpid()}] {message}", flush=True)


def parse_resume_timeout(show_config: str) -> float | None:
    """ResumeTimeout (seconds) from ``scontrol show config`` output."""
    match = _RESUME_TIMEOUT.search(show_config)
    return float(match.group(1)) if match else None


def load_protection(status_file: Path | None, log: Log) -> Protection:
    """The protected queues a previous loop recorded (none when there is no readable file)."""
    if status_file is None or not status_file.exists():
        return Protection()
    try:
        return Protection.from_status(status_file.read_text())
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log(f"ignoring unreadable {status_file}: {exc}")
        return Protection()


def fleet_running(
    partitions: list[PartitionState], nodes: list[NodeState], protected: frozenset[str]
) -> bool:
    """Whether the fleet runs, leaving out protected queues: their partition is INACTIVE on
    purpose and the rest of the fleet still runs (with every queue protected, it still runs)."""
    if protected and not partitions:
        return False
    rest = [p for p in partitions if p.name not in protected]
    if protected and not rest:
        return True
    status = fleet_status(rest, [n for n in nodes if queue_of(n) not in protected])
    return status in (FleetStatus.RUNNING, FleetStatus.STARTING)


class Loop:
    """One cluster's reconciler: remembers only what ``reconcile`` needs across observations."""

    def __init__(
        self,
        provider: Provider,
        cluster: str,
        *,
        log: Log = log,
        protected_failure_count: int = DEFAULT_PROTECTED_FAILURE_COUNT,
        status_file: Path | None = None,
    ) -> None:
        self.provider, self.cluster, self.log = provider, cluster, log
        self.unresponsive: dict[str, datetime] = {}
        self.resume_timeout_s: float | None = None
        self.protected_failure_count, self.status_file = protected_failure_count, status_file
        self.protection = load_protection(status_file, log)
        self.written_status: dict[str, object] | None = None

    def _head(self, argv: tuple[str, ...] | list[str]) -> str | None:
        result = self.provider.run_on_head(self.cluster, list(argv), timeout=20)
        if result.returncode != 0:
            self.log(f"{' '.join(argv)} failed ({result.returncode}): {result.stderr.strip()}")
            return None
        return result.stdout

    def observe(self, now: datetime) -> tuple[FleetSpec, ObservedCluster, bool] | None:
        """Instances first, then Slurm: a node seen up in Slurm had its instance listed already,
        so a node that is up without an instance really lost it."""
        listed = [
            i for i in self.provider.instances(self.cluster) if i.role is NodeRole.COMPUTE and i.node_name
        ]
        instances = {i.node_name: NodeInstance(i.instance_id, i.launch_time) for i in listed if i.node_name}
        # running: the node's agent finished (RUNNING); a pending instance is still bootstrapping
        running = {
            i.node_name: i.instance_id for i in listed if i.node_name and i.state is InstanceState.RUNNING
        }
        if self.resume_timeout_s is None:
            config = self._head(["scontrol", "show", "config"])
            if config is None:
                return None
            self.resume_timeout_s = parse_resume_timeout(config) or DEFAULT_RESUME_TIMEOUT_S
        nodes_out = self._head(SCONTROL_NODES_ARGV)
        partitions_out = self._head(SCONTROL_PARTITIONS_ARGV)
        if nodes_out is None or partitions_out is None:
            return None
        nodes = parse_nodes(nodes_out)
        partitions = parse_partitions(partitions_out)
        self.unresponsive = track_unresponsive(self.unresponsive, nodes, now)
        self._track_protection(nodes, running, {p.name: p.state for p in partitions}, now)
        observed = ObservedCluster(tuple(nodes), instances, dict(self.unresponsive), self.protection)
        spec = FleetSpec.from_slurm(nodes, self.resume_timeout_s)
        return spec, observed, fleet_running(partitions, nodes, self.protection.applied())

    def _track_protection(
        self, nodes: list[NodeState], running: dict[str, str], partitions: dict[str, str], now: datetime
    ) -> None:
        before = self.protection
        self.protection = track_protection(
            before, nodes, running, partitions, now, threshold=self.protected_failure_count
        )
        for queue, entry in self.protection.protected.items():
            if queue not in before.protected:
                self.log(f"queue {queue} enters protected mode: {entry.reason}")
        for queue in before.protected.keys() - self.protection.protected.keys():
            self.log(f"queue {queue} leaves protected mode (its partition was set UP again)")
        for queue, count in self.protection.failures.items():
            if count != before.failures.get(queue, 0):
                self.log(f"queue {queue}: {count} consecutive bootstrap failure(s)")

    def write_status(self) -> None:
        """Write the protected queues to the status file when they changed (atomically)."""
        if self.status_file is None:
            return
        status = self.protection.status()
        if status == self.written_status:
            return
        try:
            self.status_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.status_file.with_name(self.status_file.name + ".tmp")
            tmp.write_text(json.dumps(status, indent=2) + "\n")
            os.replace(tmp, self.status_file)
        except OSError as exc:
            self.log(f"cannot write {self.status_file}: {exc}")
            return
        self.written_status = status

    def apply(self, actions: Actions) -> None:
        """Terminate first (the instance goes), then tell Slurm (requeue, reset, power up)."""
        for action in actions.items:
            self.log(action.describe())
        doomed = actions.nodes(ActionKind.TERMINATE)
        if doomed:
            try:
                self.provider.terminate(self.cluster, doomed)
            except CorralError as exc:
                self.log(f"terminate {','.join(doomed)} failed: {exc}")
        for argv in actions.scontrol_commands():
            self._head(argv)

    def step(self) -> Actions:
        now = datetime.now(UTC)
        seen = self.observe(now)
        if seen is None:
            return Actions()
        spec, observed, running = seen
        actions = reconcile(spec, observed, now, fleet_running=running)
        self.apply(actions)
        self.write_status()
        return actions


def _owns(pid_file: Path | None) -> bool:
    if pid_file is None:
        return True
    try:
        return int(pid_file.read_text().strip()) == os.getpid()
    except (OSError, ValueError):
        return False


def run(loop: Loop, interval_s: float, pid_file: Path | None) -> None:
    """Step every ``interval_s`` until the pid file no longer names this process."""
    while _owns(pid_file):
        started = time.monotonic()
        try:
            loop.step()
        except Exception:
            loop.log("cycle failed:\n" + traceback.format_exc())
        time.sleep(max(0.0, interval_s - (time.monotonic() - started)))
    loop.log("pid file gone or taken over; exiting")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m corral.daemons.reconciler")
    parser.add_argument("state_dir", type=Path)
    parser.add_argument("cluster")
    parser.add_argument("--provider", default="local")
    parser.add_argument("--interval", type=float, default=DEFAULT_INTERVAL_S, help="seconds between cycles")
    parser.add_argument("--pid-file", type=Path, default=None)
    parser.add_argument(
        "--protected-failure-count",
        type=int,
        default=DEFAULT_PROTECTED_FAILURE_COUNT,
        help="consecutive bootstrap failures of a queue's nodes before the queue is protected",
    )
    parser.add_argument("--status-file", type=Path, default=None, help="where protected queues are written")
    args = parser.parse_args(argv)
    from corral.providers import get_provider

    os.chdir("/")
    if args.pid_file is not None:
        with contextlib.suppress(OSError):
            args.pid_file.write_text(f"{os.getpid()}\n")
    provider = get_provider(args.provider, args.state_dir)
    if args.protected_failure_count < 1:
        parser.error("--protected-failure-count must be at least 1")
    log(
        f"reconciling cluster {args.cluster!r} every {args.interval} s"
        f" (protected mode after {args.protected_failure_count} bootstrap failures)"
    )
    loop = Loop(
        provider,
        args.cluster,
        protected_failure_count=args.protected_failure_count,
        status_file=args.status_file,
    )
    run(loop, args.interval, args.pid_file)
    return 0

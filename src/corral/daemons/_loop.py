"""The reconciler's thin loop: observe through the provider, ``reconcile``, apply, sleep, repeat.

``python -m corral.daemons.reconcilerd STATE_DIR CLUSTER [--provider local] [--interval 60]
[--pid-file PATH] [--protected-failure-count 10] [--status-file PATH] [--heartbeat-file PATH]
[--nodes-file PATH] [--events-file PATH] [--supervisor-spec PATH] [--store-dir DIR]``.

Each pass: revive the head's supervisor if it died (``--supervisor-spec``); observe the instances
and Slurm; move every node along its lifecycle (``corral.daemons.lifecycle``, records kept in
``--nodes-file``); track protected mode; ``reconcile`` and apply its actions; move the compute
fleet's recorded status along (``corral.daemons.fleet_requests``, in the state store under
``--store-dir`` when it holds the cluster); write the heartbeat (``--heartbeat-file``), whatever
happened. Every action is printed (with a timestamp) to stdout, which the provider sends to the
cluster's log directory, and every transition, action, protected-mode change and fleet move is an
event in ``--events-file`` (JSON lines). With ``--pid-file`` the loop exits once that file no
longer names it: deleting the cluster (or starting another reconciler) retires it even if its stop
was missed. With ``--status-file`` the queues in protected mode are written there (JSON) whenever
they change, and read back when the loop starts; the lifecycle records are read back likewise, so
a restarted loop carries on where the last one stopped (its decisions are idempotent: a node
being powered up is left alone, so nothing is launched twice).
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
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from corral.daemons import lifecycle
from corral.daemons.capacity import DEFAULT_INSUFFICIENT_CAPACITY_TIMEOUT_S
from corral.daemons.events import Event, EventLog, JSONValue, node_event
from corral.daemons.fleet_requests import fleet_moves
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
from corral.node.selfdelete import DELETE_REQUEST
from corral.node.supervisor import revive
from corral.providers import DEFAULT_PROVIDER
from corral.providers.base import Instance, InstanceState, NodeFleet, NodeRole
from corral.runtime.files import write_atomic
from corral.runtime.heartbeat import write_heartbeat
from corral.runtime.proclog import logger
from corral.slurm.fleet import FleetStatus, fleet_status
from corral.slurm.status import (
    SCONTROL_NODES_ARGV,
    SCONTROL_PARTITIONS_ARGV,
    NodeState,
    PartitionState,
    parse_nodes,
    parse_partitions,
)
from corral.state import WORKING, StateStore, utc_now

#: ParallelCluster's clustermgtd loop interval; the local provider passes a shorter one.
DEFAULT_INTERVAL_S = 60.0
DEFAULT_RESUME_TIMEOUT_S = 1800.0
_RESUME_TIMEOUT = re.compile(r"^ResumeTimeout\s*=\s*(\d+)", re.MULTILINE)
Log = Callable[[str], None]


log = logger("reconciler")


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


@dataclass(frozen=True)
class LoopFiles:
    """Where the loop keeps what outlives it (each optional: None leaves that part out)."""

    heartbeat: Path | None = None
    nodes: Path | None = None  # lifecycle records (JSON)
    events: Path | None = None  # JSON-lines events
    supervisor_spec: Path | None = None  # the supervisor to revive when it died
    store_dir: Path | None = None  # the state store holding the fleet's recorded status
    requests: Path | None = None  # requests written from the cluster's nodes (corral.node.selfdelete)


@dataclass(frozen=True)
class Seen:
    """The raw observation of one pass, for the lifecycle and the fleet status."""

    nodes: tuple[NodeState, ...]
    partitions: tuple[PartitionState, ...]
    instance_ids: dict[str, str]


def load_lifecycle(path: Path | None, log: Log) -> dict[str, lifecycle.NodeLifecycle]:
    """The lifecycle records a previous loop wrote (none when there is no readable file)."""
    if path is None or not path.exists():
        return {}
    try:
        return lifecycle.load_records(path.read_text())
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log(f"ignoring unreadable {path}: {exc}")
        return {}


def protection_events(before: Protection, after: Protection, cluster: str, now: datetime) -> list[Event]:
    """Events for queues entering and leaving protected mode: why, and how to leave it."""
    events = []
    for queue, entry in sorted(after.protected.items()):
        if queue not in before.protected:
            how = (
                f"its partition is set INACTIVE and its nodes are not launched. Fix the queue's "
                f"bootstrap (see the node logs), then run `corral update-compute-fleet -n {cluster} "
                f"--status START_REQUESTED` (or `scontrol update PartitionName={queue} State=UP`) "
                "to leave protected mode"
            )
            detail: dict[str, JSONValue] = {"queue": queue, "failures": after.failures.get(queue, 0)}
            message = f"queue {queue} enters protected mode: {entry.reason}; {how}"
            events.append(Event(now, "reconciler", "protected-mode-entered", message, "WARNING", detail))
    for queue in sorted(before.protected.keys() - after.protected.keys()):
        message = f"queue {queue} leaves protected mode (its partition was set UP again)"
        events.append(Event(now, "reconciler", "protected-mode-left", message, detail={"queue": queue}))
    return events


#: Slurm flags of a node that has no instance to look for (powered down, or its launch not done)
UNLAUNCHED_FLAGS = frozenset({"POWERED_DOWN", "POWER_UP", "POWERING_UP"})


class Loop:
    """One cluster's reconciler: remembers only what ``reconcile`` needs across observations."""

    def __init__(
        self,
        provider: NodeFleet,
        cluster: str,
        *,
        log: Log = log,
        protected_failure_count: int = DEFAULT_PROTECTED_FAILURE_COUNT,
        status_file: Path | None = None,
        files: LoopFiles | None = None,
        insufficient_capacity_timeout_s: float = DEFAULT_INSUFFICIENT_CAPACITY_TIMEOUT_S,
        expires_at: datetime | None = None,
    ) -> None:
        self.provider, self.cluster, self.log = provider, cluster, log
        self.expires_at, self.expired = expires_at, False
        self.insufficient_capacity_timeout_s = insufficient_capacity_timeout_s
        self.unresponsive: dict[str, datetime] = {}
        self.resume_timeout_s: float | None = None
        self.protected_failure_count, self.status_file = protected_failure_count, status_file
        self.protection = load_protection(status_file, log)
        self.written_status: dict[str, object] | None = None
        self.files = files or LoopFiles()
        self.events = EventLog(self.files.events, cluster)
        self.lifecycle = load_lifecycle(self.files.nodes, log)
        self.seen: Seen | None = None
        self.store = StateStore(self.files.store_dir) if self.files.store_dir else None

    def _head(self, argv: tuple[str, ...] | list[str]) -> str | None:
        result = self.provider.run_on_head(self.cluster, list(argv), timeout=20)
        if result.returncode != 0:
            self.log(f"{' '.join(argv)} failed ({result.returncode}): {result.stderr.strip()}")
            return None
        return result.stdout

    def _compute_instances(self) -> list[Instance]:
        return [
            i for i in self.provider.instances(self.cluster) if i.role is NodeRole.COMPUTE and i.node_name
        ]

    def observe(self, now: datetime) -> tuple[FleetSpec, ObservedCluster, bool] | None:
        """Instances first, then Slurm: a node seen up in Slurm had its instance listed already,
        so a node that is up without an instance really lost it. Unless it was launched and
        registered while the pass read the rest: a node up in Slurm but missing from the first
        listing is looked for once more, after Slurm was read (1,000 nodes booting, one every
        0.15 s, while a pass lists them took two of them for dead and requeued their job)."""
        listed = self._compute_instances()
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
        known = {i.node_name for i in listed}
        if any(n.name not in known and not n.flags & UNLAUNCHED_FLAGS for n in nodes):
            listed += [i for i in self._compute_instances() if i.node_name not in known]
        instances = {i.node_name: NodeInstance(i.instance_id, i.launch_time) for i in listed if i.node_name}
        # running: the node's agent finished (RUNNING); a pending instance is still bootstrapping
        running = {
            i.node_name: i.instance_id for i in listed if i.node_name and i.state is InstanceState.RUNNING
        }
        ids = {name: i.instance_id for name, i in instances.items()}
        self.seen = Seen(tuple(nodes), tuple(partitions), ids)
        self.unresponsive = track_unresponsive(self.unresponsive, nodes, now)
        self._track_protection(nodes, running, {p.name: p.state for p in partitions}, now)
        observed = ObservedCluster(tuple(nodes), instances, dict(self.unresponsive), self.protection)
        spec = replace(
            FleetSpec.from_slurm(nodes, self.resume_timeout_s),
            insufficient_capacity_timeout_s=self.insufficient_capacity_timeout_s,
        )
        return spec, observed, fleet_running(partitions, nodes, self.protection.applied())

    def _track_protection(
        self, nodes: list[NodeState], running: dict[str, str], partitions: dict[str, str], now: datetime
    ) -> None:
        before = self.protection
        self.protection = track_protection(
            before, nodes, running, partitions, now, threshold=self.protected_failure_count
        )
        self.events.write(protection_events(before, self.protection, self.cluster, now))
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
            write_atomic(self.status_file, json.dumps(status, indent=2) + "\n")
        except OSError as exc:
            self.log(f"cannot write {self.status_file}: {exc}")
            return
        self.written_status = status

    def apply(self, actions: Actions, now: datetime | None = None) -> None:
        """Terminate first (the instance goes), then tell Slurm (requeue, reset, power up)."""
        for action in actions.items:
            self.log(action.describe())
        at = now or datetime.now(UTC)
        self.events.write(
            Event(
                at,
                "reconciler",
                f"action-{a.kind.value}",
                a.describe(),
                detail={"target": a.node, "reason": a.reason},
            )
            for a in actions.items
        )
        doomed = actions.nodes(ActionKind.TERMINATE)
        if doomed:
            try:
                self.provider.terminate(self.cluster, doomed)
            except CorralError as exc:
                self.log(f"terminate {','.join(doomed)} failed: {exc}")
        for argv in actions.scontrol_commands():
            self._head(argv)

    def track_lifecycle(self, now: datetime) -> list[lifecycle.NodeEvent]:
        """Move every observed node along its lifecycle; record and persist the moves."""
        if self.seen is None:
            return []
        before = self.lifecycle
        self.lifecycle, moved = lifecycle.track_nodes(before, self.seen.nodes, self.seen.instance_ids, now)
        self.events.write(node_event(e) for e in moved)
        if self.files.nodes is not None and (moved or before.keys() != self.lifecycle.keys()):
            try:
                write_atomic(self.files.nodes, lifecycle.dump_records(self.lifecycle))
            except OSError as exc:
                self.log(f"cannot write {self.files.nodes}: {exc}")
        return moved

    def revive_supervisor(self, now: datetime) -> None:
        """Restart the head's supervisor if it is gone (it restarts this loop in turn)."""
        if self.files.supervisor_spec is None:
            return
        pid = revive(self.files.supervisor_spec)
        if pid is not None:
            message = f"the supervisor was not running; started it again as pid {pid}"
            self.log(message)
            self.events.write(
                [Event(now, "reconciler", "supervisor-restarted", message, "WARNING", {"pid": pid})]
            )

    def sync_fleet(self, now: datetime) -> None:
        """Move the fleet status recorded in the state store along (``fleet_requests``)."""
        if self.store is None or self.seen is None:
            return
        record = self.store.find(self.cluster)
        if record is None or record.stack_status not in WORKING:
            return
        # Only once its partition was seen INACTIVE: a START before that would be undone by the
        # pending PROTECT action, so the fleet is not shown PROTECTED (nor releasable) until then.
        protected = sorted(self.protection.applied())
        rest = [p for p in self.seen.partitions if p.name not in protected]
        nodes = [n for n in self.seen.nodes if queue_of(n) not in protected]
        static = FleetSpec.from_slurm(self.seen.nodes, self.resume_timeout_s or 0).static
        moves = fleet_moves(
            record.fleet_status,
            fleet_status(rest, nodes),
            protected=protected,
            partitions=[p.name for p in self.seen.partitions],
            nodes=[n.name for n in self.seen.nodes],
            static=sorted(static),
        )
        for move in moves:
            for argv in move.commands:
                self._head(argv)
            try:
                new = replace(record, fleet_status=move.status, fleet_updated_at=utc_now())
                record = self.store.save(record, new)
            except CorralError as exc:
                self.log(f"fleet status not recorded (retrying next pass): {exc}")
                return
            message = f"compute fleet {move.status}: {move.reason}"
            self.log(message)
            self.events.write(
                [Event(now, "reconciler", "fleet-status", message, detail={"status": move.status.value})]
            )

    def step(self) -> Actions:
        now = datetime.now(UTC)
        try:
            self.expire(now)
            self.honour_requests(now)
            self.revive_supervisor(now)
            self.heal_login_nodes(now)
            seen = self.observe(now)
            if seen is None:
                return Actions()
            self.track_lifecycle(now)
            spec, observed, running = seen
            actions = reconcile(spec, observed, now, fleet_running=running)
            self.apply(actions, now)
            self.write_status()
            self.sync_fleet(now)
            return actions
        finally:
            self.beat(now)

    def heal_login_nodes(self, now: datetime) -> None:
        """Let the provider bring the login pools to their Count (replace dead login nodes, retire
        those past it); each thing it did is logged and becomes an event."""
        try:
            done = self.provider.heal_login_nodes(self.cluster)
        except CorralError as exc:
            self.log(f"could not heal the login nodes: {exc}")
            return
        for line in done:
            self.log(line)
        if done:
            self.events.write([Event(now, "reconciler", "login-nodes", line) for line in done])

    def expire(self, now: datetime) -> None:
        """Past the cluster's time-to-live (``corral run --ttl``): ask the provider, once, to delete
        the cluster from its own side, whatever became of the process that created it."""
        if self.expires_at is None or self.expired or now < self.expires_at:
            return
        self.expired = True
        message = f"time-to-live passed at {self.expires_at.isoformat()}: deleting the cluster"
        self.log(message)
        self.events.write([Event(now, "reconciler", "cluster-expired", message)])
        try:
            self.provider.expire(self.cluster)
        except CorralError as exc:
            self.expired = False  # try again next pass
            self.log(f"could not delete the expired cluster: {exc}")

    def honour_requests(self, now: datetime) -> None:
        """A ``corral delete-cluster`` run on one of the cluster's own nodes left a request: delete
        the cluster from the outside, as its time-to-live does (once; again next pass on failure)."""
        if self.files.requests is None or self.expired:
            return
        request = self.files.requests / DELETE_REQUEST
        try:
            asked = json.loads(request.read_text())
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            asked = {"error": str(exc)}
        who = f"{asked.get('user', '?')} on {asked.get('node', '?')}" if isinstance(asked, dict) else "?"
        message = f"delete-cluster requested from inside the cluster ({who}): deleting the cluster"
        self.expired = True
        self.log(message)
        self.events.write([Event(now, "reconciler", "cluster-delete-requested", message)])
        try:
            self.provider.expire(self.cluster)
        except CorralError as exc:
            self.expired = False
            self.log(f"could not delete the cluster as requested: {exc}")
            return
        with contextlib.suppress(OSError):
            request.unlink()

    def beat(self, now: datetime) -> None:
        """Write the heartbeat: this loop is alive (even when Slurm could not be observed)."""
        if self.files.heartbeat is None:
            return
        try:
            write_heartbeat(self.files.heartbeat, now)
        except OSError as exc:
            self.log(f"cannot write the heartbeat {self.files.heartbeat}: {exc}")


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
    parser = argparse.ArgumentParser(prog="python -m corral.daemons.reconcilerd")
    parser.add_argument("state_dir", type=Path)
    parser.add_argument("cluster")
    parser.add_argument("--provider", default=DEFAULT_PROVIDER)
    parser.add_argument("--interval", type=float, default=DEFAULT_INTERVAL_S, help="seconds between cycles")
    parser.add_argument("--pid-file", type=Path, default=None)
    parser.add_argument(
        "--protected-failure-count",
        type=int,
        default=DEFAULT_PROTECTED_FAILURE_COUNT,
        help="consecutive bootstrap failures of a queue's nodes before the queue is protected",
    )
    parser.add_argument("--status-file", type=Path, default=None, help="where protected queues are written")
    parser.add_argument("--heartbeat-file", type=Path, default=None, help="written at every pass")
    parser.add_argument("--nodes-file", type=Path, default=None, help="the nodes' lifecycle records (JSON)")
    parser.add_argument("--events-file", type=Path, default=None, help="events, as JSON lines")
    parser.add_argument(
        "--supervisor-spec", type=Path, default=None, help="revive this supervisor if it dies"
    )
    parser.add_argument("--store-dir", type=Path, default=None, help="the state store (fleet requests)")
    parser.add_argument(
        "--requests-dir", type=Path, default=None, help="requests from the nodes (delete-cluster)"
    )
    parser.add_argument(
        "--expires-at", type=datetime.fromisoformat, default=None, help="delete the cluster then (ISO 8601)"
    )
    parser.add_argument(
        "--insufficient-capacity-timeout",
        type=float,
        default=DEFAULT_INSUFFICIENT_CAPACITY_TIMEOUT_S,
        help="seconds a compute resource without capacity stays out (<= 0: no fail-over)",
    )
    args = parser.parse_args(argv)
    from corral.providers import get_provider

    os.chdir("/")
    if args.pid_file is not None:
        with contextlib.suppress(OSError):
            args.pid_file.write_text(f"{os.getpid()}\n")
    provider = get_provider(args.provider, args.state_dir)
    if args.protected_failure_count < 1:
        parser.error("--protected-failure-count must be at least 1")
    if args.interval <= 0:
        parser.error("--interval must be a positive number of seconds")
    log(
        f"reconciling cluster {args.cluster!r} every {args.interval} s"
        f" (protected mode after {args.protected_failure_count} bootstrap failures)"
    )
    loop = Loop(
        provider,
        args.cluster,
        protected_failure_count=args.protected_failure_count,
        status_file=args.status_file,
        files=LoopFiles(
            heartbeat=args.heartbeat_file,
            nodes=args.nodes_file,
            events=args.events_file,
            supervisor_spec=args.supervisor_spec,
            store_dir=args.store_dir,
            requests=args.requests_dir,
        ),
        insufficient_capacity_timeout_s=args.insufficient_capacity_timeout,
        expires_at=args.expires_at,
    )
    run(loop, args.interval, args.pid_file)
    return 0

"""The compute node's dead-man's switch (ParallelCluster's ``computemgtd``).

Runs inside a compute node, started by the node agent as one of its services. Every ``poll`` it
reads the head node's heartbeat (the reconciler writes it each pass; the cluster directory is
visible in the node's mount namespace). When the heartbeat is older than ``--timeout`` seconds, or
missing for that long since the watchdog started, nobody can replace or terminate this node any
more, so it shuts itself down: it stops every process of the node (slurmd and its jobs first,
then the namespace holder), deletes the node's network namespace, logs why, and exits. The
provider then sees no instance for the node, and no orphaned machine is left running.

``python -m corral.node.watchdog --heartbeat PATH --timeout S --node NAME --netns NAME
[--holder-pid-file PATH] [--service-pid-file PATH] [--pid-file PATH] [--poll S] [--detach]``
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from corral.node import procfs
from corral.runtime.heartbeat import heartbeat_age_s
from corral.runtime.proclog import logger

#: ParallelCluster's computemgtd waits this long for clustermgtd's heartbeat before shutting down.
DEFAULT_TIMEOUT_S = 600.0
MODULE = "corral.node.watchdog"
#: Its /proc/<pid>/comm (15 bytes at most).
PROCESS_NAME = b"corral-watchdog"


log = logger("watchdog")


def stale_for(heartbeat: Path, now: datetime, started: datetime) -> float:
    """Seconds the head has been silent: the heartbeat's age, or, with no heartbeat at all, the
    time since the watchdog started (a node never outlives a head that never beat)."""
    age = heartbeat_age_s(heartbeat, now)
    return age if age is not None else max(0.0, (now - started).total_seconds())


def poll_interval(timeout_s: float) -> float:
    """Check about ten times per timeout, between twice a second and every ten seconds."""
    return min(max(timeout_s / 10, 0.5), 10.0)


def in_node(netns: str) -> bool:
    """Whether this process runs in the node's own network namespace, ``/run/netns/<netns>``.
    Positive identification only: anywhere else (the host, another node) nothing is killed."""
    try:
        return os.stat(f"/run/netns/{netns}").st_ino == os.stat("/proc/self/ns/net").st_ino
    except OSError:
        return False


def node_pids(netns: str) -> list[int]:
    """Every other process in this node's network namespace; none unless ``in_node(netns)``."""
    if not in_node(netns):
        return []
    mine = procfs.net_namespace("self")
    return [
        int(e.name)
        for e in Path("/proc").iterdir()
        if e.name.isdigit() and int(e.name) != os.getpid() and procfs.net_namespace(e.name) == mine
    ]


def _signal_all(pids: list[int], sig: int, wait_s: float) -> list[int]:
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, sig)
    deadline = time.monotonic() + wait_s
    while pids and time.monotonic() < deadline:
        pids = [p for p in pids if os.path.exists(f"/proc/{p}")]
        time.sleep(0.05)
    return pids


def requeue_jobs(node: str) -> None:
    """Mark the node DOWN in Slurm before stopping it, so slurmctld requeues its batch jobs instead
    of losing them with the node. Best effort: a slurmctld that is gone cannot answer."""
    reason = "Reason=shutting down: the head node's heartbeat is stale (its jobs are requeued)"
    argv = ["scontrol", "update", f"NodeName={node}", "State=DOWN", reason]
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log(f"node {node}: could not mark it DOWN in Slurm ({exc}); its jobs die with it")
        return
    if result.returncode == 0:
        log(f"node {node}: marked DOWN in Slurm, its jobs requeued")
    else:
        log(f"node {node}: could not mark it DOWN in Slurm: {(result.stderr or result.stdout).strip()}")


def shut_down(netns: str, service_pid_file: str | None) -> None:
    """Stop this node: its service (slurmd) first, then every other process of the node
    (jobs, the namespace holder), then delete its network namespace."""
    if not in_node(netns):
        log(f"not inside node namespace {netns}: refusing to stop anything")
        return
    mine = set(node_pids(netns))
    service = procfs.read_pid(service_pid_file)
    if service in mine and service is not None:
        _signal_all([service], signal.SIGTERM, 5.0)
    if _signal_all(node_pids(netns), signal.SIGTERM, 3.0):
        _signal_all(node_pids(netns), signal.SIGKILL, 2.0)
    # Unmounting here and unlinking detaches the host's mount of it too (Linux >= 3.18).
    result = subprocess.run(["ip", "netns", "delete", netns], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        log(f"ip netns delete {netns}: {result.stderr.strip()}")


def set_process_name(name: bytes = PROCESS_NAME) -> None:
    """Name this process (``/proc/<pid>/comm``): the agent stops a failed node's services by
    their program names, and ``python3`` would match; the watchdog must outlive that."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(15, ctypes.c_char_p(name), 0, 0, 0)  # PR_SET_NAME


def watch(args: argparse.Namespace) -> int:
    started = datetime.now(UTC)
    poll = args.poll or poll_interval(args.timeout)
    log(f"node {args.node}: watching {args.heartbeat} (shut down after {args.timeout:.0f} s of silence)")
    while True:
        silent = stale_for(args.heartbeat, datetime.now(UTC), started)
        if silent > args.timeout:
            log(
                f"node {args.node}: the head node's heartbeat is stale"
                f" ({silent:.0f} s > {args.timeout:.0f} s): nobody can replace or terminate this node;"
                " shutting it down"
            )
            if in_node(args.netns):
                requeue_jobs(args.node)
            shut_down(args.netns, args.service_pid_file)
            log(f"node {args.node}: shut down")
            return 0
        time.sleep(poll)


def _detach(pid_file: Path | None) -> bool:
    """Daemonise (double fork, new session); True in the daemon, False in the original process
    once the daemon has written its pid file."""
    read, write = os.pipe()
    if os.fork() > 0:
        os.close(write)
        os.read(read, 1)  # the daemon is set up
        return False
    os.close(read)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    if pid_file is not None:
        pid_file.write_text(f"{os.getpid()}\n")
    os.write(write, b"x")
    os.close(write)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}")
    parser.add_argument("--heartbeat", type=Path, required=True)
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S)
    parser.add_argument("--node", required=True)
    parser.add_argument("--netns", required=True, help="this node's named network namespace")
    parser.add_argument("--service-pid-file", default=None, help="slurmd's pid file (stopped first)")
    parser.add_argument("--pid-file", type=Path, default=None)
    parser.add_argument("--poll", type=float, default=None)
    parser.add_argument("--detach", action="store_true", help="run in the background (a service)")
    args = parser.parse_args(argv)
    if args.timeout <= 0:
        parser.error("--timeout must be a positive number of seconds")
    os.chdir("/")
    if args.detach:
        if not _detach(args.pid_file):
            return 0
        set_process_name()
        with contextlib.suppress(OSError):
            fd = os.open(os.devnull, os.O_RDONLY)
            os.dup2(fd, 0)
    elif args.pid_file is not None:
        args.pid_file.write_text(f"{os.getpid()}\n")
    return watch(args)


if __name__ == "__main__":
    sys.exit(main())

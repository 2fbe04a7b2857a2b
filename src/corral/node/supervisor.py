"""The head node's supervisor: keeps munged, slurmctld and the reconciler running.

``python -m corral.node.supervisor SPEC.json``. The spec (written by the provider) lists the
services: how to start each, its pid file, and how to recognise its process (program name, strings
its command line must contain, or that it shares the supervisor's network namespace). Every
``poll_s`` the supervisor checks each service's pid; one that is gone is started again, after a
backoff that doubles on each quick death (1 s up to 30 s; it resets once the service stayed up a
minute). Each start is printed and recorded as a ``service-restarted`` event with the restart count
(JSON lines shaped like the reconciler's, in ``events_file``).

It lives with the other programs that run on a cluster's machines (``corral.node``) so that a
provider can write its spec (``SupervisorSpec``) without importing the reconciler.

Supervision works by pid, not by being the parent: a supervisor adopts services that are already
running (the provider starts munged and slurmctld itself while it creates the cluster), and a new
supervisor adopts the services of one that died. Who restarts whom:

- the supervisor restarts munged, slurmctld and the reconciler;
- the reconciler restarts the supervisor (``revive``, on every pass), so killing either one alone
  heals; killing both at once leaves the head without supervision, and the compute nodes' watchdogs
  then shut the nodes down once the heartbeat is stale.

A flock on ``lock_file`` keeps a single supervisor per cluster. It runs while its spec file exists:
the provider deletes the spec before it stops the services, so that nothing restarts them.
slurmctld is restarted without ``-c``: it recovers its jobs from its StateSaveLocation.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from corral.node import procfs
from corral.runtime import codec
from corral.runtime.proclog import logger

INITIAL_BACKOFF_S = 1.0
MAX_BACKOFF_S = 30.0
#: A service up this long is healthy again: its next death restarts it at once.
STABLE_AFTER_S = 60.0
#: How long a self-daemonising service may take to write its pid file.
PID_FILE_WAIT_S = 15.0
SUPERVISOR_MODULE = "corral.node.supervisor"


@dataclass(frozen=True)
class Service:
    name: str
    argv: tuple[str, ...]
    pid_file: str
    program: str  # the basename of its argv[0], as /proc/<pid>/cmdline shows it
    markers: tuple[str, ...] = ()  # strings its command line must contain
    same_netns: bool = False  # its process must share the supervisor's network namespace
    daemonizes: bool = False  # it forks and writes its own pid file (else the spawned pid is it)
    env: tuple[tuple[str, str], ...] = ()
    log: str | None = None


@dataclass(frozen=True)
class SupervisorSpec:
    cluster: str
    argv: tuple[str, ...]  # how to start the supervisor itself (used by ``revive``)
    pid_file: str
    lock_file: str
    events_file: str
    log: str
    services: tuple[Service, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    poll_s: float = 0.5

    def dump(self) -> str:
        return codec.dumps(self, indent=1)

    @classmethod
    def load(cls, text: str) -> SupervisorSpec:
        return codec.loads(cls, text)


def spawn(argv: Sequence[str], env: Mapping[str, str], log: str | None) -> int:
    """Start ``argv`` in its own session, stdin /dev/null, output appended to ``log``, with an
    empty signal mask (a daemon must not inherit blocked signals)."""
    out = log or os.devnull
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, out, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644),
        (os.POSIX_SPAWN_DUP2, 1, 2),
    ]
    program = shutil.which(argv[0], path=env.get("PATH", os.defpath)) or argv[0]
    return os.posix_spawn(
        program,
        list(argv),
        dict(env),
        file_actions=actions,
        setsid=True,
        setsigmask=(),
        setsigdef=(signal.SIGCHLD,),
    )


def is_service(service: Service, pid: int | None) -> bool:
    """Whether ``pid`` is a live process of ``service`` (pids get reused: check what it runs)."""
    if pid is None or not procfs.alive(pid):
        return False
    argv = procfs.cmdline(pid)
    if not argv or os.path.basename(argv[0]) != service.program:
        return False
    text = " ".join(argv)
    if not all(m in text for m in service.markers):
        return False
    return not service.same_netns or procfs.net_namespace(pid) == procfs.net_namespace("self")


@dataclass
class Watch:
    """What the supervisor remembers about one service."""

    restarts: int = 0
    backoff_s: float = INITIAL_BACKOFF_S
    next_start: float = 0.0  # monotonic time before which it is not started again
    up_since: float | None = None
    pid: int | None = None
    history: list[str] = field(default_factory=list)


log = logger("supervisor")


def _wait_for_pid_file(service: Service, old: int | None) -> int | None:
    deadline = time.monotonic() + PID_FILE_WAIT_S
    while time.monotonic() < deadline:
        _reap()
        pid = procfs.read_pid(service.pid_file)
        if pid != old and is_service(service, pid):
            return pid
        time.sleep(0.05)
    return None


def start(service: Service) -> int | None:
    """Start ``service``; its pid once it runs (None if it did not come up)."""
    old = procfs.read_pid(service.pid_file)
    pid = spawn(service.argv, dict(service.env), service.log)
    if service.daemonizes:
        return _wait_for_pid_file(service, old)
    _write_pid(service.pid_file, pid)
    return pid


def _write_pid(path: str, pid: int) -> None:
    """Written whole or not at all: a reader never sees it empty (tmp file, then rename)."""
    tmp = f"{path}.{os.getpid()}.tmp"
    Path(tmp).write_text(f"{pid}\n")
    os.replace(tmp, path)


def _reap() -> None:
    """Collect exited children (a self-daemonising service's parent, a dead reconciler)."""
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass


def write_event(
    path: str, cluster: str, event_type: str, message: str, level: str, detail: dict[str, Any]
) -> None:
    """Append one event (one write on an O_APPEND descriptor: concurrent writers never interleave)."""
    record = {
        "datetime": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "cluster-name": cluster,
        "component": "supervisor",
        "level": level,
        "event-type": event_type,
        "message": message,
        "detail": detail,
    }
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (json.dumps(record) + "\n").encode())
        finally:
            os.close(fd)


def check(spec: SupervisorSpec, service: Service, watch: Watch, now: float) -> None:
    """One look at ``service``: note that it runs, or start it again when its backoff allows."""
    pid = procfs.read_pid(service.pid_file)
    if is_service(service, pid):
        if watch.pid != pid:
            watch.pid, watch.up_since = pid, now
        if watch.up_since is not None and now - watch.up_since > STABLE_AFTER_S:
            watch.backoff_s = INITIAL_BACKOFF_S
        return
    if now < watch.next_start:
        return
    first = watch.pid is None and watch.restarts == 0 and not watch.history
    watch.restarts += 0 if first else 1
    why = "not running at supervisor start" if first else f"pid {watch.pid or pid} is gone"
    started = start(service)
    watch.pid, watch.up_since = started, time.monotonic() if started else None
    watch.next_start = time.monotonic() + watch.backoff_s
    watch.backoff_s = min(watch.backoff_s * 2, MAX_BACKOFF_S)
    outcome = f"started as pid {started}" if started else "did not come up"
    message = f"{service.name} {why}: {outcome} (restart #{watch.restarts})"
    watch.history.append(message)
    log(message)
    detail = {"service": service.name, "pid": started, "restart-count": watch.restarts, "reason": why}
    event_type = "service-started" if first else "service-restarted"
    write_event(spec.events_file, spec.cluster, event_type, message, "INFO" if started else "ERROR", detail)


def run(spec_path: Path) -> int:
    """Supervise until the spec file is removed (or this supervisor is terminated)."""
    spec = SupervisorSpec.load(spec_path.read_text())
    lock = os.open(spec.lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        log("another supervisor holds the lock; exiting")
        return 0
    _write_pid(spec.pid_file, os.getpid())
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    watches = {s.name: Watch() for s in spec.services}
    log(f"supervising {', '.join(s.name for s in spec.services)} of cluster {spec.cluster!r}")
    while spec_path.exists():
        _reap()
        for service in spec.services:
            check(spec, service, watches[service.name], time.monotonic())
        time.sleep(spec.poll_s)
    log("spec removed; exiting")
    return 0


def running(spec: SupervisorSpec, spec_path: Path) -> int | None:
    """The pid of the cluster's live supervisor, if there is one."""
    pid = procfs.read_pid(spec.pid_file)
    if pid is None or not procfs.alive(pid):
        return None
    argv = procfs.cmdline(pid)
    return pid if SUPERVISOR_MODULE in argv and str(spec_path) in argv else None


def revive(spec_path: Path) -> int | None:
    """Start the supervisor described at ``spec_path`` if none runs (the reconciler calls this
    each pass). Returns the new process's pid, or None when nothing was started."""
    try:
        spec = SupervisorSpec.load(spec_path.read_text())
    except (OSError, ValueError, KeyError, TypeError):
        return None
    _reap()  # a supervisor this process started and that died
    if running(spec, spec_path) is not None:
        return None
    return spawn(spec.argv, dict(spec.env), spec.log)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m corral.node.supervisor SPEC.json", file=sys.stderr)
        return 2
    os.chdir("/")
    return run(Path(args[0]))


if __name__ == "__main__":
    sys.exit(main())

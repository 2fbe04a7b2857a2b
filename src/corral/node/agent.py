"""The bootstrap agent: runs on a node, inside its namespaces, and brings it up.

It reads a ``BootstrapSpec`` (JSON), then, in ParallelCluster's order: sets the hostname, places
the node's files (``/etc/parallelcluster/cfnconfig``, the cluster config, see ``nodefiles``),
bind-mounts the ``early_mounts`` (the cluster's ``/etc/hosts``; on the head node its ``/home``),
runs the OnNodeStart actions in order (the shared storage is not mounted yet: each MountDir is an
empty node-local directory, which the storage then hides, as an NFS mount hides a local disk),
bind-mounts the shared storage, starts the node's services (slurmd on compute nodes), runs the
OnNodeConfigured actions, and records the outcome in the spec's status file.

Every action logs to its own file (see ``actions``), and all the actions of one run must finish
within the spec's timeout. A failing or timed-out action fails the node (as ParallelCluster
does): the status file says which script failed and how, and the ``on_failure`` command (marking
the Slurm node DOWN, so that Slurm requeues its job) runs.

The ``updated`` phase runs the OnNodeUpdated actions (for update-cluster).

``python -m corral.node SPEC.json [--phase start|configured|updated|all]``
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from corral.errors import BootstrapFailure
from corral.node import nodefiles, procfs
from corral.node.actions import Action, ActionFailure
from corral.node.actions import run_action as _run_action
from corral.runtime import codec
from corral.runtime.files import write_atomic

MS_BIND = 4096
ON_NODE_START = "OnNodeStart"
ON_NODE_CONFIGURED = "OnNodeConfigured"
ON_NODE_UPDATED = "OnNodeUpdated"
PHASES = ("start", "configured", "updated", "all")


@dataclass(frozen=True)
class BootstrapSpec:
    node_name: str
    hostname: str
    status_file: str
    mounts: tuple[tuple[str, str], ...] = ()  # (source, target) bind mounts
    actions: tuple[Action, ...] = ()
    services: tuple[tuple[str, ...], ...] = ()  # argv of daemons started between the two events
    env: tuple[tuple[str, str], ...] = ()
    on_failure: tuple[str, ...] = ()  # argv run with the failure message appended
    #: pid files of the services, so that a failed node stops them before it reports the failure
    service_pidfiles: tuple[str, ...] = ()
    #: (kind, "mnt:[…]") of the host's namespaces, which the agent must never modify
    host_namespaces: tuple[tuple[str, str], ...] = ()
    #: seconds all actions of one agent run may take together (0: no limit)
    timeout_s: int = 0
    #: (absolute path, content) placed inside the node only (see ``nodefiles``)
    files: tuple[tuple[str, str], ...] = ()
    #: an empty directory for the private tmpfs that holds those files
    scratch_dir: str = ""
    #: (source, target) bind mounts made before OnNodeStart; ``mounts`` come after it
    early_mounts: tuple[tuple[str, str], ...] = ()
    #: the node's root is its own (booted from an image): files are written in place, no overlay
    private_root: bool = False
    #: directories only this node uses (its instance store), made before the early mounts and
    #: world-writable with the sticky bit (1777), as ParallelCluster makes the ephemeral mount point
    private_dirs: tuple[str, ...] = ()
    #: daemons started only once OnNodeConfigured finished (slurmd on a local compute node: no job
    #: may start on the node before its OnNodeConfigured actions are done)
    late_services: tuple[tuple[str, ...], ...] = ()
    #: environment the services get on top of ``env`` (never the actions: a user's script runs
    #: as on the real node)
    service_env: tuple[tuple[str, str], ...] = ()

    def dump(self) -> str:
        return codec.dumps(self)

    @classmethod
    def load(cls, text: str) -> BootstrapSpec:
        return codec.loads(cls, text)


def bind_mount(source: str, target: str) -> None:
    """Bind-mount ``source`` on ``target`` in this process's mount namespace."""
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.mount(source.encode(), target.encode(), None, MS_BIND, None) != 0:
        err = ctypes.get_errno()
        raise BootstrapFailure(f"bind mount {source} on {target} failed: {os.strerror(err)}")


def _refuse_host_namespaces(spec: BootstrapSpec) -> None:
    """Never mount or rename the host: the agent must run inside the node's own namespaces."""
    for kind, host_ns in spec.host_namespaces:
        if os.readlink(f"/proc/self/ns/{kind}") == host_ns:
            raise BootstrapFailure(f"the agent runs in the host's {kind} namespace; refusing to touch it")


def _environment(spec: BootstrapSpec) -> dict[str, str]:
    return {**dict(spec.env), "CORRAL_NODE_NAME": spec.node_name}


def run_action(action: Action, env: dict[str, str], *, timeout_s: float | None = None) -> None:
    """Run one script to completion; a non-zero exit or a timeout is a ``BootstrapFailure`` naming
    the script, its exit code and the end of its output."""
    try:
        _run_action(action, env, timeout_s=timeout_s)
    except ActionFailure as exc:
        raise BootstrapFailure(str(exc)) from exc


def run_actions(spec: BootstrapSpec, event: str, env: dict[str, str], deadline: float | None) -> None:
    """Run the spec's actions of ``event`` in order; each gets what is left of the deadline."""
    for action in (a for a in spec.actions if a.event == event):
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            raise BootstrapFailure(
                f"{event} script {action.source or action.path} not started: the node's bootstrap "
                f"timeout of {spec.timeout_s} s was used up by earlier steps"
            )
        run_action(action, {**env, "CORRAL_EVENT": event}, timeout_s=left)


def start_service(argv: tuple[str, ...], env: dict[str, str]) -> None:
    """Run a service's start command; a failure says why when the command wrote its reason to
    ``$CORRAL_SERVICE_ERROR_FILE`` (the AWS storage steps do), else points at the node log."""
    print(f"[agent] starting {' '.join(argv)}", flush=True)
    with tempfile.TemporaryDirectory(prefix="corral-service-") as scratch:
        reason_file = Path(scratch) / "error"
        # Not captured: a daemon keeps its inherited stdout open, so a pipe would never reach EOF.
        result = subprocess.run(
            list(argv), env={**env, "CORRAL_SERVICE_ERROR_FILE": str(reason_file)}, stdin=subprocess.DEVNULL
        )
        reason = reason_file.read_text(errors="replace").strip()[:500] if reason_file.exists() else ""
    if result.returncode != 0:
        detail = f": {reason}" if reason else "; see the node log"
        raise BootstrapFailure(f"{argv[0]} failed to start (exit {result.returncode}){detail}")


def _same_net_namespace(pid: int) -> bool:
    mine = procfs.net_namespace("self")
    return mine is not None and procfs.net_namespace(pid) == mine


def _in_own_net_namespace(spec: BootstrapSpec) -> bool:
    """True only when the spec names the host's network namespace and this is another one. (Not
    pid 1's: /proc/1/ns may be unreadable, and an unknown answer must never widen what is stopped.)"""
    host, mine = dict(spec.host_namespaces).get("net"), procfs.net_namespace("self")
    return host is not None and mine is not None and mine != host


def service_pids(spec: BootstrapSpec) -> list[int]:
    """The services' processes, only ever in this node's network namespace: those their pid files
    name, and those running a service's program (a daemon that has just forked may not have
    written its pid file yet, and a node that fails right after starting it must still stop it)."""
    pids = set()
    for pidfile in spec.service_pidfiles:
        with contextlib.suppress(OSError, ValueError):
            pids.add(int(Path(pidfile).read_text().strip()))
    programs = {os.path.basename(argv[0]) for argv in (*spec.services, *spec.late_services) if argv}
    if not _in_own_net_namespace(spec):
        programs = set()  # not positively in a node of its own: never match other processes by name
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() in programs:
                    pids.add(int(entry.name))
    return sorted(p for p in pids if p != os.getpid() and _same_net_namespace(p))


def stop_services(spec: BootstrapSpec) -> None:
    """TERM (then KILL) the services started (see ``service_pids``)."""
    pids = service_pids(spec)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, sig)
        deadline = time.monotonic() + 2
        while pids and time.monotonic() < deadline:
            pids = [p for p in pids if os.path.exists(f"/proc/{p}")]
            time.sleep(0.02)


def _write_status(spec: BootstrapSpec, status: str, message: str = "") -> None:
    record = {"node": spec.node_name, "status": status, "message": message, "time": time.time()}
    write_atomic(spec.status_file, json.dumps(record))


def _parents_first(mounts: tuple[tuple[str, str], ...]) -> list[tuple[str, str]]:
    """Parents before children, so that a MountDir inside another one stays visible."""
    return sorted(mounts, key=lambda m: len(Path(m[1]).parts))


def _shadow(target: str) -> None:
    """An empty node-local directory at a MountDir for OnNodeStart: what a script writes there
    before the storage is mounted stays in the node, never reaching the host's directory."""
    if not os.path.isdir(target):
        return
    try:
        nodefiles.mount_tmpfs(target)
    except nodefiles.MountError as exc:
        raise BootstrapFailure(str(exc)) from exc


def bootstrap(spec: BootstrapSpec, phase: str = "all") -> None:
    """Run the requested phase: ``start`` (hostname, files, mounts, OnNodeStart, services),
    ``configured`` (OnNodeConfigured), ``updated`` (OnNodeUpdated) or ``all`` (start and
    configured). Raises ``BootstrapFailure``."""
    env = _environment(spec)
    deadline = time.monotonic() + spec.timeout_s if spec.timeout_s else None
    if phase in ("start", "all"):
        _refuse_host_namespaces(spec)
        socket.sethostname(spec.hostname)
        if spec.files:
            try:
                if spec.private_root:
                    nodefiles.write(spec.files)
                else:
                    nodefiles.install(spec.files, spec.scratch_dir)
            except (nodefiles.MountError, OSError) as exc:
                raise BootstrapFailure(f"placing the node's files failed: {exc}") from exc
        for directory in spec.private_dirs:
            os.makedirs(directory, exist_ok=True)
            os.chmod(directory, 0o1777)
        for source, target in _parents_first(spec.early_mounts):
            bind_mount(source, target)
        if any(a.event == ON_NODE_START for a in spec.actions):
            for _source, target in _parents_first(spec.mounts):
                _shadow(target)
        run_actions(spec, ON_NODE_START, env, deadline)
        for source, target in _parents_first(spec.mounts):
            bind_mount(source, target)
        for service in spec.services:
            start_service(service, {**env, **dict(spec.service_env)})
    if phase in ("configured", "all"):
        run_actions(spec, ON_NODE_CONFIGURED, env, deadline)
        for service in spec.late_services:
            start_service(service, {**env, **dict(spec.service_env)})
    if phase == "updated":
        run_actions(spec, ON_NODE_UPDATED, env, deadline)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    phase = "all"
    if "--phase" in args:
        i = args.index("--phase")
        phase = args[i + 1]
        del args[i : i + 2]
    if phase not in PHASES:
        print(f"unknown phase {phase!r}; expected one of {', '.join(PHASES)}", file=sys.stderr)
        return 2
    spec = BootstrapSpec.load(Path(args[0]).read_text())
    os.chdir("/")
    try:
        bootstrap(spec, phase)
    except BootstrapFailure as exc:
        message = str(exc)
        print(f"[agent] FAILED: {message}", flush=True)
        _write_status(spec, "failed", message)
        # A live slurmd would re-register and put a DOWN node back in service (ReturnToService).
        stop_services(spec)
        if spec.on_failure:
            subprocess.run([*spec.on_failure, f"Reason=bootstrap failure: {message[:200]}"], check=False)
        return 1
    if phase in ("configured", "all"):
        _write_status(spec, "ready")
    elif phase == "updated":
        _write_status(spec, "ready", "OnNodeUpdated done")
    print(f"[agent] phase {phase} done", flush=True)
    return 0

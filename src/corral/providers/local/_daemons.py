"""munged, slurmctld, the reconciler and their supervisor on a local cluster's head, and Slurm
commands run from the head's network.

The create flow starts munged and slurmctld, then ``start_supervisor``: the supervisor
(``corral.daemons.supervisor``) adopts them, starts the reconciler, and restarts any of the three
that dies; the reconciler restarts the supervisor. ``stop_reconciler`` (first step of delete)
removes the supervisor's spec and stops both, so that nothing restarts what delete stops.

Knobs, read at create and kept in the descriptor (``extra``) for every later launch:
``CORRAL_LOCAL_RECONCILE_INTERVAL`` (seconds between reconciler passes, default 2: on one machine a
pass costs a few scontrol calls, and a dead node is replaced within seconds instead of a minute),
``CORRAL_LOCAL_WATCHDOG_TIMEOUT`` (seconds of stale heartbeat after which a compute node shuts
itself down, default 600 as ParallelCluster's computemgtd) and
``CORRAL_LOCAL_PROTECTED_FAILURE_COUNT``.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from corral.errors import ProviderError
from corral.node.agent import BootstrapSpec
from corral.node.supervisor import SUPERVISOR_MODULE, Service, SupervisorSpec
from corral.providers.local import _cgroups, _imageroot, _net, _proc, _rootfs
from corral.providers.local._layout import ClusterDescriptor, ClusterLayout
from corral.providers.local._settings import PROTECTED_FAILURE_COUNT_ENV as PROTECTED_FAILURE_COUNT_ENV
from corral.providers.local._settings import WATCHDOG_TIMEOUT_ENV as WATCHDOG_TIMEOUT_ENV
from corral.providers.local._settings import LocalSettings
from corral.runtime.heartbeat import heartbeat_path, write_heartbeat
from corral.slurm.status import SCONTROL_NODES_ARGV, NodeState, parse_nodes


def image_cluster(layout: ClusterLayout) -> bool:
    """Whether the cluster's machines boot from an image (``_imageroot``): its Slurm wrappers exist."""
    return _imageroot.slurm_wrappers_dir(layout).is_dir()


def slurm_env(layout: ClusterLayout) -> dict[str, str]:
    """Always export SLURM_CONF: without it clients try a DNS SRV lookup for a config server. An
    image cluster's Slurm commands are its head's (``bin/slurm`` first in PATH)."""
    path = _proc.SAFE_PATH
    if image_cluster(layout):
        path = f"{_imageroot.slurm_wrappers_dir(layout)}:{path}"
    return {"PATH": path, "SLURM_CONF": str(layout.slurm_conf), "LANG": "C.UTF-8", "HOME": "/root"}


def slurmctld_argv(layout: ClusterLayout, holder: int) -> list[str]:
    """slurmctld as the supervisor (re)starts it: the host's, or in an image cluster the image's,
    inside the head's root."""
    return head_daemon_argv(layout, holder, "slurmctld")


def head_daemon_argv(layout: ClusterLayout, holder: int, program: str) -> list[str]:
    """A head daemon (slurmctld, slurmdbd) as the supervisor (re)starts it from the head's network
    namespace: the host's program, or in an image cluster the image's, inside the head's root."""
    if image_cluster(layout):
        return [*_rootfs.enter_argv(holder, pid_namespace=False), program]
    return [program]


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        content = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"(no log at {path})"
    return "\n".join(content[-lines:])


#: munged serves every node of a local cluster (on AWS each node has its own): all of one srun's
#: signatures and all of its nodes' checks go through it at once. munge's defaults are 2 threads
#: and a listen backlog of 256 connections (a client finding it full retries after a pause).
MUNGED_THREADS = 8
MUNGED_LISTEN_BACKLOG = 4096


def munged_argv(layout: ClusterLayout, holder: int | None = None) -> list[str]:
    """munged with the cluster's own key and socket; ``--force`` lets a restarted munged replace
    the socket a killed one left behind. In an image cluster (given the head's ``holder``) the
    image's munged, in the head's root (munge 0.5.16: ``--listen-backlog``, which the host's
    0.5.15 lacks)."""
    image = bool(holder) and image_cluster(layout)
    enter = _rootfs.enter_argv(holder, pid_namespace=False) if holder and image else []
    return [
        *enter,
        "munged",
        "--force",
        f"--socket={layout.munge_socket}",
        f"--key-file={layout.munge_key}",
        f"--log-file={layout.log / 'munged.log'}",
        f"--pid-file={layout.run_dir / 'munged.pid'}",
        f"--seed-file={layout.run_dir / 'munged.seed'}",
        f"--num-threads={MUNGED_THREADS}",
        *([f"--listen-backlog={MUNGED_LISTEN_BACKLOG}"] if image else []),
    ]


def start_munged(layout: ClusterLayout, holder: int) -> None:
    """A per-cluster munged with its own key and socket (the socket dir must be 0755), in the
    head's network namespace (and root, when the head boots from an image)."""
    layout.run_dir.mkdir(parents=True, exist_ok=True)
    layout.run_dir.chmod(0o755)
    layout.requests_dir.mkdir(exist_ok=True)
    layout.requests_dir.chmod(0o1733)  # any user of the cluster may ask; none may read others'
    if not layout.munge_key.exists():
        with open(os.open(layout.munge_key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as key:
            key.write(os.urandom(1024))
    # Inside the head's network namespace (it needs no network: clients reach it by its socket).
    head = (
        [] if image_cluster(layout) else ["nsenter", f"--net=/run/netns/{_net.head_netns(layout.name)}", "--"]
    )
    argv = [*_cgroups.enter_argv(layout.root, _cgroups.HEAD), *head, *munged_argv(layout, holder)]
    result = _proc.run(argv, env={"PATH": _proc.SAFE_PATH}, check=False)
    if result.returncode != 0:
        raise ProviderError(
            f"munged failed to start: {result.stderr.strip() or log_tail(layout.log / 'munged.log')}"
        )
    _wait_for(lambda: layout.munge_socket.exists(), 5.0, "munged did not create its socket")


def stop_munged(layout: ClusterLayout) -> None:
    """Kill the cluster's munged by its pid file, after checking the pid is really that munged."""
    pid = _proc.read_pid(layout.run_dir / "munged.pid")
    if pid and _proc.alive(pid):
        argv = _proc.cmdline(pid)
        if argv and argv[0].endswith("munged") and any(str(layout.munge_socket) in a for a in argv):
            _proc.kill_pids([pid])


def start_slurmctld(layout: ClusterLayout, holder: int) -> None:
    """slurmctld in the head's network and UTS namespaces but the HOST mount namespace, so that
    its Resume/Suspend programs can create and delete node namespaces."""
    head = _net.head_netns(layout.name)
    argv = [*_cgroups.enter_argv(layout.root, _cgroups.HEAD), "nsenter", f"--net=/run/netns/{head}"]
    argv += [f"--uts=/proc/{holder}/ns/uts", "--", "slurmctld"]
    if image_cluster(layout):
        argv = [*_cgroups.enter_argv(layout.root, _cgroups.HEAD), *slurmctld_argv(layout, holder)]
    _proc.spawn_detached(argv, env=slurm_env(layout), log_path=layout.log / "slurmctld.stdout")


RECONCILER_MODULE = "corral.daemons.reconcilerd"
#: descriptor.extra keys (the accounting stand-in's key is set by ``_accounting``, which imports this module)
ACCOUNTING_DATABASE_KEY = "accounting_database"
#: the key of the ExternalSlurmdbd stand-in the cluster uses (``_extdbd``)
EXTERNAL_SLURMDBD_KEY = "external_slurmdbd"


def write_first_heartbeat(layout: ClusterLayout) -> None:
    """The head is alive while it creates the cluster, before the reconciler's first pass."""
    layout.slurm_state.mkdir(parents=True, exist_ok=True)
    write_heartbeat(heartbeat_file(layout), datetime.now(UTC))


def record_extra(
    layout: ClusterLayout, descriptor: ClusterDescriptor, extra: dict[str, str]
) -> ClusterDescriptor:
    """The descriptor with ``extra`` added, rewritten on disk."""
    descriptor = replace(descriptor, extra={**descriptor.extra, **extra})
    layout.descriptor.write_text(descriptor.dump())
    return descriptor


def heartbeat_file(layout: ClusterLayout) -> Path:
    """The reconciler's heartbeat (compute nodes' watchdogs read it). In the run dir, a tmpfs: a
    full state disk must not stop the heartbeat, or every watchdog would shut its node down."""
    return heartbeat_path(layout.run_dir)


WATCHDOG_MODULE = "corral.node.watchdog"


def with_watchdog(
    layout: ClusterLayout, descriptor: ClusterDescriptor, spec: BootstrapSpec, *, python: str = ""
) -> BootstrapSpec:
    """A compute node's bootstrap spec with its watchdog (``corral.node.watchdog``) as its first
    service: the node shuts itself down when the head's heartbeat stays stale."""
    timeout = str(descriptor.settings.watchdog_timeout_s)
    node = spec.node_name
    pid_file = str(layout.run_dir / f"watchdog-{node}.pid")
    argv: tuple[str, ...] = (
        python or descriptor.python,
        "-m",
        WATCHDOG_MODULE,
        "--heartbeat",
        str(heartbeat_file(layout)),
    )
    argv += ("--timeout", timeout, "--node", node, "--netns", _net.node_netns(descriptor.name, node))
    argv += ("--service-pid-file", str(layout.run_dir / f"slurmd-{node}.pid"), "--pid-file", pid_file)
    argv += ("--detach",)
    # First: its start-up must not widen the window between slurmd registering and the
    # OnNodeConfigured scripts (a job can start on the node in between). Not in service_pidfiles:
    # a node whose bootstrap failed stops its services but keeps its dead-man's switch.
    # slurmd (the other services) only after OnNodeConfigured: no job starts on a node before its
    # OnNodeConfigured actions have finished.
    return slurmd_after_configured(spec, first=(argv,))


def slurmd_after_configured(spec: BootstrapSpec, first: tuple[tuple[str, ...], ...] = ()) -> BootstrapSpec:
    """A compute node's spec whose services (slurmd) start only after its OnNodeConfigured actions:
    no job starts on a node before they finished. ``first``: services that start before them."""
    return replace(spec, services=first, late_services=(*spec.late_services, *spec.services))


def events_file(layout: ClusterLayout) -> Path:
    return layout.log / "reconciler.events"


def protected_status_file(layout: ClusterLayout) -> Path:
    """Where the reconciler lists the queues in protected mode."""
    return layout.slurm_state / "protected.json"


def reconciler_pid_file(layout: ClusterLayout) -> Path:
    return layout.run_dir / "reconciler.pid"


def supervisor_spec_file(layout: ClusterLayout) -> Path:
    return layout.head_dir / "supervisor.json"


def supervisor_pid_file(layout: ClusterLayout) -> Path:
    return layout.run_dir / "supervisor.pid"


def _enter_head(layout: ClusterLayout, holder: int) -> list[str]:
    head = _net.head_netns(layout.name)
    return ["nsenter", f"--net=/run/netns/{head}", f"--uts=/proc/{holder}/ns/uts", "--"]


def reconciler_argv(
    layout: ClusterLayout, python: str, knobs: LocalSettings, expires_at: str | None = None
) -> list[str]:
    """The reconciler's command line; it names the cluster's run dir, so a leak would be visible."""
    argv = [python, "-m", RECONCILER_MODULE, str(layout.state_dir), layout.name]
    argv += ["--pid-file", str(reconciler_pid_file(layout)), "--interval", str(knobs.reconcile_interval_s)]
    argv += ["--status-file", str(protected_status_file(layout))]
    argv += ["--heartbeat-file", str(heartbeat_file(layout)), "--events-file", str(events_file(layout))]
    argv += ["--nodes-file", str(layout.slurm_state / "nodes.json")]
    argv += ["--supervisor-spec", str(supervisor_spec_file(layout)), "--store-dir", str(layout.state_dir)]
    argv += ["--requests-dir", str(layout.requests_dir)]
    if knobs.protected_failure_count is not None:
        argv += ["--protected-failure-count", str(knobs.protected_failure_count)]
    if expires_at:
        argv += ["--expires-at", expires_at]
    if knobs.insufficient_capacity_timeout is not None:  # 0 or less turns the fail-over off
        argv += ["--insufficient-capacity-timeout", knobs.insufficient_capacity_timeout]
    return argv


def supervisor_spec(
    layout: ClusterLayout,
    holder: int,
    python: str,
    knobs: LocalSettings,
    expires_at: str | None = None,
    slurmdbd: bool = False,
) -> SupervisorSpec:
    """What the head's supervisor keeps running: munged, slurmctld (restarted without ``-c``, so
    it recovers its jobs from StateSaveLocation) and the reconciler."""
    env = tuple(sorted(slurm_env(layout).items()))
    dbd = (
        Service(
            "slurmdbd",
            tuple(head_daemon_argv(layout, holder, "slurmdbd")),
            str(layout.run_dir / "slurmdbd.pid"),
            program="slurmdbd",
            same_netns=True,
            daemonizes=True,
            env=env,
            log=str(layout.log / "slurmdbd.stdout"),
        ),
    )
    services = (
        Service(
            "munged",
            tuple(munged_argv(layout, holder)),
            str(layout.run_dir / "munged.pid"),
            program="munged",
            markers=(str(layout.munge_socket),),
            daemonizes=True,
            env=(("PATH", _proc.SAFE_PATH),),
        ),
        Service(
            "slurmctld",
            tuple(slurmctld_argv(layout, holder)),
            str(layout.run_dir / "slurmctld.pid"),
            program="slurmctld",
            same_netns=True,
            daemonizes=True,
            env=env,
            log=str(layout.log / "slurmctld.stdout"),
        ),
        *(dbd if slurmdbd else ()),
        Service(
            "reconciler",
            tuple(reconciler_argv(layout, python, knobs, expires_at)),
            str(reconciler_pid_file(layout)),
            program=os.path.basename(python),
            markers=(RECONCILER_MODULE, str(reconciler_pid_file(layout))),
            env=env,
            log=str(layout.log / "reconciler.log"),
        ),
    )
    spec_file = supervisor_spec_file(layout)
    return SupervisorSpec(
        cluster=layout.name,
        argv=(*_enter_head(layout, holder), python, "-m", SUPERVISOR_MODULE, str(spec_file)),
        pid_file=str(supervisor_pid_file(layout)),
        lock_file=str(layout.run_dir / "supervisor.lock"),
        events_file=str(layout.log / "supervisor.events"),
        log=str(layout.log / "supervisor.log"),
        services=services,
        env=env,
    )


def cluster_supervisor_spec(
    layout: ClusterLayout, holder: int, descriptor: ClusterDescriptor
) -> SupervisorSpec:
    """The supervisor's spec for the cluster as ``descriptor`` describes it (slurmdbd with a Database)."""
    return supervisor_spec(
        layout,
        holder,
        descriptor.python,
        descriptor.settings,
        descriptor.expires_at,
        slurmdbd=ACCOUNTING_DATABASE_KEY in descriptor.extra,
    )


def start_supervisor(layout: ClusterLayout, holder: int, descriptor: ClusterDescriptor) -> int:
    """Write the supervisor's spec and start it (detached, in the head's network and UTS
    namespaces); it adopts munged and slurmctld and starts the reconciler with the settings the
    create recorded."""
    spec = cluster_supervisor_spec(layout, holder, descriptor)
    supervisor_spec_file(layout).write_text(spec.dump())
    argv = [*_cgroups.enter_argv(layout.root, _cgroups.HEAD), *spec.argv]
    pid = _proc.spawn_detached(argv, env=dict(spec.env), log_path=Path(spec.log))
    supervisor_pid_file(layout).write_text(f"{pid}\n")  # nsenter execs the interpreter: same pid
    _wait_for(lambda: _proc.alive(_proc.read_pid(reconciler_pid_file(layout)) or 0), 10.0, "")
    return pid


def _kill_if(pid_file: Path, *markers: str) -> None:
    pid = _proc.read_pid(pid_file)
    if pid and _proc.alive(pid):
        argv = _proc.cmdline(pid)
        if all(m in argv for m in markers):
            _proc.kill_pids([pid])


def stop_reconciler(layout: ClusterLayout) -> None:
    """Stop the supervisor and the reconciler (each by its pid file, after checking the pid is
    really it). The spec goes first: neither restarts the other once it is gone."""
    spec_file = supervisor_spec_file(layout)
    spec_file.unlink(missing_ok=True)
    _kill_if(supervisor_pid_file(layout), SUPERVISOR_MODULE, str(spec_file))
    pid_file = reconciler_pid_file(layout)
    _kill_if(pid_file, RECONCILER_MODULE, str(pid_file))
    pid_file.unlink(missing_ok=True)
    supervisor_pid_file(layout).unlink(missing_ok=True)


def scontrol(layout: ClusterLayout, *args: str, timeout: float = 15.0) -> subprocess.CompletedProcess[str]:
    """Run scontrol from the head's network namespace (no check; callers read returncode)."""
    head = _net.head_netns(layout.name)
    argv = ["nsenter", f"--net=/run/netns/{head}", "--", "scontrol", *args]
    try:
        return _proc.run(argv, env=slurm_env(layout), check=False, timeout=timeout)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(argv, 124, "", f"scontrol {' '.join(args)} timed out")


def wait_for_slurmctld(layout: ClusterLayout, timeout_s: float) -> None:
    def up() -> bool:
        return "is UP" in scontrol(layout, "ping", timeout=5).stdout

    try:
        _wait_for(up, timeout_s, "slurmctld did not answer")
    except ProviderError as exc:
        raise ProviderError(
            f"{exc.message} within {timeout_s:.0f} s; slurmctld.log ends with:\n"
            + log_tail(layout.log / "slurmctld.log")
        ) from exc


def node_states(layout: ClusterLayout) -> list[NodeState]:
    return parse_nodes(scontrol(layout, *SCONTROL_NODES_ARGV[1:]).stdout)


def stop_slurmctld(layout: ClusterLayout) -> None:
    """Ask slurmctld to shut down and give it a moment; the caller kills what remains."""
    pid = _proc.read_pid(layout.run_dir / "slurmctld.pid")
    if pid is None or not _proc.alive(pid):
        return
    scontrol(layout, "shutdown", "slurmctld", timeout=3)
    with contextlib.suppress(ProviderError):
        _wait_for(lambda: not _proc.alive(pid), 2.0, "")


def _wait_for(condition: Callable[[], bool], timeout_s: float, message: str) -> None:
    deadline = time.monotonic() + timeout_s
    delay = 0.01
    while True:
        if condition():
            return
        if time.monotonic() > deadline:
            raise ProviderError(message)
        time.sleep(delay)
        delay = min(delay * 1.5, 0.2)


# -- data repository sync (FSx for Lustre DRAs), owned by the "bootstrap" topic ---------------------
DATASYNC_MODULE = "corral.node.s3sync"
DATASYNC_STOP_TIMEOUT_S = 30.0


def datasync_pid_file(layout: ClusterLayout) -> Path:
    return layout.run_dir / "datasync.pid"


def start_datasync(layout: ClusterLayout, python: str, config_path: Path) -> int:
    """The DRA sync loop, detached, in the HOST network namespace: it talks to the S3 endpoint
    (often a loopback server), which node namespaces cannot reach. It writes into the storage
    directories on the host, which every node bind-mounts."""
    pid_file = datasync_pid_file(layout)
    argv = [*_cgroups.enter_argv(layout.root, _cgroups.HOST_SIDE), python, "-m", DATASYNC_MODULE]
    argv += [str(config_path), "--pid-file", str(pid_file)]
    env = {**os.environ, **slurm_env(layout)}
    pid = _proc.spawn_detached(argv, env=env, log_path=layout.log / "datasync.log")
    pid_file.write_text(f"{pid}\n")
    return pid


def stop_datasync(layout: ClusterLayout) -> None:
    """TERM the sync loop (it makes one last pass, so recent files are exported) and wait for it."""
    pid_file = datasync_pid_file(layout)
    pid = _proc.read_pid(pid_file)
    if (
        pid
        and _proc.alive(pid)
        and DATASYNC_MODULE in _proc.cmdline(pid)
        and str(pid_file) in _proc.cmdline(pid)
    ):
        with contextlib.suppress(OSError):
            os.kill(pid, 15)
        with contextlib.suppress(ProviderError):
            _wait_for(lambda: not _proc.alive(pid), DATASYNC_STOP_TIMEOUT_S, "")
        _proc.kill_pids([pid])
    pid_file.unlink(missing_ok=True)

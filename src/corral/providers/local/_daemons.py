"""munged and slurmctld of a local cluster, and Slurm commands run from the head's network."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from corral.errors import ProviderError
from corral.providers.local import _net, _proc
from corral.providers.local._layout import ClusterLayout
from corral.slurm.status import SCONTROL_NODES_ARGV, NodeState, parse_nodes


def slurm_env(layout: ClusterLayout) -> dict[str, str]:
    """Always export SLURM_CONF: without it clients try a DNS SRV lookup for a config server."""
    return {"PATH": _proc.SAFE_PATH, "SLURM_CONF": str(layout.slurm_conf), "LANG": "C.UTF-8", "HOME": "/root"}


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        content = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"(no log at {path})"
    return "\n".join(content[-lines:])


def start_munged(layout: ClusterLayout) -> None:
    """A per-cluster munged with its own key and socket (the socket dir must be 0755)."""
    layout.run_dir.mkdir(parents=True, exist_ok=True)
    layout.run_dir.chmod(0o755)
    if not layout.munge_key.exists():
        with open(os.open(layout.munge_key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as key:
            key.write(os.urandom(1024))
    argv = [
        "munged",
        f"--socket={layout.munge_socket}",
        f"--key-file={layout.munge_key}",
        f"--log-file={layout.log / 'munged.log'}",
        f"--pid-file={layout.run_dir / 'munged.pid'}",
        f"--seed-file={layout.run_dir / 'munged.seed'}",
    ]
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
    argv = ["nsenter", f"--net=/run/netns/{head}", f"--uts=/proc/{holder}/ns/uts", "--", "slurmctld"]
    _proc.spawn_detached(argv, env=slurm_env(layout), log_path=layout.log / "slurmctld.stdout")


RECONCILER_MODULE = "corral.daemons.reconciler"
PROTECTED_FAILURE_COUNT_ENV = "CORRAL_LOCAL_PROTECTED_FAILURE_COUNT"


def protected_failure_count_override() -> int | None:
    """``CORRAL_LOCAL_PROTECTED_FAILURE_COUNT`` (read at create), or None to keep the default."""
    value = os.environ.get(PROTECTED_FAILURE_COUNT_ENV, "").strip()
    if not value:
        return None
    if not value.isdigit() or int(value) < 1:
        raise ProviderError(
            f"{PROTECTED_FAILURE_COUNT_ENV}={value!r} is not a positive number of failures", hint="e.g. 2"
        )
    return int(value)


def protected_status_file(layout: ClusterLayout) -> Path:
    """Where the reconciler lists the queues in protected mode."""
    return layout.slurm_state / "protected.json"


def reconciler_pid_file(layout: ClusterLayout) -> Path:
    return layout.run_dir / "reconciler.pid"


def start_reconciler(
    layout: ClusterLayout, holder: int, python: str, *, protected_failure_count: int | None = None
) -> int:
    """The reconciler loop (``corral.daemons``), detached, in the head's network and UTS namespaces
    like slurmctld. Its command line names the cluster's run dir, so a leak would be visible."""
    head = _net.head_netns(layout.name)
    pid_file = reconciler_pid_file(layout)
    argv = ["nsenter", f"--net=/run/netns/{head}", f"--uts=/proc/{holder}/ns/uts", "--", python]
    argv += ["-m", RECONCILER_MODULE, str(layout.state_dir), layout.name, "--pid-file", str(pid_file)]
    argv += ["--status-file", str(protected_status_file(layout))]
    if protected_failure_count is not None:
        argv += ["--protected-failure-count", str(protected_failure_count)]
    pid = _proc.spawn_detached(argv, env=slurm_env(layout), log_path=layout.log / "reconciler.log")
    pid_file.write_text(f"{pid}\n")  # nsenter execs the interpreter: same pid
    return pid


def stop_reconciler(layout: ClusterLayout) -> None:
    """Kill the cluster's reconciler by its pid file, after checking the pid is really it."""
    pid_file = reconciler_pid_file(layout)
    pid = _proc.read_pid(pid_file)
    if pid and _proc.alive(pid):
        argv = _proc.cmdline(pid)
        if RECONCILER_MODULE in argv and str(pid_file) in argv:
            _proc.kill_pids([pid])
    pid_file.unlink(missing_ok=True)


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
    argv = [python, "-m", DATASYNC_MODULE, str(config_path), "--pid-file", str(pid_file)]
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

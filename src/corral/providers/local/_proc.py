"""Processes: spawn detached daemons with a clean signal mask, run commands, kill by PID only."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from corral.node.procfs import alive as alive
from corral.node.procfs import cmdline as cmdline
from corral.node.procfs import read_pid as read_pid

SAFE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def spawn_detached(argv: Sequence[str], *, env: Mapping[str, str], log_path: Path | None = None) -> int:
    """Start ``argv`` in its own session with stdin from /dev/null, output appended to ``log_path``
    and an EMPTY signal mask (Slurm's script runner blocks TERM and friends; daemons would inherit
    that and ignore TERM). Returns the pid; a daemon thread reaps it so it never lingers as a zombie.
    """
    out = str(log_path) if log_path else os.devnull
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, out, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644),
        (os.POSIX_SPAWN_DUP2, 1, 2),
    ]
    program = shutil.which(argv[0], path=env.get("PATH", SAFE_PATH)) or argv[0]
    pid = os.posix_spawn(program, list(argv), dict(env), file_actions=actions, setsid=True, setsigmask=())
    threading.Thread(target=_reap, args=(pid,), daemon=True).start()
    return pid


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


def run(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    timeout: float | None = 30.0,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command to completion, capturing text output. ``check`` raises CalledProcessError."""
    return subprocess.run(
        list(argv),
        env=dict(env) if env is not None else None,
        input=input,
        capture_output=True,
        text=True,
        check=check,
        timeout=timeout,
        stdin=None if input is not None else subprocess.DEVNULL,
    )


def kill_pids(pids: Iterable[int], *, grace_s: float = 1.0) -> None:
    """TERM every pid, wait up to ``grace_s`` for them to go, then KILL the rest and wait briefly."""
    targets = {pid for pid in pids if pid > 1 and pid != os.getpid()}
    for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 2.0)):
        for pid in targets:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while targets and time.monotonic() < deadline:
            targets = {pid for pid in targets if alive(pid)}
            if targets:
                time.sleep(0.02)
        if not targets:
            return

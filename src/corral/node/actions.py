"""Running one custom action script: as root, with its args, its own log file and a deadline.

Each action's stdout and stderr go, interleaved as written, to its own log file (never to a pipe: a
script that starts a daemon would keep a pipe open forever). The file starts with a header line and
ends with a footer giving the exit code and duration. A non-zero exit or a timeout is an
``ActionFailure`` whose message names the event, the script, the exit code (or the timeout) and the
last lines of the script's output, which is what describe-cluster, the stack events and the log
events then show.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from corral.errors import ActionFailure

TAIL_LINES = 10
TAIL_CHARS = 1500
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Action:
    event: str
    path: str  # a local, already fetched script
    args: tuple[str, ...] = ()
    source: str = ""  # what the config said, for messages
    log_file: str = ""  # where its output goes ("" for the agent's own stdout)


def script_basename(source: str) -> str:
    """The script's file name as the config named it, safe for a file name."""
    base = source.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] or "script"
    return _UNSAFE.sub("_", base)


def action_log_name(order: int, event: str, source: str) -> str:
    """``<NN>-<Event>-<script-basename>.log``: NN is the 1-based order across a node's actions."""
    return f"{order:02d}-{event}-{script_basename(source)}.log"


def _argv(action: Action) -> list[str]:
    with open(action.path, "rb") as script:
        shebang = script.read(2) == b"#!"
    return [action.path, *action.args] if shebang else ["/bin/bash", action.path, *action.args]


def _tail(path: Path, start: int) -> str:
    """The last lines the script wrote (after byte ``start`` of its log), joined with ' / '."""
    try:
        with path.open("rb") as log:
            log.seek(start)
            text = log.read().decode(errors="replace")
    except OSError:
        return ""
    lines = [ln.rstrip() for ln in text.splitlines() if ln.strip() and not ln.startswith("=== ")]
    lines = lines[-TAIL_LINES:]
    return " / ".join(lines)[-TAIL_CHARS:]


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """TERM then KILL the script's whole process group (it runs in a session of its own)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=2)
            return


def _describe(action: Action) -> str:
    return f"{action.event} script {action.source or action.path}"


def run_action(action: Action, env: Mapping[str, str], *, timeout_s: float | None = None) -> None:
    """Run ``action`` to completion (at most ``timeout_s`` seconds); raise ``ActionFailure`` on a
    non-zero exit, a timeout or a script that cannot be started."""
    print(
        f"[agent] {action.event}: running {action.source or action.path} {' '.join(action.args)}", flush=True
    )
    if action.log_file:
        Path(action.log_file).parent.mkdir(parents=True, exist_ok=True)
        _run_logged(action, env, Path(action.log_file), timeout_s)
        return
    with tempfile.TemporaryDirectory() as scratch:
        _run_logged(action, env, Path(scratch) / "action.log", timeout_s)


def _run_logged(action: Action, env: Mapping[str, str], log: Path, timeout_s: float | None) -> None:
    started = time.monotonic()
    with log.open("ab") as out:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        out.write(f"=== {stamp} {action.event} {action.source} args={list(action.args)}\n".encode())
        out.flush()
        body_start = out.tell()
        try:
            process = subprocess.Popen(
                _argv(action), env=dict(env), stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                start_new_session=True, cwd="/",
            )  # fmt: skip
        except OSError as exc:
            raise ActionFailure(f"{_describe(action)} could not be started: {exc}") from exc
        try:
            code = process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            out.write(f"=== timed out after {timeout_s:.0f} s; killed\n".encode())
            out.flush()
            raise ActionFailure(
                f"{_describe(action)} timed out after {timeout_s:.0f} s{_detail(log, body_start)}"
            ) from None
        out.write(f"=== exit {code} after {time.monotonic() - started:.2f} s\n".encode())
    if code != 0:
        raise ActionFailure(f"{_describe(action)} exited with {code}{_detail(log, body_start)}")


def _detail(log: Path, start: int) -> str:
    tail = _tail(log, start)
    return f": {tail}" if tail else ""

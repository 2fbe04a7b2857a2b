"""Running a component's steps in a build or test node, as Image Builder's TOE does: each step
under its ``timeoutSeconds`` (the whole step's process group is killed when it runs over), retried
up to ``maxAttempts``, and on failure ``Abort`` (the build fails), ``Continue`` (the phase goes on,
the build is failed at its end) or ``Ignore``. Every line a step prints goes to the image's log
stream with a timestamp."""

from __future__ import annotations

import subprocess
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from corral.images.actions import step_script
from corral.images.components import ComponentDoc, Step
from corral.providers.local import _image_nodes
from corral.providers.local._image_nodes import BuildNode

#: exit status of ``timeout`` when the step ran over
TIMED_OUT = 124
TAIL_LINES = 15
#: how long after a step's timeout the host gives up on its ``timeout`` (a wedged node)
HOST_GRACE_S = 30.0

Download = Callable[[str, str], bytes]  # (action, source) -> bytes


class BuildLog:
    """One log stream of the image: timestamped lines appended to a file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def write(self, message: str) -> None:
        stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        with self._lock, open(self.path, "a") as out:
            for line in message.splitlines() or [""]:
                out.write(f"{stamp} {line}\n")


@dataclass(frozen=True)
class StepFailure:
    """Why a step failed: what the build's status reason and log events say."""

    component: str
    phase: str
    step: str
    detail: str
    tail: tuple[str, ...]

    def reason(self) -> str:
        tail = "\n".join(self.tail)
        return f"{self.component}, phase {self.phase}, step {self.step}: {self.detail}" + (
            f"; its output ends with:\n{tail}" if tail else ""
        )


def run_phase(
    node: BuildNode, component: ComponentDoc, phase: str, log: BuildLog, download: Download
) -> list[StepFailure]:
    """Run the ``phase`` steps of ``component``; the failures (an ``Abort`` failure ends the list)."""
    failures: list[StepFailure] = []
    for step in component.steps(phase):
        failure = run_step(node, component, phase, step, log, download)
        if failure is None:
            continue
        if step.on_failure == "Ignore":
            log.write(f"{component.label} {phase}/{step.name}: failed, ignored (onFailure: Ignore)")
            continue
        failures.append(failure)
        if step.on_failure == "Abort":
            break
        log.write(f"{component.label} {phase}/{step.name}: failed, continuing (onFailure: Continue)")
    return failures


def run_step(
    node: BuildNode, component: ComponentDoc, phase: str, step: Step, log: BuildLog, download: Download
) -> StepFailure | None:
    where = f"{component.label} {phase}/{step.name}"
    failure = None
    for attempt in range(1, step.max_attempts + 1):
        log.write(
            f"{where}: {step.action} (attempt {attempt} of {step.max_attempts}, timeout {step.timeout_s} s)"
        )
        failure = _attempt(node, component, phase, step, log, download)
        if failure is None:
            log.write(f"{where}: completed")
            return None
        log.write(f"{where}: {failure.detail}")
    return failure


def _attempt(
    node: BuildNode, component: ComponentDoc, phase: str, step: Step, log: BuildLog, download: Download
) -> StepFailure | None:
    def failed(detail: str, tail: tuple[str, ...] = ()) -> StepFailure:
        return StepFailure(component.label, phase, step.name, detail, tail)

    if step.action == "Reboot":
        log.write(
            f"{component.label} {phase}/{step.name}: a local build node has nothing to reboot; going on"
        )
        return None
    if step.action in ("S3Download", "WebDownload"):
        return _downloads(node, step, download, failed)
    script = step_script(step)
    assert script is not None
    argv = node.argv("timeout", "--kill-after=5", str(step.timeout_s), "/bin/bash", "-c", script)
    code, tail = _run_logged(argv, step.timeout_s + HOST_GRACE_S, log, f"{step.name}| ")
    if code == TIMED_OUT:
        return failed(f"timed out after {step.timeout_s} s (timeoutSeconds) and was killed", tail)
    if code != 0:
        return failed(f"exited with status {code}", tail)
    return None


def _downloads(
    node: BuildNode, step: Step, download: Download, failed: Callable[..., StepFailure]
) -> StepFailure | None:
    for entry in step.inputs:
        source, destination = str(entry["source"]), str(entry["destination"])
        try:
            data = download(step.action, source)
            if destination.endswith("/"):
                destination += source.rstrip("/").rsplit("/", 1)[-1]
            _image_nodes.write_file(node, destination, data)
        except Exception as exc:
            return failed(f"{step.action} of {source} failed: {exc}")
    return None


def _run_logged(argv: list[str], limit_s: float, log: BuildLog, prefix: str) -> tuple[int, tuple[str, ...]]:
    """Run ``argv``, logging each output line; (exit status, the last lines)."""
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    assert proc.stdout is not None

    def pump() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.decode("utf-8", errors="replace").rstrip("\n")
            tail.append(line)
            log.write(prefix + line)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        code = proc.wait(timeout=limit_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        code = TIMED_OUT
        proc.wait()
    reader.join(timeout=5)
    return code, tuple(tail)


def query(node: BuildNode, *command: str, timeout: float = 120.0) -> str:
    """The output of a command run in the node (``ProviderError``-free: '' when it fails)."""
    try:
        done = subprocess.run(
            node.argv(*command), capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return ""
    return done.stdout if done.returncode == 0 else ""


__all__ = ["BuildLog", "StepFailure", "query", "run_phase", "run_step"]

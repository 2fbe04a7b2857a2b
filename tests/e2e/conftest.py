"""End-to-end fixtures: real local clusters (root, Slurm and namespaces required).

Each cluster gets a unique name (xdist worker id + random suffix) and its own subnet, so workers
run in parallel. ``CORRAL_LOCAL_SCALEDOWN_SECONDS`` makes idle nodes power down in seconds.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from corral.errors import PrerequisiteError
from corral.providers.local import LocalProvider, _volumes

SCALEDOWN_SECONDS = "4"


@pytest.fixture(scope="session")
def prerequisites() -> None:
    try:
        LocalProvider(Path("/nonexistent")).check_prerequisites()
    except PrerequisiteError as exc:
        reason = f"local clusters unavailable: {exc.message} ({exc.hint})"
        if os.environ.get("CI"):
            # CI runs as root with Slurm installed by scripts/setup.sh: a skip there would hide that
            # the end-to-end tests never ran.
            pytest.fail(reason)
        pytest.skip(reason)


def unique_name(prefix: str) -> str:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw")
    return f"{prefix}-{worker}-{secrets.token_hex(3)}"


@pytest.fixture(scope="module")
def provider(prerequisites: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalProvider]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CORRAL_LOCAL_SCALEDOWN_SECONDS", SCALEDOWN_SECONDS)
        yield LocalProvider(tmp_path_factory.mktemp("state"))


def wait_until(condition: Callable[[], object], timeout: float, what: str, interval: float = 0.1) -> object:
    """Poll ``condition`` until it returns something truthy; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def slurm_timer(provider: LocalProvider, name: str, key: str) -> float:
    """A timer of the cluster's Slurm (``ResumeTimeout``, ``SuspendTimeout``...), in seconds, as
    ``scontrol show config`` reports it: tests wait as long as Slurm itself would, not a guess."""
    out = provider.run_on_head(name, ["scontrol", "show", "config"]).stdout
    for line in out.splitlines():
        field, _, value = line.partition("=")
        if field.strip() == key:
            return float(value.strip().split()[0])
    raise AssertionError(f"{key} not in scontrol show config")


def reconciler_passes(provider: LocalProvider, name: str, count: int) -> None:
    """Wait until the reconciler finished ``count`` more passes (its heartbeat changed that many
    times), failing only if a pass takes longer than the heartbeat's staleness threshold: the
    time after which the ResumeProgram itself would consider the reconciler dead."""
    from corral.providers.local._daemons import heartbeat_file
    from corral.runtime.heartbeat import stale_after_s

    path = heartbeat_file(provider.layout(name))  # where the reconciler writes it (the run dir)
    last = path.read_text() if path.exists() else ""
    for n in range(count):

        def moved(before: str = last) -> bool:
            return path.exists() and path.read_text() != before

        wait_until(moved, stale_after_s(), f"reconciler pass {n + 1} of {count}", 0.1)
        last = path.read_text()


def node_host_pid(cluster: str, node: str, pid: int) -> int:
    """The host pid of the process a node's pid file names. A node booted from an image writes the
    pid it has in its own PID namespace; a host-rooted node's is the host pid already."""
    from corral.providers.local._net import netns_pids, node_netns

    for candidate in netns_pids(node_netns(cluster, node)):
        try:
            status_text = Path(f"/proc/{candidate}/status").read_text()
        except OSError:
            continue
        nspid = next((line for line in status_text.splitlines() if line.startswith("NSpid:")), "")
        if nspid and int(nspid.split()[-1]) == pid:
            return candidate
    return pid


def leftovers(provider: LocalProvider, name: str) -> list[str]:
    """Everything of cluster ``name`` still on the machine: namespaces, processes, mounts, files."""
    layout = provider.layout(name)
    markers = (str(layout.root), str(layout.run_dir))
    found = (
        [f"netns {ns}" for ns in os.listdir("/run/netns") if ns.startswith(f"corral-{name}-")]
        if (os.path.isdir("/run/netns"))
        else []
    )
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        # whole paths only: clusters/lab is no prefix match for clusters/lab0's processes
        if any(_names_path(token, m) for token in [*argv, cwd] for m in markers):
            found.append(f"process {entry.name}: {' '.join(argv).strip()} (cwd {cwd})")
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        if any(_names_path(field, m) for field in line.split() for m in markers) or f"corral-{name}-" in line:
            found.append(f"mount {line}")
    for entry in Path("/sys/block").glob("loop*"):
        backing = _volumes.backing_file(entry.name) or ""
        if any(_names_path(backing, m) for m in (str(layout.root), str(layout.retained_dir))):
            found.append(f"loop device /dev/{entry.name} ({backing})")
    if layout.root.exists():
        found.append(f"directory {layout.root}")
    if layout.run_dir.exists():
        found.append(f"directory {layout.run_dir}")
    return found


def _names_path(token: str, path: str) -> bool:
    return token == path or f"{path}/" in token or token.endswith(f"={path}")


def delete_and_check(provider: LocalProvider, name: str) -> None:
    provider.delete(name)
    assert leftovers(provider, name) == []
    assert not provider.exists(name)


@pytest.fixture
def cleanup(provider: LocalProvider) -> Iterator[list[str]]:
    """Cluster names appended here are deleted (and checked) after the test, whatever happened."""
    names: list[str] = []
    yield names
    for name in names:
        delete_and_check(provider, name)

"""End-to-end fixtures: real local clusters (root, Slurm and namespaces required).

The harness itself (``unique_name``, ``cluster_yaml``, ``Corral``, ``local_cluster``, ``api_cluster``,
``wait_until``, ``leftovers``, ``delete_and_check``) is ``tests/support/clusters.py``; re-exported here.
Each cluster gets a unique name (xdist worker id + random suffix) and its own subnet, so workers
run in parallel. ``CORRAL_LOCAL_SCALEDOWN_SECONDS`` makes idle nodes power down in seconds.

Fixtures: ``prerequisites`` (skip, or fail under CI, without root/Slurm), ``provider`` (a module's
``LocalProvider`` over a fresh state directory), ``corral`` (the CLI over that same state directory),
``own_corral`` (the CLI over a fresh state directory of one test's own, swept afterwards),
``cleanup`` (names appended are deleted and checked after the test).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from corral.errors import PrerequisiteError
from corral.providers.local import LocalProvider
from support.clusters import (
    SCALEDOWN_SECONDS,
    Corral,
    api_cluster,
    cluster_yaml,
    delete_and_check,
    leftovers,
    local_cluster,
    unique_name,
    wait_until,
)

__all__ = [
    "SCALEDOWN_SECONDS",
    "Corral",
    "api_cluster",
    "cluster_yaml",
    "delete_and_check",
    "leftovers",
    "local_cluster",
    "node_host_pid",
    "reconciler_passes",
    "slurm_timer",
    "unique_name",
    "wait_until",
]


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


@pytest.fixture(scope="module")
def provider(prerequisites: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalProvider]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CORRAL_LOCAL_SCALEDOWN_SECONDS", SCALEDOWN_SECONDS)
        yield LocalProvider(tmp_path_factory.mktemp("state"))


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


@pytest.fixture(scope="module")
def corral(provider: LocalProvider) -> Corral:
    """The CLI over the module provider's state directory, with the short scale-down time."""
    return Corral(provider.state_dir, {"CORRAL_LOCAL_SCALEDOWN_SECONDS": SCALEDOWN_SECONDS})


@pytest.fixture
def own_corral(prerequisites: None, tmp_path: Path) -> Iterator[Corral]:
    """The CLI over a fresh state directory of the test's own (``tmp_path/state``), with the short
    scale-down time; any cluster still in it afterwards is deleted."""
    corral = Corral(tmp_path / "state", {"CORRAL_LOCAL_SCALEDOWN_SECONDS": SCALEDOWN_SECONDS})
    yield corral
    corral.sweep()


@pytest.fixture
def cleanup(provider: LocalProvider) -> Iterator[list[str]]:
    """Cluster names appended here are deleted (and checked) after the test, whatever happened."""
    names: list[str] = []
    yield names
    for name in names:
        delete_and_check(provider, name)

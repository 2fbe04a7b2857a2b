"""Ownership faults (issue #19, point 1): names that are prefixes of each other, two state
directories, a create that finds its name taken. Each case asserts that the other cluster kept
every process and its running job."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from corral.errors import ConflictError
from corral.plan import ClusterPlan
from corral.providers.local import LocalProvider, _cgroups
from support import plans

from .conftest import delete_and_check, wait_until

pytestmark = pytest.mark.e2e


def _name() -> str:
    """A base name whose ``+"0"`` variant is unique too (rl<hex>, rl<hex>0)."""
    return f"rl{os.environ.get('PYTEST_XDIST_WORKER', 'gw')[-1:]}{secrets.token_hex(3)}"


def _small(name: str) -> ClusterPlan:
    return plans.plan(name, queues=(("q1", "c1", 1, 0),))


#: The long-lived processes of a cluster (the rest, scontrol calls and the like, come and go).
DAEMONS = {"sleep", "munged", "slurmctld", "slurmd", "slurmstepd"}
DAEMON_MODULES = ("corral.daemons.reconciler", "corral.node.supervisor", "corral.node.watchdog")


def _snapshot(provider: LocalProvider, name: str) -> set[int]:
    """The cluster's daemons (found through its cgroups), the holders and the job included."""
    pids = set()
    for pid in _cgroups.pids(provider.layout(name).root):
        try:
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
        except OSError:
            continue
        if comm in DAEMONS or any(m in argv for m in DAEMON_MODULES):
            pids.add(pid)
    assert len(pids) >= 6, f"cluster {name} has too few daemons in its cgroups: {pids}"
    return pids


def _alive(pids: set[int]) -> set[int]:
    return {p for p in pids if Path(f"/proc/{p}").exists()}


def _job(provider: LocalProvider, name: str) -> str:
    result = provider.run_on_head(name, ["sbatch", "--parsable", "--wrap", "sleep 600"])
    assert result.returncode == 0, result.stderr
    job = result.stdout.strip()
    wait_until(lambda: _job_state(provider, name, job) == "RUNNING", 60, f"job {job} running on {name}")
    return job


def _job_state(provider: LocalProvider, name: str, job: str) -> str:
    return provider.run_on_head(name, ["squeue", "-h", "-j", job, "-o", "%T"]).stdout.strip()


@pytest.fixture
def victim(provider: LocalProvider) -> Iterator[str]:
    """A running cluster with a running job: the one that must not be touched."""
    name = _name() + "0"
    provider.create(_small(name), on_event=lambda r, m: None)
    try:
        yield name
    finally:
        delete_and_check(provider, name)


def test_deleting_a_cluster_whose_name_is_a_prefix_leaves_the_other_untouched(
    provider: LocalProvider, victim: str
) -> None:
    job = _job(provider, victim)
    prefix = victim[:-1]
    provider.create(_small(prefix), on_event=lambda r, m: None)
    before = _snapshot(provider, victim)
    started = time.monotonic()
    delete_and_check(provider, prefix)
    print(f"delete of {prefix} took {time.monotonic() - started:.2f} s")
    assert _alive(before) == before, "the prefix cluster's delete killed processes of the other"
    assert _job_state(provider, victim, job) == "RUNNING"


def test_a_create_from_another_state_dir_fails_and_its_rollback_touches_nothing(
    provider: LocalProvider, victim: str, tmp_path: Path
) -> None:
    job = _job(provider, victim)
    before, namespaces = _snapshot(provider, victim), _netns(victim)
    other = LocalProvider(tmp_path / "other-state")
    with pytest.raises(ConflictError, match="in use on this machine"):
        other.create_owned(_small(victim), on_event=lambda r, m: None, cluster_id="other-create")
    # What the service does after a failed create (rollback), and what a delete without an id does.
    other.delete_owned(victim, cluster_id="other-create")
    other.delete(victim)
    assert not other.exists_owned(victim, "other-create")
    assert _alive(before) == before
    assert _job_state(provider, victim, job) == "RUNNING"
    assert _netns(victim) == namespaces
    assert not (tmp_path / "other-state" / "clusters" / victim).exists()


def test_a_create_whose_record_was_lost_never_destroys_the_cluster_on_disk(
    provider: LocalProvider, victim: str
) -> None:
    job = _job(provider, victim)
    before = _snapshot(provider, victim)
    home = provider.layout(victim).root / "shared" / "home"
    marker = home / "keep-me"
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text("data\n")
    with pytest.raises(ConflictError, match="already exists"):
        provider.create_owned(_small(victim), on_event=lambda r, m: None, cluster_id="second-create")
    provider.delete_owned(victim, cluster_id="second-create", retain_storage=False)
    assert _alive(before) == before
    assert marker.read_text() == "data\n"
    assert _job_state(provider, victim, job) == "RUNNING"


def _netns(name: str) -> set[str]:
    return {n for n in os.listdir("/run/netns") if n.startswith(f"corral-{name}-")}

"""Fault tests on one real local cluster, created through the CLI: each kills or breaks one thing,
asserts what happened and prints how long it took. They share the cluster (module scope) and run
in file order; the last one (the watchdog) takes the head's daemons down for good.

The cluster: queue q1 (one static, two dynamic nodes) and queue bad (one dynamic node whose
OnNodeConfigured script fails). SlurmdTimeout is 10 s so that Slurm notices a dead slurmd quickly,
one bootstrap failure puts a queue in protected mode, and the watchdog's timeout is 15 s.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from corral.daemons.events import read_events
from corral.providers.local import LocalProvider
from corral.providers.local import _daemons as daemons
from corral.providers.local._net import netns_pids, node_netns
from corral.slurm import status

from .conftest import Corral, cluster_yaml, node_host_pid, slurm_timer, wait_until

pytestmark = pytest.mark.e2e

STATIC = "q1-st-c1-1"
WATCHDOG_TIMEOUT_S = 15


class Cluster:
    def __init__(
        self, name: str, provider: LocalProvider, cli: Callable[..., subprocess.CompletedProcess[str]]
    ):
        self.name, self.provider, self.cli = name, provider, cli
        self.layout = provider.layout(name)

    def head(self, *argv: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        result = self.provider.run_on_head(self.name, list(argv), timeout=timeout)
        return subprocess.CompletedProcess(list(argv), result.returncode, result.stdout, result.stderr)

    def node(self, node: str) -> status.NodeState | None:
        nodes = status.parse_nodes(self.head("scontrol", "-o", "show", "node", node).stdout)
        return nodes[0] if nodes else None

    def instance(self, node: str) -> str | None:
        ids = [i.instance_id for i in self.provider.instances(self.name) if i.node_name == node]
        return ids[0] if ids else None

    def pid(self, name: str) -> int:
        """The host pid a pid file names (see ``node_host_pid``)."""
        pid = int((self.layout.run_dir / name).read_text().strip())
        if name.startswith("slurmd-"):
            return node_host_pid(self.name, name.removeprefix("slurmd-").removesuffix(".pid"), pid)
        return pid

    def job(self, job: str) -> dict[str, str]:
        out = self.head("scontrol", "-o", "show", "job", job).stdout.strip()
        return status.parse_fields(out) if out else {}

    def kill_machine(self, node: str) -> None:
        """The node's machine dies: SIGKILL to every process in its network namespace at once."""
        pids = netns_pids(node_netns(self.name, node))
        for sig in (signal.SIGSTOP, signal.SIGKILL):  # stopped first: nothing reports its death
            for pid in pids:
                with contextlib.suppress(OSError):
                    os.kill(pid, sig)

    def fleet(self) -> str:
        return str(json.loads(self.cli("describe-compute-fleet", "-n", self.name).stdout)["status"])

    def events(self, log: str = "reconciler.events") -> list[dict[str, object]]:
        return read_events(self.layout.log / log)

    def launches(self, node: str) -> int:
        return sum(1 for line in self._log("resume.log").splitlines() if "launching" in line and node in line)

    def _log(self, name: str) -> str:
        path = self.layout.log / name
        return path.read_text(errors="replace") if path.exists() else ""

    def dump(self) -> None:
        print(self.head("scontrol", "-o", "show", "node").stdout)
        for log in ("reconciler.log", "supervisor.log", "resume.log"):
            print(f"== {log}\n{self._log(log)[-3000:]}")


def _config(script: Path) -> str:
    return cluster_yaml(
        (("q1", "c1", 1, 3), ("bad", "c2", 0, 1)),
        slurm_settings={"CustomSlurmSettings": [{"SlurmdTimeout": 10}]},
        queue_settings={"bad": {"CustomActions": {"OnNodeConfigured": {"Script": str(script)}}}},
    )


@pytest.fixture(scope="module")
def cluster(
    provider: LocalProvider, corral: Corral, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    script = tmp_path_factory.mktemp("faults") / "fail.sh"
    script.write_text("#!/bin/sh\necho 'this queue cannot bootstrap' >&2\nexit 3\n")
    script.chmod(0o755)
    cli = corral.with_env(
        **{daemons.WATCHDOG_TIMEOUT_ENV: str(WATCHDOG_TIMEOUT_S), daemons.PROTECTED_FAILURE_COUNT_ENV: "1"}
    )
    with cli.cluster(_config(script), "faults") as name:
        yield Cluster(name, provider, cli)


def _timed(what: str, started: float, bound: float) -> float:
    took = time.monotonic() - started
    print(f"{what}: {took:.1f} s")
    assert took < bound, f"{what} took {took:.1f} s (bound {bound} s)"
    return took


def test_a_static_node_whose_slurmd_dies_is_replaced_and_runs_a_job(cluster: Cluster) -> None:
    old = cluster.instance(STATIC)
    assert old is not None
    started = time.monotonic()
    os.kill(cluster.pid(f"slurmd-{STATIC}.pid"), signal.SIGKILL)

    def replaced() -> bool:
        node = cluster.node(STATIC)
        new = cluster.instance(STATIC)
        return bool(new and new != old and node and node.ready and node.state == "IDLE")

    try:
        wait_until(replaced, 90, f"{STATIC} to be replaced", interval=0.3)
    except BaseException:
        cluster.dump()
        raise
    _timed("slurmd killed -> replacement IDLE", started, 90)
    job = cluster.head("srun", "-p", "q1", "-w", STATIC, "hostname", timeout=60)
    assert job.returncode == 0 and job.stdout.strip() == STATIC, job.stderr
    moves = [e["detail"] for e in cluster.events() if e["event-type"] == "node-transition"]
    seen = [(m["from"], m["to"]) for m in moves if m["node"] == STATIC]  # type: ignore[index]
    assert ("UNHEALTHY", "TERMINATING") in seen and ("TERMINATING", "POWERED_DOWN") in seen, seen


def test_a_dynamic_node_killed_while_its_job_runs_is_replaced_and_the_job_completes(cluster: Cluster) -> None:
    script = "touch /home/faults-started-$SLURM_JOB_ID-${SLURM_RESTART_COUNT:-0}; sleep 6"
    submitted = cluster.head("sbatch", "--parsable", "-p", "q1", "-x", STATIC, "--wrap", script)
    assert submitted.returncode == 0, submitted.stderr
    job = submitted.stdout.strip()
    marker = f"/home/faults-started-{job}-0"
    # Waits follow Slurm's timers (a loaded machine boots slowly): a node has ResumeTimeout to come
    # up, a lost node is replaced and its job requeued within a boot, then the job runs 6 s.
    boot = slurm_timer(cluster.provider, cluster.name, "ResumeTimeout")
    wait_until(lambda: cluster.head("test", "-e", marker).returncode == 0, boot, "the job's script to start")
    node = cluster.job(job)["NodeList"]
    old = cluster.instance(node)
    started = time.monotonic()
    cluster.kill_machine(node)

    def requeued() -> bool:
        info = cluster.job(job)
        if info.get("JobState") == "PENDING" and info.get("Reason") == "BeginTime":
            # Slurm holds a requeued job for two minutes; an administrator would start it at once
            cluster.head("scontrol", "update", f"JobId={job}", "StartTime=now")
        return int(info.get("Restarts", "0")) >= 1

    try:
        wait_until(requeued, boot, "the job to be requeued", interval=0.3)
        _timed("dynamic node killed -> job requeued", started, boot)
        wait_until(
            lambda: cluster.job(job).get("JobState") == "COMPLETED", boot, "the job to complete", interval=0.5
        )
    except BaseException:
        cluster.dump()
        print(cluster.job(job))
        raise
    _timed("dynamic node killed -> requeued job COMPLETED", started, 2 * boot)
    info = cluster.job(job)
    ran_on = info["NodeList"]
    assert ran_on != node or cluster.instance(ran_on) != old, "the job must have run on a new instance"


def test_slurmctld_and_munged_killed_come_back_and_queued_jobs_survive(cluster: Cluster) -> None:
    saved = cluster.layout.slurm_state / "job_state"
    before = saved.stat().st_mtime if saved.exists() else 0.0
    held = cluster.head("sbatch", "--parsable", "-p", "q1", "--hold", "--wrap", "true")
    assert held.returncode == 0, held.stderr
    job = held.stdout.strip()
    # slurmctld saves its job state within a few seconds of a change; what it has not saved is lost
    wait_until(lambda: saved.exists() and saved.stat().st_mtime > before, 30, "the job state to be saved")
    old = cluster.pid("slurmctld.pid")
    started = time.monotonic()
    os.kill(old, signal.SIGKILL)

    def back() -> bool:
        return (
            "is UP" in cluster.head("scontrol", "ping", timeout=5).stdout
            and cluster.pid("slurmctld.pid") != old
        )

    wait_until(back, 30, "slurmctld to come back", interval=0.2)
    _timed("slurmctld killed -> answering again", started, 30)
    if cluster.job(job).get("JobState") != "PENDING":
        print(cluster.head("squeue").stdout, (cluster.layout.log / "slurmctld.log").read_text()[-3000:])
    assert cluster.job(job).get("JobState") == "PENDING", "the held job must survive the restart"
    cluster.head("scancel", job)

    munged = cluster.pid("munged.pid")
    started = time.monotonic()
    os.kill(munged, signal.SIGKILL)
    wait_until(
        lambda: cluster.head("srun", "-p", "q1", "-w", STATIC, "true", timeout=20).returncode == 0,
        30,
        "munge",
    )
    _timed("munged killed -> srun works again", started, 30)
    restarts = [
        e["detail"] for e in cluster.events("supervisor.events") if e["event-type"] == "service-restarted"
    ]
    assert {"slurmctld", "munged"} <= {d["service"] for d in restarts}  # type: ignore[index]


def test_the_daemon_killed_mid_replacement_restarts_and_launches_nothing_twice(cluster: Cluster) -> None:
    old = cluster.instance(STATIC)
    launches = cluster.launches(STATIC)
    cluster.kill_machine(STATIC)
    wait_until(lambda: cluster.launches(STATIC) > launches, 60, "the replacement launch", interval=0.1)
    reconciler = cluster.pid("reconciler.pid")
    started = time.monotonic()
    os.kill(reconciler, signal.SIGKILL)  # while the replacement boots
    wait_until(
        lambda: cluster.pid("reconciler.pid") != reconciler, 20, "the reconciler to restart", interval=0.1
    )
    _timed("reconciler killed -> restarted", started, 20)

    def idle() -> bool:
        node = cluster.node(STATIC)
        return bool(
            node and node.ready and node.state == "IDLE" and cluster.instance(STATIC) not in (None, old)
        )

    wait_until(idle, 60, f"{STATIC} to be IDLE on its replacement", interval=0.3)
    time.sleep(6)  # a few more passes of the restarted loop
    assert cluster.launches(STATIC) == launches + 1, "the restarted reconciler launched the node again"
    supervisor = cluster.pid("supervisor.pid")
    started = time.monotonic()
    os.kill(supervisor, signal.SIGKILL)
    wait_until(
        lambda: cluster.pid("supervisor.pid") != supervisor, 20, "the supervisor to be revived", interval=0.1
    )
    _timed("supervisor killed -> revived by the reconciler", started, 20)


def test_a_queue_that_cannot_bootstrap_is_protected_and_start_releases_it(cluster: Cluster) -> None:
    submitted = cluster.head("sbatch", "--parsable", "-p", "bad", "--wrap", "true")
    assert submitted.returncode == 0, submitted.stderr
    job = submitted.stdout.strip()
    started = time.monotonic()
    wait_until(
        lambda: cluster.fleet() == "PROTECTED", 60, "describe-compute-fleet to show PROTECTED", interval=0.5
    )
    _timed("bad queue job submitted -> fleet PROTECTED", started, 60)
    parts = status.parse_partitions(cluster.head("scontrol", "-o", "show", "partition", "bad").stdout)
    assert parts[0].state == "INACTIVE"
    entered = [e for e in cluster.events() if e["event-type"] == "protected-mode-entered"]
    assert entered and "bootstrap failure" in str(entered[-1]["message"])
    assert "update-compute-fleet" in str(entered[-1]["message"]) and "START_REQUESTED" in str(
        entered[-1]["message"]
    )
    cluster.head("scancel", job)
    started = time.monotonic()
    cluster.cli("update-compute-fleet", "-n", cluster.name, "--status", "START_REQUESTED")
    left = lambda: any(e["event-type"] == "protected-mode-left" for e in cluster.events())  # noqa: E731
    wait_until(left, 30, "the queue to leave protected mode", interval=0.5)
    _timed("START_REQUESTED -> protected mode left", started, 30)
    time.sleep(4)  # two passes: nothing puts it back
    assert cluster.fleet() == "RUNNING"
    parts = status.parse_partitions(cluster.head("scontrol", "-o", "show", "partition", "bad").stdout)
    assert parts[0].state == "UP"


def test_nodes_shut_themselves_down_when_the_head_daemons_die(cluster: Cluster) -> None:
    assert cluster.instance(STATIC) is not None
    pids = [cluster.pid("supervisor.pid"), cluster.pid("reconciler.pid")]
    for sig in (signal.SIGSTOP, signal.SIGKILL):  # stopped first: neither can revive the other
        for pid in pids:
            os.kill(pid, sig)
    started = time.monotonic()

    def gone() -> bool:
        compute = [i for i in cluster.provider.instances(cluster.name) if i.node_name]
        names = os.listdir("/run/netns")
        return not compute and not [n for n in names if n.startswith(f"corral-{cluster.name}-q1-")]

    try:
        wait_until(gone, WATCHDOG_TIMEOUT_S + 30, "the compute nodes to shut themselves down", interval=0.5)
    except BaseException:
        print([(i.node_name, i.instance_id) for i in cluster.provider.instances(cluster.name)])
        print([n for n in os.listdir("/run/netns") if cluster.name in n])
        for path in sorted(cluster.layout.log.glob("node-*.log")):
            print(f"== {path.name}\n{path.read_text()[-1500:]}")
        raise
    _timed("head daemons killed -> every compute node shut down", started, WATCHDOG_TIMEOUT_S + 30)
    log = (cluster.layout.log / f"node-{STATIC}.log").read_text()
    assert "heartbeat is stale" in log and "shut down" in log

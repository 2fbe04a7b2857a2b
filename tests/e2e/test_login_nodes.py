"""Login nodes (``LoginNodes/Pools``) on the local provider, end to end, through the CLI: a cluster
with two pools whose nodes boot from the official image (``CORRAL_LOCAL_NODE_ROOT=image``).

From a login node (``corral ssh --login-pool``, round robin) the default user submits a job that
runs on a powered-down dynamic node and writes to /home; the login node runs sshd and no Slurm
daemon; its pool's custom action ran with the login-node environment; a killed login node is
replaced by the reconciler; update-cluster scales one pool out and the other in, whose retiring
node's logged-in user gets a ``wall`` warning and which stops only after its GracetimePeriod;
delete leaves nothing. Every wait is on Corral's or Slurm's own state."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from corral.daemons.events import read_events
from corral.providers.local import LocalProvider
from corral.runtime.heartbeat import stale_after_s
from support.clusters import archive_address, archive_probe

from .conftest import leftovers, unique_name, wait_until

pytestmark = pytest.mark.e2e

GRACE_S = 8
CONFIG = """\
Region: us-east-1
Image:
  Os: alinux2023
HeadNode:
  InstanceType: c5.large
  Networking:
    SubnetId: subnet-0123456789abcdef0
Scheduling:
  Scheduler: slurm
  SlurmQueues:
    - Name: q1
      ComputeResources:
        - Name: c1
          InstanceType: c5.large
          MinCount: 0
          MaxCount: 2
      Networking:
        SubnetIds: [subnet-0123456789abcdef0]
LoginNodes:
  Pools:
    - Name: users
      InstanceType: t3.medium
      Count: {users}
      GracetimePeriod: 3
      Networking:
        SubnetIds: [subnet-0123456789abcdef0]
      CustomActions:
        OnNodeConfigured:
          Script: {script}
          Args: [hello]
{updated}    - Name: ops
      InstanceType: t3.small
      Count: {ops}
      Networking:
        SubnetIds: [subnet-0123456789abcdef0]
"""
ACTION = """#!/bin/sh
. /etc/parallelcluster/cfnconfig
echo "$cfn_node_type $cfn_login_pool_name $CORRAL_NODE_TYPE $CORRAL_LOGIN_POOL $1" > /var/tmp/configured
"""


def _corral(
    provider: LocalProvider, *args: str, stdin: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    environ = {
        **os.environ,
        "CORRAL_STATE_DIR": str(provider.state_dir),
        "CORRAL_LOCAL_NODE_ROOT": "image",
        **env,
    }
    corral = Path(sys.executable).with_name("corral")
    return subprocess.run(
        [str(corral), *args], env=environ, capture_output=True, text=True, input=stdin, timeout=300
    )


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _pools(provider: LocalProvider, name: str) -> dict[str, dict[str, Any]]:
    described = json.loads(_ok(_corral(provider, "describe-cluster", "-n", name)))
    return {p["poolName"]: p for p in described.get("loginNodes", [])}


def _active(provider: LocalProvider, name: str, **healthy: int) -> bool:
    pools = _pools(provider, name)
    return all(
        pools[pool]["status"] == "active" and pools[pool]["healthyNodes"] == count
        for pool, count in healthy.items()
    )


def _login_instances(provider: LocalProvider, name: str) -> dict[str, str]:
    """private address -> instance id of the running login nodes."""
    listed = _ok(_corral(provider, "describe-cluster-instances", "-n", name, "--node-type", "LoginNode"))
    return {i["privateIpAddress"]: i["instanceId"] for i in json.loads(listed)["instances"]}


@pytest.fixture(scope="module")
def cluster(provider: LocalProvider, tmp_path_factory: pytest.TempPathFactory) -> Any:
    work = tmp_path_factory.mktemp("login")
    script = work / "configured.sh"
    script.write_text(ACTION)
    script.chmod(0o755)
    config = work / "cluster.yaml"
    config.write_text(CONFIG.format(users=2, ops=1, script=script, updated=""))
    name = unique_name("lg")
    created = _corral(provider, "create-cluster", "-c", str(config), "-n", name, "--wait")
    try:
        _ok(created)
        # the pools serve once their nodes' agents are done (pcluster: the load balancer's health)
        wait_until(lambda: _active(provider, name, users=2, ops=1), 120, "both login pools active")
        yield name, work, script
    finally:
        _ok(_corral(provider, "delete-cluster", "-n", name, "--wait"))
        assert leftovers(provider, name) == []


def test_a_login_node_submits_jobs_that_run_on_dynamic_nodes_and_write_home(
    provider: LocalProvider, cluster: Any
) -> None:
    name, _work, _script = cluster
    job = "#!/bin/sh\n#SBATCH -o job-%j.out\nhostname > $HOME/from-the-job.txt\n"
    out = _ok(
        _corral(
            provider, "ssh", "-n", name, "--login-pool", "users", "--", "sbatch --parsable --wait", stdin=job
        )
    )
    assert out.strip().isdigit()
    # another node of the pool sees what the job wrote: /home is the cluster's, shared
    seen = _ok(
        _corral(provider, "ssh", "-n", name, "--login-pool", "users", "--", "cat from-the-job.txt; id -un")
    )
    node, user = seen.split()
    assert node.startswith("q1-dy-c1-") and user == "ec2-user"
    # the Slurm clients work from there: srun, squeue; sacct answers as Slurm does without a database
    clients = _corral(
        provider, "ssh", "-n", name, "--login-pool", "ops", "--", "srun -N1 hostname; squeue -h; sacct"
    )
    assert clients.stdout.splitlines()[0].startswith("q1-dy-c1-")
    assert "Slurm accounting storage is disabled" in clients.stderr


def test_login_nodes_run_sshd_and_no_slurm_daemon_and_ran_their_pools_action(
    provider: LocalProvider, cluster: Any
) -> None:
    name, _work, _script = cluster
    check = "hostname; ps -e -o comm= | sort -u | tr '\\n' ' '; echo; cat /var/tmp/configured"
    first = _ok(_corral(provider, "ssh", "-n", name, "--login-pool", "users", "--", check)).splitlines()
    second = _ok(_corral(provider, "ssh", "-n", name, "--login-pool", "users", "--", check)).splitlines()
    assert {first[0], second[0]} == {"ip-" + a.replace(".", "-") for a in _users_addresses(provider, name)}
    for lines in (first, second):
        daemons = lines[1].split()
        assert "sshd" in daemons and not {"slurmd", "slurmctld", "munged"} & set(daemons)
        assert lines[2] == "LoginNode users LoginNode users hello"
    ops = _ok(
        _corral(
            provider,
            "ssh",
            "-n",
            name,
            "--login-pool",
            "ops",
            "--",
            "test -e /var/tmp/configured || echo none",
        )
    )
    assert ops.strip() == "none"  # the users pool's action is not the ops pool's
    listed = json.loads(
        _ok(_corral(provider, "describe-cluster-instances", "-n", name, "--node-type", "LoginNode"))
    )
    assert sorted(i["instanceType"] for i in listed["instances"]) == ["t3.medium", "t3.medium", "t3.small"]
    assert {i["nodeType"] for i in listed["instances"]} == {"LoginNode"}


def test_a_login_node_reaches_the_archive_through_the_clusters_nat(
    provider: LocalProvider, cluster: Any
) -> None:
    """A user on a login node installs what they need (pip, apt) as behind a NAT gateway."""
    name, _work, _script = cluster
    address = archive_address()
    probe = "bash -c " + shlex.quote(archive_probe(address))
    reached = _corral(provider, "ssh", "-n", name, "--login-pool", "ops", "--", probe)
    assert _ok(reached).startswith("HTTP/"), reached.stdout + reached.stderr


def _users_addresses(provider: LocalProvider, name: str) -> list[str]:
    layout = provider.layout(name)
    return [
        json.loads(p.read_text())["address"] for p in (layout.root / "login").glob("login-users-*/slot.json")
    ]


def test_a_killed_login_node_is_replaced(provider: LocalProvider, cluster: Any) -> None:
    name, _work, _script = cluster
    directory = provider.layout(name).root / "login" / "login-ops-1"
    before = _login_instances(provider, name)
    address = json.loads((directory / "slot.json").read_text())["address"]
    # a session first, so the head holds a fresh ARP entry for the node: its replacement, at the same
    # address, must answer at once (with a random interface address it timed out after 127 s)
    _ok(_corral(provider, "ssh", "-n", name, "--login-pool", "ops", "--", "true"))
    os.kill(int((directory / "holder.pid").read_text()), 9)  # the machine's init: the whole node dies
    killed = time.monotonic()

    def replaced() -> bool:
        now = _login_instances(provider, name)
        return address in now and now[address] != before[address] and _active(provider, name, ops=1)

    # the reconciler notices on its next pass; the new node boots like the first one did
    wait_until(replaced, stale_after_s() + 120, "the killed login node to be replaced")
    print(f"login node replaced and serving {time.monotonic() - killed:.1f} s after it was killed")
    out = _ok(
        _corral(provider, "ssh", "-n", name, "--login-pool", "ops", "--", "hostname; squeue -h | wc -l")
    )
    assert out.split()[0] == "ip-" + address.replace(".", "-")


def test_count_changes_through_update_cluster_scale_the_pools(provider: LocalProvider, cluster: Any) -> None:
    name, work, script = cluster
    layout = provider.layout(name)
    retiring = layout.root / "login" / "login-users-2"
    address = json.loads((retiring / "slot.json").read_text())["address"]
    # a user logged in on the node that scale-in removes (a terminal: wall writes to terminals)
    session = _session_on(provider, name, "ip-" + address.replace(".", "-"), work)
    try:
        config = work / "smaller.yaml"
        updated = f"        OnNodeUpdated:\n          Script: {script}\n          Args: [updated]\n"
        config.write_text(CONFIG.format(users=1, ops=2, script=script, updated=updated))
        update_started = time.time()
        updated = _corral(
            provider,
            "update-cluster",
            "-n",
            name,
            "-c",
            str(config),
            "--wait",
            CORRAL_LOCAL_LOGIN_GRACETIME_SECONDS=str(GRACE_S),
        )
        _ok(updated)
        # the node's end of grace, as the update recorded it when it warned the users (read while
        # the node still runs: it stops GRACE_S seconds after the warning at the earliest)
        retire_at = float((retiring / "retire_at").read_text())
        # the user was warned by the update, and the node stops only once its grace period passed
        wait_until(lambda: "is being removed from its pool" in (work / "session.txt").read_text(), 30, "wall")
        wait_until(lambda: not retiring.exists(), GRACE_S + stale_after_s() + 60, "the retired node to stop")
        warned = _event_time(
            json.loads(_ok(_corral(provider, "get-cluster-stack-events", "-n", name)))["events"],
            "login node login-users-2 leaves its pool",
        ).timestamp()
        stopped = _event_time(
            read_events(layout.log / "reconciler.events"), "login node login-users-2 stopped"
        ).timestamp()
        # the grace counts from the warning: decided during the update, recorded before its event
        # (an event is written once the pass that made it ends, so events alone cannot be compared)
        assert update_started <= retire_at - GRACE_S <= warned
        assert stopped >= retire_at
        wait_until(lambda: _active(provider, name, users=1, ops=2), 120, "users at 1 node, ops at 2")
        assert address not in _login_instances(provider, name)
        # the serving node of the pool ran the pool's new OnNodeUpdated script during the update
        ran = _ok(
            _corral(provider, "ssh", "-n", name, "--login-pool", "users", "--", "cat /var/tmp/configured")
        )
        assert ran.strip() == "LoginNode users LoginNode users updated"
    finally:
        session.kill()
        session.wait()


def _event_time(events: list[dict[str, Any]], starts: str) -> datetime:
    """When the first event whose message or reason starts with ``starts`` happened."""
    for event in events:
        text = str(event.get("message") or event.get("resourceStatusReason") or "")
        if text.startswith(starts):
            return datetime.fromisoformat(str(event.get("timestamp") or event.get("datetime")))
    raise AssertionError(f"no event {starts!r} in {events}")


def _session_on(provider: LocalProvider, name: str, hostname: str, work: Path) -> subprocess.Popen[str]:
    """An interactive (pty) session on the pool's node ``hostname``: round robin, so at most as many
    tries as the pool has nodes."""
    for _ in range(4):
        out = work / "session.txt"
        handle = out.open("w")
        argv = [str(Path(sys.executable).with_name("corral")), "ssh", "-n", name, "--login-pool", "users"]
        argv += ["-tt", "--", "hostname; sleep 600"]
        env = {**os.environ, "CORRAL_STATE_DIR": str(provider.state_dir)}
        session = subprocess.Popen(
            argv, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.PIPE, text=True, env=env
        )

        def started(out: Path = out, session: subprocess.Popen[str] = session) -> bool:
            return bool(out.read_text().strip()) or session.poll() is not None

        wait_until(started, 60, "the session to start")
        if out.read_text().split()[:1] == [hostname]:
            return session
        session.kill()
        session.wait()
    pytest.fail(f"no session reached {hostname}")


def test_the_first_pool_added_by_update_cluster_works_as_one_created_with_the_cluster(
    provider: LocalProvider, tmp_path: Path
) -> None:
    """A cluster created without LoginNodes gets its first pool by update-cluster: the pool's node
    serves the default user, whose job runs on a compute node as that user and writes to /home,
    and the head node (booted before the pool existed) knows the same account."""
    script = tmp_path / "configured.sh"
    script.write_text(ACTION)
    script.chmod(0o755)
    config = tmp_path / "cluster.yaml"
    config.write_text(CONFIG.split("LoginNodes:")[0])
    name = unique_name("lgu")
    _ok(_corral(provider, "create-cluster", "-c", str(config), "-n", name, "--wait"))
    try:
        assert _pools(provider, name) == {}
        added = tmp_path / "with-pool.yaml"
        added.write_text(CONFIG.format(users=1, ops=0, script=script, updated=""))
        _ok(_corral(provider, "update-cluster", "-n", name, "-c", str(added), "--wait"))
        wait_until(lambda: _active(provider, name, users=1), 120, "the added pool active")
        job = "#!/bin/sh\n#SBATCH -o job-%j.out\necho $(hostname) $(id -un) > $HOME/added-pool.txt\n"
        _ok(
            _corral(
                provider,
                "ssh",
                "-n",
                name,
                "--login-pool",
                "users",
                "--",
                "sbatch --parsable --wait",
                stdin=job,
            )
        )
        node, user = _ok(
            _corral(provider, "ssh", "-n", name, "--login-pool", "users", "--", "cat added-pool.txt")
        ).split()
        assert node.startswith("q1-dy-c1-") and user == "ec2-user"
        # the head's side: the same account, the same home
        on_head = _ok(_corral(provider, "ssh", "-n", name, "--", "id -un; cat added-pool.txt")).split()
        assert on_head == ["ec2-user", node, user]
    finally:
        _ok(_corral(provider, "delete-cluster", "-n", name, "--wait"))
        assert leftovers(provider, name) == []

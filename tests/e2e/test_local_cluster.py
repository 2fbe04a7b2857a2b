"""A real local cluster end to end: two queues, static and dynamic nodes, jobs, scale-down,
fleet stop/start, custom actions, shared storage, and a delete that leaves nothing behind."""

from __future__ import annotations

import ipaddress
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from corral.plan import CustomActionSpec, StorageSpec
from corral.providers.base import InstanceState, NodeRole
from corral.providers.local import LocalProvider
from corral.slurm import fleet, status
from support.plans import plan

from .conftest import delete_and_check, leftovers, unique_name, wait_until

pytestmark = pytest.mark.e2e


class Cluster:
    def __init__(
        self, provider: LocalProvider, name: str, events: list[tuple[str, str]], shared: Path
    ) -> None:
        self.provider, self.name, self.events, self.shared = provider, name, events, shared
        self.plan = plan(name)

    def run(self, *argv: str, stdin: str | None = None, check: bool = True) -> str:
        result = self.provider.run_on_head(self.name, list(argv), stdin=stdin, timeout=60)
        if check:
            assert result.returncode == 0, f"{argv}: {result.stderr}"
        return result.stdout

    def nodes(self) -> dict[str, status.NodeState]:
        return {n.name: n for n in status.parse_nodes(self.run(*status.SCONTROL_NODES_ARGV))}

    def fleet(self) -> fleet.FleetStatus:
        parts = status.parse_partitions(self.run(*status.SCONTROL_PARTITIONS_ARGV))
        return fleet.fleet_status(parts, list(self.nodes().values()))

    def job_state(self, job_id: str) -> str:
        return self.run("squeue", "-h", "-j", job_id, "-o", "%T", check=False).strip()


@pytest.fixture(scope="module")
def cluster(provider: LocalProvider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    name = unique_name("e2e")
    scripts = tmp_path_factory.mktemp("scripts")
    (scripts / "start.sh").write_text(
        '#!/bin/sh\nmkdir -p /home/actions\necho "$1" > /home/actions/$(hostname)\n'
    )
    (scripts / "head.sh").write_text("#!/bin/sh\necho configured > /home/actions/head-configured\n")
    mount_dir = f"/corral-e2e-{name}"
    (scripts / "include.conf").write_text("MaxArraySize=777\n")
    the_plan = plan(
        name,
        queues=(("q1", "c1", 1, 3), ("q2", "c2", 0, 3), ("gpu", "g4", 0, 1)),
        slurm_settings=(("MaxJobCount", "12345"),),
        include_file=str(scripts / "include.conf"),
        storage=(StorageSpec("data", "Efs", mount_dir, "Retain"),),
        head_actions=(CustomActionSpec("OnNodeConfigured", str(scripts / "head.sh")),),
        queue_actions=(
            ("q1", (CustomActionSpec("OnNodeConfigured", str(scripts / "start.sh"), ("hello",)),)),
        ),
        partition_settings=(("MaxNodes", "3"),),
    )
    events: list[tuple[str, str]] = []
    started = time.monotonic()
    try:
        head = provider.create(the_plan, on_event=lambda r, m: events.append((r, m)))
        elapsed = time.monotonic() - started
        print(f"create took {elapsed:.2f} s")
        assert head.role is NodeRole.HEAD and head.state is InstanceState.RUNNING
        c = Cluster(provider, name, events, Path(provider.layout(name).root / "shared" / "home"))
        c.plan = the_plan
        yield c
    finally:
        retained = provider.layout(name).retained_dir / "data"
        delete_and_check(provider, name)
        assert retained.is_dir(), "Retain storage must survive the delete"
        assert not os.path.exists(mount_dir), "the mount dir Corral created must be removed"
        provider.delete(name, retain_storage=False)
        assert not retained.exists()


def test_create_brings_up_head_and_static_node(cluster: Cluster) -> None:
    assert any("slurmctld is up" in m for _, m in cluster.events)
    instances = cluster.provider.instances(cluster.name)
    roles = sorted((i.role.value, i.node_name or "") for i in instances)
    assert roles == [("Compute", "q1-st-c1-1"), ("HeadNode", "")]
    for instance in instances:
        assert instance.instance_id.startswith("i-") and len(instance.instance_id) == 19
        assert ipaddress.ip_address(instance.private_ip) in ipaddress.ip_network("10.240.0.0/12")
    netns = set(os.listdir("/run/netns"))
    assert {f"corral-{cluster.name}-head", f"corral-{cluster.name}-q1-st-c1-1"} <= netns
    assert f"corral-{cluster.name}-q1-dy-c1-1" not in netns
    nodes = cluster.nodes()
    assert nodes["q1-st-c1-1"].ready and nodes["q1-dy-c1-1"].powered_down
    assert cluster.run("hostname").strip() == "head"
    assert "MaxNodes=3" in cluster.run("scontrol", "show", "partition", "q1")
    # custom actions: OnNodeConfigured on the static q1 node (with its argument) and on the head
    assert (cluster.shared / "actions" / "q1-st-c1-1").read_text() == "hello\n"
    assert (cluster.shared / "actions" / "head-configured").read_text() == "configured\n"


JOB = """#!/bin/bash
#SBATCH -N2 -p q2 -o /home/jobs/%j.out
srun -l hostname
for other in $(scontrol show hostnames "$SLURM_JOB_NODELIST"); do
  if [ "$other" != "$(hostname)" ]; then
    timeout 5 bash -c "</dev/tcp/$other/6818" && echo "$(hostname) reaches $other"
  fi
done
srun bash -c 'echo "written by $(hostname)" > /home/jobs/out-$SLURM_JOB_ID-$(hostname)'
"""


def test_job_on_two_dynamic_nodes_sees_the_other_and_writes_shared_home(cluster: Cluster) -> None:
    cluster.run("mkdir", "-p", "/home/jobs")
    cluster.run("sh", "-c", "cat > /home/jobs/job.sh", stdin=JOB)
    submitted = time.monotonic()
    job_id = cluster.run("sbatch", "--parsable", "--chdir=/home/jobs", "/home/jobs/job.sh").strip()
    wait_until(
        lambda: cluster.job_state(job_id) in ("RUNNING", "COMPLETING", ""), 30, "the job to start", 0.05
    )
    print(f"sbatch -> start on powered-down nodes: {time.monotonic() - submitted:.2f} s")
    wait_until(lambda: cluster.job_state(job_id) == "", 60, "the job to finish")
    jobs = cluster.shared / "jobs"
    output = (jobs / f"{job_id}.out").read_text()
    assert "q2-dy-c2-1" in output and "q2-dy-c2-2" in output
    assert "reaches q2-dy-c2-" in output, output
    written = sorted(p.name for p in jobs.glob(f"out-{job_id}-*"))
    assert written == [f"out-{job_id}-q2-dy-c2-1", f"out-{job_id}-q2-dy-c2-2"]
    assert (jobs / written[0]).read_text() == "written by q2-dy-c2-1\n"
    # the q2 nodes run no custom action: only q1's static node wrote an action marker
    assert not (cluster.shared / "actions" / "q2-dy-c2-1").exists()


def test_dynamic_nodes_power_down_after_idle(cluster: Cluster) -> None:
    job_id = cluster.run(
        "sbatch", "--parsable", "-N1", "-p", "q1", "-C", "dynamic", "--wrap", "hostname"
    ).strip()
    wait_until(lambda: cluster.job_state(job_id) == "", 60, "the job to finish")
    launched = {i.node_name for i in cluster.provider.instances(cluster.name) if i.node_name}
    assert any(name.startswith("q1-dy-c1-") for name in launched)

    def all_dynamic_down() -> bool:
        nodes = cluster.nodes()
        return all(n.powered_down and not n.powering_down for name, n in nodes.items() if "-dy-" in name)

    wait_until(all_dynamic_down, 40, "idle dynamic nodes to power down")
    remaining = {i.node_name for i in cluster.provider.instances(cluster.name) if i.node_name}
    assert remaining == {"q1-st-c1-1"}
    assert not [ns for ns in os.listdir("/run/netns") if ns.startswith(f"corral-{cluster.name}-q2-")]
    assert cluster.nodes()["q1-st-c1-1"].ready  # static nodes are never powered down for idleness


def test_stop_and_start_the_fleet(cluster: Cluster) -> None:
    for argv in fleet.stop_fleet_commands(cluster.plan):
        cluster.run(*argv)
    wait_until(lambda: cluster.fleet() is fleet.FleetStatus.STOPPED, 40, "the fleet to stop")
    assert [i.role for i in cluster.provider.instances(cluster.name)] == [NodeRole.HEAD]
    refused = cluster.provider.run_on_head(cluster.name, ["sbatch", "-p", "q1", "--wrap", "true"])
    job_id = refused.stdout.strip()
    assert refused.returncode != 0 or cluster.job_state(job_id.split()[-1]) == "PENDING"
    cluster.run("scancel", "--user=root")
    for argv in fleet.start_fleet_commands(cluster.plan):
        cluster.run(*argv)
    wait_until(lambda: cluster.fleet() is fleet.FleetStatus.RUNNING, 40, "the fleet to start")
    names = {i.node_name for i in cluster.provider.instances(cluster.name)}
    assert names == {None, "q1-st-c1-1"}
    job = cluster.run("srun", "-N1", "-p", "q1", "hostname", check=True)
    assert job.startswith("q1-")


def test_slurm_settings_include_file_and_gpus(cluster: Cluster) -> None:
    config = cluster.run("scontrol", "show", "config")
    assert re.search(r"MaxJobCount\s+= 12345", config) and re.search(r"MaxArraySize\s+= 777", config)
    out = cluster.run(
        "srun", "-p", "gpu", "--gres=gpu:t4:2", "bash", "-c", "echo $(hostname) $CUDA_VISIBLE_DEVICES"
    )
    assert out.strip() == "gpu-dy-g4-1 0,1"
    assert "Gres=gpu:t4:4" in cluster.run("scontrol", "show", "node", "gpu-dy-g4-1")


def test_two_clusters_with_the_same_queues_at_once(cluster: Cluster, provider: LocalProvider) -> None:
    other = unique_name("e2e2")
    provider.create(plan(other, queues=(("q1", "c1", 1, 2),)), on_event=lambda r, m: None)
    try:
        first_subnet = (provider.layout(cluster.name).subnet_file).read_text().strip()
        second_subnet = (provider.layout(other).subnet_file).read_text().strip()
        assert first_subnet != second_subnet
        here = cluster.run("srun", "-N1", "-w", "q1-st-c1-1", "hostname").strip()
        there = provider.run_on_head(other, ["srun", "-N1", "-w", "q1-st-c1-1", "cat", "/etc/hosts"]).stdout
        assert here == "q1-st-c1-1" and second_subnet.split("/")[0].rsplit(".", 2)[0] in there
        assert f"corral-{other}-q1-st-c1-1" in os.listdir("/run/netns")
    finally:
        delete_and_check(provider, other)
    # the first cluster is untouched
    assert cluster.nodes()["q1-st-c1-1"].ready
    assert leftovers(provider, cluster.name)  # sanity: the check does see a live cluster


def test_commands_as_another_user_and_the_shell_argv(cluster: Cluster) -> None:
    as_nobody = cluster.provider.run_on_head(cluster.name, ["id", "-un"], user="nobody")
    assert (as_nobody.returncode, as_nobody.stdout.strip()) == (0, "nobody")
    out = cluster.provider.run_on_head(
        cluster.name, ["srun", "-p", "q1", "-w", "q1-st-c1-1", "id", "-un"], user="nobody", timeout=60
    )
    assert out.stdout.strip() == "nobody", out.stderr
    # pcluster's `ssh USER@HEAD ARGS`: the remote command is one shell string
    argv = cluster.provider.head_shell_argv(cluster.name, ["--", 'echo "$(hostname) $SLURM_CONF"'])
    shell = subprocess.run(argv, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert shell.stdout.split() == ["head", str(cluster.provider.slurm_conf_path(cluster.name))]
    # the head's mount namespace has the shared home; the host's /home is untouched
    assert "actions" in cluster.run("ls", "/home").split()
    assert not (Path("/home") / "actions").exists()

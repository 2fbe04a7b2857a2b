"""Slurm accounting end to end: Database/Uri served by a real MariaDB stand-in and slurmdbd on the head
node; records survive the cluster, are kept apart per cluster, and survive the database's and
slurmdbd's deaths. Clusters are created through the CLI, each test with its own state directory."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from corral.providers.local import LocalProvider
from corral.providers.local._proc import read_pid
from e2e.conftest import Corral, leftovers, unique_name, wait_until

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
URI = "acct-db.cluster-abc123.us-east-1.rds.amazonaws.com:3306"
ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:slurmdb-AbCdEf"
CONFIG = """\
Region: us-east-1
Image: {{Os: alinux2023}}
HeadNode:
  InstanceType: c5.xlarge
  Networking: {{SubnetId: subnet-0123456789abcdef0}}
Scheduling:
  Scheduler: slurm
  SlurmSettings:
    Database:
      Uri: {uri}
      UserName: slurm_admin
      PasswordSecretArn: {arn}
  SlurmQueues:
    - Name: cpu
      ComputeResources:
        - {{Name: c5, InstanceType: c5.xlarge, MinCount: 1, MaxCount: 2}}
      Networking: {{SubnetIds: [subnet-0123456789abcdef0]}}
"""


class Cli:
    """The harness's ``Corral`` over ``state`` without AWS credentials unless ``env`` gives them;
    ``create`` makes a cluster of CONFIG with that Database and returns create-cluster's JSON."""

    def __init__(self, state: Path, tmp: Path, env: dict[str, str] | None = None) -> None:
        self.state, self.tmp = state, tmp
        unset = [k for k in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_PROFILE") if k not in (env or {})]
        no_credentials = {"AWS_SHARED_CREDENTIALS_FILE": str(tmp / "no-credentials")}
        self.corral = Corral(state, {**(env or {}), **no_credentials}, timeout=600, unset=unset)

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.corral(*args, check=check)

    def create(self, name: str, uri: str = URI, arn: str = ARN, check: bool = True) -> dict[str, object]:
        done = self.corral.create(name, CONFIG.format(uri=uri, arn=arn), check=check)
        doc: dict[str, object] = json.loads(done.stdout)
        return doc

    def head(self, name: str, *argv: str) -> str:
        # a real SSH session joins the command's words: quote them (root: accounting's admin user)
        return self("ssh", "-n", name, "--user", "root", "--", shlex.join(argv)).stdout


@pytest.fixture
def cli(prerequisites: None, tmp_path: Path) -> Iterator[Cli]:
    state = tmp_path / "state"
    yield Cli(state, tmp_path)
    teardown(state)


def teardown(state: Path) -> None:
    """Delete what a test left (clusters, then stand-ins) and check nothing of them remains."""
    Corral(state).sweep()
    provider = LocalProvider(state)
    for standin in provider.databases():
        provider.delete_database(standin.uri, force=True)
    assert provider.databases() == []
    assert not [ns for ns in os.listdir("/run/netns") if ns.startswith("corraldb-")] or all(
        not (state / "databases" / ns.removeprefix("corraldb-")).exists()
        for ns in os.listdir("/run/netns")
        if ns.startswith("corraldb-")
    )


def sacct(cli: Cli, name: str, job: str) -> dict[str, str]:
    """The job's accounting record (from the database, through slurmdbd), once it has ended."""
    fields = "JobID,User,Account,Partition,NodeList,Elapsed,ExitCode,State,AllocTRES"
    out = cli.head(name, "sacct", "-a", "-X", "-n", "-P", "-j", job, "-o", fields, "-S", "2000-01-01")
    for line in out.splitlines():
        values = dict(zip(fields.split(","), line.split("|"), strict=True))
        if values["JobID"] == job:
            return values
    return {}


def finished_record(cli: Cli, name: str, job: str, timeout_s: float = 120) -> dict[str, str]:
    found = wait_until(
        # slurmctld sends the job's start and end separately: wait for the end, with its partition
        lambda: (
            (r := sacct(cli, name, job)) and r["State"] not in ("PENDING", "RUNNING") and r["Partition"] and r
        ),
        timeout_s,
        f"job {job}'s final accounting record",
        interval=0.5,
    )
    assert isinstance(found, dict)
    return found


def submit(cli: Cli, name: str, command: str) -> str:
    return cli.head(name, "sbatch", "--parsable", "-p", "cpu", "--wrap", command).strip()


def test_jobs_are_accounted_and_outlive_the_cluster(cli: Cli) -> None:
    name = unique_name("acc")
    assert cli.create(name)["clusterStatus"] == "CREATE_COMPLETE"
    job = submit(cli, name, "echo accounted; exit 3")
    record = finished_record(cli, name, job)
    assert record["User"] == "root" and record["Account"] == "root" and record["Partition"] == "cpu"
    assert record["NodeList"].startswith("cpu-") and record["ExitCode"] == "3:0"
    assert record["State"] == "FAILED" and "cpu=" in record["AllocTRES"] and record["Elapsed"]
    assert "root" in cli.head(name, "sshare", "-a", "-n", "-P")  # fair share from the usage
    assert name in cli.head(name, "sacctmgr", "-n", "-P", "show", "cluster", "format=cluster")
    assert "Cluster" in cli.head(name, "sreport", "cluster", "utilization")

    cli("delete-cluster", "-n", name, "--wait")
    listed = json.loads(cli("list-databases").stdout)["databases"]
    assert [(d["uri"], d["status"], d["usedBy"]) for d in listed] == [(URI, "RUNNING", [])]

    assert cli.create(name)["clusterStatus"] == "CREATE_COMPLETE"  # the same Database again
    assert finished_record(cli, name, job)["ExitCode"] == "3:0"  # the deleted cluster's job is still there


def test_two_clusters_sharing_a_uri_keep_their_own_records(cli: Cli) -> None:
    first, second = unique_name("acca"), unique_name("accb")
    cli.create(first)
    cli.create(second)
    job_a = submit(cli, first, "true")
    job_b = submit(cli, second, "true")
    finished_record(cli, first, job_a)
    finished_record(cli, second, job_b)
    listed = json.loads(cli("list-databases").stdout)["databases"]
    assert len(listed) == 1 and sorted(listed[0]["usedBy"]) == sorted([first, second])
    # one server, a database each (DatabaseName defaults to the cluster's name), records apart
    key = Path(listed[0]["path"]).name
    databases = subprocess.run(
        ["mariadb", "--no-defaults", f"--socket=/run/corral/db-{key}/mysqld.sock", "-uroot", "-N", "-e",
         "SHOW DATABASES"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert first.replace("-", "_") in databases and second.replace("-", "_") in databases
    for name, job in ((first, job_a), (second, job_b)):
        assert cli.head(name, "sacctmgr", "-n", "-P", "show", "cluster", "format=cluster").split() == [name]
        mine = cli.head(name, "sacct", "-a", "-X", "-n", "-P", "-o", "Cluster,JobID", "-S", "2000-01-01")
        assert f"{name}|{job}" in mine.split() and all(line.startswith(name + "|") for line in mine.split())


def test_records_survive_the_database_and_slurmdbd_dying(cli: Cli) -> None:
    name = unique_name("accf")
    cli.create(name)
    standin = Path(json.loads(cli("list-databases").stdout)["databases"][0]["path"])
    key = standin.name
    server_pid = read_pid(Path(f"/run/corral/db-{key}/mysqld.pid"))
    assert server_pid
    job = submit(cli, name, "sleep 3")
    os.kill(server_pid, signal.SIGKILL)  # the database dies while the job runs
    wait_until(
        lambda: (p := read_pid(Path(f"/run/corral/db-{key}/mysqld.pid"))) and p != server_pid,
        120,
        "mysqld_safe to restart the database",
    )
    # a record slurmdbd could not store while the database was down arrives when slurmctld sends it
    # again, on its own retry timers: more than 120 s on a loaded 2-core machine (seen in CI)
    assert finished_record(cli, name, job, timeout_s=300)["State"] == "COMPLETED"

    cluster = LocalProvider(cli.state).layout(name)
    dbd_pid = read_pid(cluster.run_dir / "slurmdbd.pid")
    assert dbd_pid
    job2 = submit(cli, name, "sleep 2")
    os.kill(dbd_pid, signal.SIGKILL)  # slurmdbd dies: the head's supervisor restarts it
    wait_until(
        lambda: (
            (p := read_pid(cluster.run_dir / "slurmdbd.pid"))
            and p != dbd_pid
            and os.path.exists(f"/proc/{p}")
        ),
        120,
        "the supervisor to restart slurmdbd",
    )
    # slurmctld kept it and sends it to the restarted slurmdbd
    assert finished_record(cli, name, job2, timeout_s=300)["State"] == "COMPLETED"


def test_secrets_manager_passwords_and_bad_secrets(prerequisites: None, tmp_path: Path) -> None:
    import boto3
    from moto import server as moto_server

    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    state = tmp_path / "state"
    try:
        host, port = server.get_host_and_port()
        aws = {
            "AWS_ENDPOINT_URL": f"http://{host}:{port}",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        sm = boto3.client("secretsmanager", endpoint_url=aws["AWS_ENDPOINT_URL"], region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip
        good = sm.create_secret(Name="good", SecretString="s3cret-one")["ARN"]
        wrong = sm.create_secret(Name="wrong", SecretString="not-the-password")["ARN"]
        empty = sm.create_secret(Name="empty", SecretString=" ")["ARN"]
        cli = Cli(state, tmp_path, aws)
        first = unique_name("accs")
        assert cli.create(first, arn=good)["clusterStatus"] == "CREATE_COMPLETE"

        refused = cli.create(unique_name("accw"), arn=wrong, check=False)
        assert refused["clusterStatus"] == "CREATE_FAILED"
        reason = json.dumps(refused["failures"])
        assert "slurmdbd did not come up" in reason and "Access denied" in reason

        missing = cli.create(unique_name("accm"), arn=good + "-gone", check=False)
        assert "ResourceNotFoundException" in json.dumps(missing["failures"])
        blank = cli.create(unique_name("acce"), arn=empty, check=False)
        assert "is empty" in json.dumps(blank["failures"])
    finally:
        try:
            teardown(state)
        finally:
            server.stop()


# -- ExternalSlurmdbd: a stand-in slurmdbd shared by the clusters that name it -----------------------

EXT_HOST = "slurmdbd.team.internal"
EXT_CONFIG = """\
Region: us-east-1
Image: {{Os: alinux2023}}
HeadNode:
  InstanceType: c5.xlarge
  Networking: {{SubnetId: subnet-0123456789abcdef0}}
Scheduling:
  Scheduler: slurm
  SlurmSettings:
    MungeKeySecretArn: {arn}
    ExternalSlurmdbd: {{Host: {host}, Port: 6819}}
  SlurmQueues:
    - Name: cpu
      ComputeResources:
        - {{Name: c5, InstanceType: c5.xlarge, MinCount: 1, MaxCount: 2}}
      Networking: {{SubnetIds: [subnet-0123456789abcdef0]}}
"""


def test_clusters_naming_one_external_slurmdbd_share_it(prerequisites: None, tmp_path: Path) -> None:
    state = tmp_path / "state"
    cli = Cli(state, tmp_path, env={"CORRAL_LOCAL_NODE_ROOT": "image"})
    provider = LocalProvider(state)

    def create(name: str, arn: str) -> dict[str, object]:
        config = tmp_path / f"{name}.yaml"
        config.write_text(EXT_CONFIG.format(arn=arn, host=EXT_HOST))
        done = cli("create-cluster", "-c", str(config), "-n", name, "--wait", check=False)
        doc: dict[str, object] = json.loads(done.stdout)
        return doc

    def head(name: str, *argv: str) -> str:
        result = provider.run_on_head(name, list(argv), timeout=60)
        assert result.returncode == 0, result.stderr
        return result.stdout

    try:
        first, second, stranger = unique_name("exa"), unique_name("exb"), unique_name("exc")
        assert create(first, ARN)["clusterStatus"] == "CREATE_COMPLETE"
        assert create(second, ARN)["clusterStatus"] == "CREATE_COMPLETE"
        job = head(first, "sbatch", "--parsable", "-p", "cpu", "--wrap", "exit 2").strip()

        def record(on: str, *flags: str) -> list[str]:
            out = head(on, "sacct", "-X", "-n", "-P", *flags, "-j", job, "-o", "JobID,Cluster,State,ExitCode")
            return [line for line in out.splitlines() if line.startswith(f"{job}|")]

        wait_until(lambda: record(first) == [f"{job}|{first}|FAILED|2:0"], 120, "the job's record", 0.5)
        # one slurmdbd holds both clusters: the second sees the first's record when it asks for it
        assert record(second, "-M", first) == [f"{job}|{first}|FAILED|2:0"]
        assert {first, second} <= set(
            head(second, "sacctmgr", "-n", "-P", "show", "cluster", "format=cluster").split()
        )

        refused = create(stranger, ARN + "-other")  # another munge key: that slurmdbd cannot trust it
        assert refused["clusterStatus"] == "CREATE_FAILED"
        assert "uses another munge key" in json.dumps(refused)
        cli("delete-cluster", "-n", stranger, "--wait")
        assert leftovers(provider, stranger) == []

        for name in (first, second):
            cli("delete-cluster", "-n", name, "--wait")
        listed = [d.uri for d in provider.databases()]
        assert listed == [f"slurmdbd://{EXT_HOST}:6819"]  # kept, as the team's slurmdbd outlives clusters
    finally:
        teardown(state)
    assert not (state / "slurmdbds").exists() or list((state / "slurmdbds").iterdir()) == []


def test_an_external_slurmdbd_comes_back_after_a_host_restart(prerequisites: None, tmp_path: Path) -> None:
    """A simulated host restart takes the cluster and the ExternalSlurmdbd stand-in (its machine,
    its MariaDB and their namespace): restore-clusters brings the stand-in back before slurmctld,
    and a job run after the restart reaches sacct through it."""
    from corral.providers.local import _accounting, _extdbd
    from corral.providers.local._proc import kill_pids

    from .test_reboot import _simulate_restart

    state = tmp_path / "state"
    cli = Cli(state, tmp_path, env={"CORRAL_LOCAL_NODE_ROOT": "image"})
    provider = LocalProvider(state)
    name = unique_name("exr")
    config = tmp_path / f"{name}.yaml"
    config.write_text(EXT_CONFIG.format(arn=ARN, host=EXT_HOST))
    try:
        created = json.loads(cli("create-cluster", "-c", str(config), "-n", name, "--wait").stdout)
        assert created["clusterStatus"] == "CREATE_COMPLETE"
        standin = _extdbd.standin_for(state, EXT_HOST, 6819)
        _simulate_restart(provider, name)
        machine = read_pid(standin.machine_dir / "holder.pid")
        assert machine is not None
        kill_pids([machine], grace_s=0)  # the stand-in's instance went down with the host
        _accounting.stop_standin(standin.database)
        assert [d.running for d in provider.databases()] == [False]

        restored = json.loads(cli("restore-clusters").stdout)["restoredClusters"]
        events = json.loads(cli("get-cluster-stack-events", "-n", name).stdout)["events"]
        assert restored == [name], [e.get("resourceStatusReason") for e in events[:3]]
        assert [d.running for d in provider.databases()] == [True]

        def head(*argv: str) -> str:
            result = provider.run_on_head(name, list(argv), timeout=60)
            assert result.returncode == 0, result.stderr
            return result.stdout

        job = head("sbatch", "--parsable", "-p", "cpu", "--wrap", "true").strip()

        def record() -> list[str]:
            out = head("sacct", "-X", "-n", "-P", "-j", job, "-o", "JobID,Cluster,State,ExitCode")
            return [line for line in out.splitlines() if line.startswith(f"{job}|{name}|")]

        # the record of a job submitted after the restart, in the stand-in's database under this
        # cluster's name (its state may still be RUNNING: what counts is that slurmdbd took it)
        wait_until(record, 120, "the job's record after the restart", 0.5)
        cli("delete-cluster", "-n", name, "--wait")
        assert leftovers(provider, name) == []
    finally:
        teardown(state)


def test_a_database_cluster_comes_back_after_a_host_restart(cli: Cli) -> None:
    """A simulated host restart takes the cluster and its Database's MariaDB stand-in; the restore
    brings the stand-in back, writes the head's slurmdbd.conf again (the run dir went with the
    host) and starts slurmdbd before slurmctld: a job run after the restart is accounted."""
    from corral.providers.local import _accounting

    from .test_reboot import _simulate_restart

    name = unique_name("acr")
    assert cli.create(name)["clusterStatus"] == "CREATE_COMPLETE"
    provider = LocalProvider(cli.state)
    (standin,) = provider.databases()
    _simulate_restart(provider, name)
    loaded = _accounting.standin_for(cli.state, standin.uri, 3306)
    _accounting.stop_standin(loaded)
    assert [d.running for d in provider.databases()] == [False]
    restored = json.loads(cli("restore-clusters").stdout)["restoredClusters"]
    events = json.loads(cli("get-cluster-stack-events", "-n", name).stdout)["events"]
    assert restored == [name], [e.get("resourceStatusReason") for e in events[:3]]
    job = submit(cli, name, "true")
    wait_until(lambda: sacct(cli, name, job), 120, "the job's record after the restart", 0.5)

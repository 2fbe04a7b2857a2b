"""The node side of an AWS cluster, offline: the package imports lazily, the user data's files, and
the bootstrap spec the node program builds for the head and compute nodes."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import click
import pytest
from click.testing import CliRunner

from corral.cli import main as cli_main
from corral.config.check import check_cluster_config
from corral.plan import build_plan
from corral.providers.aws._node_setup import CORRAL_COMMAND, PYTHON, REQUESTS_DIR_STEP
from support.aws import Network, aws_endpoint, make_network, rewrite_ids
from support.corpus import (
    CORPUS,
    skip_module_without_shared,
)

skip_module_without_shared()

SIMPLE = (
    CORPUS / "cluster-configs" / "integ__performance_tests__test_simple__test_simple__pcluster.config.yaml"
)
ACCOUNT = "123456789012"  # moto's


def test_importing_the_template_package_loads_no_aws_sdk() -> None:
    code = (
        "import sys, corral.providers.aws.template, corral.providers.aws\n"
        "print(sorted(m for m in ('boto3', 'botocore') if m in sys.modules))\n"
        "from corral.providers.aws import AwsProvider\n"
        "print('botocore' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split("\n")[:2] == ["[]", "True"]


# -- the two halves agree: user data (template) -> node program (provider) -----------------------


@dataclass(frozen=True)
class Moto:
    net: Network
    tmp: Path


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Moto]:
    """moto's state is per process and shared by every moto server in it: another module's key pair
    may be there already (xdist), and this module leaves nothing behind."""
    with pytest.MonkeyPatch.context() as mp, aws_endpoint(mp) as proxy:
        ec2 = boto3.client("ec2")
        ec2.delete_key_pair(KeyName="mykey")
        try:
            yield Moto(make_network(ec2), tmp_path_factory.mktemp("awsnode"))
        finally:
            urllib.request.urlopen(urllib.request.Request(f"{proxy.url}/moto-api/reset", method="POST"))


def render_sub(sub: Any, values: dict[str, str]) -> str:
    """An ``Fn::Sub`` as CloudFormation renders it: ``${Name}`` from ``values`` (pseudo parameters
    and the Sub's own variables, which the test names), ``${!x}`` as the literal ``${x}``."""
    text, variables = (sub, {}) if isinstance(sub, str) else sub
    known = {**values, **{k: values.get(k, f"<{k}>") for k in variables}}

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        return "${" + name[1:] + "}" if name.startswith("!") else known[name]

    return re.sub(r"\$\{([^}]+)\}", one, text)


def heredoc(script: str, marker: str) -> str:
    """The body of the heredoc ``marker`` in ``script`` (quoted or not)."""
    found = re.search(rf"<<'?{marker}'?\n(.*?)\n{marker}\n", script, re.S)
    assert found, f"no heredoc {marker} in the user data"
    return found.group(1)


def user_data_files(resource: dict[str, Any], node_name: str, values: dict[str, str]) -> tuple[str, str]:
    """(cluster.json, bootstrap.json) as the user data writes them, ``$NODE_NAME`` expanded."""
    props = resource["Properties"]
    data = props["UserData"] if "UserData" in props else props["LaunchTemplateData"]["UserData"]
    script = render_sub(data["Fn::Base64"]["Fn::Sub"], values)
    assert script.rstrip().endswith(
        "exec /opt/corral/bin/python -m corral.providers.aws.node /etc/corral/bootstrap.json"
    )
    spec = heredoc(script, "CORRAL_SPEC").replace("$NODE_NAME", node_name)
    return heredoc(script, "CORRAL_CLUSTER"), spec


def test_user_data_files_feed_the_node_program(
    moto: Moto, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The files the rendered user data writes, given to ``node.prepare`` against the artefacts the
    provider's real create uploaded: the node finds its bucket, plan and custom actions."""
    from corral.node.agent import BootstrapSpec
    from corral.providers.aws import AwsProvider
    from corral.providers.aws.node import prepare

    name = "awsnode-ud"
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="my-test-bucket")
    for key in ("post.head.sh", "pre.compute.sh", "post.compute.sh"):
        s3.put_object(
            Bucket="my-test-bucket", Key=f"my-test-bucket/{key}", Body=f"#!/bin/sh\necho {key}\n".encode()
        )
    s3.put_object(Bucket="my-test-bucket", Key="slurm/extra.conf", Body=b"MaxJobCount=12345\n")
    include = "  SlurmSettings:\n    CustomSlurmSettingsIncludeFile: s3://my-test-bucket/slurm/extra.conf\n"
    config = moto.tmp / f"{name}.yaml"
    text = rewrite_ids(SIMPLE.read_text(), moto.net).replace(
        "  Scheduler: slurm\n", "  Scheduler: slurm\n" + include
    )
    config.write_text(text)
    report = check_cluster_config(config, cluster_name=name, target="aws")
    assert report.config is not None
    provider = AwsProvider(tmp_path / "client-state")
    provider.create(build_plan(report.config, cluster_name=name), on_event=lambda r, m: None)
    try:
        bucket = f"corral-{ACCOUNT}-us-east-1"
        main = json.loads(s3.get_object(Bucket=bucket, Key=f"corral/{name}/main.json")["Body"].read())
        values = {
            "AWS::AccountId": ACCOUNT,
            "AWS::Region": "us-east-1",
            "AWS::StackName": name,
            "TableName": "table",
            "HeadPrivateIp": "10.0.0.10",
        }
        monkeypatch.setenv("CORRAL_STATE_DIR", str(tmp_path / "head-state"))  # a node knows nothing
        context_text, spec_text = user_data_files(main["Resources"]["HeadNode"], "ip-10-0-0-10", values)
        context = json.loads(context_text)
        assert context["artefact_bucket"] == bucket and context["node_role"] == "HeadNode"
        (tmp_path / "cluster.json").write_text(context_text)
        (tmp_path / "bootstrap.json").write_text(spec_text)
        head = prepare(
            tmp_path / "bootstrap.json",
            tmp_path / "cluster.json",
            tmp_path / "actions",
            root=tmp_path / "root",
            address="10.0.0.10",
            export_cidrs=("10.0.0.0/16",),
        )
        assert head.node_name == "ip-10-0-0-10"
        assert ("CORRAL_CLUSTER_CONFIG", "/etc/corral/cluster.json") in head.env
        assert [(a.event, a.source) for a in head.actions] == [
            ("OnNodeConfigured", "s3://my-test-bucket/my-test-bucket/post.head.sh")
        ]
        # Slurm's files and services, from the same artefacts
        root = tmp_path / "root"
        uploaded = s3.get_object(Bucket=bucket, Key=f"corral/{name}/munge.key")["Body"].read()
        assert (root / "etc/munge/munge.key").read_bytes() == base64.b64decode(uploaded)
        assert len(base64.b64decode(uploaded)) == 128
        conf = (root / "etc/slurm/slurm.conf").read_text()
        assert f"ClusterName={name}" in conf and "SlurmctldHost=ip-10-0-0-10(10.0.0.10)" in conf
        assert "ResumeProgram=/opt/corral/libexec/resume" in conf
        assert "cloud_reg_addrs,enable_configless" in conf
        included = conf.splitlines()[-1]  # the include file, fetched from S3 by the head
        assert (
            included.startswith("Include ")
            and Path(included.split(" ", 1)[1]).read_text() == "MaxJobCount=12345\n"
        )
        resume = (root / "opt/corral/libexec/resume").read_text()
        assert "CORRAL_PROVIDER=aws" in resume and "-m corral.daemons.resume" in resume
        # the CloudWatch agent, the IMDS guard, the storage steps (the /home export to the VPC),
        # munge, Slurm, the reconciler
        names = [s[0] for s in head.services]
        assert "fetch-config" in head.services[0][2] and head.services[1][:2] == ("/bin/sh", "-ec")
        assert names[-3:] == ["munged", "slurmctld", "setsid"] and set(names[2:-4]) == {PYTHON}
        # the self-delete requests directory on /home, once /home is in place, before munge
        assert head.services[-4] == REQUESTS_DIR_STEP and "chmod 1733" in REQUESTS_DIR_STEP[-1]
        assert head.services[2][-1] == f"{name}.pcluster"  # node names resolve: the search domain
        assert head.services[3][-3:] == ("export", "/home", "10.0.0.0/16")
        assert "corral.daemons.reconciler" in head.services[-1][-1]
        assert ("SLURM_CONF", "/etc/slurm/slurm.conf") in head.env
        nested_key = next(
            k
            for k in s3.list_objects_v2(Bucket=bucket, Prefix=f"corral/{name}/")["Contents"]
            if k["Key"].split("/")[-1] not in ("main.json", "cluster.json", "munge.key")
        )["Key"]
        nested = json.loads(s3.get_object(Bucket=bucket, Key=nested_key)["Body"].read())
        template = next(r for r in nested["Resources"].values() if r["Type"] == "AWS::EC2::LaunchTemplate")
        monkeypatch.setenv("CORRAL_STATE_DIR", str(tmp_path / "compute-state"))
        context_text, spec_text = user_data_files(template, "compute-dy-res-1-1", values)
        assert json.loads(context_text)["node_role"] == "Compute"
        (tmp_path / "cluster.json").write_text(context_text)
        (tmp_path / "bootstrap.json").write_text(spec_text)
        compute = prepare(
            tmp_path / "bootstrap.json",
            tmp_path / "cluster.json",
            tmp_path / "actions",
            root=tmp_path / "root",
            address="10.0.0.10",
        )
        assert [(a.event, Path(a.source).name) for a in compute.actions] == [
            ("OnNodeStart", "pre.compute.sh"),
            ("OnNodeConfigured", "post.compute.sh"),
        ]
        assert BootstrapSpec.load((tmp_path / "bootstrap.json").read_text()) == compute
        assert compute.services[-1] == (
            "slurmd",
            "-N",
            "compute-dy-res-1-1",
            "--conf-server",
            "10.0.0.10:6817",
        )
    finally:
        provider.delete(name)


def test_log_group_is_unique_per_stack_so_a_retained_one_never_collides(moto: Moto, tmp_path: Path) -> None:
    """The log group is kept after delete (DeletionPolicy Retain, the default); a cluster created
    again under the same name gets a group of its own."""
    from corral.providers.aws import AwsProvider

    name = "awsnode-logs"
    config = moto.tmp / f"{name}.yaml"
    config.write_text(rewrite_ids(SIMPLE.read_text(), moto.net))
    report = check_cluster_config(config, cluster_name=name, target="aws")
    assert report.config is not None
    assert report.config.monitoring.logs.cloud_watch.deletion_policy == "Retain"
    logs = boto3.client("logs")
    provider = AwsProvider(tmp_path / "state")
    names = []
    for _ in range(2):
        provider.create(build_plan(report.config, cluster_name=name), on_event=lambda r, m: None)
        group = provider.log_group_name(name)
        assert group is not None and re.fullmatch(rf"/aws/corral/{name}-[0-9a-f]{{8}}", group), group
        names.append(group)
        provider.delete(name)
        kept = logs.describe_log_groups(logGroupNamePrefix=f"/aws/corral/{name}")["logGroups"]
        assert group in [g["logGroupName"] for g in kept]  # retained
    assert names[0] != names[1]


def _small_templates() -> Any:
    from corral.config import load_cluster_config_text
    from corral.providers.aws.template import build_templates

    golden = Path(__file__).parent / "golden" / "small.yaml"
    config = load_cluster_config_text(golden.read_text(), "small.yaml").config
    return build_templates(build_plan(config, cluster_name="small"))


def test_head_role_may_take_ssm_commands_and_compute_roles_may_not() -> None:
    ts = _small_templates()
    roles = {
        k: v
        for body in [ts.main, *ts.nested.values()]
        for k, v in body["Resources"].items()
        if v["Type"] == "AWS::IAM::Role"
    }
    ssm = {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"}
    assert roles["HeadNodeRole"]["Properties"]["ManagedPolicyArns"][0] == ssm
    assert len(roles) > 1
    for logical, role in roles.items():
        if logical != "HeadNodeRole":
            assert ssm not in role["Properties"].get("ManagedPolicyArns", []), logical
        # the inline policy stays least-privilege: no "*" but ec2:Describe*
        for statement in role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]:
            if statement["Resource"] == "*":
                assert all(a.startswith("ec2:Describe") for a in statement["Action"]), statement["Sid"]


def test_head_node_waits_for_its_own_signal() -> None:
    """CREATE_COMPLETE means the head bootstrapped: a CreationPolicy the node program answers, with
    the head's bootstrap timeout, and a head role allowed to send exactly that signal."""
    from corral.providers.aws import node
    from corral.providers.aws._node_setup import NodeContext
    from corral.providers.aws.template._head import HEAD_NODE

    ts = _small_templates()
    head = ts.main["Resources"][HEAD_NODE]
    # pcluster's default HeadNodeBootstrapTimeout, 2100 s
    assert head["CreationPolicy"] == {"ResourceSignal": {"Count": 1, "Timeout": "PT2100S"}}
    statements = ts.main["Resources"]["HeadNodeRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    signal = [s for s in statements["Statement"] if "cloudformation:SignalResource" in s["Action"]]
    assert [s["Sid"] for s in signal] == ["ClusterStack"]
    assert node.HEAD_NODE == HEAD_NODE
    context = NodeContext.of({"cluster_name": "small", "node_role": "HeadNode", "stack_name": "small"})
    assert node.signal_arguments(context, "ip-10-0-0-5", success=False) == {
        "StackName": "small",
        "LogicalResourceId": "HeadNode",
        "UniqueId": "ip-10-0-0-5",
        "Status": "FAILURE",
    }


def test_a_signal_that_cannot_be_sent_is_reported_not_raised(moto: Moto) -> None:
    """moto has no SignalResource: the node program logs why instead of dying after its bootstrap."""
    from corral.providers.aws import node
    from corral.providers.aws._node_setup import NodeContext

    context = NodeContext.of(
        {"cluster_name": "nostack", "node_role": "HeadNode", "stack_name": "nostack", "region": "us-east-1"}
    )
    problem = node.signal_stack(context, success=True)
    assert problem is not None and "SignalResource" in problem


# -- the node setup, pure ----------------------------------------------------------------------


def _small_plan(extra: str = "") -> Any:
    from corral.config import load_cluster_config_text

    golden = Path(__file__).parent / "golden" / "small.yaml"
    text = golden.read_text().replace("SharedStorage:\n", "SharedStorage:\n" + extra)
    config = load_cluster_config_text(text, "small.yaml").config
    return build_plan(config, cluster_name="small")


EXISTING_EFS = """  - MountDir: /data
    Name: data
    StorageType: Efs
    EfsSettings:
      FileSystemId: fs-0aaaabbbbccccdddd
"""


def test_head_setup_mounts_efs_it_knows_and_says_what_it_does_not_mount() -> None:
    from corral.providers.aws._node_setup import NodeContext, head_setup
    from corral.providers.aws._storage_setup import EFS_OPTIONS, STORAGE_PROGRAM

    plan = _small_plan(EXISTING_EFS)
    context = NodeContext.of({"cluster_name": "small", "node_role": "HeadNode", "region": "eu-west-1"})
    setup = head_setup(
        plan, context, hostname="ip-10-0-0-5", address="10.0.0.5", storage_ids={"efs": "fs-0123"}
    )
    steps = [
        s[len(STORAGE_PROGRAM) :] for s in setup.services if s[: len(STORAGE_PROGRAM)] == STORAGE_PROGRAM
    ]
    assert steps == [  # in the config's order, /home first
        ("export", "/home"),
        ("mount", "nfs4", "fs-0aaaabbbbccccdddd.efs.eu-west-1.amazonaws.com:/", "/data", EFS_OPTIONS),
        ("ebs", "--mount-dir", "/shared", "--name", "shared", "/dev/sdf"),
        ("export", "/shared"),
        ("mount", "nfs4", "fs-0123.efs.eu-west-1.amazonaws.com:/", "/efs", EFS_OPTIONS),
    ]
    # the IMDS guard, the storage (OnNodeConfigured scripts see it), then munge before Slurm
    assert [s[0] for s in setup.services][-3:] == ["munged", "slurmctld", "setsid"]
    assert setup.services[0][0] == "/bin/sh" and len(setup.services) == 11
    assert setup.services[-4] == REQUESTS_DIR_STEP
    assert setup.skipped == ("existing-fsx (/fsx): its FsxLustre id or DNS name is not known on this node",)
    assert {"/efs", "/data", "/run/corral", "/var/spool/corral/slurmctld"} <= set(setup.directories)
    files = {path: (content, mode) for path, content, mode in setup.files}
    assert files["/opt/corral/libexec/resume"][1] == 0o755
    conf = files["/etc/slurm/slurm.conf"][0]
    assert "SlurmctldHost=ip-10-0-0-5(10.0.0.5)" in conf
    assert "SuspendProgram=/opt/corral/libexec/suspend" in conf
    assert "StateSaveLocation=/var/spool/corral/slurmctld" in conf
    # the same node lines as any provider's slurm.conf: CLOUD nodes of both queues
    assert "NodeName=compute-st-c5-1 " in conf and "NodeName=highmem-dy-r5-[1-2] " in conf


def test_compute_setup_is_configless_slurmd_under_its_own_name() -> None:
    from corral.providers.aws._node_setup import NodeContext, _munged, compute_setup

    plan = _small_plan(EXISTING_EFS)
    context = NodeContext.of(
        {
            "cluster_name": "small",
            "node_role": "Compute",
            "region": "us-east-1",
            "head_private_ip": "10.0.0.5",
        }
    )
    setup = compute_setup(plan, context, node_name="compute-dy-c5-1")
    # configless: slurmd fetches slurm.conf from slurmctld; the node's own copy is only for the
    # client command that reports a failed bootstrap (it has no SLURM_CONF in its environment)
    # and the node's ``corral`` command, which only asks the head to delete the cluster
    assert [path for path, _, _ in setup.files] == ["/etc/corral/slurm-client.conf", CORRAL_COMMAND]
    assert setup.services[-2:] == (
        _munged(),
        ("slurmd", "-N", "compute-dy-c5-1", "--conf-server", "10.0.0.5:6817"),
    )
    # the head's exports over NFS, the existing EFS; the created one's id was not given here
    mounts = [s[-4:-1] for s in setup.services if "mount" in s[:5]]
    assert mounts == [
        ("nfs", "10.0.0.5:/home", "/home"),
        ("nfs4", "fs-0aaaabbbbccccdddd.efs.us-east-1.amazonaws.com:/", "/data"),
        ("nfs", "10.0.0.5:/shared", "/shared"),
    ]
    assert any("efs (/efs): its Efs id or DNS name is not known" in m for m in setup.skipped)
    assert "SLURM_CONF" not in dict(setup.env) and dict(setup.env)["CORRAL_PROVIDER"] == "aws"
    assert "/run/corral/slurmd-compute-dy-c5-1.pid" in setup.service_pidfiles


def test_slurmctld_parameters_extended_not_duplicated() -> None:
    from corral.providers.aws._node_setup import aws_slurm_conf, slurm_runtime

    plan = _small_plan()
    conf = aws_slurm_conf(plan, slurm_runtime(plan, "head", "10.0.0.5"))
    line = next(x for x in conf.splitlines() if x.startswith("SlurmctldParameters="))
    assert line.endswith(",cloud_reg_addrs,enable_configless") and "idle_on_node_suspend" in line


def test_resume_wrapper_runs_the_provider_neutral_program_with_a_clean_environment(tmp_path: Path) -> None:
    """The wrapper, run for real with ``python`` swapped for ``env``: what the program would see."""
    from corral.providers.aws._node_setup import NodeContext, program_env, wrapper

    plan = _small_plan()
    context = NodeContext.of({"cluster_name": "small", "node_role": "HeadNode", "region": "us-east-1"})
    text = wrapper(
        "resume",
        "corral.daemons.resume",
        program_env(plan, context),
        'SLURM_RESUME_FILE="$SLURM_RESUME_FILE"',
    )
    assert f"{PYTHON} -m corral.daemons.resume" in text
    log = tmp_path / "resume.log"
    script = tmp_path / "resume"
    script.write_text(
        text.replace(">>/var/log/corral/resume.log", f">>{log}").replace(
            f'{PYTHON} -m corral.daemons.resume "$@"', "/usr/bin/env"
        )
    )
    script.chmod(0o755)
    subprocess.run(
        [str(script), "small-dy-c5-1"], env={"SLURM_RESUME_FILE": "/tmp/r.json", "SECRET": "x"}, check=True
    )
    seen = dict(line.split("=", 1) for line in log.read_text().splitlines() if "=" in line)
    assert seen["CORRAL_PROVIDER"] == "aws" and seen["CORRAL_CLUSTER_NAME"] == "small"
    assert (
        seen["SLURM_RESUME_FILE"] == "/tmp/r.json"
        and seen["CORRAL_HEARTBEAT_FILE"] == "/var/lib/corral/heartbeat"
    )
    assert "SECRET" not in seen and seen["AWS_REGION"] == "us-east-1"


# -- the head's bootstrap, run for real in a throwaway namespace ------------------------------

_INSIDE = """
import ctypes, os, subprocess, sys, time
from dataclasses import replace
from pathlib import Path
from corral.config import load_cluster_config_text
from corral.node.agent import BootstrapSpec
from corral.plan import build_plan
from corral.providers.aws._node_setup import NodeContext, apply_setup, compute_setup, head_setup
from corral.providers.aws.node import write_setup

libc = ctypes.CDLL(None, use_errno=True)
for path in ("/run", "/var/log", "/var/spool", "/etc/munge", "/etc/slurm", "/opt", "/var/lib"):
    if libc.mount(b"tmpfs", path.encode(), b"tmpfs", 0, b"mode=0755") != 0:
        sys.exit(f"tmpfs on {path}: {os.strerror(ctypes.get_errno())}")
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
subprocess.run(["ip", "addr", "add", "10.0.0.10/32", "dev", "lo"], check=True)
plan = build_plan(load_cluster_config_text(sys.argv[1], "c.yaml").config, cluster_name="awsnode-run")
head = NodeContext.of({"cluster_name": "awsnode-run", "node_role": "HeadNode", "region": "us-east-1"})
setup = head_setup(plan, head, hostname="ip-10-0-0-10", address="10.0.0.10", storage_ids={})
write_setup(setup, os.urandom(128))
spec = apply_setup(BootstrapSpec("ip-10-0-0-10", "ip-10-0-0-10", "/run/corral/status.json"), setup)
# no AWS here (the reconciler), and no NFS server in this kernel (the head's /home export)
skip = ("setsid", "/opt/corral/bin/python")
spec = replace(spec, services=tuple(s for s in spec.services if s[0] not in skip))
Path("/run/corral/bootstrap.json").write_text(spec.dump())
agent = subprocess.run([sys.executable, "-m", "corral.node", "/run/corral/bootstrap.json"], timeout=60)
print("AGENT", agent.returncode, Path("/run/corral/status.json").read_text())
env = {"PATH": os.environ["PATH"], "SLURM_CONF": "/etc/slurm/slurm.conf"}
def slurm(*argv):
    return subprocess.run(argv, env=env, capture_output=True, text=True).stdout.strip()
compute = NodeContext.of({"cluster_name": "awsnode-run", "node_role": "Compute", "region": "us-east-1",
                          "head_private_ip": "10.0.0.10"})
node = compute_setup(plan, compute, node_name="compute-st-c5-1")
for directory in node.directories:
    Path(directory).mkdir(parents=True, exist_ok=True)
print("SLURMD", subprocess.run(list(node.services[-1]), env={"PATH": os.environ["PATH"]}).returncode)
for _ in range(100):
    state = slurm("sinfo", "-h", "-n", "compute-st-c5-1", "-o", "%T")
    if state == "idle":
        break
    time.sleep(0.1)
print("STATE", state)
print("ADDR", slurm("scontrol", "show", "node", "compute-st-c5-1").split("NodeAddr=")[1].split()[0])
print("NODES", slurm("sinfo", "-h", "-N", "-o", "%N").replace(chr(10), ","))
started = time.monotonic()
prolog = subprocess.run([sys.executable, "-m", "corral.providers.aws.prolog"], timeout=60,
                        env={**env, "SLURM_JOB_NODELIST": "compute-st-c5-1", "SLURM_JOB_ID": "1"})
print("PROLOG", prolog.returncode, round(time.monotonic() - started, 1))
config = [line.split("=", 1) for line in slurm("scontrol", "show", "config").splitlines() if "=" in line]
print("PROLOGCONF", dict((k.strip(), v.strip()) for k, v in config).get("PrologSlurmctld"))
# the compute node's client slurm.conf, under /run here (the host's /etc stays untouched)
client = dict((path, content) for path, content, _ in node.files)["/etc/corral/slurm-client.conf"]
Path("/run/corral/slurm-client.conf").write_text(client)
on_failure = [a.replace("/etc/corral/", "/run/corral/") for a in node.on_failure]
failed = subprocess.run([*on_failure, "Reason=bootstrap failure: mount of /shared failed"],
                        env={"PATH": os.environ["PATH"]})
shown = slurm("scontrol", "show", "node", "compute-st-c5-1")
print("FAILED", failed.returncode, "DOWN" in shown.split("State=")[1].split()[0])
print("REASON", shown.split("Reason=")[1].split(" [")[0] if "Reason=" in shown else "")
"""


@pytest.mark.skipif(
    os.geteuid() != 0 or not all(shutil.which(p) for p in ("unshare", "munged", "slurmctld", "slurmd", "ip")),
    reason="needs root, unshare, munge and Slurm",
)
def test_head_bootstrap_runs_munge_and_slurmctld_and_a_configless_slurmd_registers() -> None:
    """The head's setup, run by the real node agent in a throwaway mount/UTS/net/pid namespace (every
    path it writes is a tmpfs there): munged and slurmctld start on the rendered slurm.conf, and a
    compute node's configless ``slurmd -N`` registers under its Slurm name, its address learnt from
    the registration (``cloud_reg_addrs``). The pid namespace ends every daemon with the test."""
    text = (Path(__file__).parent / "golden" / "small.yaml").read_text()
    text = re.sub(r"(?ms)^SharedStorage:.*?(?=^Monitoring:)", "", text)  # nothing to mount here
    argv = [
        "unshare",
        "--mount",
        "--uts",
        "--net",
        "--pid",
        "--fork",
        "--mount-proc",
        "--propagation",
        "private",
    ]
    result = subprocess.run(
        [*argv, sys.executable, "-c", _INSIDE, text], capture_output=True, text=True, timeout=120
    )
    out = dict(line.split(" ", 1) for line in result.stdout.splitlines() if " " in line)
    assert result.returncode == 0, result.stdout + result.stderr
    assert out["AGENT"].startswith("0 ") and '"ready"' in out["AGENT"]
    assert out["SLURMD"] == "0"
    assert out["STATE"] == "idle" and out["ADDR"] == "10.0.0.10"
    assert "highmem-dy-r5-2" in out["NODES"].split(",")
    code, seconds = out["PROLOG"].split()  # the PrologSlurmctld returns as soon as the node is up
    assert code == "0" and float(seconds) < 10 and out["PROLOGCONF"] == "/opt/corral/libexec/prolog"
    # a compute node whose bootstrap failed sets itself DOWN with the failure as Slurm's reason
    assert out["FAILED"] == "0 True"
    assert out["REASON"] == "bootstrap failure: mount of /shared failed"


def test_dry_run_keeps_pclusters_message_and_summarises_the_templates_on_stderr(tmp_path: Path) -> None:
    golden = Path(__file__).parent / "golden" / "small.yaml"
    env = {
        "CORRAL_STATE_DIR": str(tmp_path),
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": None,
        "AWS_SECRET_ACCESS_KEY": None,
        "AWS_PROFILE": None,
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
    }
    args = ["create-cluster", "--provider", "aws", "-c", str(golden), "-n", "small", "--dryrun", "true"]
    command = click.Command("corral", callback=lambda: cli_main.main(args))
    result = CliRunner().invoke(command, [], env=env, catch_exceptions=False)
    assert json.loads(result.stdout)["message"] == "Request would have succeeded, but DryRun flag is set."
    assert "templates: 2 stack(s) (1 root, 1 nested)" in result.stderr
    assert re.search(r"  main: \d+ resources, \d+ bytes", result.stderr)
    assert re.search(r"  QueueStack1: \d+ resources, \d+ bytes", result.stderr)


def test_munge_key_secret_becomes_the_clusters_key(moto: Moto, tmp_path: Path) -> None:
    """``MungeKeySecretArn``'s value, read at create with the caller's credentials, is the key every
    node reads from the artefact prefix (nodes need no access to the secret)."""
    from corral.providers.aws import AwsProvider

    name = "awsnode-munge"
    key = base64.b64encode(b"k" * 64).decode()
    arn = boto3.client("secretsmanager").create_secret(Name="awsnode-munge-key", SecretString=key)["ARN"]
    settings = f"  SlurmSettings:\n    MungeKeySecretArn: {arn}\n"
    config = moto.tmp / f"{name}.yaml"
    text = rewrite_ids(SIMPLE.read_text(), moto.net)
    config.write_text(text.replace("  Scheduler: slurm\n", "  Scheduler: slurm\n" + settings))
    report = check_cluster_config(config, cluster_name=name, target="aws")
    assert report.config is not None, report.findings
    provider = AwsProvider(tmp_path / "state")
    provider.create(build_plan(report.config, cluster_name=name), on_event=lambda r, m: None)
    try:
        assert provider.munge_key(name) == b"k" * 64
    finally:
        provider.delete(name)


def test_a_failed_head_bootstrap_leaves_its_reason_for_describe_cluster(moto: Moto, tmp_path: Path) -> None:
    """The head's node program records the agent's failure message in the node table (the stack's
    FAILURE signal carries none); the provider reads it back for the create's error."""
    from corral.providers.aws import AwsProvider
    from corral.providers.aws._node_setup import NodeContext
    from corral.providers.aws.node import failure_message, report_head_failure

    name = "awsnode-headfail"
    config = moto.tmp / f"{name}.yaml"
    config.write_text(rewrite_ids(SIMPLE.read_text(), moto.net))
    report = check_cluster_config(config, cluster_name=name, target="aws")
    assert report.config is not None
    provider = AwsProvider(tmp_path / "state")
    provider.create(build_plan(report.config, cluster_name=name), on_event=lambda r, m: None)
    try:
        assert provider.head_bootstrap_failure(name) is None
        status = tmp_path / "status.json"
        status.write_text(
            json.dumps({"status": "failed", "message": "storage ebs failed: `mount` failed: bad"})
        )
        message = failure_message(status)
        assert message == "storage ebs failed: `mount` failed: bad"
        outputs = provider._outputs(provider.clients("us-east-1"), name)
        context = NodeContext.of(
            {
                "cluster_name": name,
                "node_role": "HeadNode",
                "region": "us-east-1",
                "table_name": outputs["NodeStateTableName"],
            }
        )
        report_head_failure(context, message)
        assert provider.head_bootstrap_failure(name) == message
        assert provider.instances(name)  # the table's extra item is no node
    finally:
        provider.delete(name)

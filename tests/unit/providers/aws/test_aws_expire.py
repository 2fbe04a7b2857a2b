"""The time-to-live on AWS (#16), and ``corral delete-cluster`` run on a node of the cluster: the
head role (of every cluster: a node may ask for the delete) may delete
exactly its own stack (through the account's stack deleter role, passed only to CloudFormation)
and its own artefacts; ``expire`` terminates the compute instances, removes the artefacts and
deletes the stack; the head's reconciler is started with ``--expires-at``. Against a moto server
on loopback (moto does not evaluate IAM policies: what the policies allow is asserted on the
documents, not enforced here); and ``corral run --provider aws`` against moto up to where moto
cannot go (commands on the head node), with the cluster deleted after."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner

from corral.cli import main as cli_main
from corral.plan import build_plan
from corral.providers import get_provider
from corral.providers.aws import AwsProvider
from corral.providers.aws._expire import deleter_policy, deleter_role_arn, deleter_role_name
from corral.providers.aws._node_setup import NodeContext, head_setup
from corral.providers.aws.template import build_templates
from corral.service import ClusterService
from corral.state import StackStatus, StateStore
from support.aws import Network, aws_endpoint, make_network

CONFIG = """Region: us-east-1
Image:
  Os: alinux2023
HeadNode:
  InstanceType: t3.micro
  Networking:
    SubnetId: {subnet}
  Ssh:
    KeyName: mykey
Scheduling:
  Scheduler: slurm
  SlurmQueues:
    - Name: q1
      ComputeResources:
        - Name: cr1
          InstanceType: t3.micro
          MinCount: 1
          MaxCount: 4
      Networking:
        SubnetIds: [{subnet}]
"""
LATER = (datetime.now(UTC) + timedelta(hours=1)).isoformat()


def plan_of(tmp_path: Path, expires_at: str | None) -> Any:
    from dataclasses import replace

    from corral.config import load_cluster_config

    path = tmp_path / "c.yaml"
    path.write_text(CONFIG.format(subnet="subnet-12345678"))
    plan = build_plan(load_cluster_config(path).config, cluster_name="ttl")
    return replace(plan, expires_at=expires_at)


def head_policy(plan: Any) -> list[dict[str, Any]]:
    role = build_templates(plan).main["Resources"]["HeadNodeRole"]["Properties"]
    return list(role["Policies"][0]["PolicyDocument"]["Statement"])


def test_the_head_may_delete_exactly_its_own_stack_with_or_without_a_time_to_live(tmp_path: Path) -> None:
    # without a time-to-live too: `corral delete-cluster` on a node asks the head to delete it
    without = {s["Sid"]: s for s in head_policy(plan_of(tmp_path, None))}
    assert {"DeleteOwnStack", "PassStackDeleterRole", "DeleteOwnArtifacts"} <= set(without)
    statements = {s["Sid"]: s for s in head_policy(plan_of(tmp_path, LATER))}
    delete = statements["DeleteOwnStack"]
    assert delete["Action"] == ["cloudformation:DeleteStack"]
    own_stack = (
        "arn:${AWS::Partition}:cloudformation:${AWS::Region}:${AWS::AccountId}:stack/${AWS::StackName}/*"
    )
    assert delete["Resource"] == [{"Fn::Sub": own_stack}]
    passing = statements["PassStackDeleterRole"]
    assert passing["Action"] == ["iam:PassRole"]
    deleter = "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/corral/corral-stack-deleter-${AWS::Region}"
    assert passing["Resource"] == [{"Fn::Sub": deleter}]
    assert passing["Condition"] == {"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}}
    artefacts = statements["DeleteOwnArtifacts"]["Resource"][0]["Fn::Sub"]
    assert artefacts.endswith("/corral/ttl/*")
    # no other statement lets the head delete a stack or pass another role
    others = [s for sid, s in statements.items() if sid not in ("DeleteOwnStack", "PassStackDeleterRole")]
    assert not any("cloudformation:DeleteStack" in s["Action"] for s in others)
    assert without == statements


def test_the_reconciler_gets_the_time_to_live(tmp_path: Path) -> None:
    context = NodeContext(cluster_name="ttl", node_role="HeadNode", region="us-east-1")
    setup = head_setup(plan_of(tmp_path, LATER), context, hostname="head", address="10.0.0.5")
    [reconciler] = [s for s in setup.services if "corral.daemons.reconcilerd" in " ".join(s)]
    assert f"--expires-at {LATER}" in reconciler[-1] or f"--expires-at '{LATER}'" in reconciler[-1]
    plain = head_setup(plan_of(tmp_path, None), context, hostname="head", address="10.0.0.5")
    assert "--expires-at" not in " ".join(" ".join(s) for s in plain.services)


def test_the_deleter_role_only_deletes_what_corral_tags_or_names() -> None:
    policy = deleter_policy("123456789012", "us-east-1")
    for statement in policy["Statement"]:
        deletes = [a for a in statement["Action"] if ":Delete" in a or ":Terminate" in a]
        if not deletes:
            continue
        scoped = statement.get("Condition") == {"StringLike": {"aws:ResourceTag/corral:cluster-name": "*"}}
        named = statement["Resource"] != "*" and all(
            "corral" in r or "hostedzone" in r or "change/" in r
            for r in (
                statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            )
        )
        assert scoped or named, statement["Sid"]


@pytest.fixture(scope="module")
def net() -> Iterator[Network]:
    with pytest.MonkeyPatch.context() as mp, aws_endpoint(mp):
        mp.setenv("CORRAL_AWS_POLL_S", "0.1")
        yield make_network(boto3.client("ec2"))


def _running(name: str) -> list[str]:
    reservations = boto3.client("ec2").describe_instances(
        Filters=[
            {"Name": "tag:corral:cluster-name", "Values": [name]},
            {"Name": "instance-state-name", "Values": ["pending", "running"]},
        ]
    )["Reservations"]
    return [i["InstanceId"] for r in reservations for i in r["Instances"]]


def _stack_gone(name: str) -> bool:
    stacks = boto3.client("cloudformation").list_stacks()["StackSummaries"]
    return all(s["StackStatus"] == "DELETE_COMPLETE" for s in stacks if s["StackName"] == name)


def test_expire_deletes_the_stack_instances_and_artefacts(
    net: Network, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CORRAL_AWS_SSM", "1")  # moto accepts the head's update command
    state = tmp_path / "state"
    service = ClusterService(StateStore(state), lambda name: get_provider(name, state))
    name = "awsttl-1"
    config = tmp_path / "c.yaml"
    config.write_text(CONFIG.format(subnet=net.public_subnet))
    service.create(name, config, provider="aws", expires_at=LATER)
    record = service.run_create(name)
    assert record.stack_status is StackStatus.CREATE_COMPLETE, record.failure_reason
    provider = service.provider("aws")
    assert isinstance(provider, AwsProvider) and provider.traits.enforces_expiry
    iam = boto3.client("iam")
    role = iam.get_role(RoleName=deleter_role_name("us-east-1"))["Role"]
    assert role["Arn"] == deleter_role_arn("123456789012", "us-east-1")
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    assert trust["Statement"][0]["Principal"] == {"Service": "cloudformation.amazonaws.com"}
    # an update keeps the time-to-live (no config says it): the head keeps its right to end the cluster
    config.write_text(CONFIG.format(subnet=net.public_subnet).replace("MaxCount: 4", "MaxCount: 5"))
    service.update(name, config)
    done = service.run_update(name)
    assert done.stack_status is StackStatus.UPDATE_COMPLETE, done.failure_reason
    s3 = boto3.client("s3")
    bucket = "corral-123456789012-us-east-1"
    main = json.loads(s3.get_object(Bucket=bucket, Key=f"corral/{name}/main.json")["Body"].read())
    sids = {
        s["Sid"]
        for s in main["Resources"]["HeadNodeRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    }
    assert "DeleteOwnStack" in sids
    stored = json.loads(s3.get_object(Bucket=bucket, Key=f"corral/{name}/cluster.json")["Body"].read())
    assert stored["expires_at"] == LATER
    provider.launch(name, ["q1-dy-cr1-1"])  # a dynamic node CloudFormation does not own
    assert len(_running(name)) >= 2
    provider.expire(name)
    assert _stack_gone(name)
    assert _running(name) == []
    listed = boto3.client("s3").list_objects_v2(
        Bucket="corral-123456789012-us-east-1", Prefix=f"corral/{name}/"
    )
    assert listed.get("KeyCount", 0) == 0
    service.delete(name)  # the record: the delete converges on what is already gone
    assert service.run_delete(name) is None


def test_corral_run_on_aws_goes_as_far_as_moto_can_and_deletes_the_cluster(
    net: Network, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CORRAL_STATE_DIR", str(tmp_path / "state"))
    config = tmp_path / "c.yaml"
    config.write_text(CONFIG.format(subnet=net.public_subnet))
    name = "awsrun-1"
    result = CliRunner().invoke(
        cli_main.cli,
        [
            *("run", "-c", str(config), "-n", name, "--provider", "aws"),
            "--json",
            "--to",
            str(tmp_path / "out"),
            "--wrap",
            "hostname",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code != 0
    report = json.loads(result.stdout)
    assert "emulator that accepts SSM commands but never runs them" in report["failure"], report
    assert report["clusterDeleted"] is True and report["phases"]["delete"] >= 0
    assert "deletes itself after" in result.stderr  # AWS enforces the time-to-live now
    assert _stack_gone(name) and _running(name) == []


def test_every_node_gets_the_corral_command_and_the_reconciler_reads_its_requests(tmp_path: Path) -> None:
    """``/usr/local/bin/corral`` on the head, compute and login nodes asks through ``/home`` (shared
    by every node); the head makes that directory after its storage steps and its reconciler reads
    it (``--requests-dir``)."""
    from corral.providers.aws._login_setup import login_setup
    from corral.providers.aws._node_setup import CORRAL_COMMAND, REQUESTS_DIR, compute_setup

    plan = plan_of(tmp_path, None)
    head = NodeContext(cluster_name="ttl", node_role="HeadNode", region="eu-west-1")
    setups = [
        head_setup(plan, head, hostname="head", address="10.0.0.5"),
        compute_setup(
            plan,
            NodeContext(
                cluster_name="ttl", node_role="Compute", region="eu-west-1", head_private_ip="10.0.0.5"
            ),
            node_name="q1-dy-cr1-1",
        ),
        login_setup(
            plan,
            NodeContext(
                cluster_name="ttl", node_role="LoginNode", region="eu-west-1", head_private_ip="10.0.0.5"
            ),
        ),
    ]
    for setup in setups:
        [(text, mode)] = [(c, m) for p, c, m in setup.files if p == CORRAL_COMMAND]
        assert mode == 0o755 and text.startswith("#!/bin/sh\n")
        assert "CORRAL_CLUSTER_NAME=ttl" in text and f"CORRAL_REQUEST_DIR={REQUESTS_DIR}" in text
        assert "CORRAL_CLUSTER_REGION=eu-west-1" in text
        assert text.rstrip().endswith('/opt/corral/bin/python -m corral.node.selfdelete "$@"')
    services = [" ".join(s) for s in setups[0].services]
    made = next(i for i, s in enumerate(services) if f"chmod 1733 {REQUESTS_DIR}" in s)
    reconciler = next(i for i, s in enumerate(services) if "corral.daemons.reconcilerd" in s)
    assert made < reconciler and f"--requests-dir {REQUESTS_DIR}" in services[reconciler]
    mounts = [i for i, s in enumerate(services) if "storage_node" in s or "mount" in s]
    assert all(i < made for i in mounts)


def test_delete_cluster_from_a_node_reaches_the_head_s_reconciler_which_deletes_the_stack(
    net: Network, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cluster without a time-to-live: the deleter role is made at create; a node's ``corral
    delete-cluster`` (``corral.node.selfdelete`` with the launcher's environment) leaves its
    request, and the head's reconciler loop (``Loop.honour_requests`` over the aws provider, as
    ``reconcilerd --provider aws --requests-dir`` runs it) terminates the instances, removes the
    artefacts and deletes the stack. moto boots no node: the command and the loop run here."""
    from corral.daemons._loop import Loop, LoopFiles
    from corral.node import selfdelete

    state = tmp_path / "state"
    service = ClusterService(StateStore(state), lambda name: get_provider(name, state))
    name = "awsself-1"
    config = tmp_path / "c.yaml"
    config.write_text(CONFIG.format(subnet=net.public_subnet))
    service.create(name, config, provider="aws")
    record = service.run_create(name)
    assert record.stack_status is StackStatus.CREATE_COMPLETE, record.failure_reason
    assert boto3.client("iam").get_role(RoleName=deleter_role_name("us-east-1"))["Role"]
    provider = service.provider("aws")
    assert isinstance(provider, AwsProvider)
    provider.launch(name, ["q1-dy-cr1-1"])
    assert len(_running(name)) >= 2
    requests = tmp_path / "requests"
    requests.mkdir()
    loop = Loop(provider, name, files=LoopFiles(requests=requests, events=tmp_path / "events.jsonl"))
    loop.honour_requests(datetime.now(UTC))  # nothing asked yet: nothing happens
    assert not _stack_gone(name)
    monkeypatch.setenv("CORRAL_CLUSTER_NAME", name)
    monkeypatch.setenv("CORRAL_REQUEST_DIR", str(requests))
    assert selfdelete.main(["delete-cluster", "-n", "another"]) == 1  # only its own cluster
    assert selfdelete.main(["delete-cluster", "-n", name]) == 0
    loop.honour_requests(datetime.now(UTC))
    assert _stack_gone(name)
    assert _running(name) == []
    listed = boto3.client("s3").list_objects_v2(
        Bucket="corral-123456789012-us-east-1", Prefix=f"corral/{name}/"
    )
    assert listed.get("KeyCount", 0) == 0
    assert not (requests / selfdelete.DELETE_REQUEST).exists()
    assert "cluster-delete-requested" in (tmp_path / "events.jsonl").read_text()
    service.delete(name)
    assert service.run_delete(name) is None

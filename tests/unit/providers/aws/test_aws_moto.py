"""The aws provider against a real moto server on 127.0.0.1 (behind the fault proxy of
``support.aws``): stacks from corpus configs, the service and CLI lifecycle, CreateFleet launches,
capacity errors, botocore error translation and the cloud validators.

moto runs the stack synchronously and never boots an instance, so these tests cover every AWS API
call Corral makes, not what runs on the nodes (user data, the node agent, SSM commands).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import boto3
import click
import pytest
from click.testing import CliRunner, Result

from corral.cli import main as cli_main
from corral.config.check import check_cluster_config
from corral.daemons import resume as resume_program
from corral.daemons.scaling import ResumeRequest, ScalingStrategy
from corral.errors import PrerequisiteError, ProviderError
from corral.plan import build_plan
from corral.providers import get_provider
from corral.providers.aws import AwsProvider, _stack
from corral.providers.aws._clients import AwsClients
from corral.providers.aws.template import launch_template_output_key
from corral.service import ClusterService, plan_from_json
from corral.state import ProcessIdentity, StackStatus, StateStore
from support.aws import AwsProxy, Network, aws_endpoint, make_network, rewrite_ids
from support.corpus import (
    CORPUS,
    skip_module_without_shared,
)

skip_module_without_shared()

CONFIGS = CORPUS / "cluster-configs"
SIMPLE = CONFIGS / "integ__performance_tests__test_simple__test_simple__pcluster.config.yaml"
FAILOVER = CONFIGS / "integ__schedulers__test_slurm__test_fast_capacity_failover__pcluster.config.yaml"
EFS = CONFIGS / "integ__storage__test_efs__test_efs_access_point__pcluster.config.yaml"
BENCH = CONFIGS / "bench__test_scheduler_performance__test_scheduler_performance__pcluster.config.yaml"


@dataclass(frozen=True)
class Aws:
    proxy: AwsProxy
    net: Network
    tmp: Path

    def config(self, source: Path, name: str) -> Path:
        """``source`` with moto's subnet/security group ids, written under the test's directory."""
        path = self.tmp / f"{name}.yaml"
        path.write_text(rewrite_ids(source.read_text(), self.net))
        return path

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.proxy.url)


@pytest.fixture(scope="module")
def aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Aws]:
    with pytest.MonkeyPatch.context() as mp, aws_endpoint(mp) as proxy:
        yield Aws(proxy, make_network(boto3.client("ec2")), tmp_path_factory.mktemp("aws"))


@pytest.fixture
def service(aws: Aws, tmp_path: Path) -> ClusterService:
    return ClusterService(StateStore(tmp_path / "state"), lambda name: get_provider(name, tmp_path / "state"))


def created(service: ClusterService, aws: Aws, source: Path, name: str) -> AwsProvider:
    """Create ``name`` from ``source`` through the service; its AwsProvider."""
    service.create(name, aws.config(source, name), provider="aws")
    record = service.run_create(name)
    assert record.stack_status is StackStatus.CREATE_COMPLETE, record.failure_reason
    provider = service.provider("aws")
    assert isinstance(provider, AwsProvider)
    return provider


def stack_gone(aws: Aws, name: str) -> bool:
    return not [
        s
        for s in aws.client("cloudformation").list_stacks()["StackSummaries"]
        if s["StackName"] == name and s["StackStatus"] != "DELETE_COMPLETE"
    ]


def tagged_instances(aws: Aws, name: str) -> list[dict[str, Any]]:
    pages = aws.client("ec2").describe_instances(
        Filters=[
            {"Name": "tag:corral:cluster-name", "Values": [name]},
            {"Name": "instance-state-name", "Values": ["pending", "running"]},
        ]
    )["Reservations"]
    return [i for r in pages for i in r["Instances"]]


# -- stacks from the corpus, through the service -----------------------------------------------


@pytest.mark.parametrize("source", [SIMPLE, FAILOVER, EFS, BENCH], ids=["simple", "failover", "efs", "bench"])
def test_corpus_stack_creates_describes_and_deletes(aws: Aws, service: ClusterService, source: Path) -> None:
    name = f"awsprov-{source.stem.split('__')[2][:20].replace('_', '-')}"
    provider = created(service, aws, source, name)
    try:
        described = service.describe(name).to_json()
        assert described["clusterStatus"] == "CREATE_COMPLETE"
        assert described["cloudFormationStackStatus"] == "CREATE_COMPLETE"
        assert described["region"] == "us-east-1"  # no Region in the config: the environment's
        resources = {r["LogicalResourceId"]: r for r in _stack.resources(AwsClients("us-east-1"), name)}
        assert described["headNode"]["instanceId"] == resources["HeadNode"]["PhysicalResourceId"]
        assert provider.stack_status(name) == "CREATE_COMPLETE"
        events = service.stack_events(name).to_json()["events"]
        assert any(
            e["logicalResourceId"] == name and e["resourceStatus"] == "CREATE_COMPLETE" for e in events
        )
    finally:
        service.delete(name)
        assert service.run_delete(name) is None
    assert stack_gone(aws, name)
    assert tagged_instances(aws, name) == []
    assert not provider.exists(name)
    listed = aws.client("s3").list_objects_v2(
        Bucket="corral-123456789012-us-east-1", Prefix=f"corral/{name}/"
    )
    assert listed.get("KeyCount", 0) == 0
    blocked = aws.client("s3").get_public_access_block(Bucket="corral-123456789012-us-east-1")
    assert all(blocked["PublicAccessBlockConfiguration"].values())


def test_rollback_on_failure_removes_the_stack(aws: Aws, service: ClusterService) -> None:
    name = "awsprov-rollback"
    aws.proxy.error("CreateStack", 400, "ValidationError")
    service.create(name, aws.config(SIMPLE, name), provider="aws")
    record = service.run_create(name)
    assert record.stack_status is StackStatus.ROLLBACK_COMPLETE
    assert record.cluster_status == "CREATE_FAILED" and "ValidationError" in record.failure_reason
    assert stack_gone(aws, name)
    service.delete(name)
    assert service.run_delete(name) is None


def test_status_follows_the_stack_when_the_create_process_died(aws: Aws, service: ClusterService) -> None:
    """CloudFormation goes on without Corral's process: describe reads the stack instead of
    declaring the create failed (the local provider, with no stack, still settles to CREATE_FAILED)."""
    name = "awsprov-orphan"
    service.create(name, aws.config(SIMPLE, name), provider="aws")
    record = service.store.get(name)
    provider = service.provider("aws")
    provider.create(plan_from_json(record.plan_json), on_event=lambda resource, message: None)
    gone = ProcessIdentity(pid=record.owner.pid if record.owner else 1, start_ticks=-2)  # never alive
    service.store.save(record, replace(record, owner=gone))
    try:
        described = service.describe(name).record
        assert described.stack_status is StackStatus.CREATE_COMPLETE, described.failure_reason
        assert described.owner is None and described.failure_reason == ""
        assert any("status read from it" in e.reason for e in service.stack_events(name).events)
    finally:
        service.delete(name)
        service.run_delete(name)


# -- the CLI --------------------------------------------------------------------------------


def corral(args: list[str], state: Path) -> Result:
    command = click.Command("corral", callback=lambda: cli_main.main(args))
    return CliRunner().invoke(command, [], env={"CORRAL_STATE_DIR": str(state)}, catch_exceptions=False)


def test_cli_lifecycle_with_provider_aws(aws: Aws, tmp_path: Path) -> None:
    name, state = "awsprov-cli", tmp_path / "state"
    config = aws.config(SIMPLE, name)
    dry = corral(
        ["create-cluster", "--provider", "aws", "-c", str(config), "-n", name, "--dryrun", "true"], state
    )
    assert dry.exit_code == 0, dry.output
    assert "Request would have succeeded" in dry.stdout
    made = corral(["create-cluster", "--provider", "aws", "-c", str(config), "-n", name], state)
    assert made.exit_code == 0, made.output
    try:  # the detached worker (a real subprocess) builds the stack
        deadline = time.monotonic() + 60
        status = ""
        while time.monotonic() < deadline and status != "CREATE_COMPLETE":
            time.sleep(0.3)
            status = json.loads(corral(["describe-cluster", "-n", name], state).stdout)["clusterStatus"]
        assert status == "CREATE_COMPLETE"
        listed = json.loads(corral(["list-clusters"], state).stdout)["clusters"]
        assert [(c["clusterName"], c["clusterStatus"]) for c in listed] == [(name, "CREATE_COMPLETE")]
        found = json.loads(corral(["describe-cluster-instances", "-n", name], state).stdout)["instances"]
        assert [i["nodeType"] for i in found] == ["HeadNode"]
        events = json.loads(corral(["get-cluster-stack-events", "-n", name], state).stdout)["events"]
        assert any(e["resourceStatus"] == "CREATE_COMPLETE" for e in events)
        fleet = corral(["update-compute-fleet", "-n", name, "--status", "STOP_REQUESTED"], state)
        assert fleet.exit_code != 0 and "never runs them" in fleet.output  # moto runs no SSM command
    finally:
        gone = corral(["delete-cluster", "-n", name, "--wait"], state)
    assert gone.exit_code == 0, gone.output
    assert stack_gone(aws, name)


# -- resume, capacity, terminate ------------------------------------------------------------


def test_resume_launches_from_the_launch_template_with_tags(aws: Aws, service: ClusterService) -> None:
    name = "awsprov-resume"
    provider = created(service, aws, SIMPLE, name)
    try:
        before = len(aws.proxy.calls("CreateFleet"))
        nodes = ["compute-dy-res-1-1", "compute-dy-res-1-2"]
        result = provider.launch_batch(name, nodes, all_or_nothing=True)
        assert result.failed == () and sorted(result.launched_names()) == nodes
        outputs = _stack.tree_outputs(AwsClients("us-east-1"), name, ["NodeStateTableName"])
        template = outputs[launch_template_output_key("compute", "res-1")]
        (call,) = aws.proxy.calls("CreateFleet")[before:]
        assert call["LaunchTemplateConfigs.1.LaunchTemplateSpecification.LaunchTemplateId"] == [template]
        assert call["OnDemandOptions.MinTargetCapacity"] == ["2"]  # all-or-nothing (the default)
        image = aws.client("ec2").describe_launch_template_versions(LaunchTemplateId=template)[
            "LaunchTemplateVersions"
        ][0]["LaunchTemplateData"]["ImageId"]
        running = {i["InstanceId"]: i for i in tagged_instances(aws, name)}
        for instance in result.launched:
            raw = running[instance.instance_id]
            tags = {t["Key"]: t["Value"] for t in raw["Tags"]}
            assert tags["corral:node-name"] == instance.node_name
            assert (tags["corral:queue-name"], tags["corral:compute-resource-name"]) == ("compute", "res-1")
            assert tags["corral:node-role"] == "Compute" and raw["ImageId"] == image
            assert raw["SubnetId"] == aws.net.private_subnet
        table = outputs["NodeStateTableName"]
        items = aws.client("dynamodb").scan(TableName=table)["Items"]
        assert {i["Id"]["S"]: i["InstanceId"]["S"] for i in items} == {
            i.node_name: i.instance_id for i in result.launched
        }
        again = provider.launch_batch(name, nodes, all_or_nothing=True)  # idempotent per node name
        assert len(aws.proxy.calls("CreateFleet")) == before + 1 and len(again.launched) == 2
        provider.terminate(name, nodes)
        assert [
            i
            for i in tagged_instances(aws, name)
            if i["InstanceId"] in running and {"Key": "corral:node-role", "Value": "Compute"} in i["Tags"]
        ] == []
        assert aws.client("dynamodb").scan(TableName=table)["Items"] == []
    finally:
        service.delete(name)
        service.run_delete(name)


def test_capacity_errors_fail_nodes_as_the_reconciler_expects(aws: Aws, service: ClusterService) -> None:
    name = "awsprov-ice"
    provider = created(service, aws, FAILOVER, name)
    try:
        aws.proxy.capacity(0)
        # the ResumeProgram every provider runs (corral.daemons.resume) fails the node with pcluster's reason
        marked: list[tuple[list[str], str]] = []
        decision = resume_program.resume(
            provider,
            name,
            ResumeRequest.from_hostlist(["queue-dy-ondemand1-i1-1"]),
            ScalingStrategy.parse("all-or-nothing"),
            mark_down=lambda nodes, reason: marked.append((list(nodes), reason)),
            log=lambda message: None,
        )
        assert decision.keep == ()
        assert marked == [
            (["queue-dy-ondemand1-i1-1"], "(Code:InsufficientInstanceCapacity)Failure when resuming nodes")
        ]
        with pytest.raises(ProviderError, match="InsufficientInstanceCapacity") as raised:
            provider.launch(name, ["queue-dy-ondemand1-i1-1"])
        assert getattr(raised.value, "reason_code", "") == "InsufficientInstanceCapacity"

        # best effort: EC2 gives 1 of 2; the second node fails with EC2's code
        aws.proxy.capacity(1)
        partial = provider.launch_batch(name, ["queue-dy-ondemand1-i1-1", "queue-dy-ondemand1-i1-2"])
        assert partial.launched_names() == ["queue-dy-ondemand1-i1-1"]
        assert [(f.node_name, f.code) for f in partial.failed] == [
            ("queue-dy-ondemand1-i1-2", "InsufficientInstanceCapacity")
        ]

        # all-or-nothing across compute resources: one request succeeds, the other cannot, none stays
        nodes = [
            "queue-dy-ice-compute-resource-1",
            "queue-dy-ice-cr-multiple-1",
            "queue-dy-ice-cr-multiple-2",
        ]
        whole = provider.launch_batch(name, nodes, all_or_nothing=True)
        assert whole.launched == () and sorted(f.node_name for f in whole.failed) == sorted(nodes)
        live = {
            t["Value"]
            for i in tagged_instances(aws, name)
            for t in i["Tags"]
            if t["Key"] == "corral:node-name"
        }
        assert live == {"queue-dy-ondemand1-i1-1"}
    finally:
        aws.proxy.capacity(None)
        service.delete(name)
        service.run_delete(name)
    assert tagged_instances(aws, name) == []


# -- errors at the boundary ---------------------------------------------------------------


def test_throttling_is_retried_then_reported(
    aws: Aws, service: ClusterService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = "awsprov-throttle"
    provider = created(service, aws, SIMPLE, name)
    try:
        before = len(aws.proxy.calls("DescribeStacks"))
        aws.proxy.error("DescribeStacks", 400, "Throttling", times=1)
        assert provider.stack_status(name) == "CREATE_COMPLETE"
        assert len(aws.proxy.calls("DescribeStacks")) == before + 2  # one throttled, retried, answered
        monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")  # a new provider's clients read it
        impatient = AwsProvider(tmp_path / "state")
        aws.proxy.error("DescribeStacks", 400, "Throttling", times=10)
        with pytest.raises(ProviderError, match=r"still throttled after 1 retries") as raised:
            impatient.stack_status(name)
        assert "AWS_MAX_ATTEMPTS" in raised.value.hint
    finally:
        aws.proxy.error("DescribeStacks", 400, "Throttling", times=0)
        service.delete(name)
        service.run_delete(name)


def test_access_denied_and_missing_credentials_become_prerequisite_errors(
    aws: Aws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = AwsProvider(tmp_path)
    report = check_cluster_config(
        aws.config(SIMPLE, "awsprov-denied"), cluster_name="awsprov-denied", target="aws"
    )
    assert report.config is not None
    aws.proxy.error("CreateStack", 403, "AccessDenied")
    with pytest.raises(PrerequisiteError, match="AccessDenied") as denied:
        provider.create(build_plan(report.config, cluster_name="awsprov-denied"), on_event=lambda r, m: None)
    assert "CreateStack" in denied.value.hint and "sts get-caller-identity" in denied.value.hint
    provider.delete("awsprov-denied")
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(PrerequisiteError, match="credentials") as missing:
        AwsProvider(tmp_path).check_prerequisites()
    assert "AWS_PROFILE" in missing.value.hint and "AWS_ENDPOINT_URL" in missing.value.hint


# -- cloud validators -----------------------------------------------------------------------


BROKEN = """
Image:
  Os: ubuntu2204
  CustomAmi: ami-0123456789abcdef0
HeadNode:
  InstanceType: c5.xlarge
  Networking:
    SubnetId: {subnet}
    AdditionalSecurityGroups: [sg-0123456789abcdef0]
  Ssh:
    KeyName: {key}
Scheduling:
  Scheduler: slurm
  SlurmQueues:
  - Name: q1
    ComputeResources:
    - Name: cr1
      InstanceType: c5.xlarge
    Networking:
      SubnetIds: [subnet-0fedcba9876543210]
"""


def test_cloud_validators_in_a_dry_run(aws: Aws, tmp_path: Path) -> None:
    ec2 = aws.client("ec2")
    ec2.create_key_pair(KeyName="rsa-key", KeyType="rsa")
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN.format(subnet=aws.net.public_subnet, key="rsa-key"))
    dry = corral(
        ["create-cluster", "--provider", "aws", "-c", str(path), "-n", "awsprov-dry", "--dryrun", "true"],
        tmp_path / "state",
    )
    assert dry.exit_code != 0
    errors = {
        (e["type"], e["message"].split(":")[0])
        for e in json.loads(dry.stdout)["configurationValidationErrors"]
    }
    assert ("SubnetsValidator", "Scheduling/SlurmQueues[0]/Networking/SubnetIds") in errors
    assert ("SecurityGroupsValidator", "HeadNode/Networking/AdditionalSecurityGroups") in errors
    assert ("InstanceTypeBaseAMICompatibleValidator", "Image/CustomAmi") in errors
    assert ("KeyPairValidator", "HeadNode/Ssh/KeyName") in errors  # ubuntu2204 takes no RSA key
    suppressed = corral(
        [
            "create-cluster",
            "--provider",
            "aws",
            "-c",
            str(path),
            "-n",
            "awsprov-dry",
            "--dryrun",
            "true",
            "--suppress-validators",
            "type:SubnetsValidator",
            "type:SecurityGroupsValidator",
            "type:InstanceTypeBaseAMICompatibleValidator",
            "type:KeyPairValidator",
        ],
        tmp_path / "state",
    )
    assert suppressed.exit_code == 0, suppressed.output
    local = corral(
        ["create-cluster", "-c", str(path), "-n", "awsprov-dry", "--dryrun", "true"], tmp_path / "state"
    )
    assert local.exit_code == 0, local.output  # the local provider asks no cloud


# -- the node side --------------------------------------------------------------------------


def test_node_side_completes_the_bootstrap_spec_from_the_bucket(
    aws: Aws, service: ClusterService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from corral.node.agent import BootstrapSpec
    from corral.providers.aws.node import prepare

    name = "awsprov-node"
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="my-test-bucket")
    for key in ("post.head.sh", "pre.compute.sh", "post.compute.sh"):
        s3.put_object(
            Bucket="my-test-bucket", Key=f"my-test-bucket/{key}", Body=f"#!/bin/sh\necho {key}\n".encode()
        )
    created(service, aws, SIMPLE, name)
    try:
        # what the compute node's user data writes, on a machine with no Corral state at all
        monkeypatch.setenv("CORRAL_STATE_DIR", str(tmp_path / "node-state"))
        context = tmp_path / "cluster.json"
        context.write_text(
            json.dumps(
                {"cluster_name": name, "node_role": "Compute", "queue": "compute", "region": "us-east-1"}
            )
        )
        spec_path = tmp_path / "bootstrap.json"
        spec_path.write_text(BootstrapSpec("compute-dy-res-1-1", "compute-dy-res-1-1", "/tmp/s.json").dump())
        spec = prepare(spec_path, context, tmp_path / "actions", root=tmp_path / "root", address="10.0.0.5")
        assert [(a.event, a.source) for a in spec.actions] == [
            ("OnNodeStart", "s3://my-test-bucket/my-test-bucket/pre.compute.sh"),
            ("OnNodeConfigured", "s3://my-test-bucket/my-test-bucket/post.compute.sh"),
        ]
        assert Path(spec.actions[0].path).read_text() == "#!/bin/sh\necho pre.compute.sh\n"
        assert BootstrapSpec.load(spec_path.read_text()) == spec  # written back for the agent
        context.write_text(json.dumps({"cluster_name": name, "node_role": "HeadNode", "region": "us-east-1"}))
        spec_path.write_text(BootstrapSpec("HeadNode", "head", "/tmp/s.json").dump())
        head = prepare(spec_path, context, tmp_path / "actions", root=tmp_path / "root", address="10.0.0.5")
        assert [(a.event, a.args) for a in head.actions] == [
            ("OnNodeConfigured", ("s3://my-test-bucket/my-test-bucket",))
        ]
    finally:
        service.delete(name)
        service.run_delete(name)


def test_custom_s3_bucket_holds_the_artefacts(
    aws: Aws, service: ClusterService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from corral.errors import NotFoundError
    from corral.providers.aws._program import context as head_context

    name, bucket = "awsprov-custom", "awsprov-artefacts"
    config = aws.config(SIMPLE, name)
    config.write_text(f"CustomS3Bucket: {bucket}\n" + config.read_text())
    report = check_cluster_config(config, cluster_name=name, target="aws")
    assert report.config is not None
    with pytest.raises(NotFoundError, match="CustomS3Bucket 'awsprov-artefacts' does not exist"):
        AwsProvider(tmp_path).create(build_plan(report.config, cluster_name=name), on_event=lambda r, m: None)
    aws.client("s3").create_bucket(Bucket=bucket)
    service.create(name, config, provider="aws")
    assert service.run_create(name).stack_status is StackStatus.CREATE_COMPLETE
    try:
        keys = [o["Key"] for o in aws.client("s3").list_objects_v2(Bucket=bucket)["Contents"]]
        assert f"corral/{name}/cluster.json" in keys and f"corral/{name}/main.json" in keys
        # the head node, told the bucket by its context, finds the plan there
        context = tmp_path / "cluster.json"
        context.write_text(
            json.dumps(
                {
                    "cluster_name": name,
                    "node_role": "HeadNode",
                    "region": "us-east-1",
                    "artefact_bucket": bucket,
                }
            )
        )
        monkeypatch.setenv("CORRAL_CLUSTER_CONFIG", str(context))
        monkeypatch.setenv("CORRAL_STATE_DIR", str(tmp_path / "head-state"))
        provider, cluster = head_context()
        assert cluster == name and provider.plan(name).cluster_name == name
    finally:
        service.delete(name)
        service.run_delete(name)
    assert "Contents" not in aws.client("s3").list_objects_v2(Bucket=bucket, Prefix=f"corral/{name}/")

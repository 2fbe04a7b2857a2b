"""The aws provider's pure decisions: CreateFleet requests and assignments per scaling strategy, the
Resume program's DOWN commands, and botocore error translation."""

from __future__ import annotations

from pathlib import Path

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

from corral.config.check import check_cluster_config
from corral.errors import LimitExceededError, NotFoundError, PrerequisiteError, ProviderError
from corral.plan import ClusterPlan, build_plan
from corral.providers.aws import AwsProvider, _fleet
from corral.providers.aws._cluster import cluster_document, plan_from_document
from corral.providers.aws._errors import translate

CONFIG = """
Image:
  Os: alinux2023
HeadNode:
  InstanceType: c5.xlarge
  Networking:
    SubnetId: subnet-0123456789abcdef0
Scheduling:
  Scheduler: slurm
  ScalingStrategy: {strategy}
  SlurmQueues:
  - Name: q1
    CapacityType: SPOT
    AllocationStrategy: capacity-optimized
    ComputeResources:
    - Name: flex
      Instances:
      - InstanceType: c5.xlarge
      - InstanceType: c5a.xlarge
      MaxCount: 4
    - Name: single
      InstanceType: c5.2xlarge
      MaxCount: 3
    Networking:
      SubnetIds: [subnet-0123456789abcdef1, subnet-0123456789abcdef2]
"""

TEMPLATES = {("q1", "flex"): "lt-flex", ("q1", "single"): "lt-single"}


def plan_for(tmp_path: Path, strategy: str = "all-or-nothing") -> ClusterPlan:
    path = tmp_path / "cluster.yaml"
    path.write_text(CONFIG.format(strategy=strategy))
    report = check_cluster_config(path, cluster_name="awsunit", target="aws")
    assert report.config is not None, [f.location() for f in report.findings]
    return build_plan(report.config, cluster_name="awsunit")


def test_requests_group_by_compute_resource_with_overrides(tmp_path: Path) -> None:
    plan = plan_for(tmp_path)
    names = ["q1-dy-flex-1", "q1-dy-single-2", "q1-dy-flex-2", "nope-1"]
    requests, rejected = _fleet.plan_requests(plan, names, TEMPLATES, all_or_nothing=True)
    assert rejected == {"nope-1": ("InvalidNodeName", "nope-1 is not a node of this cluster's plan")}
    flex, single = requests
    assert flex.node_names == ("q1-dy-flex-1", "q1-dy-flex-2") and flex.launch_template_id == "lt-flex"
    assert set(flex.overrides) == {
        (t, s)
        for t in ("c5.xlarge", "c5a.xlarge")
        for s in ("subnet-0123456789abcdef1", "subnet-0123456789abcdef2")
    }
    assert flex.min_target == 2 and flex.capacity_type == "spot"
    assert single.node_names == ("q1-dy-single-2",) and single.min_target == 1


def test_best_effort_asks_for_at_least_one_and_batches(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, "best-effort")
    names = ["q1-dy-flex-1", "q1-dy-flex-2", "q1-dy-flex-3"]
    requests, _ = _fleet.plan_requests(plan, names, TEMPLATES, all_or_nothing=False, batch_size=2)
    assert [r.node_names for r in requests] == [("q1-dy-flex-1", "q1-dy-flex-2"), ("q1-dy-flex-3",)]
    assert all(r.min_target == 1 for r in requests)


def test_missing_launch_template_rejects_the_nodes(tmp_path: Path) -> None:
    plan = plan_for(tmp_path)
    requests, rejected = _fleet.plan_requests(
        plan, ["q1-dy-single-1"], {("q1", "flex"): "lt-flex"}, all_or_nothing=True
    )
    assert requests == [] and rejected["q1-dy-single-1"][0] == "LaunchTemplateNotFound"


def test_fleet_arguments_follow_the_request(tmp_path: Path) -> None:
    plan = plan_for(tmp_path)
    (request, *_), _ = _fleet.plan_requests(
        plan, ["q1-dy-flex-1", "q1-dy-flex-2"], TEMPLATES, all_or_nothing=True
    )
    args = _fleet.fleet_arguments(request)
    assert args["Type"] == "instant"
    assert args["LaunchTemplateConfigs"][0]["LaunchTemplateSpecification"]["LaunchTemplateId"] == "lt-flex"
    assert args["TargetCapacitySpecification"] == {
        "TotalTargetCapacity": 2,
        "DefaultTargetCapacityType": "spot",
    }
    assert args["SpotOptions"] == {
        "MinTargetCapacity": 2,
        "SingleAvailabilityZone": True,
        "AllocationStrategy": "capacity-optimized",
    }
    assert "TagSpecifications" not in args  # the launch template tags what it launches


def _request(n: int) -> _fleet.FleetRequest:
    names = tuple(f"q1-dy-flex-{i}" for i in range(1, n + 1))
    return _fleet.FleetRequest("q1", "flex", names, "lt-flex", (("c5.xlarge", ""),), "on-demand", n)


def test_assign_all_or_nothing_gives_back_a_partial_fleet() -> None:
    result = _fleet.FleetResult(("i-1",), (("InsufficientInstanceCapacity", "no capacity"),))
    decision = _fleet.assign(_request(3), result, all_or_nothing=True)
    assert decision.assigned == () and decision.surplus == ("i-1",)
    assert [f[:2] for f in decision.failed] == [
        (f"q1-dy-flex-{i}", "InsufficientInstanceCapacity") for i in (1, 2, 3)
    ]


def test_assign_best_effort_keeps_what_came() -> None:
    result = _fleet.FleetResult(("i-1", "i-2"), (("InsufficientInstanceCapacity", "no capacity"),))
    decision = _fleet.assign(_request(3), result, all_or_nothing=False)
    assert decision.assigned == (("q1-dy-flex-1", "i-1"), ("q1-dy-flex-2", "i-2"))
    assert decision.failed == (("q1-dy-flex-3", "InsufficientInstanceCapacity", "no capacity"),)
    assert decision.surplus == ()


def test_cluster_document_rebuilds_the_same_plan(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, "greedy-all-or-nothing")
    assert plan_from_document(cluster_document(plan)) == plan


def _client_error(code: str, message: str = "m", retries: int = 0) -> ClientError:
    response = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"RetryAttempts": retries}}
    return ClientError(response, "Operation")


def test_error_translation_gives_hints() -> None:
    denied = translate(_client_error("UnauthorizedOperation"), "CreateFleet")
    assert isinstance(denied, PrerequisiteError) and "CreateFleet" in denied.hint
    throttled = translate(_client_error("RequestLimitExceeded", retries=3), "CreateFleet")
    assert isinstance(throttled, ProviderError) and "after 3 retries" in throttled.message
    assert "AWS_MAX_ATTEMPTS" in throttled.hint
    limit = translate(_client_error("VcpuLimitExceeded"), "CreateFleet")
    assert isinstance(limit, LimitExceededError) and "Service Quotas" in limit.hint
    missing = translate(_client_error("ValidationError", "Stack with id x does not exist"), "DescribeStacks")
    assert isinstance(missing, NotFoundError)
    creds = translate(NoCredentialsError(), "CreateStack")
    assert isinstance(creds, PrerequisiteError) and "AWS_PROFILE" in creds.hint
    offline = translate(EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), "CreateStack")
    assert isinstance(offline, ProviderError) and "AWS_ENDPOINT_URL" in offline.hint


def test_run_on_head_runs_locally_on_the_head_node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    context = tmp_path / "cluster.json"
    context.write_text('{"cluster_name": "awsunit", "node_role": "HeadNode", "region": "us-east-1"}')
    monkeypatch.setenv("CORRAL_CLUSTER_CONFIG", str(context))
    provider = AwsProvider(tmp_path)
    result = provider.run_on_head("awsunit", ["sh", "-c", "cat; echo err >&2; exit 3"], stdin="in")
    assert (result.returncode, result.stdout, result.stderr) == (3, "in", "err\n")
    context.write_text('{"cluster_name": "awsunit", "node_role": "Compute"}')
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    provider = AwsProvider(tmp_path)  # a provider reads the environment once, when it is made
    with pytest.raises(ProviderError, match="never runs them"):
        provider.run_on_head("awsunit", ["true"])

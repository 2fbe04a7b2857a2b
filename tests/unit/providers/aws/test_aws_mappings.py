"""Config keys whose AWS mapping was wrong (issue #11, section 2), each checked where it lands: the
IAM policy, the head node's firewall, the CreateFleet call, the launch template, the user data and
the FSx template."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from corral.config import load_cluster_config_text
from corral.plan import build_plan
from corral.providers.aws import _fleet
from corral.providers.aws.template import TemplateSet, build_templates

BASE = """
Image: {{Os: alinux2023}}
HeadNode:
  InstanceType: c5.xlarge
  Networking: {{SubnetId: subnet-0123456789abcdef0}}
  Ssh: {{KeyName: k}}
{head}
Scheduling:
  Scheduler: slurm
  SlurmQueues:
    - Name: q
{queue}
      ComputeResources:
        - Name: cr
          InstanceType: c5.2xlarge
          MaxCount: 2
{cr}
      Networking: {{SubnetIds: [subnet-0123456789abcdef0]}}
{extra}
"""


def plan_of(head: str = "", queue: str = "", cr: str = "", extra: str = "") -> Any:
    text = BASE.format(head=head, queue=queue, cr=cr, extra=extra)
    config = load_cluster_config_text(text, "cluster.yaml").config
    return build_plan(config, cluster_name="mapped")


def templates(**kwargs: str) -> TemplateSet:
    return build_templates(plan_of(**kwargs))


def statements(ts: TemplateSet, role: str) -> dict[str, Any]:
    for body in [ts.main, *ts.nested.values()]:
        for logical, resource in body["Resources"].items():
            if resource["Type"] == "AWS::IAM::Role" and logical.startswith(role):
                policy = resource["Properties"]["Policies"][0]["PolicyDocument"]
                return {s["Sid"]: s for s in policy["Statement"]}
    raise AssertionError(role)


def arns(statement: dict[str, Any]) -> list[str]:
    return [r["Fn::Sub"] for r in statement["Resource"]]


def launch_template_data(ts: TemplateSet) -> dict[str, Any]:
    (lt,) = [
        r
        for body in ts.nested.values()
        for r in body["Resources"].values()
        if r["Type"] == "AWS::EC2::LaunchTemplate"
    ]
    return dict(lt["Properties"]["LaunchTemplateData"])


# -- S3Access -----------------------------------------------------------------------------------


def test_s3_access_key_name_limits_the_grant_to_that_key() -> None:
    head = (
        "  Iam:\n    S3Access:\n"
        "      - {BucketName: data, KeyName: 'inputs/*'}\n"
        "      - {BucketName: out, KeyName: results/run.txt, EnableWriteAccess: true}\n"
    )
    found = statements(templates(head=head), "HeadNodeRole")
    read = arns(found["ConfiguredBucketsRead"])
    assert read == [
        "arn:${AWS::Partition}:s3:::data",
        "arn:${AWS::Partition}:s3:::data/inputs/*",
        "arn:${AWS::Partition}:s3:::out",
        "arn:${AWS::Partition}:s3:::out/results/run.txt",
    ]
    assert arns(found["ConfiguredBucketsWrite"]) == ["arn:${AWS::Partition}:s3:::out/results/run.txt"]


def test_s3_access_bucket_star_grants_every_bucket_as_pcluster() -> None:
    queue = "      Iam:\n        S3Access:\n          - {BucketName: '*', EnableWriteAccess: true}\n"
    found = statements(templates(queue=queue), "ComputeQ")
    assert arns(found["ConfiguredBucketsRead"]) == [
        "arn:${AWS::Partition}:s3:::*",
        "arn:${AWS::Partition}:s3:::*/*",
    ]
    assert arns(found["ConfiguredBucketsWrite"]) == ["arn:${AWS::Partition}:s3:::*/*"]


# -- HeadNode/Imds/Secured ------------------------------------------------------------------------


def _head_services(head: str = "") -> list[tuple[str, ...]]:
    from corral.providers.aws._node_setup import NodeContext, head_setup

    context = NodeContext.of({"cluster_name": "mapped", "node_role": "HeadNode", "region": "us-east-1"})
    setup = head_setup(plan_of(head=head), context, hostname="h", address="10.0.0.5", storage_ids={})
    return list(setup.services)


def test_imds_secured_by_default_and_not_when_the_config_says_false() -> None:
    from corral.providers.aws._node_setup import imds_guard

    assert _head_services()[0] == imds_guard()
    assert imds_guard() not in _head_services("  Imds: {Secured: false}")


_PROBE = """
import encodings.idna, os, socket, subprocess, sys, threading  # idna: nobody cannot import it
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
subprocess.run(["ip", "addr", "add", "169.254.169.254/32", "dev", "lo"], check=True)
server = socket.socket()
server.bind(("169.254.169.254", 80))
server.listen(8)
threading.Thread(target=lambda: [server.accept()[0].close() for _ in range(8)], daemon=True).start()
guard = [a for a in sys.argv[1:]]
if guard:
    print("GUARD", subprocess.run(guard).returncode, flush=True)
def reach(uid):
    pid = os.fork()
    if pid == 0:
        if uid:
            os.setgid(65534); os.setuid(uid)
        try:
            socket.create_connection(("169.254.169.254", 80), timeout=3).close()
            os._exit(0)
        except OSError:
            os._exit(1)
    return os.waitpid(pid, 0)[1] == 0
print("ROOT", reach(0), flush=True)
print("NOBODY", reach(65534), flush=True)
"""


@pytest.mark.skipif(
    os.geteuid() != 0 or not all(shutil.which(p) for p in ("unshare", "iptables", "ip")),
    reason="needs root, unshare, ip and iptables (scripts/setup.sh installs them)",
)
@pytest.mark.parametrize("secured", [True, False])
def test_imds_guard_lets_only_root_reach_the_metadata_service(secured: bool) -> None:
    """The guard the head node runs, for real, in a throwaway network namespace with a listener on
    169.254.169.254:80: root connects, another user is refused (without the guard both connect)."""
    from corral.providers.aws._node_setup import imds_guard

    guard = list(imds_guard()) if secured else []
    argv = ["unshare", "--net", sys.executable, "-c", _PROBE, *guard]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    out = dict(line.split(" ", 1) for line in result.stdout.splitlines() if " " in line)
    assert result.returncode == 0, result.stdout + result.stderr
    assert out["ROOT"] == "True"
    assert out["NOBODY"] == ("False" if secured else "True")
    if secured:
        assert out["GUARD"] == "0"


# -- CreateFleet: SpotPrice and CAPACITY_BLOCK ---------------------------------------------------------


def _fleet_args(plan: Any) -> dict[str, Any]:
    requests, _ = _fleet.plan_requests(plan, ["q-dy-cr-1"], {("q", "cr"): "lt-1"}, all_or_nothing=False)
    return _fleet.fleet_arguments(requests[0])


def test_spot_price_becomes_each_overrides_max_price() -> None:
    args = _fleet_args(plan_of(queue="      CapacityType: SPOT", cr="          SpotPrice: 0.35"))
    assert args["TargetCapacitySpecification"]["DefaultTargetCapacityType"] == "spot"
    assert [o["MaxPrice"] for o in args["LaunchTemplateConfigs"][0]["Overrides"]] == ["0.35"]
    on_demand = _fleet_args(plan_of(cr="          SpotPrice: 0.35"))  # on-demand: no price cap
    assert "MaxPrice" not in on_demand["LaunchTemplateConfigs"][0]["Overrides"][0]


BLOCK_CR = (
    "          CapacityReservationTarget: {CapacityReservationId: cr-0123456789abcdef0}\n"
    "          MinCount: 0"
)


def test_capacity_block_is_launched_as_a_capacity_block() -> None:
    plan = plan_of(queue="      CapacityType: CAPACITY_BLOCK", cr=BLOCK_CR)
    args = _fleet_args(plan)
    assert args["TargetCapacitySpecification"]["DefaultTargetCapacityType"] == "capacity-block"
    assert "AllocationStrategy" not in args["OnDemandOptions"]
    data = launch_template_data(build_templates(plan))
    assert data["InstanceMarketOptions"] == {"MarketType": "capacity-block"}
    reservation = data["CapacityReservationSpecification"]["CapacityReservationTarget"]
    assert reservation == {"CapacityReservationId": "cr-0123456789abcdef0"}


# -- DisableSimultaneousMultithreading on a compute resource ----------------------------------------


def test_compute_resource_smt_off_sets_cpu_options() -> None:
    data = launch_template_data(templates(cr="          DisableSimultaneousMultithreading: true"))
    assert data["CpuOptions"] == {"CoreCount": 4, "ThreadsPerCore": 1}  # c5.2xlarge: 4 cores, 8 vCPUs
    assert "CpuOptions" not in launch_template_data(templates())


# -- DevSettings/NodePackage ----------------------------------------------------------------------


def test_node_package_is_not_installed_as_the_dry_run_says(tmp_path: Path) -> None:
    from corral import __version__
    from corral.config.check import check_cluster_config

    extra = "DevSettings: {NodePackage: 'https://example.com/aws-parallelcluster-node.tgz'}"
    ts = templates(extra=extra)
    head = ts.main["Resources"]["HeadNode"]["Properties"]["UserData"]["Fn::Base64"]["Fn::Sub"][0]
    assert "aws-parallelcluster-node" not in head
    assert f"pip install --quiet 'corral=={__version__}'" in head
    path = tmp_path / "cluster.yaml"
    path.write_text(BASE.format(head="", queue="", cr="", extra=extra))
    report = check_cluster_config(path, cluster_name="mapped", target="aws")
    warned = [f for f in report.findings if f.path == "DevSettings/NodePackage"]
    assert warned and "neither fetches nor installs" in warned[0].message


# -- FSx for Lustre PERSISTENT_1 on HDD ------------------------------------------------------------


def test_fsx_persistent_1_hdd_throughput_12_builds() -> None:
    extra = (
        "SharedStorage:\n  - Name: fsx\n    MountDir: /fsx\n    StorageType: FsxLustre\n"
        "    FsxLustreSettings: {StorageCapacity: 6000, DeploymentType: PERSISTENT_1, StorageType: HDD,"
        " PerUnitStorageThroughput: 12}\n"
    )
    ts = templates(extra=extra)
    (fsx,) = [r for r in ts.main["Resources"].values() if r["Type"] == "AWS::FSx::FileSystem"]
    assert fsx["Properties"]["LustreConfiguration"] == {
        "DeploymentType": "PERSISTENT_1",
        "PerUnitStorageThroughput": 12,
    }
    assert fsx["Properties"]["StorageType"] == "HDD"


# -- every template above stays cfn-lint clean ----------------------------------------------------

FSX_HDD = (
    "SharedStorage:\n  - Name: fsx\n    MountDir: /fsx\n    StorageType: FsxLustre\n"
    "    FsxLustreSettings: {StorageCapacity: 6000, DeploymentType: PERSISTENT_1, StorageType: HDD,"
    " PerUnitStorageThroughput: 12}\n"
)


def test_the_mapped_templates_pass_cfn_lint() -> None:
    import json

    from cfnlint.config import ConfigMixIn
    from cfnlint.decode.decode import decode_str
    from cfnlint.runner import Runner

    runner = Runner(ConfigMixIn(regions=["us-east-1"]))
    cases = [
        templates(
            head=(
                "  Iam:\n    S3Access:\n      - {BucketName: out, KeyName: 'r/*', EnableWriteAccess: true}\n"
            ),
            queue="      Iam:\n        S3Access:\n          - {BucketName: '*'}\n",
            cr="          DisableSimultaneousMultithreading: true",
            extra=FSX_HDD,
        ),
        templates(queue="      CapacityType: CAPACITY_BLOCK", cr=BLOCK_CR),
        templates(queue="      CapacityType: SPOT", cr="          SpotPrice: 0.35"),
    ]
    problems = []
    for ts in cases:
        for body in [ts.main, *ts.nested.values()]:
            template, errors = decode_str(json.dumps(body))
            assert not errors
            problems += [f"{m.rule.id} {m.message}" for m in runner.validate_template(template)]
    assert problems == []


def test_smt_off_with_several_instance_types_is_done_by_the_node() -> None:
    from corral.providers.aws._node_setup import SMT_OFF, NodeContext, compute_setup

    flex = (
        "        - Name: flex\n"
        "          Instances: [{InstanceType: c5.2xlarge}, {InstanceType: c5a.2xlarge}]\n"
        "          MaxCount: 2\n          DisableSimultaneousMultithreading: true"
    )
    plan = plan_of(cr=flex)
    ts = build_templates(plan)
    lts = [
        r["Properties"]["LaunchTemplateData"]
        for body in ts.nested.values()
        for r in body["Resources"].values()
        if r["Type"] == "AWS::EC2::LaunchTemplate"
    ]
    assert all("CpuOptions" not in lt for lt in lts)
    node = {"cluster_name": "mapped", "node_role": "Compute", "queue": "q", "head_private_ip": "10.0.0.5"}
    flexible = compute_setup(
        plan, NodeContext.of({**node, "compute_resource": "flex"}), node_name="q-dy-flex-1"
    )
    single = compute_setup(plan, NodeContext.of({**node, "compute_resource": "cr"}), node_name="q-dy-cr-1")
    assert SMT_OFF in flexible.services and SMT_OFF not in single.services

"""The AWS CloudFormation templates: structure, scoping, limits, storage and determinism.

cfn-lint over the corpus is in ``test_template_lint.py``; golden files in ``test_template_golden.py``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

from corral.config import load_cluster_config_text
from corral.errors import CorralError, LimitExceededError
from corral.plan import build_plan
from corral.providers.aws.template import (
    CLUSTER_TAG,
    TemplateSet,
    build_templates,
    launch_template_output_key,
)
from corral.providers.aws.template._split import Piece, pack
from corral.providers.aws.template._storage import storage_output_key

ROOT = Path(__file__).resolve().parents[4]
GOLDEN = Path(__file__).parent / "golden"
LIMIT = ROOT / "bench" / "configs" / "limit-50q-50cr.yaml"
SMALL = GOLDEN / "small.yaml"


def templates_of(text: str, name: str = "tpl", **kwargs: Any) -> TemplateSet:
    config = load_cluster_config_text(text, "cluster.yaml").config
    return build_templates(build_plan(config, cluster_name=name), **kwargs)


def templates_of_file(path: Path, name: str = "tpl") -> TemplateSet:
    return templates_of(path.read_text(), name)


def all_bodies(ts: TemplateSet) -> dict[str, dict[str, Any]]:
    return {"main": ts.main, **ts.nested}


def resources(ts: TemplateSet, kind: str) -> dict[str, Any]:
    return {
        k: v for body in all_bodies(ts).values() for k, v in body["Resources"].items() if v["Type"] == kind
    }


BASE = """
Image: {{Os: alinux2023}}
HeadNode:
  InstanceType: c5.xlarge
  Networking: {{SubnetId: subnet-0123456789abcdef0}}
  Ssh: {{KeyName: k, AllowedIps: 198.51.100.7/32}}
Scheduling:
  Scheduler: slurm
  SlurmQueues:
    - Name: q
      ComputeResources: [{{Name: cr, InstanceType: c5.xlarge, MaxCount: 2}}]
      Networking: {{SubnetIds: [subnet-0123456789abcdef0]}}
{extra}
"""


@pytest.fixture(scope="module")
def small() -> TemplateSet:
    return templates_of_file(SMALL, "golden-small")


@pytest.fixture(scope="module")
def limit() -> TemplateSet:
    return templates_of_file(LIMIT, "limit")


def test_to_json_is_deterministic_compact_and_sorted(small: TemplateSet) -> None:
    again = templates_of_file(SMALL, "golden-small")
    for name in ["main", *small.nested]:
        assert small.to_json(name) == again.to_json(name)
        text = small.to_json(name)
        assert json.loads(text) == (small.main if name == "main" else small.nested[name])
        assert text == json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"))


def test_root_outputs_the_provider_relies_on(small: TemplateSet) -> None:
    outputs = small.main["Outputs"]
    for key in (
        "ClusterName",
        "HeadNodeInstanceId",
        "HeadNodePrivateIp",
        "NodeStateTableName",
        "LogGroupName",
        "HeadNodeSecurityGroupId",
        "ComputeSecurityGroupId",
        "HostedZoneId",
    ):
        assert key in outputs, key
    assert outputs["HeadNodeInstanceId"]["Value"] == {"Ref": "HeadNode"}
    for queue, cr in (("compute", "c5"), ("highmem", "r5")):
        key = launch_template_output_key(queue, cr)
        stack = next(s for s, body in small.nested.items() if key in body["Resources"])
        assert small.main["Resources"][stack]["Type"] == "AWS::CloudFormation::Stack"
        assert outputs[key]["Value"] == {"Fn::GetAtt": [stack, f"Outputs.{key}"]}
        assert outputs[f"{key}Version"]["Value"] == {"Fn::GetAtt": [stack, f"Outputs.{key}Version"]}
        nested_out = small.nested[stack]["Outputs"]
        assert nested_out[f"{key}Version"]["Value"] == {"Fn::GetAtt": [key, "LatestVersionNumber"]}


def test_launch_template_keys_never_collide() -> None:
    assert launch_template_output_key("a-b1", "c") != launch_template_output_key("a-b-1", "c")
    assert launch_template_output_key("q", "cr").isalnum()


def test_head_node_is_an_instance_with_user_data_that_runs_the_agent(small: TemplateSet) -> None:
    head = small.main["Resources"]["HeadNode"]
    assert head["Type"] == "AWS::EC2::Instance"
    props = head["Properties"]
    assert props["InstanceType"] == "c5.xlarge"
    assert props["NetworkInterfaces"][0]["SubnetId"] == "subnet-0123456789abcdef0"
    script = props["UserData"]["Fn::Base64"]["Fn::Sub"][0]
    assert script.startswith("#!/bin/bash")
    assert "pip install --quiet 'corral==" in script
    assert script.rstrip().endswith(
        "exec /opt/corral/bin/python -m corral.providers.aws.node /etc/corral/bootstrap.json"
    )
    assert "${" not in script.replace("${AWS::", "").replace("${TableName}", "").replace(
        "${LogGroupName}", ""
    )


def test_ssh_ingress_only_from_allowed_ips(limit: TemplateSet, small: TemplateSet) -> None:
    for ts, allowed in ((limit, "10.0.0.0/8"), (small, "203.0.113.0/24")):
        ingress = resources(ts, "AWS::EC2::SecurityGroupIngress")
        ssh = [r["Properties"] for r in ingress.values() if r["Properties"].get("FromPort") == 22]
        assert ssh and all(p["CidrIp"] == allowed for p in ssh)
        for rule in ingress.values():
            props = rule["Properties"]
            # Every other rule admits only the cluster's own security groups.
            if props.get("FromPort") != 22:
                assert "CidrIp" not in props and "SourceSecurityGroupId" in props


def test_ssh_from_a_prefix_list() -> None:
    ts = templates_of(BASE.format(extra="").replace("198.51.100.7/32", "pl-0123456789abcdef0"))
    ssh = ts.main["Resources"]["HeadNodeSshIngress"]["Properties"]
    assert ssh["SourcePrefixListId"] == "pl-0123456789abcdef0" and "CidrIp" not in ssh


def _statements(role: dict[str, Any]) -> dict[str, dict[str, Any]]:
    (policy,) = role["Properties"]["Policies"]
    return {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}


def test_head_role_is_scoped_to_its_cluster(limit: TemplateSet) -> None:
    st = _statements(limit.main["Resources"]["HeadNodeRole"])
    tag = f"aws:ResourceTag/{CLUSTER_TAG}"
    assert st["LaunchFromClusterTemplates"]["Condition"] == {"StringEquals": {tag: "limit"}}
    assert st["TerminateClusterInstances"]["Condition"] == {"StringEquals": {tag: "limit"}}
    assert st["TagClusterInstances"]["Condition"] == {"StringEquals": {tag: "limit"}}
    assert st["LaunchOnlyTagged"]["Condition"] == {"StringEquals": {f"aws:RequestTag/{CLUSTER_TAG}": "limit"}}
    assert st["TagOnlyAtLaunch"]["Condition"]["StringEquals"]["ec2:CreateAction"] == [
        "CreateFleet",
        "RunInstances",
    ]
    assert st["NodeStateTable"]["Resource"] == [{"Fn::GetAtt": ["NodeStateTable", "Arn"]}]
    assert "role/corral/limit/*" in json.dumps(st["PassClusterRoles"]["Resource"])
    assert st["PassClusterRoles"]["Condition"]["StringEquals"]["iam:PassedToService"]
    assert json.dumps(st["ConfiguredBucketsRead"]["Resource"]).count("my-bucket") == 2
    assert st["ClusterArtifactsRead"]["Resource"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:s3:::corral-${AWS::AccountId}-${AWS::Region}/corral/limit/*"}
    ]
    # Only Describe calls, which have no resource-level permissions, may name every resource.
    for sid, statement in st.items():
        if statement["Resource"] == "*":
            assert all(a.startswith("ec2:Describe") for a in statement["Action"]), sid


def test_compute_roles_are_scoped(limit: TemplateSet) -> None:
    roles = resources(limit, "AWS::IAM::Role")
    compute = {k: v for k, v in roles.items() if k != "HeadNodeRole"}
    assert len(compute) == 50
    for role in compute.values():
        st = _statements(role)
        assert st["NodeStateTable"]["Resource"] == [{"Ref": "TableArn"}]
        assert st["TagClusterInstances"]["Condition"] == {
            "StringEquals": {f"aws:ResourceTag/{CLUSTER_TAG}": "limit"}
        }
        assert role["Properties"]["Path"] == "/corral/limit/"
        assert "corral/limit/*" in json.dumps(st["ClusterArtifactsRead"]["Resource"])
        assert role["Properties"]["ManagedPolicyArns"] == ["arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"]
        for sid, statement in st.items():
            if statement["Resource"] == "*":
                assert all(a.startswith("ec2:Describe") for a in statement["Action"]), sid


def test_given_role_and_profile_are_referenced_not_created() -> None:
    extra = ""
    text = (
        BASE.format(extra=extra)
        .replace(
            "      Networking: {SubnetIds: [subnet-0123456789abcdef0]}",
            "      Networking: {SubnetIds: [subnet-0123456789abcdef0]}\n"
            "      Iam: {InstanceProfile: 'arn:aws:iam::123456789012:instance-profile/given'}",
        )
        .replace(
            "  Ssh: {KeyName: k, AllowedIps: 198.51.100.7/32}",
            "  Ssh: {KeyName: k, AllowedIps: 198.51.100.7/32}\n"
            "  Iam: {InstanceRole: 'arn:aws:iam::123456789012:role/path/head-role'}",
        )
    )
    ts = templates_of(text)
    roles = resources(ts, "AWS::IAM::Role")
    assert roles == {}
    assert ts.main["Resources"]["HeadNodeInstanceProfile"]["Properties"]["Roles"] == ["head-role"]
    (lt,) = resources(ts, "AWS::EC2::LaunchTemplate").values()
    arn = lt["Properties"]["LaunchTemplateData"]["IamInstanceProfile"]["Arn"]
    assert arn == "arn:aws:iam::123456789012:instance-profile/given"


def test_tags_on_every_taggable_resource(limit: TemplateSet, small: TemplateSet) -> None:
    for ts in (limit, small):
        for name, body in all_bodies(ts).items():
            for logical, resource in body["Resources"].items():
                tags = _tags_of(resource)
                if tags is None:
                    continue
                found = {t["Key"]: t["Value"] for t in tags}
                assert found.get(CLUSTER_TAG) == ts.main["Outputs"]["ClusterName"]["Value"], (name, logical)
    billing = {t["Key"]: t["Value"] for t in _tags_of(small.main["Resources"]["NodeStateTable"]) or []}
    assert billing["project"] == "corral-demo" and billing["cost-center"] == "hpc-42"


def _tags_of(resource: dict[str, Any]) -> list[dict[str, str]] | None:
    """The resource's tags, or None when its type cannot carry tags (per cfn-lint's schemas)."""
    kind = resource["Type"]
    props = resource.get("Properties", {})
    if kind == "AWS::EC2::LaunchTemplate":
        specs = props["TagSpecifications"] + props["LaunchTemplateData"]["TagSpecifications"]
        assert {s["ResourceType"] for s in specs} == {
            "launch-template",
            "instance",
            "volume",
            "network-interface",
        }
        tags = specs[0]["Tags"]
        assert all(s["Tags"] == tags for s in specs)
        return tags
    tagging = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", kind).schema.get("tagging", {})
    if not tagging.get("taggable"):
        return None
    prop = tagging.get("tagProperty", "/properties/Tags").rsplit("/", 1)[-1]
    assert prop in props, f"{kind} carries no {prop}"
    return props[prop]


def test_queue_and_compute_resource_tags_reach_launched_instances(small: TemplateSet) -> None:
    key = launch_template_output_key("compute", "c5")
    body = next(b for b in small.nested.values() if key in b["Resources"])
    specs = body["Resources"][key]["Properties"]["LaunchTemplateData"]["TagSpecifications"]
    tags = {t["Key"]: t["Value"] for t in specs[0]["Tags"]}
    assert tags["queue-owner"] == "team-a" and tags["corral:queue-name"] == "compute"
    assert tags["corral:compute-resource-name"] == "c5" and tags["project"] == "corral-demo"


def test_limit_config_stays_within_cloudformation_limits(limit: TemplateSet) -> None:
    assert len(resources(limit, "AWS::EC2::LaunchTemplate")) == 50
    for name, body in all_bodies(limit).items():
        assert len(body["Resources"]) < 500, name
        assert len(body.get("Outputs", {})) <= 200, name
        assert len(body.get("Parameters", {})) <= 200, name
        assert len(limit.to_json(name).encode()) < 1_000_000, name
        assert len(body["Description"].encode()) <= 1024, name


def test_pack_splits_by_every_budget() -> None:
    def piece(name: str, n: int, size: int = 10) -> Piece:
        return Piece(name, {f"R{name}{i}": {} for i in range(n)}, {f"O{name}": {}}, size)

    pieces = [piece("a", 3), piece("b", 3), piece("c", 2)]
    assert [[p.queue for p in c] for c in pack(pieces, max_resources=6)] == [["a", "b"], ["c"]]
    assert [[p.queue for p in c] for c in pack(pieces, max_outputs=1)] == [["a"], ["b"], ["c"]]
    assert [[p.queue for p in c] for c in pack(pieces, max_bytes=25)] == [["a", "b"], ["c"]]
    with pytest.raises(LimitExceededError):
        pack([piece("huge", 10)], max_resources=5)


def test_nested_stack_urls_replace_placeholders(small: TemplateSet) -> None:
    (stack,) = small.nested
    assert small.main["Resources"][stack]["Properties"]["TemplateURL"] == {"Ref": f"{stack}TemplateUrl"}
    url = "https://bucket.s3.amazonaws.com/q1.json"
    ts = build_templates(
        build_plan(load_cluster_config_text(SMALL.read_text(), "s.yaml").config, cluster_name="golden-small"),
        nested_template_urls={stack: url},
    )
    assert ts.main["Resources"][stack]["Properties"]["TemplateURL"] == url
    assert f"{stack}TemplateUrl" not in ts.main["Parameters"]


def test_nested_parameters_match_what_the_root_passes(limit: TemplateSet, small: TemplateSet) -> None:
    for ts in (limit, small):
        for stack, body in ts.nested.items():
            passed = ts.main["Resources"][stack]["Properties"]["Parameters"]
            assert set(passed) == set(body["Parameters"])


def test_storage_resources_and_deletion_policies(small: TemplateSet) -> None:
    res = small.main["Resources"]
    volumes = resources(small, "AWS::EC2::Volume")
    (volume,) = volumes.values()
    assert volume["DeletionPolicy"] == "Snapshot" and volume["Properties"]["Size"] == 50
    (attachment,) = resources(small, "AWS::EC2::VolumeAttachment").values()
    assert attachment["Properties"]["InstanceId"] == {"Ref": "HeadNode"}
    (efs_id, efs), *_ = resources(small, "AWS::EFS::FileSystem").items()
    assert efs["DeletionPolicy"] == "Retain"
    targets = resources(small, "AWS::EFS::MountTarget")
    assert sorted(t["Properties"]["SubnetId"] for t in targets.values()) == [
        "subnet-0123456789abcdef0",
        "subnet-0fedcba9876543210",
    ]
    assert all(t["Properties"]["FileSystemId"] == {"Ref": efs_id} for t in targets.values())
    assert resources(small, "AWS::FSx::FileSystem") == {}
    assert small.main["Outputs"][storage_output_key("existing-fsx")]["Value"] == "fs-0123456789abcdef0"
    assert res["ClusterLogGroup"]["Properties"]["RetentionInDays"] == 14
    assert res["ClusterLogGroup"]["DeletionPolicy"] == "Delete"


def test_mount_targets_one_per_zone_when_zones_are_known() -> None:
    zones = {"subnet-0123456789abcdef0": "us-east-1a", "subnet-0fedcba9876543210": "us-east-1a"}
    ts = build_templates(
        build_plan(load_cluster_config_text(SMALL.read_text(), "s.yaml").config, cluster_name="z"),
        subnet_availability_zones=zones,
    )
    assert len(resources(ts, "AWS::EFS::MountTarget")) == 1


FSX = """SharedStorage:
  - MountDir: /fsx
    Name: lustre
    StorageType: FsxLustre
    FsxLustreSettings:
      StorageCapacity: 1200
      DeploymentType: PERSISTENT_2
      PerUnitStorageThroughput: 125
      DataRepositoryAssociations:
        - Name: dra1
          FileSystemPath: /data
          DataRepositoryPath: s3://bucket-one/data
          AutoImportPolicy: [NEW, CHANGED]
        - Name: dra2
          FileSystemPath: /more
          DataRepositoryPath: s3://bucket-two
"""


def test_fsx_lustre_with_data_repository_associations() -> None:
    ts = templates_of(BASE.format(extra=FSX))
    (fs_id, fs), *_ = resources(ts, "AWS::FSx::FileSystem").items()
    assert fs["Properties"]["LustreConfiguration"]["DeploymentType"] == "PERSISTENT_2"
    assert fs["DeletionPolicy"] == "Delete"
    dras = resources(ts, "AWS::FSx::DataRepositoryAssociation")
    assert sorted(d["Properties"]["DataRepositoryPath"] for d in dras.values()) == [
        "s3://bucket-one/data",
        "s3://bucket-two",
    ]
    events = [d["Properties"].get("S3", {}).get("AutoImportPolicy", {}).get("Events") for d in dras.values()]
    assert ["NEW", "CHANGED"] in events
    assert all(d["Properties"]["FileSystemId"] == {"Ref": fs_id} for d in dras.values())


def test_existing_ebs_volume_is_attached_not_created() -> None:
    volume = "{VolumeId: vol-0123456789abcdef0}"
    extra = f"SharedStorage:\n  - {{MountDir: /v, Name: v, StorageType: Ebs, EbsSettings: {volume}}}"
    ts = templates_of(BASE.format(extra=extra))
    assert resources(ts, "AWS::EC2::Volume") == {}
    (att,) = resources(ts, "AWS::EC2::VolumeAttachment").values()
    assert att["Properties"]["VolumeId"] == "vol-0123456789abcdef0"


def test_dns_zone_created_given_or_disabled() -> None:
    created = templates_of(BASE.format(extra=""))
    assert "ClusterHostedZone" in created.main["Resources"]
    assert "HeadNodeDnsRecord" in created.main["Resources"]
    dns = "      Dns: {{{}}}"
    for setting, zone in (
        ("DisableManagedDns: true", None),
        ("HostedZoneId: Z0123456789ABCDEFGHIJ", "Z0123456789ABCDEFGHIJ"),
    ):
        text = BASE.format(extra="").replace(
            "  Scheduler: slurm\n", "  Scheduler: slurm\n  SlurmSettings:\n" + dns.format(setting)[2:] + "\n"
        )
        ts = templates_of(text)
        assert "ClusterHostedZone" not in ts.main["Resources"]
        assert ts.main["Outputs"].get("HostedZoneId", {}).get("Value") == zone


def test_custom_ami_skips_the_image_parameter() -> None:
    ts = templates_of(
        BASE.format(extra="").replace(
            "{Os: alinux2023}", "{Os: alinux2023, CustomAmi: ami-0123456789abcdef0}"
        )
    )
    assert not any(p.startswith("ImageId") for p in ts.main["Parameters"])
    assert ts.main["Resources"]["HeadNode"]["Properties"]["ImageId"] == "ami-0123456789abcdef0"


def test_configs_aws_would_refuse_are_refused_with_every_problem_named() -> None:
    text = BASE.format(extra="").replace(
        "InstanceType: c5.xlarge\n  Networking", "InstanceType: String\n  Networking"
    )
    text = text.replace(
        "  Scheduler: slurm\n", "  Scheduler: slurm\n  SlurmSettings: {MungeKeySecretArn: value0}\n"
    )
    with pytest.raises(CorralError) as info:
        templates_of(text)
    message = str(info.value)
    assert "HeadNode/InstanceType: 'String'" in message and info.value.hint
    assert "MungeKeySecretArn: 'value0' is not an ARN" in message


def test_proxy_reaches_user_data_as_a_literal_and_node_package_does_not() -> None:
    text = BASE.format(extra="DevSettings: {NodePackage: 'corral @ https://example.com/c-${X}.whl'}").replace(
        "  Networking: {SubnetId: subnet-0123456789abcdef0}",
        "  Networking: {SubnetId: subnet-0123456789abcdef0, Proxy: {HttpProxyAddress: 'https://proxy:8080'}}",
    )
    ts = templates_of(text)
    head = ts.main["Resources"]["HeadNode"]["Properties"]["UserData"]["Fn::Base64"]["Fn::Sub"][0]
    assert "export http_proxy='https://proxy:8080'" in head
    assert "https://example.com/c-" not in head  # NodePackage is pcluster's, never installed
    (lt,) = resources(ts, "AWS::EC2::LaunchTemplate").values()
    compute = lt["Properties"]["LaunchTemplateData"]["UserData"]["Fn::Base64"]["Fn::Sub"][0]
    assert "http_proxy" not in compute  # the queue names no proxy


def test_queues_split_across_nested_stacks_stay_wired(
    monkeypatch: pytest.MonkeyPatch, limit: TemplateSet
) -> None:
    """With a small resource budget the limit config needs many queue stacks: each launch template's
    root output reads the stack that holds it, and each stack gets exactly the parameters it declares."""
    from corral.providers.aws.template import _split

    monkeypatch.setattr(_split, "MAX_RESOURCES", 20)
    ts = templates_of_file(LIMIT, "limit")
    assert len(ts.nested) >= 8  # 3 or 4 resources per queue, at most 20 per stack, 50 queues
    split_total = sum(len(body["Resources"]) for body in ts.nested.values())
    assert split_total == sum(len(body["Resources"]) for body in limit.nested.values())
    seen = set()
    for stack, body in ts.nested.items():
        assert len(body["Resources"]) <= 20
        passed = ts.main["Resources"][stack]["Properties"]["Parameters"]
        assert set(passed) == set(body["Parameters"])
        for key in body["Outputs"]:
            if key.startswith("LaunchTemplate"):
                assert ts.main["Outputs"][key]["Value"] == {"Fn::GetAtt": [stack, f"Outputs.{key}"]}
                seen.add(key)
    assert len(seen) == 100  # 50 ids + 50 versions


def test_the_template_package_imports_no_aws_sdk() -> None:
    """Templates are pure: the package imports troposphere (and PyYAML for Image Builder component
    documents) and Corral's config, plan and errors, never boto3/botocore or the provider around it
    (what an import-linter contract would state)."""
    import ast
    import sys

    allowed = (
        "troposphere",
        "yaml",
        "corral.config",
        "corral.plan",
        "corral.errors",
        "corral.providers.aws.template",
    )
    package = ROOT / "src" / "corral" / "providers" / "aws" / "template"
    found: set[str] = set()
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module)
    assert "troposphere" in found
    for name in sorted(found):
        top = name.split(".")[0]
        ok = top in sys.stdlib_module_names or top == "__future__" or name == "corral"
        assert ok or name.startswith(allowed), f"the template package imports {name}"


def test_storage_group_admits_nodes_on_file_system_ports_only() -> None:
    ts = templates_of(BASE.format(extra=FSX + "  - {MountDir: /efs, Name: efs, StorageType: Efs}\n"))
    rules = [
        r["Properties"]
        for r in resources(ts, "AWS::EC2::SecurityGroupIngress").values()
        if r["Properties"]["GroupId"] == {"Fn::GetAtt": ["StorageSecurityGroup", "GroupId"]}
    ]
    ports = {(p["FromPort"], p["ToPort"]) for p in rules}
    assert ports == {(2049, 2049), (988, 988), (1018, 1023)}
    assert all(p["IpProtocol"] == "tcp" for p in rules)
    sources = {json.dumps(p["SourceSecurityGroupId"], sort_keys=True) for p in rules}
    assert sources == {
        json.dumps({"Ref": "HeadNodeSecurityGroup"}),
        json.dumps({"Ref": "ComputeSecurityGroup"}),
        json.dumps({"Fn::GetAtt": ["StorageSecurityGroup", "GroupId"]}),  # Lustre servers to each other
    }


def test_resource_prefix_path_goes_in_front_of_role_paths() -> None:
    ts = templates_of(BASE.format(extra="Iam: {ResourcePrefix: /path-prefix/name-prefix}"), "rp")
    for role in resources(ts, "AWS::IAM::Role").values():
        assert role["Properties"]["Path"] == "/path-prefix/corral/rp/"
    passed = _statements(ts.main["Resources"]["HeadNodeRole"])["PassClusterRoles"]["Resource"]
    assert passed == [
        {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/path-prefix/corral/rp/*"}
    ]

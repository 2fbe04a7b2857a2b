"""Login node pools on AWS (#17.4): the template (an Auto Scaling group behind a Network Load
Balancer per pool, security groups from ``AllowedIps``, a least-privilege role, the login-node
user data; cfn-lint with every rule), the pool status mapping, the login node's program (no
slurmd), and the lifecycle against a moto server on loopback: create, the pools' instances and
``loginNodes``, a ``Count`` change through update-cluster, delete leaving nothing.

moto never boots an instance: what runs on a login node (sshd, munged, the Slurm client
commands, the mounts) is covered by the node program's pure parts only."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from cfnlint.config import ConfigMixIn
from cfnlint.decode.decode import decode_str
from cfnlint.runner import Runner

from corral.config.check import check_cluster_config
from corral.errors import NotFoundError
from corral.plan import build_plan
from corral.providers import get_provider
from corral.providers.aws import AwsProvider
from corral.providers.aws._login import PoolResources, to_status
from corral.providers.aws._login_setup import SSHD_DROP_IN, login_actions, login_setup
from corral.providers.aws._node_setup import SLURM_CONF, NodeContext
from corral.providers.aws.template import build_templates, login_output_keys
from corral.providers.aws.template._login import login_prefix
from corral.providers.base import NodeRole
from corral.service import ClusterService
from corral.state import StackStatus, StateStore
from support.aws import Network, aws_endpoint, make_network

CONFIG = """Region: us-east-1
Image:
  Os: alinux2023
HeadNode:
  InstanceType: t3.micro
  Networking:
    SubnetId: {public}
  Ssh:
    KeyName: mykey
Scheduling:
  Scheduler: slurm
  SlurmQueues:
    - Name: q1
      ComputeResources:
        - Name: cr1
          InstanceType: t3.micro
          MinCount: 0
          MaxCount: 4
      Networking:
        SubnetIds: [{private}]
LoginNodes:
  Pools:
    - Name: login
      InstanceType: t3.small
      Count: {count}
      Networking:
        SubnetIds: [{public}]
      Ssh:
        AllowedIps: 10.1.0.0/16
      CustomActions:
        OnNodeConfigured:
          Script: s3://my-scripts/login.sh
          Args: [a]
        OnNodeStart:
          Script: s3://my-scripts/start.sh
    - Name: other
      InstanceType: t3.small
      Count: 1
      GracetimePeriod: 5
      Networking:
        SubnetIds: [{private}]
        SecurityGroups: [{group}]
      Iam:
        AdditionalIamPolicies:
          - Policy: arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess
"""
OFFLINE = Network("vpc-12345678", "subnet-12345678", "subnet-87654321", "sg-12345678")


def config_text(net: Network, count: int = 2) -> str:
    return CONFIG.format(
        public=net.public_subnet, private=net.private_subnet, group=net.security_group, count=count
    )


def plan_of(tmp_path: Path, text: str, name: str = "lg") -> Any:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    report = check_cluster_config(path, cluster_name=name, target="aws")
    assert report.config is not None, [f.message for f in report.findings]
    return build_plan(report.config, cluster_name=name)


# -- the template ----------------------------------------------------------------------------


def test_each_pool_is_an_auto_scaling_group_behind_a_network_load_balancer(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, config_text(OFFLINE))
    main = build_templates(plan, public_subnets={OFFLINE.public_subnet}).main
    resources = main["Resources"]
    login, other = login_prefix("login"), login_prefix("other")
    group = resources[f"{login}AutoScalingGroup"]["Properties"]
    assert (group["MinSize"], group["MaxSize"], group["DesiredCapacity"]) == ("2", "2", "2")
    assert group["VPCZoneIdentifier"] == [OFFLINE.public_subnet]
    assert group["TargetGroupARNs"] == [{"Ref": f"{login}TargetGroup"}]
    [hook] = group["LifecycleHookSpecificationList"]
    assert hook["LifecycleTransition"] == "autoscaling:EC2_INSTANCE_TERMINATING"
    assert hook["HeartbeatTimeout"] == 600  # GracetimePeriod's default, 10 minutes
    assert (
        resources[f"{other}AutoScalingGroup"]["Properties"]["LifecycleHookSpecificationList"][0][
            "HeartbeatTimeout"
        ]
        == 300
    )
    tags = {t["Key"]: (t["Value"], t["PropagateAtLaunch"]) for t in group["Tags"]}
    assert tags["corral:node-role"] == ("LoginNode", True)
    assert tags["corral:login-pool"] == ("login", True)
    balancer = resources[f"{login}LoadBalancer"]["Properties"]
    assert (balancer["Type"], balancer["Scheme"]) == ("network", "internet-facing")
    assert resources[f"{other}LoadBalancer"]["Properties"]["Scheme"] == "internal"  # private subnet
    listener = resources[f"{login}Listener"]["Properties"]
    assert (listener["Port"], listener["Protocol"]) == (22, "TCP")
    target = resources[f"{login}TargetGroup"]["Properties"]
    assert (target["Port"], target["Protocol"], target["TargetType"]) == (22, "TCP", "instance")
    data = resources[f"{login}LaunchTemplate"]["Properties"]["LaunchTemplateData"]
    assert data["InstanceType"] == "t3.small"
    assert data["KeyName"] == "mykey"  # pcluster 3.16: the head node's key pair
    assert set(login_output_keys("login").values()) <= set(main["Outputs"])


def test_ssh_reaches_a_pool_only_from_its_allowed_ips_and_given_groups_are_used(tmp_path: Path) -> None:
    resources = build_templates(plan_of(tmp_path, config_text(OFFLINE))).main["Resources"]
    login, other = login_prefix("login"), login_prefix("other")
    ssh = resources[f"{login}SshIngress"]["Properties"]
    assert (ssh["CidrIp"], ssh["FromPort"], ssh["ToPort"]) == ("10.1.0.0/16", 22, 22)
    open_to_world = [
        k
        for k, v in resources.items()
        if k.startswith("LoginPool") and v["Properties"].get("CidrIp") == "0.0.0.0/0"
    ]
    assert open_to_world == []
    # the head trusts the pool's group (slurmctld, NFS) and the pool the compute group (srun's I/O)
    assert f"HeadNodeSecurityGroupFrom{login}SecurityGroupIngress" in resources
    assert f"{login}SecurityGroupFromComputeSecurityGroupIngress" in resources
    assert f"{other}SecurityGroup" not in resources  # SecurityGroups given
    other_data = resources[f"{other}LaunchTemplate"]["Properties"]["LaunchTemplateData"]
    assert other_data["SecurityGroupIds"] == [OFFLINE.security_group]


def test_the_login_role_may_read_its_cluster_and_nothing_more(tmp_path: Path) -> None:
    resources = build_templates(plan_of(tmp_path, config_text(OFFLINE))).main["Resources"]
    role = resources[f"{login_prefix('login')}Role"]["Properties"]
    actions = {a for s in role["Policies"][0]["PolicyDocument"]["Statement"] for a in s["Action"]}
    assert not {
        a for a in actions if a.startswith(("ec2:Run", "ec2:Create", "ec2:Terminate", "iam:", "dynamodb:"))
    }
    assert "s3:GetObject" in actions  # the cluster's artefacts and the custom actions' bucket
    text = json.dumps(role)
    assert "my-scripts" in text
    other = resources[f"{login_prefix('other')}Role"]["Properties"]
    assert other["ManagedPolicyArns"] == ["arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"]


def test_the_login_user_data_names_the_role_and_pool(tmp_path: Path) -> None:
    resources = build_templates(plan_of(tmp_path, config_text(OFFLINE))).main["Resources"]
    data = resources[f"{login_prefix('login')}LaunchTemplate"]["Properties"]["LaunchTemplateData"]
    script = data["UserData"]["Fn::Base64"]["Fn::Sub"][0]
    assert '"node_role": "LoginNode"' in script and '"login_pool": "login"' in script
    assert '"head_private_ip": "${HeadPrivateIp}"' in script


def test_login_templates_pass_cfn_lint_with_every_rule(tmp_path: Path) -> None:
    templates = build_templates(plan_of(tmp_path, config_text(OFFLINE)))
    runner = Runner(ConfigMixIn(regions=["us-east-1"]))
    for name in ["main", *templates.nested]:
        body, errors = decode_str(templates.to_json(name))
        assert not errors
        matches = list(runner.validate_template(body))
        assert matches == [], [f"{m.rule.id} {m.message}" for m in matches]


# -- status and the node program (pure) -------------------------------------------------------


def test_pool_status_maps_the_load_balancer_and_target_health() -> None:
    pool = PoolResources("login", "asg", "arn:lb", "arn:tg")
    active = {"State": {"Code": "active"}, "DNSName": "lb-1.elb.amazonaws.com", "Scheme": "internal"}
    assert to_status(pool, active, (2, 1)).to_json() == {
        "poolName": "login",
        "status": "active",
        "address": "lb-1.elb.amazonaws.com",
        "scheme": "internal",
        "healthyNodes": 2,
        "unhealthyNodes": 1,
    }
    assert to_status(pool, {"State": {"Code": "provisioning"}}, (0, 0)).status == "pending"
    assert to_status(pool, {"State": {"Code": "failed"}}, (0, 0)).status == "failed"
    assert to_status(pool, None, (0, 0)).to_json() == {
        "poolName": "login",
        "status": "pending",
        "healthyNodes": 0,
        "unhealthyNodes": 0,
    }


def test_ssh_login_pool_address_prefers_the_node_then_a_public_load_balancer() -> None:
    from datetime import UTC, datetime

    from corral.providers.aws._login import login_address
    from corral.providers.base import Instance, InstanceState

    def node(public: str | None) -> Instance:
        when = datetime.now(UTC)
        return Instance(
            "i-1", NodeRole.LOGIN, "t3.small", "10.0.0.5", InstanceState.RUNNING, when, public_ip=public
        )

    lb = {"Scheme": "internet-facing", "DNSName": "lb-1.elb.amazonaws.com"}
    assert login_address(node("3.3.3.3"), lb) == "3.3.3.3"
    assert login_address(node(None), lb) == "lb-1.elb.amazonaws.com"
    assert login_address(node(None), {**lb, "Scheme": "internal"}) == "10.0.0.5"
    assert login_address(None, None) is None


def test_a_login_node_runs_munged_and_sshd_with_keys_only_but_no_slurm_daemon(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, config_text(OFFLINE))
    context = NodeContext(
        cluster_name="lg",
        node_role="LoginNode",
        region="us-east-1",
        head_private_ip="10.0.0.5",
        login_pool="login",
    )
    setup = login_setup(plan, context)
    programs = [s[0] for s in setup.services]
    assert "munged" in programs
    assert not any(word in " ".join(s) for s in setup.services for word in ("slurmd ", "slurmctld"))
    assert "slurmd" not in programs and "slurmctld" not in programs
    files = {path: content for path, content, _ in setup.files}
    assert "PasswordAuthentication no" in files[SSHD_DROP_IN]
    assert "SlurmctldHost=ip-10-0-0-5(10.0.0.5)" in files[SLURM_CONF]
    assert "cfn_node_type=LoginNode" in files["/etc/parallelcluster/cfnconfig"]
    env = dict(setup.env)
    assert (env["CORRAL_NODE_TYPE"], env["CORRAL_LOGIN_POOL"]) == ("LoginNode", "login")
    assert any("wall" in " ".join(s) and "5 minute" not in " ".join(s) for s in setup.services)
    actions = login_actions(plan, "login")
    assert [(a.event, a.script) for a in actions] == [
        ("OnNodeStart", "s3://my-scripts/start.sh"),
        ("OnNodeConfigured", "s3://my-scripts/login.sh"),
    ]
    assert login_actions(plan, "other") == ()


# -- the lifecycle against moto ----------------------------------------------------------------


def _cfn_load_balancer_with_its_type(mp: pytest.MonkeyPatch) -> None:
    """moto 5.2's CloudFormation drops ``AWS::ElasticLoadBalancingV2::LoadBalancer``'s ``Type`` (it
    makes every one an application load balancer, which then refuses a TCP listener). The server
    runs in this process: give its CloudFormation handler the ``Type`` AWS honours, nothing else."""
    from moto.elbv2 import models

    def create(
        cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kw: Any
    ) -> Any:
        properties = cloudformation_json["Properties"]
        return models.elbv2_backends[account_id][region_name].create_load_balancer(
            resource_name,
            properties.get("SecurityGroups"),
            properties.get("Subnets"),
            scheme=properties.get("Scheme", "internet-facing"),
            loadbalancer_type=properties.get("Type"),
        )

    mp.setattr(models.FakeLoadBalancer, "create_from_cloudformation_json", classmethod(create))


@pytest.fixture(scope="module")
def net() -> Iterator[Network]:
    with pytest.MonkeyPatch.context() as mp, aws_endpoint(mp):
        _cfn_load_balancer_with_its_type(mp)
        ec2 = boto3.client("ec2")
        network = make_network(ec2)
        ec2.modify_subnet_attribute(SubnetId=network.public_subnet, MapPublicIpOnLaunch={"Value": True})
        yield network


def _asg(name: str) -> dict[str, Any]:
    [group] = boto3.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[name])[
        "AutoScalingGroups"
    ]
    return group


def test_login_pools_live_and_die_with_the_cluster_and_count_updates_scale_them(
    net: Network, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CORRAL_AWS_SSM", "1")  # moto accepts the head's update command
    state = tmp_path / "state"
    service = ClusterService(StateStore(state), lambda name: get_provider(name, state))
    name = "awslogin-1"
    config = tmp_path / "c.yaml"
    config.write_text(config_text(net))
    service.create(name, config, provider="aws")
    record = service.run_create(name)
    assert record.stack_status is StackStatus.CREATE_COMPLETE, record.failure_reason
    provider = service.provider("aws")
    assert isinstance(provider, AwsProvider)
    try:
        pools = {p.pool_name: p for p in provider.login_pools(name)}
        assert set(pools) == {"login", "other"}
        assert pools["login"].status == "active" and pools["login"].address
        assert pools["login"].scheme == "internet-facing" and pools["other"].scheme == "internal"
        # describe-cluster (CLI and /v3 API alike) carries them as pcluster 3.16's loginNodes
        described = service.describe(name).to_json()["loginNodes"]
        assert [p["poolName"] for p in described] == ["login", "other"]
        assert described[0] == {
            "poolName": "login",
            "status": "active",
            "address": pools["login"].address,
            "scheme": "internet-facing",
            "healthyNodes": 2,
            "unhealthyNodes": 0,
        }
        assert (described[1]["scheme"], described[1]["healthyNodes"]) == ("internal", 1)
        assert described[1]["address"].endswith(".elb.amazonaws.com")
        # ssh --login-pool: each healthy node of the pool in turn, by its own address
        logins = [i for i in provider.instances(name) if i.role is NodeRole.LOGIN]
        public = sorted(i.public_ip or "" for i in logins if i.pool == "login")
        turns = [
            service.ssh_argv(name, ["-i", "k.pem", "--", "hostname"], login_pool="login") for _ in range(3)
        ]
        assert sorted({t[1] for t in turns[:2]}) == [f"ec2-user@{ip}" for ip in public] and all(public)
        assert turns[2][1] == turns[0][1] and turns[0][2:] == ["-i", "k.pem", "--", "hostname"]
        [other] = [i for i in logins if i.pool == "other"]
        argv = service.ssh_argv(name, [], user="alice", login_pool="other")
        assert argv[1] == f"alice@{other.public_ip or other.private_ip}"
        with pytest.raises(NotFoundError, match="no login node pool 'nope'"):
            service.ssh_argv(name, [], login_pool="nope")
        elb = boto3.client("elbv2")
        listeners = elb.describe_listeners(LoadBalancerArn=_arn_of(provider, name, "login"))["Listeners"]
        assert [(x["Port"], x["Protocol"]) for x in listeners] == [(22, "TCP")]
        logins = [i for i in provider.instances(name) if i.role is NodeRole.LOGIN]
        assert sorted(i.pool or "" for i in logins) == ["login", "login", "other"]
        listed = service.instances(name, node_type="LoginNode").to_json()["instances"]
        assert len(listed) == 3 and {i["nodeType"] for i in listed} == {"LoginNode"}
        assert service.instances(name, node_type="ComputeNode").to_json()["instances"] == []
        # Count 2 -> 3 through update-cluster: the stack update sets the group's capacity
        config.write_text(config_text(net, count=3))
        accepted = service.update(name, config)
        assert [c["parameter"] for c in accepted.to_json()["changeSet"]] == ["LoginNodes.Pools[login].Count"]
        done = service.run_update(name)
        assert done.stack_status is StackStatus.UPDATE_COMPLETE, done.failure_reason
        group = _asg(_group_of(provider, name, "login"))
        assert (group["DesiredCapacity"], group["MinSize"], group["MaxSize"]) == (3, 3, 3)
        assert sum(1 for i in provider.instances(name) if i.pool == "login") == 3
    finally:
        service.delete(name)
        assert service.run_delete(name) is None
    autoscaling = boto3.client("autoscaling")
    left = [
        g["AutoScalingGroupName"]
        for g in autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"]
        if any(t["Key"] == "corral:cluster-name" and t["Value"] == name for t in g.get("Tags", []))
    ]
    assert left == []
    assert boto3.client("elbv2").describe_load_balancers()["LoadBalancers"] == []
    running = boto3.client("ec2").describe_instances(
        Filters=[
            {"Name": "tag:corral:cluster-name", "Values": [name]},
            {"Name": "instance-state-name", "Values": ["pending", "running"]},
        ]
    )["Reservations"]
    assert running == []


def _group_of(provider: AwsProvider, name: str, pool: str) -> str:
    from corral.providers.aws import _login

    found = _login.pool_resources(provider.clients("us-east-1"), name, provider.plan(name))
    return next(p.group for p in found if p.pool == pool)


def _arn_of(provider: AwsProvider, name: str, pool: str) -> str:
    from corral.providers.aws import _login

    found = _login.pool_resources(provider.clients("us-east-1"), name, provider.plan(name))
    return next(p.balancer_arn for p in found if p.pool == pool)


def _render_sub(sub: Any, values: dict[str, str]) -> str:
    """An ``Fn::Sub`` as CloudFormation renders it (``${!x}`` is the literal ``${x}``)."""
    import re

    text, variables = (sub, {}) if isinstance(sub, str) else sub
    known = {**values, **{k: values.get(k, f"<{k}>") for k in variables}}
    return re.sub(
        r"\$\{([^}]+)\}",
        lambda m: "${" + m.group(1)[1:] + "}" if m.group(1).startswith("!") else known[m.group(1)],
        text,
    )


def _heredoc(script: str, marker: str) -> str:
    import re

    found = re.search(rf"<<'?{marker}'?\n(.*?)\n{marker}\n", script, re.S)
    assert found, f"no heredoc {marker} in the user data"
    return found.group(1)


def test_a_login_node_s_user_data_feeds_the_node_program_in_the_login_role(
    net: Network, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The files the login pool's rendered user data writes, given to ``node.prepare`` against the
    artefacts a real create uploaded (moto): the pool's actions fetched, the client slurm.conf,
    munge key, keys-only sshd and cfnconfig written, no Slurm daemon among the services."""
    from corral.providers.aws.node import prepare

    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="my-scripts")
    for key in ("login.sh", "start.sh"):
        s3.put_object(Bucket="my-scripts", Key=key, Body=f"#!/bin/sh\necho {key}\n".encode())
    name = "awslogin-ud"
    config = tmp_path / "c.yaml"
    config.write_text(config_text(net))
    provider = AwsProvider(tmp_path / "client-state")
    provider.create(plan_of(tmp_path, config.read_text(), name), on_event=lambda r, m: None)
    try:
        bucket = "corral-123456789012-us-east-1"
        main = json.loads(s3.get_object(Bucket=bucket, Key=f"corral/{name}/main.json")["Body"].read())
        data = main["Resources"][f"{login_prefix('login')}LaunchTemplate"]["Properties"]["LaunchTemplateData"]
        values = {
            "AWS::AccountId": "123456789012",
            "AWS::Region": "us-east-1",
            "AWS::StackName": name,
            "TableName": "table",
            "HeadPrivateIp": "10.0.0.10",
            "LogGroupName": "logs",
        }
        script = _render_sub(data["UserData"]["Fn::Base64"]["Fn::Sub"], values)
        monkeypatch.setenv("CORRAL_STATE_DIR", str(tmp_path / "login-state"))
        (tmp_path / "cluster.json").write_text(_heredoc(script, "CORRAL_CLUSTER"))
        (tmp_path / "bootstrap.json").write_text(
            _heredoc(script, "CORRAL_SPEC").replace("$NODE_NAME", "ip-10-0-0-20")
        )
        root = tmp_path / "root"
        spec = prepare(
            tmp_path / "bootstrap.json", tmp_path / "cluster.json", tmp_path / "actions", root=root
        )
        assert [(a.event, Path(a.source).name) for a in spec.actions] == [
            ("OnNodeStart", "start.sh"),
            ("OnNodeConfigured", "login.sh"),
        ]
        assert all(Path(a.path).read_text().startswith("#!/bin/sh") for a in spec.actions)
        programs = [s[0] for s in spec.services]
        assert "munged" in programs and "slurmd" not in programs and "slurmctld" not in programs
        conf = (root / "etc/slurm/slurm.conf").read_text()
        assert f"ClusterName={name}" in conf and "SlurmctldHost=ip-10-0-0-10(10.0.0.10)" in conf
        uploaded = s3.get_object(Bucket=bucket, Key=f"corral/{name}/munge.key")["Body"].read()
        import base64

        assert (root / "etc/munge/munge.key").read_bytes() == base64.b64decode(uploaded)
        assert "PasswordAuthentication no" in (root / "etc/ssh/sshd_config.d/corral-login.conf").read_text()
        assert "cfn_node_type=LoginNode" in (root / "etc/parallelcluster/cfnconfig").read_text()
        assert ("CORRAL_LOGIN_POOL", "login") in spec.env
    finally:
        provider.delete(name)

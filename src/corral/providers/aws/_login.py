"""Login node pools on AWS, as ``describe-cluster`` reports them: per pool, its Auto Scaling group,
Network Load Balancer and target group (found by the root stack's outputs, else by the stack's
resources' logical ids), mapped to pcluster's ``LoginNodesPool``:

- ``status``: the load balancer's state (``active`` -> active, ``provisioning`` -> pending,
  ``active_impaired``/``failed`` -> failed); pending while the stack has not made it yet;
- ``address``: the load balancer's DNS name, ``scheme`` its scheme;
- ``healthyNodes``/``unhealthyNodes``: the target group's targets by health (``healthy`` vs every
  other state but ``draining``/``unused``), i.e. nodes whose sshd answers the load balancer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corral.plan import ClusterPlan
from corral.providers.aws import _stack
from corral.providers.aws._clients import AwsClients
from corral.providers.aws._errors import aws_call
from corral.providers.base import Instance, LoginPoolStatus

#: Load balancer state -> pcluster's LoginNodesState.
_LB_STATES = {"active": "active", "provisioning": "pending", "active_impaired": "failed", "failed": "failed"}
#: Target health states that are neither healthy nor unhealthy (leaving, or not in service).
_NOT_COUNTED = ("draining", "unused")


@dataclass(frozen=True)
class PoolResources:
    """The physical ids of one pool's resources ("" when not made yet)."""

    pool: str
    group: str = ""
    balancer_arn: str = ""
    target_group_arn: str = ""


def pool_names(plan: ClusterPlan) -> list[str]:
    config = plan.config
    if config is None or config.login_nodes is None:
        return []
    return [p.name for p in config.login_nodes.pools]


def pool_resources(clients: AwsClients, cluster_name: str, plan: ClusterPlan) -> list[PoolResources]:
    """Each pool's ASG name, load balancer ARN and target group ARN, from the root stack's outputs,
    else (an emulator that returns no root outputs) from its resources' logical ids."""
    from corral.providers.aws.template import login_output_keys
    from corral.providers.aws.template._login import login_prefix

    names = pool_names(plan)
    if not names:
        return []
    view = _stack.describe(clients, cluster_name)
    outputs = dict(view.outputs) if view is not None else {}
    wanted = [login_output_keys(n) for n in names]
    if view is not None and not all(k["AutoScalingGroupName"] in outputs for k in wanted):
        physical = {
            r["LogicalResourceId"]: r.get("PhysicalResourceId", "")
            for r in _stack.resources(clients, cluster_name)
        }
        for name, keys in zip(names, wanted, strict=True):
            prefix = login_prefix(name)
            for kind, logical in (
                ("AutoScalingGroupName", "AutoScalingGroup"),
                ("LoadBalancerArn", "LoadBalancer"),
                ("TargetGroupArn", "TargetGroup"),
            ):
                outputs.setdefault(keys[kind], physical.get(prefix + logical, ""))
    return [
        PoolResources(
            name,
            outputs.get(keys["AutoScalingGroupName"], ""),
            outputs.get(keys["LoadBalancerArn"], ""),
            outputs.get(keys["TargetGroupArn"], ""),
        )
        for name, keys in zip(names, wanted, strict=True)
    ]


def balancers(clients: AwsClients, arns: list[str]) -> dict[str, dict[str, Any]]:
    if not arns:
        return {}
    elb = clients.client("elbv2")
    found = aws_call("DescribeLoadBalancers", elb.describe_load_balancers, LoadBalancerArns=arns)
    return {lb["LoadBalancerArn"]: lb for lb in found.get("LoadBalancers", [])}


def _health(clients: AwsClients, target_group_arn: str) -> tuple[int, int]:
    """(healthy, unhealthy) targets of the group."""
    if not target_group_arn:
        return 0, 0
    elb = clients.client("elbv2")
    found = aws_call("DescribeTargetHealth", elb.describe_target_health, TargetGroupArn=target_group_arn)
    states = [d.get("TargetHealth", {}).get("State", "") for d in found.get("TargetHealthDescriptions", [])]
    healthy = sum(1 for s in states if s == "healthy")
    unhealthy = sum(1 for s in states if s != "healthy" and s not in _NOT_COUNTED)
    return healthy, unhealthy


def to_status(
    pool: PoolResources, balancer: dict[str, Any] | None, health: tuple[int, int]
) -> LoginPoolStatus:
    """pcluster's ``LoginNodesPool`` from what AWS said about the pool. Pure."""
    if balancer is None:
        return LoginPoolStatus(pool.pool, "pending")
    state = str(balancer.get("State", {}).get("Code", "provisioning"))
    return LoginPoolStatus(
        pool.pool,
        _LB_STATES.get(state, "failed"),
        address=balancer.get("DNSName"),
        scheme=balancer.get("Scheme"),
        healthy=health[0],
        unhealthy=health[1],
    )


def login_pools(clients: AwsClients, cluster_name: str, plan: ClusterPlan) -> list[LoginPoolStatus]:
    """Every pool of the cluster's config, in config order."""
    pools = pool_resources(clients, cluster_name, plan)
    found = balancers(clients, [p.balancer_arn for p in pools if p.balancer_arn])
    return [to_status(p, found.get(p.balancer_arn), _health(clients, p.target_group_arn)) for p in pools]


def healthy_targets(clients: AwsClients, target_group_arn: str) -> list[str]:
    """The instance ids the pool's load balancer sends sessions to (healthy targets), sorted."""
    if not target_group_arn:
        return []
    elb = clients.client("elbv2")
    found = aws_call("DescribeTargetHealth", elb.describe_target_health, TargetGroupArn=target_group_arn)
    return sorted(
        str(d["Target"]["Id"])
        for d in found.get("TargetHealthDescriptions", [])
        if d.get("TargetHealth", {}).get("State") == "healthy"
    )


def login_address(instance: Instance | None, balancer: dict[str, Any] | None) -> str | None:
    """Where ``ssh --login-pool`` connects: the chosen node's public IP, else the pool's
    internet-facing load balancer (the node has no public address but the pool has), else the
    node's private IP (an internal pool: reachable from inside the VPC only, as its load balancer
    is). Pure."""
    if instance is not None and instance.public_ip:
        return instance.public_ip
    if balancer is not None and balancer.get("Scheme") == "internet-facing" and balancer.get("DNSName"):
        return str(balancer["DNSName"])
    return instance.private_ip if instance is not None and instance.private_ip else None


def next_turn(counter: Path, count: int) -> int:
    """Round robin: the index (0..count-1) whose turn it is, advancing the counter file."""
    try:
        turn = int(counter.read_text(encoding="utf-8").strip() or 0)
    except (OSError, ValueError):
        turn = 0
    counter.parent.mkdir(parents=True, exist_ok=True)
    counter.write_text(f"{turn + 1}\n", encoding="utf-8")
    return turn % count


def desired_capacities(clients: AwsClients, pools: list[PoolResources]) -> dict[str, int]:
    """pool -> its Auto Scaling group's desired capacity (pools whose group exists)."""
    names = [p.group for p in pools if p.group]
    if not names:
        return {}
    autoscaling = clients.client("autoscaling")
    found = aws_call(
        "DescribeAutoScalingGroups", autoscaling.describe_auto_scaling_groups, AutoScalingGroupNames=names
    )
    by_name = {
        g["AutoScalingGroupName"]: int(g.get("DesiredCapacity", 0)) for g in found["AutoScalingGroups"]
    }
    return {p.pool: by_name[p.group] for p in pools if p.group in by_name}


__all__ = [
    "PoolResources",
    "balancers",
    "desired_capacities",
    "healthy_targets",
    "login_address",
    "login_pools",
    "next_turn",
    "pool_names",
    "pool_resources",
    "to_status",
]

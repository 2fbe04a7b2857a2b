"""Launching compute nodes with EC2 CreateFleet (``Type=instant``), following the scaling strategy.

Decide, then act: ``plan_requests`` groups the nodes Slurm asked for into CreateFleet requests (one
per compute resource, at most ``MAX_BATCH`` nodes each) and ``assign`` decides, from what a request
returned, which node gets which instance, which nodes failed and why, and which instances are
surplus. ``run_request`` is the only part that calls EC2.

``all_or_nothing`` (``Provider.launch_batch``): each request asks EC2 for
``MinTargetCapacity`` = its node count, and a batch whose requests did not all succeed terminates
every instance it launched and fails every node. Otherwise (best effort) ``MinTargetCapacity`` = 1
and the instances that came are assigned to nodes in order; the nodes left over fail with EC2's
error code. The scaling strategy itself (which batches, which nodes to keep) is decided by the
provider-neutral ResumeProgram, ``corral.daemons.resume``, which calls ``launch_batch``; a failed
node's EC2 code becomes pcluster's DOWN reason there (``corral.daemons.scaling.failure_reason``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from corral.plan import ClusterPlan, NodeSpec
from corral.providers.aws._clients import AwsClients
from corral.providers.aws._errors import aws_call
from corral.providers.aws._stack import poll_interval

MAX_BATCH = 500  # nodes per CreateFleet request, as ParallelCluster's default launch batch size
_ON_DEMAND_STRATEGIES = frozenset({"lowest-price", "prioritized"})
_SPOT_STRATEGIES = frozenset(
    {
        "lowest-price",
        "diversified",
        "capacity-optimized",
        "capacity-optimized-prioritized",
        "price-capacity-optimized",
    }
)
_CAPACITY_TYPE = {"ONDEMAND": "on-demand", "SPOT": "spot", "CAPACITY_BLOCK": "capacity-block"}


@dataclass(frozen=True)
class FleetRequest:
    """One CreateFleet call: these nodes of one compute resource."""

    queue: str
    compute_resource: str
    node_names: tuple[str, ...]
    launch_template_id: str
    overrides: tuple[tuple[str, str], ...]  # (instance type, subnet id)
    capacity_type: str  # on-demand | spot | capacity-block
    min_target: int
    allocation_strategy: str | None = None
    max_price: str | None = None  # the compute resource's SpotPrice (spot only): each override's MaxPrice


@dataclass(frozen=True)
class FleetResult:
    """What CreateFleet returned: instance ids, and ``(code, message)`` per error."""

    instance_ids: tuple[str, ...]
    errors: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Assignment:
    """``assign``'s decision for one request."""

    assigned: tuple[tuple[str, str], ...]  # (node name, instance id)
    failed: tuple[tuple[str, str, str], ...]  # (node name, EC2 error code, message)
    surplus: tuple[str, ...] = ()  # instance ids to terminate


def plan_requests(
    plan: ClusterPlan,
    node_names: Sequence[str],
    launch_templates: Mapping[tuple[str, str], str],
    *,
    all_or_nothing: bool,
    batch_size: int = MAX_BATCH,
) -> tuple[list[FleetRequest], dict[str, tuple[str, str]]]:
    """The CreateFleet requests for ``node_names``, and the nodes that cannot be launched at all
    (unknown name, no launch template) with ``(code, message)``. Pure."""
    by_name = {n.name: n for n in plan.nodes}
    groups: dict[tuple[str, str], list[NodeSpec]] = {}
    rejected: dict[str, tuple[str, str]] = {}
    for name in dict.fromkeys(node_names):
        node = by_name.get(name)
        if node is None:
            rejected[name] = ("InvalidNodeName", f"{name} is not a node of this cluster's plan")
            continue
        groups.setdefault((node.queue, node.compute_resource), []).append(node)
    requests: list[FleetRequest] = []
    for (queue, cr), nodes in groups.items():
        template = launch_templates.get((queue, cr))
        if not template:
            missing = ("LaunchTemplateNotFound", f"the stack has no launch template for {queue}/{cr}")
            rejected.update({n.name: missing for n in nodes})
            continue
        overrides, capacity, strategy, price = _resource_settings(plan, queue, cr, nodes[0])
        for start in range(0, len(nodes), batch_size):
            batch = tuple(n.name for n in nodes[start : start + batch_size])
            minimum = len(batch) if all_or_nothing else 1
            requests.append(
                FleetRequest(queue, cr, batch, template, overrides, capacity, minimum, strategy, price)
            )
    return requests, rejected


def _resource_settings(
    plan: ClusterPlan, queue: str, cr: str, node: NodeSpec
) -> tuple[tuple[tuple[str, str], ...], str, str | None, str | None]:
    """(instance type x subnet overrides, capacity type, allocation strategy, spot max price) from
    the config."""
    types: tuple[str, ...] = (node.shape.instance_type,)
    subnets: tuple[str, ...] = ("",)
    capacity, strategy, price = "on-demand", None, None
    config = plan.config
    if config is not None:
        q = next((x for x in config.scheduling.slurm_queues if x.name == queue), None)
        if q is not None:
            subnets = tuple(q.networking.subnet_ids) or ("",)
            capacity = _CAPACITY_TYPE.get(str(q.capacity_type), "on-demand")
            strategy = str(q.allocation_strategy) if q.allocation_strategy else None
            c = next((x for x in q.compute_resources if x.name == cr), None)
            if c is not None and c.instances:
                types = tuple(i.instance_type for i in c.instances)
            if c is not None and c.spot_price is not None and capacity == "spot":
                price = f"{c.spot_price:g}"
    overrides = tuple((t, s) for s in subnets for t in types)
    return overrides, capacity, strategy, price


def assign(request: FleetRequest, result: FleetResult, *, all_or_nothing: bool) -> Assignment:
    """Which node gets which launched instance, and the failed nodes with EC2's error. Pure."""
    ids = list(result.instance_ids)
    code, message = result.errors[0] if result.errors else ("InsufficientInstanceCapacity", "")
    message = message or f"EC2 launched {len(ids)} of {len(request.node_names)} instances"
    nodes = request.node_names
    if all_or_nothing and len(ids) < len(nodes):
        return Assignment((), tuple((n, code, message) for n in nodes), tuple(ids))
    assigned = tuple(zip(nodes, ids, strict=False))
    failed = tuple((n, code, message) for n in nodes[len(ids) :])
    return Assignment(assigned, failed, tuple(ids[len(nodes) :]))


def fleet_arguments(request: FleetRequest) -> dict[str, Any]:
    """The CreateFleet arguments for ``request``. Pure.

    No ``TagSpecifications``: the launch template tags what it launches (cluster, role, queue,
    compute resource and the config's Tags), and request-level instance tags could take the place of
    the template's; the provider adds the node's own tags with CreateTags once it knows which
    instance backs which node."""
    overrides: list[dict[str, Any]] = []
    for instance_type, subnet in request.overrides:
        entry: dict[str, Any] = {"InstanceType": instance_type}
        if subnet:
            entry["SubnetId"] = subnet
        if request.max_price is not None:
            entry["MaxPrice"] = request.max_price
        overrides.append(entry)
    # capacity-block: the launch template targets the block (MarketType capacity-block, the
    # reservation); the fleet asks for that capacity type with on-demand options
    capacity = request.capacity_type if request.capacity_type in ("spot", "capacity-block") else "on-demand"
    options: dict[str, Any] = {"MinTargetCapacity": request.min_target}
    if request.min_target > 1:
        options["SingleAvailabilityZone"] = True  # EC2 requires it (or one type) for a minimum
    allowed = {"spot": _SPOT_STRATEGIES, "on-demand": _ON_DEMAND_STRATEGIES}.get(capacity, frozenset())
    if request.allocation_strategy in allowed:
        options["AllocationStrategy"] = request.allocation_strategy
    args: dict[str, Any] = {
        "Type": "instant",
        "LaunchTemplateConfigs": [
            {
                "LaunchTemplateSpecification": {
                    "LaunchTemplateId": request.launch_template_id,
                    "Version": "$Latest",
                },
                "Overrides": overrides,
            }
        ],
        "TargetCapacitySpecification": {
            "TotalTargetCapacity": len(request.node_names),
            "DefaultTargetCapacityType": capacity,
        },
    }
    args["SpotOptions" if capacity == "spot" else "OnDemandOptions"] = options
    return args


def run_request(clients: AwsClients, request: FleetRequest) -> FleetResult:
    """Call CreateFleet for ``request``. Capacity errors come back in ``errors``, not raised (EC2
    reports them in the response of an instant fleet); anything else raises a ``CorralError``."""
    response = aws_call("CreateFleet", clients.ec2.create_fleet, **fleet_arguments(request))
    ids = tuple(i for group in response.get("Instances", []) for i in group.get("InstanceIds", []))
    errors = tuple(
        (str(e.get("ErrorCode", "")), str(e.get("ErrorMessage", ""))) for e in response.get("Errors", [])
    )
    return FleetResult(ids, errors)


def terminate(clients: AwsClients, instance_ids: Sequence[str], *, wait_s: float = 0.0) -> None:
    """TerminateInstances in batches of 1000 (EC2's limit per call); with ``wait_s``, until EC2
    reports them all terminated (a security group cannot be deleted while they shut down)."""
    ids = list(dict.fromkeys(instance_ids))
    for start in range(0, len(ids), 1000):
        aws_call("TerminateInstances", clients.ec2.terminate_instances, InstanceIds=ids[start : start + 1000])
    deadline = time.monotonic() + wait_s
    while ids and time.monotonic() < deadline:
        found = aws_call("DescribeInstances", clients.ec2.describe_instances, InstanceIds=ids)
        states = {i["State"]["Name"] for r in found["Reservations"] for i in r["Instances"]}
        if states <= {"terminated"}:
            return
        time.sleep(poll_interval(clients))


__all__ = [
    "MAX_BATCH",
    "Assignment",
    "FleetRequest",
    "FleetResult",
    "assign",
    "fleet_arguments",
    "plan_requests",
    "run_request",
    "terminate",
]

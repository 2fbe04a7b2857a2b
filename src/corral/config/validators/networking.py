"""Networking decided offline: security-group overrides that mix custom and managed groups, and
multi-subnet queues with single-InstanceType resources. (CIDRs and prefix lists in AllowedIps are
checked by the model itself.)"""

from __future__ import annotations

from collections.abc import Iterator

from corral.config.findings import Finding
from corral.config.validators._base import ClusterContext, error, g, items, queues, warning


def mixed_security_groups(ctx: ClusterContext) -> Iterator[Finding]:
    """MixedSecurityGroupOverwriteValidator: custom and managed security groups are not mixed."""
    head_custom = bool(items(ctx.config, "head_node", "networking", "security_groups"))
    flags = {bool(items(q, "networking", "security_groups")) for _p, q in queues(ctx.config)}
    if not flags:
        return
    compute = "mixed" if len(flags) > 1 else ("custom" if True in flags else "managed")
    if (head_custom and compute != "custom") or (not head_custom and compute != "managed"):
        yield warning(
            "MixedSecurityGroupOverwriteValidator",
            "HeadNode/Networking/SecurityGroups" if head_custom else "Scheduling/SlurmQueues",
            "some nodes use custom security groups while others use managed ones",
            "make sure every node can reach every other, or use AdditionalSecurityGroups instead",
        )


def single_instance_type_subnet(ctx: ClusterContext) -> Iterator[Finding]:
    """SingleInstanceTypeSubnetValidator: InstanceType resources need a single-subnet queue."""
    for qpath, queue in queues(ctx.config):
        singles = any(g(cr, "instance_type") for cr in items(queue, "compute_resources"))
        if singles and len(items(queue, "networking", "subnet_ids")) > 1:
            yield error(
                "SingleInstanceTypeSubnetValidator",
                f"{qpath}/Networking/SubnetIds",
                f"queue {g(queue, 'name')!r} uses ComputeResources/InstanceType, which does not "
                "support several subnets",
                "use ComputeResources/Instances/InstanceType, or a single subnet",
            )


VALIDATORS = (mixed_security_groups, single_instance_type_subnet)

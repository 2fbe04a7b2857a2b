"""The AWS provider's CloudFormation templates, generated in pure Python with troposphere.

``build_templates(plan, *, nested_template_urls=None, subnet_availability_zones=None) -> TemplateSet``
is pure: no boto3, no network, no clock. The same plan gives byte-identical JSON
(``TemplateSet.to_json``). A config that AWS would refuse (placeholder ARNs, malformed KMS key ids or
instance types, duplicate storage names or ids) raises ``BadRequestError`` naming every bad value.

Layout
------
- The **root stack** holds the head node (``AWS::EC2::Instance``, logical id ``HeadNode``), its role
  and instance profile, the security groups, the DynamoDB node-state table, the log group, the
  Route 53 hosted zone and the shared storage Corral creates.
- **Nested stacks** ``QueueStack1``, ``QueueStack2``, ... hold the queues: per queue a role and
  instance profile, and one launch template per compute resource. Queues are packed in config
  order into as few stacks as CloudFormation's limits allow (see ``_split``). Each nested stack's
  ``TemplateURL`` comes from ``nested_template_urls[logical id]``; without it the root gets a
  ``<logical id>TemplateUrl`` String parameter to fill at create time.

Root parameters the provider passes
-----------------------------------
- ``VpcId``: the VPC of ``HeadNode/Networking/SubnetId`` (not knowable offline).
- ``ImageIdX8664`` / ``ImageIdArm64`` (one per architecture in use): typed
  ``AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>``, defaulting to the OS's public SSM path;
  CustomAmi settings bypass them.
- ``QueueStackNTemplateUrl`` when no URL was given for that stack.

Root outputs the provider can rely on
-------------------------------------
- ``ClusterName``, ``HeadNodeInstanceId``, ``HeadNodePrivateIp``, ``NodeStateTableName``.
- ``LogGroupName`` (when CloudWatch logs are enabled), ``HostedZoneId`` (when DNS is managed).
- ``HeadNodeSecurityGroupId`` / ``ComputeSecurityGroupId`` (when Corral created them).
- Per compute resource: ``launch_template_output_key(queue, cr)`` -> launch template id, and the same
  key + ``"Version"`` -> its latest version number.
- Per SharedStorage entry: ``storage_output_key(name)`` -> the volume / file system / cache id (the
  first member's for an EBS RAID); for a new FSx Lustre also that key + ``"MountName"``;
  ``InternalSharedEfsId`` when ``HeadNode/SharedStorageType`` is ``Efs``.
- Nested stacks also output ``<prefix>RoleArn`` for each queue role Corral creates.

Tags
----
Every taggable resource carries ``corral:cluster-name=<cluster>`` (IAM conditions key on it),
``corral:node-role`` (HeadNode, Compute, Storage, Cluster) and the config's ``Tags``. Launch templates
and what they launch also carry ``corral:queue-name``, ``corral:compute-resource-name`` and the
queue's and compute resource's ``Tags``.

Login node pools (``LoginNodes/Pools``): per pool an Auto Scaling group behind a Network Load
Balancer in the root stack (see ``_login``), with outputs ``login_output_keys(pool)``.

The head node's, compute nodes' and login nodes' user data install Corral and run its node agent:
see ``_userdata``.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corral.plan import ClusterPlan, build_plan
from corral.providers.aws.template._build import build
from corral.providers.aws.template._login import LOGIN_POOL_TAG, login_output_keys
from corral.providers.aws.template._names import (
    CLUSTER_TAG,
    COMPUTE_RESOURCE_TAG,
    QUEUE_TAG,
    ROLE_TAG,
    launch_template_output_key,
)
from corral.providers.aws.template._storage import storage_output_key, storage_resource_ids


@dataclass(frozen=True)
class TemplateSet:
    """A cluster's templates: the root stack's and each nested stack's (by its logical id)."""

    main: dict[str, Any]
    nested: dict[str, dict[str, Any]]

    def to_json(self, name: str = "main") -> str:
        """The template ``name`` (``"main"`` or a nested stack's logical id) as compact JSON with
        sorted keys: deterministic, and what the provider uploads."""
        body = self.main if name == "main" else self.nested[name]
        return json.dumps(body, sort_keys=True, separators=(",", ":"))

    def summary(self) -> str:
        """One line per template: ``<name>: <resources> resources, <bytes> bytes``, after a line
        counting the stacks (what ``create-cluster --provider aws --dryrun true`` prints on stderr)."""
        names = ["main", *sorted(self.nested)]
        lines = [f"templates: {len(names)} stack(s) (1 root, {len(self.nested)} nested)"]
        for name in names:
            body = self.main if name == "main" else self.nested[name]
            lines.append(f"  {name}: {len(body['Resources'])} resources, {len(self.to_json(name))} bytes")
        return "\n".join(lines)


def dry_run_summary(config_path: str | Path, cluster_name: str) -> str:
    """The summary of the templates ``config_path`` would deploy as ``cluster_name`` (built offline,
    after validation), or a line saying why none could be built."""
    from corral.config.check import check_cluster_config
    from corral.errors import CorralError

    try:
        report = check_cluster_config(config_path, cluster_name=cluster_name, target="aws")
        if report.config is None:
            return "templates: not built (the config is invalid)"
        return build_templates(build_plan(report.config, cluster_name=cluster_name)).summary()
    except CorralError as exc:
        return f"templates: not built: {exc}"


def build_templates(
    plan: ClusterPlan,
    *,
    nested_template_urls: Mapping[str, str] | None = None,
    subnet_availability_zones: Mapping[str, str] | None = None,
    public_subnets: Collection[str] = (),
) -> TemplateSet:
    """Pure: the cluster's templates. ``plan.config`` is the validated ClusterConfig (networking,
    IAM, image, storage, monitoring, tags); the plan has the node inventory. Nested stacks'
    TemplateURL come from ``nested_template_urls`` (logical id -> https URL) when given, else a
    placeholder parameter. ``subnet_availability_zones`` (subnet id -> zone, from DescribeSubnets)
    lets EFS get one mount target per zone; without it there is one per distinct subnet, which is
    right unless two of the cluster's subnets share a zone. ``public_subnets`` (subnets that map
    public IPs on launch) makes a login pool's load balancer internet-facing. Raises
    ``CorralError`` for what Corral cannot create (with a hint)."""
    main, nested = build(plan, nested_template_urls, subnet_availability_zones, public_subnets)
    return TemplateSet(main=main, nested=nested)


__all__ = [
    "CLUSTER_TAG",
    "COMPUTE_RESOURCE_TAG",
    "LOGIN_POOL_TAG",
    "QUEUE_TAG",
    "ROLE_TAG",
    "TemplateSet",
    "build_templates",
    "dry_run_summary",
    "launch_template_output_key",
    "login_output_keys",
    "storage_output_key",
    "storage_resource_ids",
]

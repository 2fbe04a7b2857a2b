"""Assemble the root template and the nested queue templates of one cluster."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from troposphere import GetAtt, Output, Parameter, Ref, Template
from troposphere.cloudformation import Stack

from corral import __version__
from corral.plan import ClusterPlan
from corral.providers.aws.template._checks import check_renderable
from corral.providers.aws.template._compute import add_queue
from corral.providers.aws.template._context import Cluster, Shared, add_image_parameters, image_parameter_name
from corral.providers.aws.template._head import HEAD_NODE, add_head_node
from corral.providers.aws.template._iam import SSM_MANAGED_POLICY, add_node_profile, head_statements
from corral.providers.aws.template._login import add_login_pools
from corral.providers.aws.template._network import COMPUTE_SG, HEAD_SG, VPC_PARAMETER, add_security_groups
from corral.providers.aws.template._services import add_dns, add_head_record, add_log_group, add_table
from corral.providers.aws.template._split import Piece, pack, stack_logical_id
from corral.providers.aws.template._storage import add_storage


def _new_template(description: str) -> Template:
    template = Template(Description=description)
    template.set_version("2010-09-09")
    return template


def _root_shared(template: Template, cluster: Cluster, compute_groups: list[Any]) -> Shared:
    table_name, table_arn = add_table(template, cluster)
    log_name = add_log_group(template, cluster)
    return Shared(
        compute_security_groups=tuple(compute_groups),
        head_private_ip=GetAtt(HEAD_NODE, "PrivateIp"),
        table_name=table_name,
        table_arn=table_arn,
        log_group_name=log_name,
        images=add_image_parameters(template, cluster),
    )


def _nested_shared(cluster: Cluster, root: Shared) -> tuple[Shared, dict[str, Any]]:
    """The nested template's parameters, its view of the shared values, and the root's values to
    pass (parameter name -> root value)."""
    values: dict[str, Any] = {
        "HeadPrivateIp": root.head_private_ip,
        "TableName": root.table_name,
        "TableArn": root.table_arn,
        "LogGroupName": root.log_group_name,
    }
    groups: tuple[Any, ...] = ()
    if root.compute_security_groups:
        values["ComputeSecurityGroupId"] = root.compute_security_groups[0]
        groups = (Ref("ComputeSecurityGroupId"),)
    images: dict[str, Any] = {}
    for arch, value in sorted(root.images.items()):
        name = image_parameter_name(arch)
        values[name] = value
        images[arch] = Ref(name)
    shared = Shared(
        compute_security_groups=groups,
        head_private_ip=Ref("HeadPrivateIp"),
        table_name=Ref("TableName"),
        table_arn=Ref("TableArn"),
        log_group_name=Ref("LogGroupName"),
        images=images,
    )
    return shared, values


def _queue_pieces(cluster: Cluster, shared: Shared) -> list[Piece]:
    pieces = []
    for queue in cluster.config.scheduling.slurm_queues:
        scratch = Template()
        add_queue(scratch, cluster, queue, shared)
        pieces.append(Piece.of(queue.name, scratch.to_dict()))
    return pieces


def _nested_templates(
    cluster: Cluster, root: Shared
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """The queue stacks' templates by logical id, and the parameters each is passed."""
    shared, values = _nested_shared(cluster, root)
    nested: dict[str, dict[str, Any]] = {}
    stack_values: dict[str, dict[str, Any]] = {}
    for index, chunk in enumerate(pack(_queue_pieces(cluster, shared))):
        resources = {k: v for p in chunk for k, v in p.resources.items()}
        outputs = {k: v for p in chunk for k, v in p.outputs.items()}
        used = sorted(name for name in values if any(name in p.references for p in chunk))
        title = stack_logical_id(index)
        nested[title] = {
            "AWSTemplateFormatVersion": "2010-09-09",
            "Description": _nested_description(cluster, chunk),
            "Parameters": {name: {"Type": _parameter_type(name)} for name in used},
            "Resources": resources,
            "Outputs": outputs,
        }
        stack_values[title] = {name: values[name] for name in used}
    return nested, stack_values


def _nested_description(cluster: Cluster, chunk: list[Piece]) -> str:
    """Names the chunk's first and last queue: a list of 50 names could pass Description's 1024 bytes."""
    span = chunk[0].queue if len(chunk) == 1 else f"{chunk[0].queue} .. {chunk[-1].queue} ({len(chunk)})"
    return f"Corral cluster {cluster.name}: queues {span} (corral {__version__})"


def _parameter_type(name: str) -> str:
    return "AWS::EC2::Image::Id" if name.startswith("ImageId") else "String"


def build(
    plan: ClusterPlan,
    nested_template_urls: Mapping[str, str] | None,
    subnet_zones: Mapping[str, str] | None = None,
    public_subnets: Collection[str] = (),
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The root template and the nested templates (by the root's stack logical id)."""
    cluster = Cluster.of(plan)
    check_renderable(cluster)
    template = _new_template(f"Corral cluster {cluster.name} (corral {__version__})")
    template.add_parameter(
        Parameter(
            VPC_PARAMETER, Type="AWS::EC2::VPC::Id", Description="The VPC of HeadNode/Networking/SubnetId"
        )
    )
    head_groups, compute_groups = add_security_groups(template, cluster)
    shared = _root_shared(template, cluster, compute_groups)
    zone = add_dns(template, cluster)
    profile = add_node_profile(
        template,
        cluster,
        "HeadNode",
        cluster.config.head_node.iam,
        head_statements(cluster, shared, zone),
        cluster.tagging.tags(role="HeadNode"),
        managed_policies=[SSM_MANAGED_POLICY],
    )
    add_head_node(template, cluster, shared, head_groups, profile)
    add_head_record(template, cluster, zone)
    add_storage(template, cluster, head_groups, compute_groups, subnet_zones)
    add_login_pools(template, cluster, shared, public_subnets)
    nested, values = _nested_templates(cluster, shared)
    _add_stacks(template, cluster, nested, values, nested_template_urls or {})
    _add_outputs(template, cluster, nested, zone, compute_groups)
    return template.to_dict(), nested


def _add_stacks(
    template: Template,
    cluster: Cluster,
    nested: dict[str, dict[str, Any]],
    stack_values: dict[str, dict[str, Any]],
    urls: Mapping[str, str],
) -> None:
    for title in nested:
        url: Any = urls.get(title)
        values = stack_values[title]
        if url is None:
            template.add_parameter(
                Parameter(
                    f"{title}TemplateUrl", Type="String", Description=f"S3 https URL of {title}'s template"
                )
            )
            url = Ref(f"{title}TemplateUrl")
        template.add_resource(
            Stack(title, TemplateURL=url, Parameters=values, Tags=cluster.tagging.tags(role="Compute"))
        )


def _add_outputs(
    template: Template,
    cluster: Cluster,
    nested: dict[str, dict[str, Any]],
    zone: Any,
    compute_groups: list[Any],
) -> None:
    outputs = {
        "ClusterName": cluster.name,
        "HeadNodeInstanceId": Ref(HEAD_NODE),
        "HeadNodePrivateIp": GetAtt(HEAD_NODE, "PrivateIp"),
        "NodeStateTableName": Ref("NodeStateTable"),
        "LogGroupName": Ref("ClusterLogGroup") if "ClusterLogGroup" in template.resources else None,
    }
    if HEAD_SG in template.resources:
        outputs["HeadNodeSecurityGroupId"] = Ref(HEAD_SG)
    if compute_groups:
        outputs["ComputeSecurityGroupId"] = Ref(COMPUTE_SG)
    if zone is not None:
        outputs["HostedZoneId"] = zone
    for key, value in outputs.items():
        if value is not None:
            template.add_output(Output(key, Value=value))
    for stack, body in nested.items():
        for key in sorted(body["Outputs"]):
            if key.startswith("LaunchTemplate"):
                template.add_output(Output(key, Value=GetAtt(stack, f"Outputs.{key}")))


__all__ = ["build"]

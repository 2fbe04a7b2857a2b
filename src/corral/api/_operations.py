"""``/v3/clusters/{clusterName}/...``: compute fleet, instances, log streams and events, stack events."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict

from corral.api._clusters import ClusterName, Ctx, Events, NextToken, Region, unique
from corral.errors import NotFoundError

router = APIRouter(prefix="/v3/clusters/{clusterName}")


class RequestedFleetStatus(StrEnum):
    START_REQUESTED = "START_REQUESTED"
    STOP_REQUESTED = "STOP_REQUESTED"
    ENABLED = "ENABLED"
    DISABLED = "DISABLED"


class NodeType(StrEnum):
    HeadNode = "HeadNode"
    ComputeNode = "ComputeNode"
    LoginNode = "LoginNode"


class UpdateComputeFleetRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    status: RequestedFleetStatus


@router.get("/computefleet")
def describe_compute_fleet(ctx: Ctx, name: ClusterName, region: Region = None) -> dict[str, Any]:
    return ctx.service.describe_compute_fleet(name).to_json()


@router.patch("/computefleet", status_code=204)
def update_compute_fleet(
    ctx: Ctx, name: ClusterName, body: UpdateComputeFleetRequest, region: Region = None
) -> Response:
    """204 as the spec says; a 204 carries no body, so the new status is in describe-compute-fleet."""
    ctx.service.update_compute_fleet(name, body.status.value)
    return Response(status_code=204)


@router.get("/instances")
def describe_cluster_instances(
    ctx: Ctx,
    name: ClusterName,
    region: Region = None,
    next_token: NextToken = None,
    node_type: Annotated[NodeType | None, Query(alias="nodeType")] = None,
    queue_name: Annotated[str | None, Query(alias="queueName")] = None,
) -> dict[str, Any]:
    from corral.service import paged_doc

    try:
        kind = node_type.value if node_type else None
        doc = ctx.service.instances(name, node_type=kind, queue_name=queue_name).to_json()
    except NotFoundError:  # pcluster lists the instances tagged with the name: none, not an error
        doc = {"instances": []}
    return paged_doc(doc, "instances", "instanceId", next_token, "instances")


@router.delete("/instances", status_code=202)
def delete_cluster_instances(
    ctx: Ctx, name: ClusterName, region: Region = None, force: bool = False
) -> Response:
    ctx.service.delete_instances(name, force=force, provider=ctx.provider)
    return Response(status_code=202)


@router.get("/logstreams")
def list_cluster_log_streams(
    ctx: Ctx,
    name: ClusterName,
    region: Region = None,
    filters: Annotated[list[str] | None, Query()] = None,
    next_token: NextToken = None,
) -> dict[str, Any]:
    # spaceDelimited: 'Name=a,Values=1 Name=b,Values=2' in one value, or the parameter repeated
    split = [part for value in unique(filters, "filters") for part in value.split(" ") if part]
    found = ctx.service.log_streams(name, filters=split, next_token=next_token, provider=ctx.provider)
    return found.to_json()


@router.get("/logstreams/{logStreamName}")
def get_cluster_log_events(
    ctx: Ctx,
    name: ClusterName,
    stream: Annotated[str, Path(alias="logStreamName")],
    region: Region = None,
    *,
    query: Events,
) -> dict[str, Any]:
    found = ctx.service.log_events(name, stream, provider=ctx.provider, **query)
    return found.to_json()


@router.get("/stackevents")
def get_cluster_stack_events(
    ctx: Ctx, name: ClusterName, region: Region = None, next_token: NextToken = None
) -> dict[str, Any]:
    from corral.service import paged_doc

    doc = ctx.service.stack_events(name).to_json()
    return paged_doc(doc, "events", "eventId", next_token, "events")


__all__ = ["router"]

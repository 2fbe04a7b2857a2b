"""``/v3/clusters``: list, create (and its dry run), describe, update, delete."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from corral.api._context import ApiContext, config_file, context
from corral.api._errors import located
from corral.errors import BadRequestError
from corral.service import EventQuery

NAME_PATTERN = r"^[a-zA-Z][a-zA-Z0-9-]+$"
VALIDATOR_PATTERN = r"^(ALL|type:[A-Za-z0-9]+)$"

router = APIRouter(prefix="/v3/clusters")
Ctx = Annotated[ApiContext, Depends(context)]
ClusterName = Annotated[str, Path(alias="clusterName", pattern=NAME_PATTERN)]
Region = Annotated[str | None, Query()]
NextToken = Annotated[str | None, Query(alias="nextToken")]


class ClusterStatusFilter(StrEnum):
    CREATE_IN_PROGRESS = "CREATE_IN_PROGRESS"
    CREATE_FAILED = "CREATE_FAILED"
    CREATE_COMPLETE = "CREATE_COMPLETE"
    DELETE_IN_PROGRESS = "DELETE_IN_PROGRESS"
    DELETE_FAILED = "DELETE_FAILED"
    UPDATE_IN_PROGRESS = "UPDATE_IN_PROGRESS"
    UPDATE_COMPLETE = "UPDATE_COMPLETE"
    UPDATE_FAILED = "UPDATE_FAILED"


class ValidationLevel(StrEnum):
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"


class CreateClusterRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    clusterName: str = Field(pattern=NAME_PATTERN)
    clusterConfiguration: str


class UpdateClusterRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    clusterConfiguration: str


Suppress = Annotated[
    list[Annotated[str, Field(pattern=VALIDATOR_PATTERN)]] | None, Query(alias="suppressValidators")
]
Level = Annotated[ValidationLevel, Query(alias="validationFailureLevel")]


def event_query(
    next_token: NextToken = None,
    start_from_head: Annotated[bool, Query(alias="startFromHead")] = False,
    limit: Annotated[int | None, Query(ge=-(2**31), le=2**31 - 1)] = None,
    start_time: Annotated[str | None, Query(alias="startTime")] = None,
    end_time: Annotated[str | None, Query(alias="endTime")] = None,
) -> EventQuery:
    """The query parameters of pcluster's ``GetClusterLogEvents`` and ``GetImageLogEvents``."""
    return EventQuery(
        start_time=start_time,
        end_time=end_time,
        start_from_head=start_from_head,
        limit=limit,
        next_token=next_token,
    )


Events = Annotated[EventQuery, Depends(event_query)]


def dry_run_json(doc: dict[str, Any], findings: tuple[Any, ...]) -> dict[str, Any]:
    """A dry run's answer with each validation message located (``line``/``column``)."""
    if "validationMessages" in doc:
        doc = {**doc, "validationMessages": located(findings)}
    return doc


def unique(values: list[Any] | None, name: str) -> list[Any]:
    """The spec's ``uniqueItems`` for an array query parameter: a repeated value is a 400."""
    values = list(values or ())
    if len(set(values)) != len(values):
        raise BadRequestError(f"Bad Request: query parameter {name!r} repeats a value ({values})")
    return values


# describe and list are the hot reads (dashboards poll them): they read the state database and the
# provider's small state files, well under a millisecond, so they run on the event loop itself
# instead of paying a thread hand-off per request (bench/bench_api.py).
@router.get("")
async def list_clusters(
    ctx: Ctx,
    region: Region = None,
    next_token: Annotated[str | None, Query(alias="nextToken")] = None,
    cluster_status: Annotated[list[ClusterStatusFilter] | None, Query(alias="clusterStatus")] = None,
) -> dict[str, Any]:
    from corral.service import paged_doc

    statuses = [s.value for s in unique(cluster_status, "clusterStatus")]
    doc = ctx.service.list_clusters(statuses).to_json()
    return paged_doc(doc, "clusters", "clusterName", next_token, "clusters")


@router.post("", status_code=202)
def create_cluster(
    ctx: Ctx,
    body: CreateClusterRequest,
    region: Region = None,
    suppress: Suppress = None,
    level: Level = ValidationLevel.ERROR,
    dryrun: bool = False,
    rollback: Annotated[bool, Query(alias="rollbackOnFailure")] = True,
) -> Any:
    from corral.config.findings import Level as FindingLevel

    failure_level = FindingLevel[level.value]
    with config_file(body.clusterConfiguration, body.clusterName) as path:
        if dryrun:
            result = ctx.service.dry_run_create(
                path,
                cluster_name=body.clusterName,
                provider=ctx.provider,
                suppress=tuple(unique(suppress, "suppressValidators")),
                failure_level=failure_level,
            )
            return JSONResponse(dry_run_json(result.to_json(), result.validation_messages), status_code=412)
        accepted = ctx.service.create(
            body.clusterName,
            path,
            provider=ctx.provider,
            rollback_on_failure=rollback,
            suppress=tuple(unique(suppress, "suppressValidators")),
            failure_level=failure_level,
        )
    owner = accepted.record.owner
    ctx.hand_off("create", body.clusterName, owner.pid if owner else None)
    return accepted.to_json()


@router.get("/{clusterName}")
async def describe_cluster(ctx: Ctx, name: ClusterName, region: Region = None) -> dict[str, Any]:
    return ctx.service.describe(name).to_json()


@router.delete("/{clusterName}", status_code=202)
def delete_cluster(ctx: Ctx, name: ClusterName, region: Region = None) -> dict[str, Any]:
    accepted = ctx.service.delete(name)
    owner = accepted.record.owner
    ctx.hand_off("delete", name, owner.pid if owner else None)
    return accepted.to_json()


@router.put("/{clusterName}", status_code=202)
def update_cluster(
    ctx: Ctx,
    name: ClusterName,
    body: UpdateClusterRequest,
    suppress: Suppress = None,
    level: Level = ValidationLevel.ERROR,
    region: Region = None,
    dryrun: bool = False,
    force_update: Annotated[bool, Query(alias="forceUpdate")] = False,
) -> Any:
    from corral.config.findings import Level as FindingLevel

    with config_file(body.clusterConfiguration, name) as path:
        accepted = ctx.service.update(
            name,
            path,
            dry_run=dryrun,
            force=force_update,
            suppress=tuple(unique(suppress, "suppressValidators")),
            failure_level=FindingLevel[level.value],
        )
    if dryrun:
        return JSONResponse(dry_run_json(accepted.to_json(), accepted.validation_messages), status_code=412)
    owner = accepted.record.owner
    ctx.hand_off("update", name, owner.pid if owner else None)
    return accepted.to_json()


__all__ = ["router"]

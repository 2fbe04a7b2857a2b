"""``/v3/images``: build-image (and its dry run), the custom image verbs and the official images,
over ``ClusterService``'s image verbs."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from corral.api._clusters import NAME_PATTERN, Events, NextToken, Region, Suppress, ValidationLevel, unique
from corral.api._context import ApiContext, config_file, context

router = APIRouter(prefix="/v3/images")
Ctx = Annotated[ApiContext, Depends(context)]
ImageId = Annotated[str, Path(alias="imageId", pattern=NAME_PATTERN)]


class ImageStatusFilter(StrEnum):
    AVAILABLE = "AVAILABLE"
    PENDING = "PENDING"
    FAILED = "FAILED"


class BuildImageRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    imageConfiguration: str
    imageId: str = Field(pattern=NAME_PATTERN)


@router.get("/custom")
def list_images(
    ctx: Ctx,
    image_status: Annotated[ImageStatusFilter, Query(alias="imageStatus")],
    region: Region = None,
    next_token: NextToken = None,
) -> dict[str, Any]:
    return ctx.service.list_images(
        image_status.value, next_token=next_token, provider=ctx.provider, region=region
    )


@router.post("/custom", status_code=202)
def build_image(
    ctx: Ctx,
    body: BuildImageRequest,
    suppress: Suppress = None,
    level: Annotated[ValidationLevel, Query(alias="validationFailureLevel")] = ValidationLevel.ERROR,
    dryrun: bool = False,
    rollback: Annotated[bool, Query(alias="rollbackOnFailure")] = True,
    region: Region = None,
) -> Any:
    from corral.config.findings import Level
    from corral.service import dry_run_build_image

    suppressed = tuple(unique(suppress, "suppressValidators"))
    with config_file(body.imageConfiguration, body.imageId) as path:
        if dryrun:
            result = dry_run_build_image(
                path, image_id=body.imageId, suppress=suppressed, failure_level=Level[level.value]
            )
            return JSONResponse(result.to_json(), status_code=412)
        return ctx.service.build_image(
            path,
            image_id=body.imageId,
            suppress=suppressed,
            failure_level=Level[level.value],
            rollback_on_failure=rollback,
            provider=ctx.provider,
            region=region,
        )


@router.get("/custom/{imageId}")
def describe_image(ctx: Ctx, image_id: ImageId, region: Region = None) -> dict[str, Any]:
    return ctx.service.describe_image(image_id, provider=ctx.provider, region=region)


@router.delete("/custom/{imageId}", status_code=202)
def delete_image(ctx: Ctx, image_id: ImageId, region: Region = None, force: bool = False) -> dict[str, Any]:
    return ctx.service.delete_image(image_id, force=force, provider=ctx.provider, region=region)


@router.get("/custom/{imageId}/logstreams")
def list_image_log_streams(
    ctx: Ctx, image_id: ImageId, region: Region = None, next_token: NextToken = None
) -> Any:
    return ctx.service.list_image_log_streams(
        image_id, next_token=next_token, provider=ctx.provider, region=region
    ).to_json()


# an image's stream is "<version>/1": the name may hold a slash (sent as %2F)
@router.get("/custom/{imageId}/logstreams/{logStreamName:path}")
def get_image_log_events(
    ctx: Ctx,
    image_id: ImageId,
    stream: Annotated[str, Path(alias="logStreamName")],
    region: Region = None,
    *,
    query: Events,
) -> Any:
    found = ctx.service.get_image_log_events(image_id, stream, provider=ctx.provider, region=region, **query)
    return found.to_json()


@router.get("/custom/{imageId}/stackevents")
def get_image_stack_events(
    ctx: Ctx, image_id: ImageId, region: Region = None, next_token: NextToken = None
) -> Any:
    from corral.service import paged_doc

    doc = ctx.service.get_image_stack_events(image_id, provider=ctx.provider, region=region)
    return paged_doc(doc, "events", "eventId", next_token, "events")


@router.get("/official")
def list_official_images(
    region: Region = None,
    os: Annotated[str | None, Query()] = None,
    architecture: Annotated[str | None, Query()] = None,
) -> Any:
    from corral.service import list_official_images as official

    return official(os=os, architecture=architecture)


__all__ = ["router"]

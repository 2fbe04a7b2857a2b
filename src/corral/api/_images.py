"""``/v3/images``: the official images and the build dry run; building, listing and describing
custom images are not in Corral yet, and those operations answer the spec's BadRequest shape
saying so."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, NoReturn

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from corral.api._clusters import NAME_PATTERN, Region, Suppress, ValidationLevel, unique
from corral.api._context import config_file
from corral.errors import BadRequestError

router = APIRouter(prefix="/v3/images")
ImageId = Annotated[str, Path(alias="imageId", pattern=NAME_PATTERN)]
NextToken = Annotated[str | None, Query(alias="nextToken")]


class ImageStatusFilter(StrEnum):
    AVAILABLE = "AVAILABLE"
    PENDING = "PENDING"
    FAILED = "FAILED"


class BuildImageRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    imageConfiguration: str
    imageId: str = Field(pattern=NAME_PATTERN)


def not_yet(operation: str) -> NoReturn:
    raise BadRequestError(
        f"Bad Request: {operation} is not implemented in Corral yet (image builds are being added)",
        hint="image configs can already be validated: POST /v3/images/custom?dryrun=true",
    )


@router.get("/custom")
def list_images(
    image_status: Annotated[ImageStatusFilter, Query(alias="imageStatus")],
    region: Region = None,
    next_token: NextToken = None,
) -> dict[str, Any]:
    not_yet("list-images")


@router.post("/custom", status_code=202)
def build_image(
    body: BuildImageRequest,
    suppress: Suppress = None,
    level: Annotated[ValidationLevel, Query(alias="validationFailureLevel")] = ValidationLevel.ERROR,
    dryrun: bool = False,
    rollback: Annotated[bool, Query(alias="rollbackOnFailure")] = True,
    region: Region = None,
) -> Any:
    from corral.config.findings import Level
    from corral.service import dry_run_build_image

    if not dryrun:
        not_yet("build-image")
    with config_file(body.imageConfiguration, body.imageId) as path:
        result = dry_run_build_image(
            path,
            image_id=body.imageId,
            suppress=tuple(unique(suppress, "suppressValidators")),
            failure_level=Level[level.value],
        )
    return JSONResponse(result.to_json(), status_code=412)


@router.get("/custom/{imageId}")
def describe_image(image_id: ImageId, region: Region = None) -> dict[str, Any]:
    not_yet("describe-image")


@router.delete("/custom/{imageId}", status_code=202)
def delete_image(image_id: ImageId, region: Region = None, force: bool = False) -> dict[str, Any]:
    not_yet("delete-image")


@router.get("/custom/{imageId}/logstreams")
def list_image_log_streams(image_id: ImageId, region: Region = None, next_token: NextToken = None) -> Any:
    not_yet("list-image-log-streams")


@router.get("/custom/{imageId}/logstreams/{logStreamName}")
def get_image_log_events(
    image_id: ImageId,
    stream: Annotated[str, Path(alias="logStreamName")],
    region: Region = None,
    next_token: NextToken = None,
    start_from_head: Annotated[bool, Query(alias="startFromHead")] = False,
    limit: Annotated[int | None, Query(ge=-(2**31), le=2**31 - 1)] = None,
    start_time: Annotated[str | None, Query(alias="startTime")] = None,
    end_time: Annotated[str | None, Query(alias="endTime")] = None,
) -> Any:
    not_yet("get-image-log-events")


@router.get("/custom/{imageId}/stackevents")
def get_image_stack_events(image_id: ImageId, region: Region = None, next_token: NextToken = None) -> Any:
    not_yet("get-image-stack-events")


@router.get("/official")
def list_official_images(
    region: Region = None,
    os: Annotated[str | None, Query()] = None,
    architecture: Annotated[str | None, Query()] = None,
) -> Any:
    from corral.service import list_official_images as official

    return official(os=os, architecture=architecture)


__all__ = ["router"]

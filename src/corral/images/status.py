"""The lifecycle of a built image, as a transition table (pure).

pcluster's ``imageBuildStatus`` values; every edge carries its reason. A build that was
interrupted (its builder died) is reported as ``BUILD_FAILED`` by whoever notices, and a failed or
complete image can only be deleted."""

from __future__ import annotations

from corral.errors import ConflictError

BUILD_IN_PROGRESS = "BUILD_IN_PROGRESS"
BUILD_FAILED = "BUILD_FAILED"
BUILD_COMPLETE = "BUILD_COMPLETE"
DELETE_IN_PROGRESS = "DELETE_IN_PROGRESS"
DELETE_FAILED = "DELETE_FAILED"
DELETE_COMPLETE = "DELETE_COMPLETE"

TRANSITIONS: dict[tuple[str, str], str] = {
    (
        BUILD_IN_PROGRESS,
        BUILD_COMPLETE,
    ): "the build, validate and test phases passed and the image was captured",
    (BUILD_IN_PROGRESS, BUILD_FAILED): "a step failed, timed out, or the builder died",
    (BUILD_IN_PROGRESS, DELETE_IN_PROGRESS): "delete-image stops a build in progress",
    (BUILD_COMPLETE, DELETE_IN_PROGRESS): "delete-image",
    (BUILD_FAILED, DELETE_IN_PROGRESS): "delete-image of a failed build",
    (DELETE_FAILED, DELETE_IN_PROGRESS): "delete-image again after a failed delete",
    (DELETE_IN_PROGRESS, DELETE_FAILED): "something of the image could not be removed",
    (DELETE_IN_PROGRESS, DELETE_COMPLETE): "everything of the image is gone",
    # a delete interrupted in its turn is resumed by the next delete-image
    (DELETE_IN_PROGRESS, DELETE_IN_PROGRESS): "delete-image resumes an interrupted delete",
}

#: ``list-images --image-status``: which build statuses each filter shows (as pcluster)
STATUS_FILTER: dict[str, tuple[str, ...]] = {
    "AVAILABLE": (BUILD_COMPLETE,),
    "PENDING": (BUILD_IN_PROGRESS, DELETE_IN_PROGRESS),
    "FAILED": (BUILD_FAILED, DELETE_FAILED),
}

#: ``ec2AmiInfo.state`` and ``imagebuilderImageStatus`` for each build status
AMI_STATE = {
    BUILD_IN_PROGRESS: "PENDING",
    BUILD_COMPLETE: "AVAILABLE",
    BUILD_FAILED: "FAILED",
    DELETE_IN_PROGRESS: "PENDING",
    DELETE_FAILED: "ERROR",
}
#: the CloudFormation stack status pcluster reports beside each build status
STACK_STATUS = {
    BUILD_IN_PROGRESS: "CREATE_IN_PROGRESS",
    BUILD_COMPLETE: "CREATE_COMPLETE",
    BUILD_FAILED: "CREATE_FAILED",
    DELETE_IN_PROGRESS: "DELETE_IN_PROGRESS",
    DELETE_FAILED: "DELETE_FAILED",
    DELETE_COMPLETE: "DELETE_COMPLETE",
}


def check_transition(image_id: str, old: str, new: str) -> str:
    """The reason of the edge ``old`` -> ``new``; ``ConflictError`` when there is none."""
    reason = TRANSITIONS.get((old, new))
    if reason is None:
        raise ConflictError(
            f"Image '{image_id}' is {old}: it cannot become {new}",
            hint="wait for the operation in progress (describe-image), or delete-image it",
        )
    return reason


__all__ = [
    "AMI_STATE",
    "BUILD_COMPLETE",
    "BUILD_FAILED",
    "BUILD_IN_PROGRESS",
    "DELETE_COMPLETE",
    "DELETE_FAILED",
    "DELETE_IN_PROGRESS",
    "STACK_STATUS",
    "STATUS_FILTER",
    "TRANSITIONS",
    "check_transition",
]

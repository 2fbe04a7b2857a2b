"""Offline validators: plain functions ``(ctx) -> Iterable[Finding]``, one area per module."""

from corral.config.validators._base import ClusterContext, ImageContext
from corral.config.validators._registry import (
    ABSTRACT_VALIDATORS,
    AWS_ONLY_VALIDATORS,
    AWS_REMAINDER,
    CLUSTER_VALIDATORS,
    IMAGE_VALIDATORS,
)

__all__ = [
    "ABSTRACT_VALIDATORS",
    "AWS_ONLY_VALIDATORS",
    "AWS_REMAINDER",
    "CLUSTER_VALIDATORS",
    "IMAGE_VALIDATORS",
    "ClusterContext",
    "ImageContext",
]

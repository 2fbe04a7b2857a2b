"""Shared storage (placeholder, grown in the next commit)."""

from __future__ import annotations

from typing import Any

from troposphere import Template

from corral.providers.aws.template._context import Cluster


def add_storage(
    template: Template, cluster: Cluster, head_groups: list[Any], compute_groups: list[Any]
) -> None:
    return None

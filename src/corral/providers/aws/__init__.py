"""The aws provider: a cluster as a CloudFormation stack plus EC2 CreateFleet compute nodes.

Public surface: ``AwsProvider`` (the ``Provider`` contract, plus ``launch_batch``,
``stack_status`` and ``cloud_findings``), and ``cloud_findings(config)`` (the validators that need
AWS APIs). The template generator lives in ``corral.providers.aws.template``. This package is the
only place that imports boto3/botocore; their errors never leave it untranslated (``_errors``).

Both names are loaded on first use (module ``__getattr__``), so importing
``corral.providers.aws.template`` (pure troposphere) does not import boto3/botocore.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from corral.providers.aws.provider import AwsProvider
    from corral.providers.aws.validators import cloud_findings

__all__ = ["AwsProvider", "cloud_findings"]


def __getattr__(name: str) -> Any:
    """``AwsProvider`` and ``cloud_findings``, imported when first asked for."""
    if name == "AwsProvider":
        from corral.providers.aws.provider import AwsProvider

        return AwsProvider
    if name == "cloud_findings":
        from corral.providers.aws.validators import cloud_findings

        return cloud_findings
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

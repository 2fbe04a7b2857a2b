"""The aws provider: a cluster as a CloudFormation stack plus EC2 CreateFleet compute nodes.

Public surface: ``AwsProvider`` (the ``Provider`` contract, plus ``launch_batch``,
``stack_status`` and ``cloud_findings``), and ``cloud_findings(config)`` (the validators that need
AWS APIs). The template generator lives in ``corral.providers.aws.template``. This package is the
only place that imports boto3/botocore; their errors never leave it untranslated (``_errors``).
"""

from __future__ import annotations

from corral.providers.aws.provider import AwsProvider
from corral.providers.aws.validators import cloud_findings

__all__ = ["AwsProvider", "cloud_findings"]

"""The AWS provider's settings record: every knob it takes from the environment, parsed once, when
the provider (or a node program) starts, into a frozen ``AwsSettings`` that its boto3 clients carry.
Nothing below reads these variables again; a test or a node program that wants other values builds
another record (``AwsSettings.from_env(environ)``).

- ``AWS_MAX_ATTEMPTS``: attempts per call in botocore's ``standard`` retry mode (default 6). Read
  leniently, as botocore would have it before: a value that is not a positive whole number means the
  default, so no command stops on it.
- ``AWS_ENDPOINT_URL``: an emulator (the tests' moto server on loopback). boto3 honours it natively;
  the record keeps it to decide what an emulator cannot do (SSM commands never run there) and to
  tell the old S3 endpoint variable from it.
- ``CORRAL_S3_ENDPOINT_URL``: the old name of an S3-only endpoint, used only when
  ``AWS_ENDPOINT_URL`` is unset.
- ``CORRAL_AWS_SSM=1``: the endpoint really runs SSM commands (run them instead of refusing).
- ``CORRAL_AWS_POLL_S``: seconds between two DescribeStacks/DescribeInstances polls (default 5;
  the tests use less), read leniently.
- ``CORRAL_CLUSTER_CONFIG``: where an AWS node's user data wrote its context
  (default ``/etc/corral/cluster.json``).

Credentials and the region stay with boto3's own chain (``AWS_REGION``, profiles, instance roles):
they are boto3's settings, not Corral's, and ``_clients.resolve_region`` asks boto3 for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from corral.runtime import settings

MAX_ATTEMPTS_ENV = "AWS_MAX_ATTEMPTS"
ENDPOINT_ENV = "AWS_ENDPOINT_URL"
LEGACY_S3_ENDPOINT_ENV = "CORRAL_S3_ENDPOINT_URL"
SSM_ENV = "CORRAL_AWS_SSM"
POLL_ENV = "CORRAL_AWS_POLL_S"
CLUSTER_CONFIG_ENV = "CORRAL_CLUSTER_CONFIG"

DEFAULT_MAX_ATTEMPTS = 6
DEFAULT_POLL_S = 5.0
#: the smallest poll interval honoured (a smaller value would spin on the API)
MIN_POLL_S = 0.05
CLUSTER_FILE = Path("/etc/corral/cluster.json")


@dataclass(frozen=True)
class AwsSettings:
    """What the environment said when the provider started."""

    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    endpoint_url: str | None = None
    legacy_s3_endpoint_url: str | None = None
    #: the endpoint runs SSM commands (``CORRAL_AWS_SSM=1``)
    endpoint_runs_ssm: bool = False
    poll_s: float = DEFAULT_POLL_S
    cluster_config: Path = CLUSTER_FILE

    @classmethod
    def from_env(cls, environ: settings.Environ | None = None) -> AwsSettings:
        """Parse every knob (``environ``: default ``os.environ``)."""
        attempts = settings.raw(MAX_ATTEMPTS_ENV, environ)
        return cls(
            max_attempts=max(1, int(attempts)) if attempts.isdigit() else DEFAULT_MAX_ATTEMPTS,
            endpoint_url=settings.raw(ENDPOINT_ENV, environ) or None,
            legacy_s3_endpoint_url=settings.raw(LEGACY_S3_ENDPOINT_ENV, environ) or None,
            endpoint_runs_ssm=settings.raw(SSM_ENV, environ) == "1",
            poll_s=max(MIN_POLL_S, settings.seconds(POLL_ENV, DEFAULT_POLL_S, environ=environ, lenient=True)),
            cluster_config=Path(settings.raw(CLUSTER_CONFIG_ENV, environ) or CLUSTER_FILE),
        )

    def s3_endpoint_url(self) -> str | None:
        """The endpoint to give the S3 client explicitly: the old variable's, when it is the only
        one set (boto3 applies ``AWS_ENDPOINT_URL`` itself)."""
        return self.legacy_s3_endpoint_url if not self.endpoint_url else None

    def emulator_refuses_ssm(self) -> str | None:
        """The emulator's endpoint when SSM commands sent there would never run, else None."""
        return self.endpoint_url if self.endpoint_url and not self.endpoint_runs_ssm else None


__all__ = [
    "CLUSTER_CONFIG_ENV",
    "CLUSTER_FILE",
    "DEFAULT_MAX_ATTEMPTS",
    "DEFAULT_POLL_S",
    "ENDPOINT_ENV",
    "LEGACY_S3_ENDPOINT_ENV",
    "MAX_ATTEMPTS_ENV",
    "POLL_ENV",
    "SSM_ENV",
    "AwsSettings",
]

"""boto3 clients for one region, with Corral's retry policy and endpoint choice.

- Region: the config's ``Region``, else ``AWS_REGION`` / ``AWS_DEFAULT_REGION`` / the profile's.
- Endpoint: boto3 honours ``AWS_ENDPOINT_URL`` (and ``AWS_ENDPOINT_URL_<SERVICE>``) natively, which
  is how the tests point every client at a moto server on loopback. ``CORRAL_S3_ENDPOINT_URL`` (the
  old name) still applies to S3 when ``AWS_ENDPOINT_URL`` is unset.
- Retries: botocore's ``standard`` mode (exponential backoff with jitter, throttling and transient
  errors retried), ``AWS_MAX_ATTEMPTS`` attempts (default 6).

The endpoint and retry knobs come from the ``AwsSettings`` record the clients carry (``_settings``),
read once by the provider that made them.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from corral.errors import PrerequisiteError
from corral.providers.aws._errors import CREDENTIALS_HINT, aws_call, aws_errors
from corral.providers.aws._settings import AwsSettings


def resolve_region(configured: str | None) -> str:
    """The region to use: the config's, else the environment's or the profile's."""
    if configured:
        return configured
    for var in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        if os.environ.get(var):
            return os.environ[var]
    import boto3

    with aws_errors("LoadConfiguration"):
        region = boto3.session.Session().region_name
    if not region:
        raise PrerequisiteError(
            "no AWS region is set",
            hint="set Region in the cluster config, or AWS_REGION / AWS_DEFAULT_REGION",
        )
    return region


def has_credentials() -> bool:
    """Whether boto3 can find credentials (environment, profile, instance role), without a call."""
    import boto3

    with aws_errors("LoadCredentials"):
        return boto3.session.Session().get_credentials() is not None


class AwsClients:
    """Lazily created, cached boto3 clients for one region (thread-safe creation), made with the
    ``settings`` of the provider that owns them (default: read from the environment now)."""

    def __init__(self, region: str, settings: AwsSettings | None = None) -> None:
        self.region = region
        self.settings = settings if settings is not None else AwsSettings.from_env()
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._account: str | None = None

    def client(self, service: str) -> Any:
        with self._lock:
            if service not in self._clients:
                import boto3
                from botocore.config import Config

                config = Config(
                    retries={"mode": "standard", "total_max_attempts": self.settings.max_attempts},
                    connect_timeout=10,
                    read_timeout=60,
                )
                kwargs: dict[str, Any] = {"region_name": self.region, "config": config}
                legacy = self.settings.s3_endpoint_url()
                if service == "s3" and legacy:
                    kwargs["endpoint_url"] = legacy
                with aws_errors("CreateClient"):
                    self._clients[service] = boto3.session.Session().client(service, **kwargs)
            return self._clients[service]

    @property
    def cfn(self) -> Any:
        return self.client("cloudformation")

    @property
    def ec2(self) -> Any:
        return self.client("ec2")

    @property
    def s3(self) -> Any:
        return self.client("s3")

    @property
    def ddb(self) -> Any:
        return self.client("dynamodb")

    @property
    def ssm(self) -> Any:
        return self.client("ssm")

    def account_id(self) -> str:
        """The account of the credentials in use (sts:GetCallerIdentity, once)."""
        if self._account is None:
            if not has_credentials():
                raise PrerequisiteError("no AWS credentials were found", hint=CREDENTIALS_HINT)
            sts = self.client("sts")
            self._account = str(aws_call("GetCallerIdentity", sts.get_caller_identity)["Account"])
        return self._account


__all__ = ["AwsClients", "has_credentials", "resolve_region"]

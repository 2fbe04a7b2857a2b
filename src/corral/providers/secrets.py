"""Reading Secrets Manager secrets (the accounting database's password, ``Database/PasswordSecretArn``;
the cluster's munge key, ``MungeKeySecretArn``) through boto3: the endpoint is the standard
``AWS_ENDPOINT_URL``, or AWS itself; credentials come from boto3's usual chain (an AWS node's instance
role). Used by the local provider and the AWS node program.
"""

from __future__ import annotations

import os
from pathlib import Path

from corral.errors import ProviderError

PASSWORD_KEY = "Scheduling/SlurmSettings/Database/PasswordSecretArn"


def aws_reachable() -> bool:
    """An endpoint or credentials to ask Secrets Manager with (without probing instance metadata)."""
    if (
        os.environ.get("AWS_ENDPOINT_URL")
        or os.environ.get("AWS_ACCESS_KEY_ID")
        or os.environ.get("AWS_PROFILE")
    ):
        return True
    return Path(os.environ.get("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials")).expanduser().exists()


def secret_password(arn: str) -> str:
    """The value of the secret ``arn`` (Secrets Manager at ``AWS_ENDPOINT_URL`` or AWS itself)."""
    return secret_string(arn, PASSWORD_KEY, "put the database password in the secret (SecretString)")


def secret_string(arn: str, key: str, fill_hint: str) -> str:
    """The ``SecretString`` of ``arn``; errors name the config ``key`` that names the secret."""
    import boto3
    import botocore.exceptions

    region = arn.split(":")[3] if arn.count(":") >= 6 else None
    try:
        client = boto3.client("secretsmanager", region_name=region or None)
        value = client.get_secret_value(SecretId=arn).get("SecretString") or ""
    except botocore.exceptions.ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        raise ProviderError(
            f"{key}: cannot read secret {arn}: {code or exc}",
            hint="check that the secret exists in that region and that your credentials may read it",
        ) from exc
    except botocore.exceptions.BotoCoreError as exc:
        raise ProviderError(
            f"{key}: cannot reach Secrets Manager: {exc}",
            hint="check AWS_ENDPOINT_URL and your credentials",
        ) from exc
    if not value.strip():
        raise ProviderError(f"{key}: secret {arn} is empty", hint=fill_hint)
    return value


__all__ = ["aws_reachable", "secret_password", "secret_string"]

"""Reading Secrets Manager secrets (the accounting database's password, ``Database/PasswordSecretArn``)
through boto3: the endpoint is the standard ``AWS_ENDPOINT_URL``, or AWS itself; credentials come from
boto3's usual chain (an AWS node's instance role). Used by the local provider and the AWS node program.
"""

from __future__ import annotations

from corral.errors import ProviderError


def secret_password(arn: str) -> str:
    """The value of the secret ``arn`` (Secrets Manager at ``AWS_ENDPOINT_URL`` or AWS itself)."""
    import boto3
    import botocore.exceptions

    region = arn.split(":")[3] if arn.count(":") >= 6 else None
    try:
        client = boto3.client("secretsmanager", region_name=region or None)
        value = client.get_secret_value(SecretId=arn).get("SecretString") or ""
    except botocore.exceptions.ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        raise ProviderError(
            f"Scheduling/SlurmSettings/Database/PasswordSecretArn: cannot read secret {arn}: {code or exc}",
            hint="check that the secret exists in that region and that your credentials may read it",
        ) from exc
    except botocore.exceptions.BotoCoreError as exc:
        raise ProviderError(
            f"Scheduling/SlurmSettings/Database/PasswordSecretArn: cannot reach Secrets Manager: {exc}",
            hint="check AWS_ENDPOINT_URL and your credentials",
        ) from exc
    if not value.strip():
        raise ProviderError(
            f"Scheduling/SlurmSettings/Database/PasswordSecretArn: secret {arn} is empty",
            hint="put the database password in the secret (SecretString)",
        )
    return value


__all__ = ["secret_password"]

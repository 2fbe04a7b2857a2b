"""Writing ``s3://`` objects (log exports) through boto3.

The endpoint is the standard ``AWS_ENDPOINT_URL`` (``CORRAL_S3_ENDPOINT_URL``, the old name, as a
fallback), or AWS itself when neither is set; credentials come from boto3's usual chain. The client is
``corral.node.fetch``'s shared one, created only when an upload happens.
"""

from __future__ import annotations

from pathlib import Path

from corral.errors import S3Error
from corral.node.fetch import s3_client, s3_endpoint

PRESIGNED_URL_SECONDS = 3600


def upload(path: Path, bucket: str, key: str) -> str:
    """Put the file at ``path`` as ``s3://bucket/key``; returns a presigned https URL of the object
    (what ``pcluster export-cluster-logs`` answers). ``S3Error`` names the bucket and endpoint."""
    import boto3.exceptions
    import botocore.exceptions

    errors = (
        boto3.exceptions.Boto3Error,
        botocore.exceptions.BotoCoreError,
        botocore.exceptions.ClientError,
        OSError,
    )
    try:
        client = s3_client()
        client.upload_file(str(path), bucket, key)
        url: str = client.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=PRESIGNED_URL_SECONDS
        )
    except errors as exc:
        where = f" (endpoint {s3_endpoint()})" if s3_endpoint() else ""
        raise S3Error(
            f"cannot upload to s3://{bucket}/{key}{where}: {exc}",
            hint="check that the bucket exists, AWS credentials, and AWS_ENDPOINT_URL",
        ) from exc
    return url


__all__ = ["S3Error", "upload"]

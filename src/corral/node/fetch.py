"""Fetch a custom action script or settings file: a local path, ``s3://`` or ``https://``."""

from __future__ import annotations

import hashlib
import os
import shutil
import urllib.error
import urllib.request
from pathlib import Path

from corral.errors import CorralError


class FetchError(CorralError):
    """A script or file named in the config could not be fetched."""

    code = "FetchError"


def cached_name(source: str) -> str:
    """A file name for the fetched copy: stable per source, keeping the base name readable."""
    base = source.rstrip("/").rsplit("/", 1)[-1] or "file"
    return f"{hashlib.sha1(source.encode()).hexdigest()[:10]}-{base}"


def _fetch_s3(source: str, dest: Path) -> None:
    import boto3  # lazy: only s3:// sources pay for the import
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, _, key = source[len("s3://") :].partition("/")
    endpoint = os.environ.get("CORRAL_S3_ENDPOINT_URL") or None
    try:
        client = boto3.client("s3", endpoint_url=endpoint)
        client.download_file(bucket, key, str(dest))
    except (BotoCoreError, ClientError) as exc:
        where = f" (endpoint {endpoint})" if endpoint else ""
        raise FetchError(
            f"cannot download {source}{where}: {exc}",
            hint="check the bucket and key, and CORRAL_S3_ENDPOINT_URL / AWS credentials",
        ) from exc


def _fetch_https(source: str, dest: Path) -> None:
    try:
        with urllib.request.urlopen(source, timeout=30) as response, dest.open("wb") as out:
            shutil.copyfileobj(response, out)
    except (urllib.error.URLError, OSError) as exc:
        raise FetchError(f"cannot download {source}: {exc}", hint="check the URL") from exc


def fetch(source: str, dest_dir: Path) -> Path:
    """Copy ``source`` into ``dest_dir`` (once: an existing copy is reused) and return its path."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / cached_name(source)
    if dest.exists():
        return dest
    partial = dest.with_name(dest.name + ".part")
    if source.startswith("s3://"):
        _fetch_s3(source, partial)
    elif source.startswith(("https://", "http://")):
        _fetch_https(source, partial)
    else:
        path = Path(source.removeprefix("file://")).expanduser()
        if not path.is_file():
            raise FetchError(
                f"{source}: no such file", hint="give an existing path, an s3:// or https:// URL"
            )
        shutil.copyfile(path, partial)
    partial.chmod(0o755)
    partial.replace(dest)
    return dest

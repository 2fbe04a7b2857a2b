"""Fetch custom action scripts and settings files: a local path, ``s3://`` or ``https://``.

``s3://`` goes through boto3 against the endpoint in ``AWS_ENDPOINT_URL`` (the standard variable,
which boto3 also honours on its own), ``CORRAL_S3_ENDPOINT_URL`` (the older name, a fallback), or
AWS itself when neither is set. ``fetch_all`` fetches many sources in parallel with one S3 client
(its connection pool is shared by the threads) and keeps a cache keyed by URL and ETag, so a
bootstrap that names fifty small scripts pays for one round trip per script, concurrently.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from corral.errors import FetchError

ENDPOINT_ENV = "AWS_ENDPOINT_URL"
LEGACY_ENDPOINT_ENV = "CORRAL_S3_ENDPOINT_URL"
FETCH_WORKERS = 16


def s3_endpoint() -> str | None:
    """The S3 endpoint URL to use, or None for AWS itself."""
    return os.environ.get(ENDPOINT_ENV) or os.environ.get(LEGACY_ENDPOINT_ENV) or None


_clients: dict[str | None, Any] = {}
_clients_lock = threading.Lock()


def s3_client() -> Any:
    """One boto3 S3 client per endpoint for the process (clients are thread-safe; creating one
    costs tens of milliseconds, and a shared client reuses its pooled connections)."""
    import boto3  # lazy: only s3:// sources pay for the import
    from botocore.config import Config

    endpoint = s3_endpoint()
    with _clients_lock:
        client = _clients.get(endpoint)
        if client is None:
            config = Config(
                max_pool_connections=FETCH_WORKERS * 2, retries={"max_attempts": 3}, connect_timeout=5
            )
            client = boto3.session.Session().client("s3", endpoint_url=endpoint, config=config)
            _clients[endpoint] = client
        return client


def split_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> ``(bucket, key)``."""
    bucket, _, key = url[len("s3://") :].partition("/")
    return bucket, key


def cached_name(source: str) -> str:
    """A file name for the fetched copy: stable per source, keeping the base name readable."""
    base = source.rstrip("/").rsplit("/", 1)[-1] or "file"
    return f"{hashlib.sha1(source.encode()).hexdigest()[:10]}-{base}"


def _s3_error(source: str, exc: Exception) -> FetchError:
    endpoint = s3_endpoint()
    where = f" (endpoint {endpoint})" if endpoint else ""
    return FetchError(
        f"cannot download {source}{where}: {exc}",
        hint=f"check the bucket and key, {ENDPOINT_ENV} and the AWS credentials",
    )


def _not_modified(exc: Exception) -> bool:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code")) in ("304", "NotModified")


def _fetch_s3(source: str, dest: Path) -> None:
    """Download ``source`` to ``dest``, unless ``dest`` already holds the object's current ETag:
    one conditional GET (If-None-Match) either way."""
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, key = split_s3_url(source)
    etag_file = dest.with_name(dest.name + ".etag")
    cached = etag_file.read_text() if dest.exists() and etag_file.exists() else ""
    request = {"Bucket": bucket, "Key": key, **({"IfNoneMatch": cached} if cached else {})}
    partial = dest.with_name(dest.name + ".part")
    try:
        response = s3_client().get_object(**request)
        with partial.open("wb") as out:
            shutil.copyfileobj(response["Body"], out)
    except ClientError as exc:
        if cached and _not_modified(exc):
            return
        raise _s3_error(source, exc) from exc
    except BotoCoreError as exc:
        raise _s3_error(source, exc) from exc
    partial.chmod(0o755)
    partial.replace(dest)
    etag_file.write_text(response["ETag"])


def _fetch_https(source: str, dest: Path) -> None:
    partial = dest.with_name(dest.name + ".part")
    try:
        with urllib.request.urlopen(source, timeout=30) as response, partial.open("wb") as out:
            shutil.copyfileobj(response, out)
    except (urllib.error.URLError, OSError) as exc:
        raise FetchError(f"cannot download {source}: {exc}", hint="check the URL") from exc
    partial.chmod(0o755)
    partial.replace(dest)


def _copy_local(source: str, dest: Path) -> None:
    path = Path(source.removeprefix("file://")).expanduser()
    if not path.is_file():
        raise FetchError(f"{source}: no such file", hint="give an existing path, an s3:// or https:// URL")
    partial = dest.with_name(dest.name + ".part")
    shutil.copyfile(path, partial)
    partial.chmod(0o755)
    partial.replace(dest)


def fetch(source: str, dest_dir: Path) -> Path:
    """Copy ``source`` into ``dest_dir`` and return its path. An ``s3://`` copy already there is
    reused when its ETag is still the object's; https and local sources are fetched once."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / cached_name(source)
    if source.startswith("s3://"):
        _fetch_s3(source, dest)
    elif dest.exists():
        return dest
    elif source.startswith(("https://", "http://")):
        _fetch_https(source, dest)
    else:
        _copy_local(source, dest)
    return dest


def fetch_all(sources: Sequence[str], dest_dir: Path, *, workers: int = FETCH_WORKERS) -> dict[str, Path]:
    """Fetch every distinct source concurrently; ``{source: local path}``. The first failure (in
    the order given) is raised as a ``FetchError`` once all fetches have finished."""
    unique = list(dict.fromkeys(sources))
    if not unique:
        return {}
    dest_dir.mkdir(parents=True, exist_ok=True)
    if any(s.startswith("s3://") for s in unique):
        s3_client()  # create the shared client once, before the threads race for it

    def one(source: str) -> Path | FetchError:
        try:
            return fetch(source, dest_dir)
        except FetchError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(unique)))) as pool:
        results = dict(zip(unique, pool.map(one, unique), strict=True))
    for result in results.values():
        if isinstance(result, FetchError):
            raise result
    return {s: p for s, p in results.items() if isinstance(p, Path)}

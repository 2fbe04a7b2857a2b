"""Real servers on loopback for tests: a static web server and an S3-compatible one (moto's server
mode). Each listens on 127.0.0.1 on a free port and stops when its ``with`` block ends."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

#: What the S3 clients need: the endpoint Corral reads s3:// from, and credentials moto accepts.
S3_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@contextmanager
def web_server(root: Path) -> Iterator[str]:
    """Serve the files under ``root``; yields the base URL."""

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def s3_server(monkeypatch: pytest.MonkeyPatch, bucket: str) -> Iterator[Any]:
    """A moto S3 server with ``bucket`` created; sets ``AWS_ENDPOINT_URL`` (the standard variable,
    which boto3 honours) and credentials through ``monkeypatch`` and yields a boto3 S3 client."""
    import boto3
    from moto import server as moto_server

    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        for key, value in {"AWS_ENDPOINT_URL": endpoint, **S3_ENV}.items():
            monkeypatch.setenv(key, value)
        monkeypatch.delenv("CORRAL_S3_ENDPOINT_URL", raising=False)
        client = boto3.client("s3", endpoint_url=endpoint)
        client.create_bucket(Bucket=bucket)
        yield client
    finally:
        server.stop()

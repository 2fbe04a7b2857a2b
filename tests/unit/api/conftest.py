"""An API server in-process (Starlette's TestClient over the real app) with the fake provider, the
real background worker, and tokens of every kind."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from corral.api import TokenStore, create_app
from corral.service import open_service


@dataclass
class Api:
    client: TestClient
    state: Path
    admin: str
    reader: str
    tokens: TokenStore

    def headers(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.admin}"}


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    for key in list(os.environ):
        if key.startswith("CORRAL_FAKE_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("CORRAL_STATE_DIR", str(tmp_path))
    service = open_service(tmp_path)
    tokens = TokenStore(tmp_path)
    admin = tokens.create("admin")
    reader = tokens.create("reader", read_only=True)
    app = create_app(service, provider="fake")
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, tmp_path, admin, reader, tokens)

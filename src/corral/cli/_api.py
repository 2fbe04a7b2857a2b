"""``corral api ...``: run the server, manage its tokens."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from corral.cli._output import emit

if TYPE_CHECKING:
    from corral.api import TokenStore


def _tokens() -> TokenStore:
    from corral.api import TokenStore
    from corral.cli._commands import make_service

    return TokenStore(make_service().store.state_dir)


def serve(
    *,
    host: str,
    port: int,
    tls_cert: str | None,
    tls_key: str | None,
    allow_insecure_remote: bool,
    cors_origin: tuple[str, ...],
    provider: str,
) -> None:
    from corral.api import ServeOptions, check_options, serve

    opts = ServeOptions(
        host=host,
        port=port,
        certfile=tls_cert,
        keyfile=tls_key,
        allow_insecure_remote=allow_insecure_remote,
        provider=provider,
        cors_origins=cors_origin,
    )
    check_options(opts)
    scheme = "https" if tls_cert else "http"
    print(f"corral api: serving on {scheme}://{host}:{port}/v3", file=sys.stderr)
    serve(opts)


def token_create(*, name: str, read_only: bool) -> None:
    secret = _tokens().create(name, read_only=read_only)
    print(secret)
    kind = "read-only " if read_only else ""
    print(f"corral: {kind}token {name!r} created; it is shown only now, store it safely", file=sys.stderr)


def token_list() -> None:
    doc: dict[str, Any] = {"tokens": [t.to_json() for t in _tokens().records()]}
    emit(doc)


def token_revoke(*, name: str) -> None:
    record = _tokens().revoke(name)
    emit({"message": f"Token {record.name!r} revoked.", "revoked": record.revoked})


__all__ = ["serve", "token_create", "token_list", "token_revoke"]

"""``corral api serve``: where the server may listen, and running it under uvicorn."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from pathlib import Path

from corral.errors import BadRequestError


@dataclass(frozen=True)
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 8080
    certfile: str | None = None
    keyfile: str | None = None
    allow_insecure_remote: bool = False
    provider: str = "local"
    cors_origins: tuple[str, ...] = ()


def is_loopback(host: str) -> bool:
    """True when every address ``host`` resolves to is a loopback one."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0]).is_loopback for info in infos)


def check_options(opts: ServeOptions) -> None:
    """Refuse what would expose tokens: a non-loopback address without TLS (unless forced), half a
    TLS pair, unreadable certificate files, a bad port."""
    if not 0 < opts.port < 65536:
        raise BadRequestError(f"--port {opts.port} is not a TCP port", hint="use 1-65535, e.g. 8080")
    if bool(opts.certfile) != bool(opts.keyfile):
        raise BadRequestError(
            "TLS needs both --tls-cert and --tls-key", hint="give the certificate and its private key"
        )
    for flag, path in (("--tls-cert", opts.certfile), ("--tls-key", opts.keyfile)):
        if path and not Path(path).is_file():
            raise BadRequestError(f"{flag} {path}: no such file", hint="give the path of a PEM file")
    if not is_loopback(opts.host) and not opts.certfile and not opts.allow_insecure_remote:
        raise BadRequestError(
            f"refusing to serve on {opts.host} without TLS: API tokens would cross the network in clear",
            hint="give --tls-cert and --tls-key, or --allow-insecure-remote if a TLS proxy fronts it",
        )


def serve(opts: ServeOptions) -> None:
    """Run the server in the foreground until interrupted."""
    import uvicorn

    from corral.api._app import create_app
    from corral.service import open_service

    check_options(opts)
    app = create_app(open_service(), provider=opts.provider, cors_origins=opts.cors_origins)
    uvicorn.run(
        app,
        host=opts.host,
        port=opts.port,
        ssl_certfile=opts.certfile,
        ssl_keyfile=opts.keyfile,
        log_level="info",
        access_log=False,
        server_header=False,
        proxy_headers=False,
    )


__all__ = ["ServeOptions", "check_options", "is_loopback", "serve"]

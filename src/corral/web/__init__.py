"""The web UI: plain HTML, CSS and JavaScript served by ``corral api serve`` at ``/`` (no build
step, no CDN). Every data request goes to the ``/v3`` API with the user's token in an
``Authorization`` header, kept in the tab's ``sessionStorage``: no cookie (so nothing to forge
across sites) and never in a URL or the page. Everything shown is set as text, never as HTML."""

from __future__ import annotations

from importlib import resources
from typing import Any

from fastapi import FastAPI, Response

#: the assets under /ui/: the page's modules and its style sheet
PAGES = {
    **{
        f"{module}.js": "text/javascript"
        for module in ("app", "core", "clusters", "editor", "logs", "jobs", "images")
    },
    "app.css": "text/css",
}
#: no inline script or style, nothing from another origin, no framing
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
        "form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _static(name: str) -> bytes:
    return resources.files("corral.web").joinpath(f"static/{name}").read_bytes()


def mount(app: FastAPI) -> None:
    """Serve the UI: ``/`` (the page) and its modules and style sheet under ``/ui/`` (``PAGES``)."""

    @app.get("/", include_in_schema=False)
    def index() -> Response:
        return Response(_static("index.html"), media_type="text/html", headers=SECURITY_HEADERS)

    @app.get("/ui/{name}", include_in_schema=False)
    def asset(name: str) -> Any:
        if name not in PAGES:
            return Response(b'{"message": "Not Found"}', status_code=404, media_type="application/json")
        return Response(_static(name), media_type=PAGES[name], headers=SECURITY_HEADERS)


__all__ = ["mount"]

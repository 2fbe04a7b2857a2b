"""The FastAPI application: the ``/v3`` routes over one ``ClusterService``, behind the token guard."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import Depends, FastAPI, Request, Response

from corral.api import _errors
from corral.api._context import ApiContext, Spawner, spawn_worker
from corral.api._guard import DEFAULT_BODY_LIMIT, AuditLog, Guard
from corral.api._tokens import TokenStore
from corral.errors import BadRequestError

if TYPE_CHECKING:
    from corral.service import ClusterService


async def reject_unknown_query(request: Request) -> None:
    """A query parameter the operation does not take is a 400, not silently ignored (a typo such
    as ``dryRun=true`` would otherwise create the cluster)."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    allowed = {p.alias for p in dependant.query_params}
    for dep in dependant.dependencies:
        allowed |= {p.alias for p in dep.query_params}
    unknown = sorted({key for key in request.query_params if key not in allowed})
    if unknown:
        accepted = ", ".join(sorted(allowed)) or "none"
        raise BadRequestError(f"Bad Request: unknown query parameter(s) {unknown} (accepted: {accepted})")


def create_app(
    service: ClusterService,
    *,
    provider: str,
    spawn: Spawner = spawn_worker,
    body_limit: int = DEFAULT_BODY_LIMIT,
    cors_origins: tuple[str, ...] = (),
) -> Any:
    """The ASGI app serving pcluster's ``/v3`` operations over ``service``; clusters it creates go
    to ``provider``; ``spawn`` starts the background worker of a create or delete. Tokens and the
    audit log live in the service's state directory (``api/``). No CORS unless ``cors_origins``."""
    from corral import web
    from corral.api import _clusters, _corral, _images, _operations
    from corral.api._spec import served_json, served_yaml

    app = FastAPI(
        dependencies=[Depends(reject_unknown_query)],
        title="Corral (ParallelCluster 3.16 API)",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,  # the served spec is pcluster's own, below
    )
    app.state.corral = ApiContext(service=service, provider=provider, spawn=spawn)
    _errors.install(app)
    app.include_router(_clusters.router)
    app.include_router(_operations.router)
    app.include_router(_images.router)
    app.include_router(_corral.router)
    web.mount(app)

    @app.get("/v3/openapi.json", include_in_schema=False)
    def openapi_json() -> Response:
        return Response(served_json(), media_type="application/json")

    @app.get("/v3/openapi.yaml", include_in_schema=False)
    def openapi_yaml() -> Response:
        return Response(served_yaml(), media_type="application/yaml")

    api_dir = Path(service.store.state_dir) / "api"
    guarded: Any = Guard(
        app, TokenStore(service.store.state_dir), AuditLog(api_dir / "audit.log"), body_limit
    )
    if cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        guarded = CORSMiddleware(
            guarded,
            allow_origins=list(cors_origins),
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    return guarded


__all__ = ["create_app"]

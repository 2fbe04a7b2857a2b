"""``corral api serve``: ParallelCluster's ``/v3`` REST API over the same ``ClusterService`` as the
CLI, with bearer tokens, an audit log of changes, and the spec it implements at ``/v3/openapi.json``.

Public surface: ``create_app(service, provider=...)`` (the ASGI app), ``serve(ServeOptions)``,
``check_options``, ``TokenStore`` (``corral api token`` create/list/revoke).
"""

from __future__ import annotations

from corral.api._app import create_app
from corral.api._serve import ServeOptions, check_options, serve
from corral.api._tokens import TokenRecord, TokenStore

__all__ = ["ServeOptions", "TokenRecord", "TokenStore", "check_options", "create_app", "serve"]

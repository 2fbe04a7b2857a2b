"""The spec the server implements: ParallelCluster 3.16's ``openapi.yaml``, with Corral's bearer
tokens in place of API Gateway's SigV4 and the statuses the token checks add (403 for a read-only
token's write, 413 for an oversized body)."""

from __future__ import annotations

import copy
import functools
import json
from datetime import date, datetime
from importlib import resources
from typing import Any

import yaml

WRITE_METHODS = ("post", "put", "patch", "delete")
_MESSAGE = {"type": "object", "properties": {"message": {"type": "string"}}}


@functools.cache
def pcluster_spec() -> dict[str, Any]:
    """pcluster 3.16's spec as shipped (``corral/api/data/openapi.yaml``)."""
    text = resources.files("corral.api").joinpath("data/openapi.yaml").read_text(encoding="utf-8")
    doc: dict[str, Any] = yaml.safe_load(text)
    return doc


@functools.cache
def served_spec() -> dict[str, Any]:
    doc = copy.deepcopy(pcluster_spec())
    doc["info"]["description"] = (
        "ParallelCluster API (3.16), served by Corral. Authenticate with an API token: "
        "'Authorization: Bearer <token>' (`corral api token create --name NAME`)."
    )
    schemes = doc.setdefault("components", {}).setdefault("securitySchemes", {})
    schemes.clear()
    schemes["bearerToken"] = {"type": "http", "scheme": "bearer", "description": "A Corral API token."}
    doc["security"] = [{"bearerToken": []}]
    schemas = doc["components"].setdefault("schemas", {})
    located = schemas["ConfigValidationMessage"]["properties"]
    located["line"] = {"type": "integer", "description": "Corral: line of the finding in the config"}
    located["column"] = {"type": "integer", "description": "Corral: column of the finding"}
    schemas["ForbiddenResponseContent"] = _MESSAGE
    schemas["PayloadTooLargeResponseContent"] = _MESSAGE
    for item in doc["paths"].values():
        for method, operation in item.items():
            for key in [k for k in operation if k.startswith("x-amazon-apigateway")]:
                del operation[key]  # API Gateway's wiring: nothing a client of Corral can use
            if method not in WRITE_METHODS:
                continue
            responses = operation.setdefault("responses", {})
            responses["403"] = _response("ForbiddenResponseContent", "Forbidden: a read-only token")
            responses["413"] = _response("PayloadTooLargeResponseContent", "Request body too large")
    return doc


def _response(schema: str, description: str) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{schema}"}
    return {"description": description, "content": {"application/json": {"schema": ref}}}


@functools.cache
def served_json() -> bytes:
    return json.dumps(served_spec(), indent=1, default=_plain).encode()


def _plain(value: Any) -> str:
    """The spec's example timestamps (YAML loads them as datetimes) as their ISO text."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} in the spec")


@functools.cache
def served_yaml() -> bytes:
    return yaml.safe_dump(served_spec(), sort_keys=False).encode()


__all__ = ["pcluster_spec", "served_json", "served_spec", "served_yaml"]

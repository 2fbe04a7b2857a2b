"""Validate CLI JSON against the response schemas of ParallelCluster 3.16's openapi.yaml.

Strict: every object schema gets ``additionalProperties: false``, so a key pcluster would never
print fails the check as surely as a missing required key or a value outside an enum.
"""

from __future__ import annotations

import copy
import functools
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

OPENAPI = Path(__file__).resolve().parents[3].parent / "shared" / "pcluster-3.16" / "openapi.yaml"
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@functools.cache
def _components() -> dict[str, Any]:
    spec = yaml.safe_load(OPENAPI.read_text())
    schemas = copy.deepcopy(spec["components"]["schemas"])
    for schema in schemas.values():
        _close(schema)
    return schemas


def _close(schema: Any) -> None:
    if isinstance(schema, dict):
        if schema.get("type") == "object" and "properties" in schema:
            schema.setdefault("additionalProperties", False)
        for value in schema.values():
            _close(value)
    elif isinstance(schema, list):
        for value in schema:
            _close(value)


def validate(schema_name: str, doc: Any, *, extra_enums: dict[str, list[str]] | None = None) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``doc`` matches ``schema_name``; date-time fields
    must be pcluster's ``YYYY-MM-DDTHH:MM:SS.mmmZ``. Without ../shared (no openapi.yaml) the
    calling test is skipped, with the reason: it cannot check pcluster's shapes there."""
    if not OPENAPI.is_file():
        pytest.skip(f"{OPENAPI} is absent (CI has ../shared)")
    components = copy.deepcopy(_components())
    for name, values in (extra_enums or {}).items():
        components[name]["enum"] = sorted(set(components[name]["enum"]) | set(values))
    root = {"$ref": f"#/components/schemas/{schema_name}", "components": {"schemas": components}}
    jsonschema.validate(doc, root)
    _check_times(components[schema_name], doc, components)


def _check_times(schema: dict[str, Any], doc: Any, components: dict[str, Any]) -> None:
    if "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[1]]
    if schema.get("format") == "date-time":
        assert isinstance(doc, str) and ISO_MS.match(doc), doc
    if isinstance(doc, dict):
        for key, value in doc.items():
            sub = schema.get("properties", {}).get(key)
            if sub:
                _check_times(sub, value, components)
    if isinstance(doc, list) and "items" in schema:
        for value in doc:
            _check_times(schema["items"], value, components)

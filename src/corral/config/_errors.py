"""pydantic validation errors -> located findings with messages a person can act on.

Each pydantic error carries a ``loc`` in model terms (aliases and list indices, plus union-member tags
and normalisation artefacts such as the one-or-many custom actions). This module walks the raw YAML
data alongside the ``loc`` to rebuild the YAML key path (``Scheduling/SlurmQueues[1]/Name``), looks the
path's line up, and rewrites the message: ``must be >= 0, got -1``, ``unknown key 'MaxCout'; did you mean
'MaxCount'?``, ``must be one of: ONDEMAND, SPOT, CAPACITY_BLOCK; got 'ondemand' (did you mean 'ONDEMAND'?)``.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from corral.config.findings import Finding, Level

CODE_SCHEMA = "ConfigSchemaValidator"
CODE_UNKNOWN_KEY = "UnknownKeyValidator"

_NAME_KEY_MARK = "\x00"  # mirrors corral.config.model._base.NAME_KEY_MARK (kept import-free)


def findings_from_validation_error(
    exc: ValidationError,
    root: type[BaseModel],
    data: Any,
    locations: Mapping[str, tuple[int, int]],
    filename: str,
    plain_texts: Mapping[str, str] | None = None,
) -> list[Finding]:
    """One finding per distinct key path in ``exc`` (union branches of one value are merged)."""
    by_path: dict[tuple[str, str], list[dict[str, Any]]] = {}
    item_paths = set()
    located = []
    for error in exc.errors(include_url=False):
        path = yaml_path(error["loc"], data, error["type"])
        located.append((path, error))
        # A list item's path ends in "[N]"; a key may itself end in "]" (the fuzzer wrote "0]:").
        parent, bracket, _ = path.rpartition("[")
        if bracket and path.endswith("]"):
            item_paths.add(parent)
    for path, error in located:
        # pydantic counts only valid items for a list's length; a bad item is reported on its own.
        if error["type"] == "too_short" and path in item_paths:
            continue
        code = CODE_UNKNOWN_KEY if error["type"] == "extra_forbidden" else CODE_SCHEMA
        by_path.setdefault((path, code), []).append(dict(error))
    findings = []
    for (path, code), group in by_path.items():
        message, hint = _describe(group, path, root)
        text = (plain_texts or {}).get(path)
        if text is not None and any(e["type"] == "string_type" for e in group):
            message = (
                f"must be a string, got {text} (YAML reads it unquoted as {_kind(group[0].get('input'))})"
            )
            hint = f'quote it: {_leaf(path)}: "{text}"'

        line, column = _locate(locations, path)
        findings.append(
            Finding(Level.ERROR, code, path, message, hint=hint, file=filename, line=line, column=column)
        )
    return findings


def yaml_path(loc: tuple[int | str, ...], data: Any, error_type: str) -> str:
    """The YAML key path of a pydantic ``loc``, following the raw data the model was built from."""
    parts: list[str] = []
    cur = data
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(part, int):
            if isinstance(cur, list) and parts:
                parts[-1] += f"[{part}]"
                cur = cur[part] if part < len(cur) else None
            elif isinstance(cur, dict) and isinstance(cur.get("Sequence"), list):
                sequence = cur["Sequence"]
                parts.append(f"Sequence[{part}]")
                cur = sequence[part] if part < len(sequence) else None
            # else: the single-script custom action form, or an index into a normalised value
            continue
        key = part.removeprefix(_NAME_KEY_MARK)
        if isinstance(cur, dict) and key in cur:
            parts.append(key)
            cur = cur[key]
        elif isinstance(cur, dict) and last and error_type == "missing":
            parts.append(key)
            cur = None
        # else: a union member tag ("bool", "function-after[...]") or a validator-internal location
    return "/".join(parts)


def _locate(locations: Mapping[str, tuple[int, int]], path: str) -> tuple[int | None, int | None]:
    while path:
        if path in locations:
            return locations[path]
        path = path[: path.rindex("[")] if path.endswith("]") else path.rpartition("/")[0]
    return None, None


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"the number {value}"
    return f"a {type(value).__name__}"


def _leaf(path: str) -> str:
    return re.sub(r"\[\d+\]$", "", path.rpartition("/")[2]) or "the config"


def _shown(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _describe(errors: list[dict[str, Any]], path: str, root: type[BaseModel]) -> tuple[str, str]:
    described = [_describe_one(e, path, root) for e in errors]
    if len(described) == 1:
        return described[0]
    messages = list(dict.fromkeys(m for m, _ in described))
    hints = list(dict.fromkeys(h for _, h in described if h))
    return " or ".join(messages), "; ".join(hints)


def _describe_one(error: dict[str, Any], path: str, root: type[BaseModel]) -> tuple[str, str]:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    value = error.get("input")
    key = _leaf(path)
    if kind == "extra_forbidden":
        return _unknown_key(path, root)
    if type(value).__name__ == "YamlNull":
        return f"{key} has no value", f"give {key} a value, or remove the key to use the default"
    if kind == "missing":
        parent = path.rpartition("/")[0] or "the top level"
        return f"{key} is required", f"add {key} under {parent}"
    if kind == "literal_error":
        return _bad_choice(value, str(ctx.get("expected", "")))
    simple = _SIMPLE.get(kind)
    if simple is not None:
        message, hint = simple
        return message.format(got=_shown(value), **ctx), hint.format(key=key, **ctx)
    return error["msg"], ""


_SIMPLE: dict[str, tuple[str, str]] = {
    "string_type": ("must be a string, got {got}", 'quote the value: {key}: "..."'),
    "int_type": ("must be an integer, got {got}", "write a whole number, e.g. {key}: 10"),
    "int_parsing": ("must be an integer, got {got}", "write a whole number, e.g. {key}: 10"),
    "int_from_float": ("must be a whole number, got {got}", "drop the fractional part"),
    "float_type": ("must be a number, got {got}", ""),
    "float_parsing": ("must be a number, got {got}", ""),
    "bool_type": ("must be true or false, got {got}", ""),
    "bool_parsing": ("must be true or false, got {got}", ""),
    "greater_than_equal": ("must be >= {ge}, got {got}", "use a value of at least {ge}"),
    "less_than_equal": ("must be <= {le}, got {got}", "use a value of at most {le}"),
    "greater_than": ("must be > {gt}, got {got}", ""),
    "less_than": ("must be < {lt}, got {got}", ""),
    "too_short": ("must have at least {min_length} item(s)", ""),
    "too_long": ("must have at most {max_length} item(s)", ""),
    "string_too_short": ("must be at least {min_length} characters long", ""),
    "string_too_long": ("must be at most {max_length} characters long", "shorten {key}"),
    "tuple_type": ("must be a list, got {got}", "write it as a YAML list ('- item' lines)"),
    "list_type": ("must be a list, got {got}", "write it as a YAML list ('- item' lines)"),
    "model_type": ("must be a section of keys, got {got}", "indent the keys of {key} under it"),
    "model_attributes_type": ("must be a section of keys, got {got}", "indent the keys of {key} under it"),
    "dict_type": ("must be a mapping, got {got}", "indent the keys of {key} under it"),
    "finite_number": ("must be a finite number, got {got}", ""),
    "number_not_bool": ("must be a number, got {got}", "write a number, e.g. {key}: 10"),
}


def _bad_choice(value: Any, expected: str) -> tuple[str, str]:
    choices = re.findall(r"'([^']*)'", expected) or [
        c.strip() for c in re.split(r",| or ", expected) if c.strip()
    ]
    message = f"must be one of: {', '.join(choices)}; got {_shown(value)}"
    if isinstance(value, str):
        guess = _closest(value, choices)
        if guess is not None:
            return f"{message} (did you mean {guess!r}?)", f"use {guess!r}"
    return message, f"use one of: {', '.join(choices)}"


def _closest(word: str, candidates: list[str]) -> str | None:
    folded = {_fold(c): c for c in candidates}
    if _fold(word) in folded:
        return folded[_fold(word)]
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return close[0] if close else None


def _fold(word: str) -> str:
    return re.sub(r"[_\-\s]", "", word).lower()


_REMOVED_KEYS = {
    ("LoginNodesSsh", "KeyName"): (
        "KeyName is no longer supported for login nodes (since ParallelCluster 3.15)",
        "remove KeyName from LoginNodes/Pools[]/Ssh; login nodes use the head node's key",
    ),
}


def _unknown_key(path: str, root: type[BaseModel]) -> tuple[str, str]:
    parent, _, key = path.rpartition("/")
    model = model_at(root, parent)
    if model is None:
        return f"unknown key {key!r}", ""
    removed = _REMOVED_KEYS.get((model.__name__, key))
    if removed is not None:
        return removed
    valid = [f.alias or name for name, f in model.model_fields.items()]
    guess = _closest(key, valid)
    where = f"under {parent}" if parent else "at the top level"
    if guess is not None:
        return f"unknown key {key!r}; did you mean {guess!r}?", f"rename {key!r} to {guess!r}"
    return f"unknown key {key!r}", f"valid keys {where}: {', '.join(valid)}"


def model_at(root: type[BaseModel], path: str) -> type[BaseModel] | None:
    """The model class that validates the mapping at YAML ``path`` (``""`` is ``root``)."""
    model: type[BaseModel] | None = root
    for raw_part in (p for p in path.split("/") if p):
        part = re.sub(r"\[\d+\]$", "", raw_part)
        if model is None:
            return None
        if part == "Sequence":  # one-or-many custom actions: the items are the event's scripts
            continue
        field = next((f for n, f in model.model_fields.items() if (f.alias or n) == part), None)
        if field is None:
            return None
        model = _model_in(field.annotation)
    return model


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The BaseModel class inside ``annotation`` (through Optional, tuples and Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin is None:
        return None
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _model_in(args[0])
    if origin in (typing.Union, types.UnionType, tuple, list):
        for arg in args:
            found = _model_in(arg)
            if found is not None:
                return found
    return None

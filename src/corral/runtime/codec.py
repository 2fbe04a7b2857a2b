"""The generic JSON codec for records that cross a process boundary (the stored plan, the node
agent's and the supervisor's specs, the local cluster descriptor, ...).

The decoder follows the dataclass type hints (nested dataclasses, tuples, enums, optionals, dicts,
pydantic models), so a record needs no per-class code, and it breaks loudly (``TypeError``) if a
record grows a type it cannot rebuild. pydantic is never imported here: a value can only be a
pydantic model if pydantic is already loaded (so the node agent stays light).
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import json
import sys
import types
import typing
from typing import Any, TypeVar

T = TypeVar("T")


def dumps(value: Any, *, indent: int | None = None) -> str:
    """``value`` (a dataclass record) as a JSON document, keys sorted."""
    return json.dumps(encode(value), sort_keys=True, indent=indent)


def loads(cls: type[T], text: str | bytes) -> T:
    """The ``cls`` record that ``dumps`` wrote. ``ValueError``/``TypeError``/``KeyError`` when malformed."""
    return decode(cls, json.loads(text))


def _is_model(value: Any) -> bool:
    pydantic = sys.modules.get("pydantic")
    return pydantic is not None and isinstance(value, pydantic.BaseModel)


def _is_model_class(tp: Any) -> bool:
    pydantic = sys.modules.get("pydantic")
    return pydantic is not None and isinstance(tp, type) and issubclass(tp, pydantic.BaseModel)


def encode(value: Any) -> Any:
    """``value`` as plain JSON data: dataclasses as objects, tuples as arrays, enums as values,
    pydantic models as their JSON dump."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if _is_model(value):
        return value.model_dump(mode="json", by_alias=True, exclude_unset=True)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    return value


def decode(cls: type[T], data: Any) -> T:
    """Rebuild an instance of dataclass ``cls`` from its ``encode`` form. Fields missing from
    ``data`` take their defaults (a record written before a field existed still loads)."""
    result: T = _decode(cls, data)
    return result


@functools.cache
def _type_hints(tp: type) -> dict[str, Any]:
    """``typing.get_type_hints`` once per class: it evaluates every annotation string anew on each
    call, which made decoding a plan (done on every describe-cluster) cost milliseconds."""
    return typing.get_type_hints(tp)


def _decode(tp: Any, data: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return _decode_union(typing.get_args(tp), data)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        hints = _type_hints(tp)
        kwargs = {
            f.name: _decode(hints[f.name], data[f.name]) for f in dataclasses.fields(tp) if f.name in data
        }
        return tp(**kwargs)
    if _is_model_class(tp):
        return tp.model_validate(data)
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode(args[0], v) for v in data)
        return tuple(_decode(a, v) for a, v in zip(args, data, strict=True))
    if origin is dict:
        key_t, val_t = typing.get_args(tp)
        return {_decode(key_t, k): _decode(val_t, v) for k, v in data.items()}
    if origin is list:
        return [_decode(typing.get_args(tp)[0], v) for v in data]
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return tp(data)
    if tp is float and isinstance(data, int):
        return float(data)
    if tp in (str, int, float, bool) or tp is Any:
        return data
    raise TypeError(f"cannot decode a field of type {tp!r}")


def _decode_union(args: tuple[Any, ...], data: Any) -> Any:
    if data is None and type(None) in args:
        return None
    candidates = [a for a in args if a is not type(None)]
    if len(candidates) == 1:
        return _decode(candidates[0], data)
    for candidate in candidates:
        try:
            return _decode(candidate, data)
        except (TypeError, ValueError, KeyError):
            continue
    raise TypeError(f"no member of {args!r} decodes {data!r}")


__all__ = ["decode", "dumps", "encode", "loads"]

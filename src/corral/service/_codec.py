"""The ClusterPlan as JSON, so a background worker builds exactly the plan that was validated.

The decoder follows the dataclass type hints (nested dataclasses, tuples, enums, optionals, dicts),
so it needs no per-class code and breaks loudly (``TypeError``) if the plan grows a type it cannot
rebuild.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import types
import typing
from typing import Any, TypeVar

import pydantic

from corral.plan import ClusterPlan

T = TypeVar("T")


def plan_to_json(plan: ClusterPlan) -> str:
    """``plan`` as a JSON document (dataclasses as objects, tuples as arrays, enums as values)."""
    return json.dumps(_encode(plan), sort_keys=True)


def plan_from_json(text: str) -> ClusterPlan:
    """The ``ClusterPlan`` that ``plan_to_json`` wrote; equal to the original."""
    return decode(ClusterPlan, json.loads(text))


def _encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, pydantic.BaseModel):
        return value.model_dump(mode="json", by_alias=True, exclude_unset=True)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    return value


def decode(cls: type[T], data: Any) -> T:
    """Rebuild an instance of dataclass ``cls`` from its ``_encode`` form."""
    result: T = _decode(cls, data)
    return result


def _decode(tp: Any, data: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return _decode_union(typing.get_args(tp), data)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        hints = typing.get_type_hints(tp)
        kwargs = {
            f.name: _decode(hints[f.name], data[f.name]) for f in dataclasses.fields(tp) if f.name in data
        }
        return tp(**kwargs)
    if isinstance(tp, type) and issubclass(tp, pydantic.BaseModel):
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
    raise TypeError(f"cannot decode a plan field of type {tp!r}")


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


__all__ = ["decode", "plan_from_json", "plan_to_json"]

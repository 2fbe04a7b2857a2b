"""Building blocks shared by every config model: the base class, scalar types and the field helper.

Conventions (binding for every model in this package):

- a field's attribute is the snake_case of its YAML key and its ``alias`` is the exact YAML key;
- every field carries its ParallelCluster update policy in ``json_schema_extra["update_policy"]``
  (read it with :func:`corral.config.policies.policy_of`);
- scalars follow ParallelCluster's marshmallow rules: strings must be strings, integers accept ``10``
  and ``"10"`` but never ``true``, floats reject ``.inf``/``.nan``, booleans accept YAML's spellings.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictStr,
    model_validator,
)
from pydantic_core import PydanticCustomError

from corral.config.policies import UpdatePolicy

#: Context key that makes models accept YAML keys (aliases) only, never the snake_case names.
YAML_CONTEXT = "corral_yaml"
#: Prefix the base validator puts on a snake_case key found in YAML input, so pydantic reports it as an
#: unknown key (``extra_forbidden``) alongside every other error; the loader strips it again.
NAME_KEY_MARK = "\x00"


class ConfigModel(BaseModel):
    """Base of every config model: frozen, unknown keys forbidden, populated by YAML key or by name."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _yaml_keys_only(cls, data: Any, info: Any) -> Any:
        # populate_by_name lets code build models by attribute name; YAML input must use the real keys.
        if not isinstance(data, dict) or not info.context or not info.context.get(YAML_CONTEXT):
            return data
        names = _name_only_keys(cls)
        if names.isdisjoint(data):
            return data
        return {(NAME_KEY_MARK + k if k in names else k): v for k, v in data.items()}


_NAME_ONLY_CACHE: dict[type, frozenset[str]] = {}


def _name_only_keys(cls: type[BaseModel]) -> frozenset[str]:
    cached = _NAME_ONLY_CACHE.get(cls)
    if cached is None:
        cached = frozenset(n for n, f in cls.model_fields.items() if f.alias and f.alias != n)
        _NAME_ONLY_CACHE[cls] = cached
    return cached


def F(
    alias: str,
    policy: UpdatePolicy | None,
    default: Any = ...,
    *,
    default_factory: Callable[[], Any] | None = None,
    **constraints: Any,
) -> Any:
    """A model field with its YAML key and update policy. ``default=...`` means required."""
    extra: dict[str, Any] = {"update_policy": policy.value} if policy is not None else {}
    if isinstance(default_factory, type) and issubclass(default_factory, BaseModel):
        # Config models are frozen, so one shared default instance is safe (and far cheaper than a
        # factory call per validated object).
        return Field(default_factory(), alias=alias, json_schema_extra=extra, **constraints)
    if default_factory is not None:
        return Field(alias=alias, default_factory=default_factory, json_schema_extra=extra, **constraints)
    return Field(default, alias=alias, json_schema_extra=extra, **constraints)


# ---------------------------------------------------------------- scalar types


def _reject_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise PydanticCustomError("number_not_bool", "must be a number, not true/false")
    return value


def _finite(value: float) -> float:
    if value != value or value in (float("inf"), float("-inf")):
        raise PydanticCustomError("finite_number", "must be a finite number")
    return value


Str = StrictStr
Int = Annotated[int, BeforeValidator(_reject_bool)]
Float = Annotated[float, BeforeValidator(_reject_bool), AfterValidator(_finite)]
Bool = bool


def shown(value: Any) -> str:
    """A value as an error message shows it: repr, cut at 60 characters."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def pattern(regex: str, what: str) -> AfterValidator:
    """A string check against ``regex`` (Python ``re.match`` semantics, as marshmallow's ``Regexp``)."""
    compiled = re.compile(regex)

    def check(value: str) -> str:
        if compiled.match(value) is None:
            raise PydanticCustomError(
                "pattern_mismatch",
                "must be {what}, got {value}",
                {"what": what, "value": shown(value), "pattern": regex},
            )
        return value

    return AfterValidator(check)


def _check_json(value: str) -> str:
    if value:
        try:
            json.loads(value)
        except ValueError as exc:
            raise PydanticCustomError(
                "json_invalid", "must be valid JSON ({error})", {"error": str(exc)}
            ) from None
    return value


JsonStr = Annotated[StrictStr, AfterValidator(_check_json)]

# Patterns ParallelCluster's schema enforces (facts from its marshmallow schemas).
AMI_ID = Annotated[
    Str, pattern(r"^ami-[0-9a-z]{8}$|^ami-[0-9a-z]{17}$", "an AMI ID such as ami-0123456789abcdef0")
]
SUBNET_ID = Annotated[
    Str,
    pattern(r"^subnet-[0-9a-z]{8}$|^subnet-[0-9a-z]{17}$", "a subnet ID such as subnet-0123456789abcdef0"),
]
SECURITY_GROUP_ID = Annotated[
    Str, pattern(r"^sg-[0-9a-z]{8}$|^sg-[0-9a-z]{17}$", "a security group ID such as sg-0123456789abcdef0")
]
ROLE_ARN = Annotated[
    Str, pattern(r"^arn:.*:role/", "an IAM role ARN such as arn:aws:iam::123456789012:role/name")
]
POLICY_ARN = Annotated[
    Str,
    pattern(r"^arn:.*:policy/", "an IAM policy ARN such as arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"),
]
INSTANCE_PROFILE_ARN = Annotated[
    Str,
    pattern(
        r"^arn:.*:instance-profile/",
        "an IAM instance profile ARN such as arn:aws:iam::123456789012:instance-profile/name",
    ),
]
FILE_PATH = r"^\/?[^\/.\\][^\/\\]*(\/[^\/.\\][^\/]*)*$"
MOUNT_DIR = Annotated[
    Str, pattern(FILE_PATH, "a directory path such as /shared (no '.' at the start of a component, no '\\')")
]
_CIDR = (
    r"^(([0-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5])\.){3}"
    r"([0-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5])(\/([0-9]|[1-2][0-9]|3[0-2]))$"
)
_CIDR_OR_PREFIX = re.compile(f"(?:{_CIDR})|(?:^pl-[a-zA-Z0-9])")


def _check_cidr_or_prefix_list(value: str) -> str:
    if _CIDR_OR_PREFIX.match(value) is None:
        raise PydanticCustomError(
            "cidr_or_prefix_list",
            "must be an IPv4 CIDR such as 10.0.0.0/16 or a prefix list ID such as pl-12345678, got {value}",
            {"value": shown(value)},
        )
    return value


CIDR_OR_PREFIX_LIST = Annotated[Str, AfterValidator(_check_cidr_or_prefix_list)]


def int_choice(*choices: int) -> Any:
    """An integer restricted to ``choices`` (marshmallow ``OneOf`` on an Integer field)."""
    allowed = frozenset(choices)
    shown = ", ".join(str(c) for c in choices)

    def check(value: int) -> int:
        if value not in allowed:
            raise PydanticCustomError(
                "literal_error",
                "must be one of: {expected}; got {value}",
                {"expected": shown, "value": value},
            )
        return value

    return Annotated[int, BeforeValidator(_reject_bool), AfterValidator(check)]


# ---------------------------------------------------------------- free-form mappings


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, str | int | float):
        return str(value)
    raise PydanticCustomError(
        "scalar_type", "values must be plain scalars, got {kind}", {"kind": type(value).__name__}
    )


def _pairs_from_mapping(value: Any) -> Any:
    if isinstance(value, tuple):
        return value
    if not isinstance(value, Mapping):
        raise PydanticCustomError("dict_type", "must be a mapping of setting: value")
    return tuple((str(k), _scalar_text(v)) for k, v in value.items())


def _pairs_from_list_of_mappings(value: Any) -> Any:
    if isinstance(value, tuple):
        return value
    if not isinstance(value, list):
        raise PydanticCustomError("list_type", "must be a list of single-key mappings (- Setting: value)")
    pairs: list[tuple[str, str]] = []
    for item in value:
        if not isinstance(item, Mapping):
            raise PydanticCustomError("dict_type", "each item must be a mapping of setting: value")
        pairs.extend((str(k), _scalar_text(v)) for k, v in item.items())
    return tuple(pairs)


#: A YAML mapping ``{Key: value}`` kept in order as ``((key, value-as-text), ...)``.
SettingPairs = Annotated[
    tuple[tuple[str, str], ...],
    BeforeValidator(_pairs_from_mapping),
    PlainSerializer(lambda pairs: dict(pairs), when_used="json"),
]
#: A YAML list of mappings ``[{Key: value}, ...]`` flattened in order to ``((key, value-as-text), ...)``.
SettingPairList = Annotated[
    tuple[tuple[str, str], ...],
    BeforeValidator(_pairs_from_list_of_mappings),
    PlainSerializer(lambda pairs: [{k: v} for k, v in pairs], when_used="json"),
]


def raw_get(cls: type[BaseModel], data: Mapping[str, Any], name: str, default: Any = None) -> Any:
    """The raw value of field ``name`` in ``data``, given by YAML key or by attribute name."""
    alias = cls.model_fields[name].alias or name
    if alias in data:
        return data[alias]
    return data.get(name, default)


def fill_defaults(cls: type[BaseModel], data: Any, **defaults: Any) -> Any:
    """Return ``data`` (a raw mapping) with the fields in ``defaults`` (by attribute name) added where absent.

    Used by ``mode="before"`` validators for defaults that depend on other keys (EBS IOPS by volume type,
    deletion policy unless an existing resource is referenced, ...). ``None`` defaults are skipped;
    non-mappings pass through untouched.
    """
    if not isinstance(data, dict):
        return data
    added: dict[str, Any] = {}
    for name, value in defaults.items():
        alias = cls.model_fields[name].alias or name
        if value is not None and alias not in data and name not in data:
            added[alias] = value
    return {**data, **added} if added else data


__all__ = [
    "AMI_ID",
    "CIDR_OR_PREFIX_LIST",
    "INSTANCE_PROFILE_ARN",
    "MOUNT_DIR",
    "NAME_KEY_MARK",
    "POLICY_ARN",
    "ROLE_ARN",
    "SECURITY_GROUP_ID",
    "SUBNET_ID",
    "YAML_CONTEXT",
    "Bool",
    "ConfigModel",
    "F",
    "Float",
    "Int",
    "JsonStr",
    "SettingPairList",
    "SettingPairs",
    "Str",
    "fill_defaults",
    "int_choice",
    "pattern",
    "raw_get",
]

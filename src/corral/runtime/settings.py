"""Typed parsing of ``CORRAL_*`` environment settings: one parser per kind of value.

Every parser reads ``environ`` (default ``os.environ``), treats an unset or blank variable as
"not set", and answers a malformed value in one of two ways, said by the caller:

- strict (the default): raise ``error`` (a ``CorralError``) naming the variable, the value and an
  example, so a command fails before it makes anything;
- ``lenient=True``: fall back to the default, for programs that must never stop on a setting (the
  ResumeProgram reading the heartbeat threshold).

A provider reads its settings once, into a frozen record, and passes the record on: the local
provider's ``LocalSettings`` (kept in each cluster's descriptor), the fake's ``FakeFailures``
and the AWS provider's ``AwsSettings`` (carried by its boto3 clients).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from corral.errors import BadRequestError, CorralError

Environ = Mapping[str, str]


def raw(name: str, environ: Environ | None = None) -> str:
    """The variable's value, stripped ("" when unset)."""
    return (os.environ if environ is None else environ).get(name, "").strip()


def _bad(error: type[CorralError], name: str, value: str, what: str, example: str) -> CorralError:
    return error(f"{name}={value!r} is not {what}", hint=f"e.g. {name}={example}, or unset it")


def seconds(
    name: str,
    default: float,
    *,
    environ: Environ | None = None,
    error: type[CorralError] = BadRequestError,
    lenient: bool = False,
    allow_zero: bool = False,
) -> float:
    """A positive number of seconds (or zero with ``allow_zero``); ``default`` when unset."""
    value = raw(name, environ)
    if not value:
        return default
    try:
        parsed = float(value)
    except ValueError:
        parsed = -1.0
    if parsed > 0 or (allow_zero and parsed == 0):
        return parsed
    if lenient:
        return default
    raise _bad(error, name, value, "a positive number of seconds", "5")


def number(
    name: str, *, environ: Environ | None = None, error: type[CorralError] = BadRequestError
) -> float | None:
    """Any number (zero and negative values mean something to the caller); None when unset."""
    value = raw(name, environ)
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        raise _bad(error, name, value, "a number of seconds", "30") from None


def count(
    name: str, *, environ: Environ | None = None, error: type[CorralError] = BadRequestError
) -> int | None:
    """A positive whole number; None when unset."""
    value = raw(name, environ)
    if not value:
        return None
    if not value.isdigit() or int(value) < 1:
        raise _bad(error, name, value, "a positive whole number", "2")
    return int(value)


def integer(
    name: str, *, environ: Environ | None = None, error: type[CorralError] = BadRequestError
) -> int | None:
    """A whole number, possibly negative; None when unset."""
    value = raw(name, environ)
    if not value:
        return None
    if not value.lstrip("-").isdigit():
        raise _bad(error, name, value, "a whole number of seconds", "5")
    return int(value)


def words(name: str, *, environ: Environ | None = None) -> frozenset[str]:
    """A comma-separated set of words (``create, delete``)."""
    return frozenset(w.strip() for w in raw(name, environ).split(",") if w.strip())


def pairs(name: str, *, environ: Environ | None = None) -> tuple[tuple[str, str], ...]:
    """Comma-separated ``key=value`` items (``c5.large=3,total=4``), blanks left out."""
    items = (i.partition("=") for i in raw(name, environ).split(",") if i.strip())
    return tuple((k.strip(), v.strip()) for k, _, v in items)


__all__ = ["Environ", "count", "integer", "number", "pairs", "raw", "seconds", "words"]

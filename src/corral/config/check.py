"""Check a config the way ``pcluster create-cluster --dryrun`` / ``build-image --dryrun`` do, offline:
load it, run every offline validator, drop suppressed findings and decide whether the request would
be blocked at the chosen failure level.

``check_*`` never raise for a bad config: every problem comes back as a located :class:`Finding`.
They raise :class:`BadRequestError` only for bad arguments (a malformed ``--suppress-validators``
value or failure level).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from corral.config import targets
from corral.config.findings import Finding, Level
from corral.config.key_support import key_findings
from corral.errors import BadRequestError, ConfigError

SUPPRESS_RE = re.compile(r"^(ALL|type:[A-Za-z0-9_]+)$")
CRASH_CODE = "ValidatorCrashed"
FILE_CODE = "ConfigFileValidator"
TARGETS = targets.TARGETS


@dataclass(frozen=True)
class Suppression:
    """Which validator findings to drop: every one (``ALL``) or those of the named types."""

    all: bool = False
    types: frozenset[str] = frozenset()

    def suppresses(self, code: str) -> bool:
        return self.all or code in self.types


def parse_suppressions(values: Sequence[str]) -> Suppression:
    """Parse ``--suppress-validators`` values (``ALL`` or ``type:NAME``, each value may hold several
    separated by spaces or commas), as pcluster accepts them. Raises BadRequestError on a bad value."""
    if isinstance(values, str):
        values = [values]
    everything = False
    types: set[str] = set()
    for value in values:
        for token in re.split(r"[\s,]+", value.strip()):
            if not token:
                continue
            if not SUPPRESS_RE.match(token):
                raise BadRequestError(
                    f"invalid --suppress-validators value {token!r}",
                    hint="use ALL or type:NAME, e.g. --suppress-validators type:UrlValidator",
                )
            if token == "ALL":
                everything = True
            else:
                types.add(token.removeprefix("type:"))
    return Suppression(all=everything, types=frozenset(types))


def parse_failure_level(value: Level | str) -> Level:
    """``--validation-failure-level``: INFO, WARNING or ERROR. Raises BadRequestError otherwise."""
    if isinstance(value, Level):
        return value
    return Level.parse(value)


@dataclass(frozen=True)
class ValidationReport:
    """The outcome of a check: the model (None if the file did not load) and every finding, located.

    ``blocking`` is true when any finding is at or above ``failure_level`` (suppressed findings are
    already gone), i.e. when pcluster would refuse the request.
    """

    config: Any | None
    loaded: Any | None
    findings: tuple[Finding, ...]
    failure_level: Level = Level.ERROR

    @property
    def blocking(self) -> bool:
        return any(f.level >= self.failure_level for f in self.findings)

    def at_least(self, level: Level) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.level >= level)

    def codes(self) -> set[str]:
        return {f.code for f in self.findings}


def check_cluster_config(
    path: str | os.PathLike[str],
    *,
    cluster_name: str,
    suppress: Sequence[str] = (),
    failure_level: Level | str = Level.ERROR,
    target: str = targets.LOCAL,
    source: bytes | None = None,
) -> ValidationReport:
    """Load ``path`` as a cluster config and run every offline cluster validator.

    ``target`` is the provider the config is checked for (``local`` or ``aws``): every validator has
    pcluster's level on both, so a config the local provider accepts deploys to AWS unchanged;
    the target only decides which keys the provider does not apply (``corral.config.key_support``).
    ``source``: the file's bytes when the caller has read them already (not read again then).
    """
    from corral.config.loader import load_cluster_config, load_cluster_config_text
    from corral.config.validators import CLUSTER_VALIDATORS, ClusterContext

    suppression, level = parse_suppressions(suppress), parse_failure_level(failure_level)
    return _check(
        path,
        load_cluster_config if source is None else (lambda p: load_cluster_config_text(source, os.fspath(p))),
        lambda loaded: ClusterContext(loaded.config, cluster_name, loaded.raw_keys_present),
        CLUSTER_VALIDATORS,
        suppression,
        level,
        _target(target),
        early=_cluster_name_only(cluster_name),
        kind="cluster",
    )


def check_image_config(
    path: str | os.PathLike[str],
    *,
    image_id: str,
    suppress: Sequence[str] = (),
    failure_level: Level | str = Level.ERROR,
    target: str = targets.LOCAL,
) -> ValidationReport:
    """Load ``path`` as an image builder config and run every offline image validator."""
    from corral.config.loader import load_image_config
    from corral.config.validators import IMAGE_VALIDATORS, ImageContext

    suppression, level = parse_suppressions(suppress), parse_failure_level(failure_level)
    return _check(
        path,
        load_image_config,
        lambda loaded: ImageContext(loaded.config, image_id, loaded.raw_keys_present),
        IMAGE_VALIDATORS,
        suppression,
        level,
        _target(target),
        early=_image_id_only(image_id),
        kind="image",
    )


def _cluster_name_only(name: str) -> tuple[Finding, ...]:
    """The name check alone, for files that do not load (accounting limits need the model)."""
    from corral.config.validators.names import cluster_name_problem

    problem = cluster_name_problem(name, accounting=False)
    if problem is None:
        return ()
    return (Finding(Level.ERROR, "ClusterNameValidator", "", problem, "choose a name like 'my-cluster-1'"),)


def _image_id_only(image_id: str) -> tuple[Finding, ...]:
    from corral.config.validators.image import image_id_problem

    problem = image_id_problem(image_id)
    if problem is None:
        return ()
    return (Finding(Level.ERROR, "ImageIdValidator", "", problem, "choose an id like 'my-image-1'"),)


def _check(
    path: str | os.PathLike[str],
    load: Callable[[str | os.PathLike[str]], Any],
    make_context: Callable[[Any], Any],
    validators: Iterable[Callable[[Any], Iterable[Finding]]],
    suppression: Suppression,
    level: Level,
    target: str,
    *,
    early: tuple[Finding, ...],
    kind: str,
) -> ValidationReport:
    try:
        loaded = load(path)
    except ConfigError as exc:
        found = _load_findings(exc, os.fspath(path))
        kept = tuple(f for f in early if not suppression.suppresses(f.code))
        return ValidationReport(None, None, found + kept, level)
    ctx = make_context(loaded)
    results: list[Finding] = []
    for validator in validators:
        results.extend(_run(validator, ctx))
    results.extend(
        key_findings(loaded.written_paths(), kind=kind, provider=target, value=loaded.written_value)
    )
    unsuppressed = [f for f in results if not suppression.suppresses(f.code)]
    located = [_locate(f, loaded) for f in unsuppressed]
    located.sort(key=lambda f: (f.line or 0, f.column or 0))
    return ValidationReport(loaded.config, loaded, tuple(located), level)


def _target(value: str) -> str:
    if value not in TARGETS:
        raise BadRequestError(f"unknown provider {value!r}", hint="use one of: " + ", ".join(TARGETS))
    return value


def _run(validator: Callable[[Any], Iterable[Finding]], ctx: Any) -> list[Finding]:
    try:
        return list(validator(ctx))
    except Exception as exc:  # a validator bug must not hide the other findings
        name = getattr(validator, "__qualname__", repr(validator))
        return [
            Finding(
                Level.ERROR,
                CRASH_CODE,
                "",
                f"internal error in validator {name}: {type(exc).__name__}: {exc}",
                "please report this bug; rerun with --suppress-validators ALL to skip validators",
            )
        ]


def _locate(finding: Finding, loaded: Any) -> Finding:
    where = loaded.locate(finding.path) if finding.path else None
    line, column = where if where else (None, None)
    return finding.located(loaded.filename, line, column)


def _load_findings(exc: ConfigError, filename: str) -> tuple[Finding, ...]:
    carried = tuple(f for f in exc.findings if isinstance(f, Finding))
    if carried:
        return carried
    return (Finding(Level.ERROR, FILE_CODE, "", exc.message, exc.hint, file=filename),)


__all__ = [
    "TARGETS",
    "Suppression",
    "ValidationReport",
    "check_cluster_config",
    "check_image_config",
    "parse_failure_level",
    "parse_suppressions",
]

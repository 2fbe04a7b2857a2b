"""Validation before anything is created: the dry runs, and the gate in front of create-cluster.

These functions read the config file and nothing else: no state directory, no provider, no network.
(``ClusterService.dry_run_create`` adds the provider's part: its validation target, its cloud
validators and its summary of what would be deployed.)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict, Unpack

from corral.config import targets
from corral.config.findings import Finding, Level
from corral.errors import BadRequestError, ConfigError
from corral.service._views import DryRunResult

#: pcluster's clusterName / imageId pattern (openapi.yaml).
NAME_PATTERN = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]+$")

INVALID_CLUSTER_CONFIG = "Invalid cluster configuration."

#: A provider's optional cloud validators (``Provider.cloud_findings``): config -> findings.
CloudCheck = Callable[[Any], Sequence[Finding]]
INVALID_IMAGE_CONFIG = "Invalid image configuration."


@dataclass(frozen=True)
class CheckedConfig:
    """A config that passed the failure level: the typed model and the findings below the level."""

    config: Any  # corral.config's ClusterConfig / ImageConfig
    findings: tuple[Finding, ...]


class Gate(TypedDict, total=False):
    """How a config is gated: the validators to suppress (``ALL`` or ``type:NAME``), the level at
    which a finding fails the request (ERROR when not given) and the provider's validation target
    (local when not given)."""

    suppress: Sequence[str]
    failure_level: Level
    target: str


def _gate_args(gate: Gate) -> Gate:
    """``gate`` with every default filled in, as ``corral.config.check`` takes it."""
    return Gate(
        suppress=tuple(gate.get("suppress", ())),
        failure_level=gate.get("failure_level", Level.ERROR),
        target=gate.get("target", targets.LOCAL),
    )


def check_name(value: str, what: str) -> str:
    """Reject a name that does not match pcluster's pattern, as its CLI does."""
    if not NAME_PATTERN.match(value):
        raise BadRequestError(
            f"Bad Request: '{value}' does not match '{NAME_PATTERN.pattern}' - '{what}'",
            hint="start with a letter; use letters, digits and '-' only (at least 2 characters)",
        )
    return value


def check_cluster(
    config_path: str | Path,
    *,
    cluster_name: str,
    cloud: CloudCheck | None = None,
    source: bytes | None = None,
    **gate: Unpack[Gate],
) -> CheckedConfig:
    """Load and validate a cluster config for a provider ``target`` (``ProviderTraits.validation_target``).
    ``cloud`` (a provider's ``cloud_findings``) adds the validators that need the cloud; its
    findings are suppressed and gated like the offline ones. ``ConfigError`` (every finding
    attached) when any finding is at or above ``failure_level`` after suppressions; else the config
    and the remaining findings."""
    from corral.config.check import check_cluster_config

    check_name(cluster_name, "cluster-name")
    args = _gate_args(gate)
    report = check_cluster_config(
        config_path if source is not None else _existing(config_path),
        cluster_name=cluster_name,
        source=source,
        **args,
    )
    if cloud is not None and report.config is not None:
        return _gate_with_cloud(report, cloud(report.config), args["suppress"], args["failure_level"])
    return _gate(report, INVALID_CLUSTER_CONFIG)


def check_image(
    config_path: str | Path,
    *,
    image_id: str,
    **gate: Unpack[Gate],
) -> CheckedConfig:
    """The same gate for an image builder config."""
    from corral.config.check import check_image_config

    check_name(image_id, "image-id")
    report = check_image_config(_existing(config_path), image_id=image_id, **_gate_args(gate))
    return _gate(report, INVALID_IMAGE_CONFIG)


def dry_run_create(
    config_path: str | Path,
    *,
    cluster_name: str,
    cloud: CloudCheck | None = None,
    **gate: Unpack[Gate],
) -> DryRunResult:
    """``create-cluster --dryrun true``: validate only (with ``cloud``, the provider's cloud checks too)."""
    return DryRunResult(check_cluster(config_path, cluster_name=cluster_name, cloud=cloud, **gate).findings)


def dry_run_build_image(
    config_path: str | Path,
    *,
    image_id: str,
    **gate: Unpack[Gate],
) -> DryRunResult:
    """``build-image --dryrun true``: validate only."""
    return DryRunResult(check_image(config_path, image_id=image_id, **gate).findings)


def read_config(path: str | Path) -> bytes | None:
    """The config file's bytes, read once for everything a create does with it (its region, its
    validation, its record). None when it is not a regular, readable file of at most the size
    limit: ``check_cluster`` then reads nothing and says what is wrong, in pcluster's words."""
    import os
    import stat

    from corral.config._yaml import MAX_FILE_BYTES

    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None
        with open(path, "rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError:
        return None
    return raw if len(raw) <= MAX_FILE_BYTES else None


def _existing(path: str | Path) -> Path:
    """``path`` when it can be read as a config; else pcluster's "Bad Request" with what it is (no
    such file, a directory, a device...). Pipes are read by the interfaces first
    (``corral.config.source``): a service reads a config more than once."""
    import os

    from corral.config.source import kind_problem

    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise BadRequestError(f"Bad Request: cannot read '{path}': {exc.strerror}") from None
    if mode is None:
        raise BadRequestError(
            f"Bad Request: File not found: '{path}'",
            hint="pass the path of a ParallelCluster YAML file with -c/--cluster-configuration",
        )
    problem = kind_problem(str(path), mode)
    if problem is not None:
        raise BadRequestError(f"Bad Request: {problem}", hint="pass the path of the config file itself")
    p = Path(path)
    try:
        with p.open("rb"):
            pass
    except OSError as exc:
        raise BadRequestError(
            f"Bad Request: cannot read '{path}': {exc.strerror}",
            hint="check the file's permissions, or run as a user who can read it",
        ) from None
    return p


def _gate_with_cloud(
    report: Any, extra: Sequence[Finding], suppress: Sequence[str], failure_level: Level
) -> CheckedConfig:
    from corral.config.check import parse_failure_level, parse_suppressions

    suppression = parse_suppressions(tuple(suppress))
    level = parse_failure_level(failure_level)
    kept = tuple(_located(f, report.loaded) for f in extra if not suppression.suppresses(f.code))
    findings = tuple(report.findings) + kept
    if report.blocking or any(f.level >= level for f in kept):
        raise ConfigError(
            INVALID_CLUSTER_CONFIG,
            hint=blocked_hint(findings, level, loaded=True),
            findings=findings,
        )
    return CheckedConfig(report.config, findings)


def _located(finding: Finding, loaded: Any) -> Finding:
    """A cloud finding with the file, line and column of its config path, as offline ones have."""
    if loaded is None:
        return finding
    where = loaded.locate(finding.path) if finding.path else None
    line, column = where if where else (None, None)
    return finding.located(loaded.filename, line, column)


def blocked_hint(findings: Sequence[Finding], level: Level, *, loaded: bool) -> str:
    """What can unblock a config, and nothing that cannot: a file that does not load (YAML, schema)
    can only be fixed; a validator's finding can be suppressed by its type; a failure level only
    helps when it was set below ERROR and a blocking finding is below ERROR."""
    if not loaded:
        return "fix the findings above (the file must load before any validator runs)"
    blocking = [f for f in findings if f.level >= level]
    types = sorted({f"type:{f.code}" for f in blocking if f.code})
    hint = "fix the findings above"
    if types:
        hint += ", or suppress them with --suppress-validators " + " ".join(types)
    if any(f.level < Level.ERROR for f in blocking):
        hint += ", or raise --validation-failure-level"
    return hint


def _gate(report: Any, message: str) -> CheckedConfig:
    findings = tuple(report.findings)
    if report.blocking or report.config is None:
        raise ConfigError(
            message,
            hint=blocked_hint(findings, report.failure_level, loaded=report.config is not None),
            findings=findings,
        )
    return CheckedConfig(report.config, findings)


__all__ = [
    "INVALID_CLUSTER_CONFIG",
    "INVALID_IMAGE_CONFIG",
    "NAME_PATTERN",
    "CheckedConfig",
    "CloudCheck",
    "check_cluster",
    "check_image",
    "check_name",
    "dry_run_build_image",
    "dry_run_create",
]

"""Load cluster and image-builder configs: YAML -> typed model, every problem located at file:line:col.

``load_cluster_config(path)`` returns a :class:`LoadedConfig` holding the frozen
:class:`~corral.config.model.ClusterConfig` and the location of every key path, or raises
:class:`~corral.errors.ConfigError` whose ``findings`` list every problem in the file at once: YAML
syntax, duplicate keys, unknown keys (with the closest valid key), wrong types, out-of-range values.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from corral.config import _yaml
from corral.config._errors import findings_from_validation_error
from corral.config.findings import Finding, Level
from corral.errors import ConfigError

if TYPE_CHECKING:
    from corral.config.model import ClusterConfig, ImageBuilderConfig

C = TypeVar("C", bound=BaseModel)


@dataclass(frozen=True)
class LoadedConfig(Generic[C]):
    """A validated config and where each of its keys sits in the source file."""

    config: C
    filename: str
    _locations: Mapping[str, tuple[int, int]] = field(default_factory=dict, repr=False, compare=False)
    _data: Any = field(default=None, repr=False, compare=False)

    def locate(self, path: str) -> tuple[int, int] | None:
        """1-based ``(line, column)`` of the key path, or of its closest ancestor present in the file.

        ``path`` is the YAML key path: ``Scheduling/SlurmQueues[1]/ComputeResources[0]/MinCount``.
        Returns None only if no part of the path is in the file.
        """
        while path:
            where = self._locations.get(path)
            if where is not None:
                return where
            path = _parent(path)
        return None

    def raw_keys_present(self, path: str) -> bool:
        """True when ``path`` was written in the file (as opposed to filled in from a default)."""
        return path in self._locations

    def written_paths(self) -> tuple[str, ...]:
        """Every key path written in the file, in file order (``A/B[1]/C``)."""
        return tuple(sorted(self._locations, key=lambda p: self._locations[p]))

    def written_value(self, path: str) -> Any:
        """The value written at key path ``path`` (as parsed from YAML), or None when absent."""
        node = self._data
        for part in path.split("/"):
            name, _, index = part.partition("[")
            node = node.get(name) if isinstance(node, dict) else None
            if index:
                position = int(index.rstrip("]"))
                node = node[position] if isinstance(node, list) and position < len(node) else None
            if node is None:
                return None
        return node

    def finding(self, level: Level, code: str, path: str, message: str, hint: str = "") -> Finding:
        """A finding for ``path``, located at the line of ``path`` (or its closest ancestor) in this file."""
        where = self.locate(path)
        line, column = where if where else (None, None)
        return Finding(level, code, path, message, hint=hint, file=self.filename, line=line, column=column)


def _parent(path: str) -> str:
    """``A/B[1]/C`` -> ``A/B[1]`` -> ``A/B`` -> ``A`` -> ``''``."""
    if path.endswith("]"):
        return path[: path.rindex("[")]
    return path.rpartition("/")[0]


def _root_models() -> tuple[type[BaseModel], type[BaseModel]]:
    # Imported here so that `import corral.config.loader` stays cheap until a config is loaded.
    from corral.config.model import ClusterConfig, ImageBuilderConfig

    return ClusterConfig, ImageBuilderConfig


def load_cluster_config(path: str | os.PathLike[str]) -> LoadedConfig[ClusterConfig]:
    """Read and validate a cluster config file. Raises ``ConfigError`` listing every problem."""
    cluster_cls, _ = _root_models()
    return _load_path(path, cluster_cls, "cluster")


def load_image_config(path: str | os.PathLike[str]) -> LoadedConfig[ImageBuilderConfig]:
    """Read and validate an image-builder config file. Raises ``ConfigError`` listing every problem."""
    _, image_cls = _root_models()
    return _load_path(path, image_cls, "image")


def load_cluster_config_text(
    text: str | bytes, filename: str = "cluster.yaml"
) -> LoadedConfig[ClusterConfig]:
    """As :func:`load_cluster_config`, from text already in memory (``filename`` labels locations)."""
    cluster_cls, _ = _root_models()
    return _load_text(text, filename, cluster_cls, "cluster")


def load_image_config_text(
    text: str | bytes, filename: str = "image.yaml"
) -> LoadedConfig[ImageBuilderConfig]:
    """As :func:`load_image_config`, from text already in memory."""
    _, image_cls = _root_models()
    return _load_text(text, filename, image_cls, "image")


def _load_path(path: str | os.PathLike[str], model: type[BaseModel], kind: str) -> LoadedConfig[Any]:
    filename = os.fspath(path)
    try:
        with open(filename, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > _yaml.MAX_FILE_BYTES:  # do not read it: say how large it really is
                _fail(filename, kind, [p for p in [_yaml.decode(b"", filename, size)[1]] if p])
            raw = handle.read(_yaml.MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(
            f"{filename}: no such file", hint=f"pass the path of your {kind} config with -c/--config"
        ) from None
    except IsADirectoryError:
        raise ConfigError(f"{filename} is a directory", hint=f"pass the {kind} config file itself") from None
    except OSError as exc:
        raise ConfigError(
            f"{filename}: cannot read the file ({exc.strerror})", hint="check its permissions"
        ) from None
    return _load_text(raw, filename, model, kind)


def _load_text(source: str | bytes, filename: str, model: type[BaseModel], kind: str) -> LoadedConfig[Any]:
    if isinstance(source, bytes):
        decoded, problem = _yaml.decode(source, filename)
        if decoded is None:
            _fail(filename, kind, [problem] if problem else [])
        text = str(decoded)
    else:
        text = source
    if len(text) > _yaml.MAX_FILE_BYTES:
        _decoded, problem = _yaml.decode(text.encode("utf-8", "replace"), filename)
        _fail(filename, kind, [problem] if problem else [])
    parsed = _yaml.parse(text, filename)
    findings = list(parsed.findings)
    if parsed.data is None:
        _fail(filename, kind, findings)
    if not isinstance(parsed.data, dict):
        findings.append(
            Finding(
                Level.ERROR,
                _yaml.CODE_FILE,
                "",
                f"the file holds a {type(parsed.data).__name__}, not a mapping of sections",
                hint="a config is a YAML mapping: Image:, HeadNode:, Scheduling: ... at the top level",
                file=filename,
                line=1,
                column=1,
            )
        )
        _fail(filename, kind, findings)
    from corral.config.model._base import YAML_CONTEXT

    config = None
    try:
        config = model.model_validate(parsed.data, context={YAML_CONTEXT: True})
    except ValidationError as exc:
        # A value the YAML layer already reported (bad tag, unreadable scalar) would be reported twice.
        reported = {f.path for f in findings}
        schema = findings_from_validation_error(
            exc, model, parsed.data, parsed.locations, filename, parsed.plain_texts
        )
        findings.extend(f for f in schema if f.path not in reported)
    except RecursionError:  # pragma: no cover - guarded by MAX_DEPTH
        findings.append(Finding(Level.ERROR, _yaml.CODE_FILE, "", "the file nests too deeply", file=filename))
    if findings or config is None:
        _fail(filename, kind, findings)
    return LoadedConfig(config=config, filename=filename, _locations=parsed.locations, _data=parsed.data)


def _fail(filename: str, kind: str, findings: list[Finding]) -> Any:
    findings = sorted(findings, key=lambda f: (f.line is None, f.line or 0, f.column or 0))
    count = len(findings)
    if count == 1:
        message = f"{filename} is not a valid {kind} config: {findings[0].location()}"
    else:
        listed = "\n".join(f"  {f.location()}" for f in findings)
        message = f"{filename} is not a valid {kind} config ({count} problems):\n{listed}"
    raise ConfigError(
        message, hint="fix the problems listed, then run the command again", findings=tuple(findings)
    )


__all__ = [
    "LoadedConfig",
    "load_cluster_config",
    "load_cluster_config_text",
    "load_image_config",
    "load_image_config_text",
]

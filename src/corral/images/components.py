"""Image Builder component documents, parsed and checked before anything is built (pure).

A ``Build/Components`` entry of type ``script`` names either a shell script (run as is, in the
build phase, as pcluster's script components are) or an EC2 Image Builder component document::

    name: InstallTools
    schemaVersion: 1.0
    parameters:
      - Version: {type: string, default: "1.2"}
    phases:
      - name: build            # build | validate | test
        steps:
          - name: Install
            action: ExecuteBash
            timeoutSeconds: 120  # default 7200
            maxAttempts: 2       # default 1
            onFailure: Abort     # Abort | Continue | Ignore
            inputs:
              commands: ["apt-get install -y ./tool_{{ Version }}.deb"]

Every problem is reported with the component and the line it is on, and nothing is built when
there is one. ``{{ name }}`` is replaced by a parameter's default (pcluster passes no parameters)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from corral.errors import BadRequestError

PHASES = ("build", "validate", "test")
ON_FAILURE = ("Abort", "Continue", "Ignore")
DEFAULT_TIMEOUT_S = 7200
MAX_TIMEOUT_S = 86_400
SCRIPT_ACTION = "ExecuteScript"  # a script component's one step (internal)
STEP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
PARAMETER_REF = re.compile(r"{{\s*([A-Za-z0-9_.-]+)\s*}}")

#: action -> the keys each of its input entries needs ("list": inputs are a list of entries)
ACTIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "ExecuteBash": ("map", ("commands",)),
    "ExecuteBinary": ("map", ("path",)),
    "CreateFile": ("list", ("path",)),
    "AppendFile": ("list", ("path", "content")),
    "DeleteFile": ("list", ("path",)),
    "CreateFolder": ("list", ("path",)),
    "DeleteFolder": ("list", ("path",)),
    "CopyFile": ("list", ("source", "destination")),
    "MoveFile": ("list", ("source", "destination")),
    "CopyFolder": ("list", ("source", "destination")),
    "MoveFolder": ("list", ("source", "destination")),
    "SetFilePermissions": ("list", ("path", "permissions")),
    "SetFolderPermissions": ("list", ("path", "permissions")),
    "SetFileOwner": ("list", ("path", "owner")),
    "SetFolderOwner": ("list", ("path", "owner")),
    "S3Download": ("list", ("source", "destination")),
    "WebDownload": ("list", ("source", "destination")),
    "UpdateOS": ("optional", ()),
    "Reboot": ("optional", ()),
}


@dataclass(frozen=True)
class Step:
    """One step of a phase, with its parameters substituted."""

    name: str
    action: str
    inputs: Any = None
    on_failure: str = "Abort"
    timeout_s: int = DEFAULT_TIMEOUT_S
    max_attempts: int = 1
    line: int = 0


@dataclass(frozen=True)
class ComponentDoc:
    """A component ready to run: its phases in Image Builder's order."""

    label: str  # "component 2 (s3://bucket/tools.yaml)"
    name: str
    phases: tuple[tuple[str, tuple[Step, ...]], ...] = ()
    description: str = ""
    parameters: dict[str, str] = field(default_factory=dict)

    def steps(self, phase: str) -> tuple[Step, ...]:
        return dict(self.phases).get(phase, ())


class _Lines(yaml.SafeLoader):
    """A YAML loader that remembers the line of every mapping and sequence."""


class _Map(dict):
    line = 0


class _Seq(list):
    line = 0


def _map(loader: _Lines, node: yaml.MappingNode) -> _Map:
    out = _Map(loader.construct_mapping(node, deep=True))
    out.line = node.start_mark.line + 1
    return out


def _seq(loader: _Lines, node: yaml.SequenceNode) -> _Seq:
    out = _Seq(loader.construct_sequence(node, deep=True))
    out.line = node.start_mark.line + 1
    return out


_Lines.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _map)
_Lines.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _seq)


class _Where:
    def __init__(self, label: str) -> None:
        self.label = label

    def fail(self, line: int, message: str, hint: str = "") -> BadRequestError:
        at = f", line {line}" if line else ""
        return BadRequestError(
            f"Bad Request: {self.label}{at}: {message}",
            hint=hint or "fix the component document; see docs/images.md (Component documents)",
        )


def is_document(text: str) -> bool:
    """Whether ``text`` is a component document (a YAML mapping with ``phases`` or
    ``schemaVersion``) rather than a script."""
    if text.startswith("#!"):
        return False
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError:
        return _looks_like_document(text)
    return isinstance(raw, dict) and ("phases" in raw or "schemaVersion" in raw)


def _looks_like_document(text: str) -> bool:
    return bool(re.search(r"^(phases|schemaVersion)\s*:", text, re.MULTILINE))


def parse_component(text: str, *, label: str) -> ComponentDoc:
    """A script or a component document as a :class:`ComponentDoc`; ``BadRequestError`` saying
    where and what for anything Image Builder would refuse (or Corral cannot run)."""
    if not is_document(text):
        if not text.strip():
            raise _Where(label).fail(0, "the script is empty")
        step = Step(name="RunScript", action=SCRIPT_ACTION, inputs={"script": text})
        return ComponentDoc(label=label, name="script", phases=(("build", (step,)),))
    return parse_document(text, label=label)


def parse_document(text: str, *, label: str) -> ComponentDoc:
    where = _Where(label)
    try:
        raw = yaml.load(text, Loader=_Lines)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise where.fail(mark.line + 1 if mark else 0, f"not valid YAML: {problem}") from None
    if not isinstance(raw, dict):
        raise where.fail(1, "a component document must be a mapping (schemaVersion, phases, ...)")
    for key in ("schemaVersion", "phases"):
        if key not in raw:
            raise where.fail(_line(raw), f"'{key}' is required")
    if str(raw["schemaVersion"]) != "1.0":
        raise where.fail(_line(raw), f"schemaVersion '{raw['schemaVersion']}' is not supported (use 1.0)")
    parameters = _parameters(raw.get("parameters"), where)
    phases = _phases(raw["phases"], where, parameters)
    return ComponentDoc(
        label=label,
        name=str(raw.get("name") or label),
        phases=phases,
        description=str(raw.get("description") or ""),
        parameters=parameters,
    )


def _line(value: object) -> int:
    return int(getattr(value, "line", 0))


def _parameters(raw: object, where: _Where) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise where.fail(_line(raw), "'parameters' must be a list of {name: {type, default}}")
    out: dict[str, str] = {}
    for entry in raw:
        if not isinstance(entry, dict) or len(entry) != 1:
            raise where.fail(
                _line(entry) or _line(raw), "each parameter is one {name: {type, default}} mapping"
            )
        ((name, spec),) = entry.items()
        if not isinstance(spec, dict) or "default" not in spec:
            raise where.fail(
                _line(spec) or _line(entry),
                f"parameter '{name}' has no default (build-image passes no parameters to a component)",
            )
        out[str(name)] = str(spec["default"])
    return out


def _phases(
    raw: object, where: _Where, parameters: dict[str, str]
) -> tuple[tuple[str, tuple[Step, ...]], ...]:
    if not isinstance(raw, list) or not raw:
        raise where.fail(_line(raw), "'phases' must be a non-empty list of {name, steps}")
    found: dict[str, tuple[Step, ...]] = {}
    for phase in raw:
        if not isinstance(phase, dict) or "name" not in phase or "steps" not in phase:
            raise where.fail(_line(phase) or _line(raw), "each phase needs 'name' and 'steps'")
        name = str(phase["name"])
        if name not in PHASES:
            raise where.fail(_line(phase), f"unknown phase '{name}'", hint=f"phases are {', '.join(PHASES)}")
        if name in found:
            raise where.fail(_line(phase), f"phase '{name}' appears twice")
        found[name] = _steps(phase["steps"], where, parameters, name)
    return tuple((name, found[name]) for name in PHASES if name in found)


def _steps(raw: object, where: _Where, parameters: dict[str, str], phase: str) -> tuple[Step, ...]:
    if not isinstance(raw, list) or not raw:
        raise where.fail(_line(raw), f"phase '{phase}': 'steps' must be a non-empty list")
    steps: list[Step] = []
    for entry in raw:
        step = _step(entry, where, parameters, phase, line=_line(entry) or _line(raw))
        if any(s.name == step.name for s in steps):
            raise where.fail(step.line, f"phase '{phase}': two steps are called '{step.name}'")
        steps.append(step)
    return tuple(steps)


STEP_KEYS = {"name", "action", "inputs", "onFailure", "timeoutSeconds", "maxAttempts"}


def _step(raw: object, where: _Where, parameters: dict[str, str], phase: str, *, line: int) -> Step:
    if not isinstance(raw, dict):
        raise where.fail(line, f"phase '{phase}': a step must be a mapping (name, action, inputs)")
    for key in ("name", "action"):
        if key not in raw:
            raise where.fail(line, f"phase '{phase}': a step has no '{key}'")
    name = str(raw["name"])
    at = f"step '{name}' ({phase})"
    if not STEP_NAME.match(name):
        raise where.fail(line, f"{at}: the name must be letters, digits, '-' and '_'")
    unknown = sorted(set(raw) - STEP_KEYS)
    if unknown:
        hint = "loop and if are not implemented in Corral yet" if {"loop", "if"} & set(unknown) else ""
        raise where.fail(line, f"{at}: unknown key(s) {', '.join(unknown)}", hint=hint)
    action = str(raw["action"])
    if action not in ACTIONS:
        raise where.fail(
            line,
            f"{at}: action '{action}' is not supported",
            hint="supported: " + ", ".join(sorted(ACTIONS)),
        )
    inputs = _substitute(raw.get("inputs"), parameters, where, line, at)
    _check_inputs(action, inputs, where, line, at)
    return Step(
        name=name,
        action=action,
        inputs=_plain(inputs),
        on_failure=_choice(raw.get("onFailure", "Abort"), ON_FAILURE, where, line, f"{at}: onFailure"),
        timeout_s=_int(
            raw.get("timeoutSeconds", DEFAULT_TIMEOUT_S),
            1,
            MAX_TIMEOUT_S,
            where,
            line,
            f"{at}: timeoutSeconds",
        ),
        max_attempts=_int(raw.get("maxAttempts", 1), 1, 1000, where, line, f"{at}: maxAttempts"),
        line=line,
    )


def _choice(value: object, choices: tuple[str, ...], where: _Where, line: int, what: str) -> str:
    if value not in choices:
        raise where.fail(line, f"{what} is {value!r}", hint=f"one of {', '.join(choices)}")
    return str(value)


def _int(value: object, low: int, high: int, where: _Where, line: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise where.fail(line, f"{what} is {value!r}", hint=f"an integer from {low} to {high}")
    return value


def _check_inputs(action: str, inputs: Any, where: _Where, line: int, at: str) -> None:
    shape, required = ACTIONS[action]
    if shape == "optional":
        return
    entries = [inputs] if shape == "map" else inputs
    if not isinstance(entries, list) or not entries or not all(isinstance(e, dict) for e in entries):
        kind = "a mapping" if shape == "map" else "a list of mappings"
        raise where.fail(
            _line(inputs) or line, f"{at}: {action} needs 'inputs' as {kind} with {', '.join(required)}"
        )
    for entry in entries:
        missing = [key for key in required if key not in entry]
        if missing:
            raise where.fail(_line(entry) or line, f"{at}: {action} input lacks {', '.join(missing)}")
    if action == "ExecuteBash":
        commands = inputs["commands"]
        if not isinstance(commands, list) or not commands or not all(isinstance(c, str) for c in commands):
            raise where.fail(_line(inputs) or line, f"{at}: ExecuteBash 'commands' must be a list of strings")


def _substitute(value: Any, parameters: dict[str, str], where: _Where, line: int, at: str) -> Any:
    if isinstance(value, str):

        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in parameters:
                raise where.fail(line, f"{at}: '{{{{ {name} }}}}' names no parameter")
            return parameters[name]

        return PARAMETER_REF.sub(one, value)
    if isinstance(value, list):
        out_list = _Seq(_substitute(v, parameters, where, line, at) for v in value)
        out_list.line = _line(value)
        return out_list
    if isinstance(value, dict):
        out_map = _Map({k: _substitute(v, parameters, where, line, at) for k, v in value.items()})
        out_map.line = _line(value)
        return out_map
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


__all__ = [
    "ACTIONS",
    "DEFAULT_TIMEOUT_S",
    "ON_FAILURE",
    "PHASES",
    "SCRIPT_ACTION",
    "ComponentDoc",
    "Step",
    "is_document",
    "parse_component",
    "parse_document",
]

"""YAML text -> plain data plus the line and column of every key path, safely.

Parsing uses PyYAML's libyaml composer (ParallelCluster's YAML 1.1 dialect, as ``yaml.safe_load`` reads
it), then walks the node graph itself so that it can:

- record where each key path (``Scheduling/SlurmQueues[1]/Name``) starts, 1-based;
- reject duplicate keys, unknown tags (``!!python/object``), non-scalar keys, and too much nesting;
- bound the work done for anchors and aliases (a "billion laughs" file stops after a node budget).

Every problem becomes a :class:`~corral.config.findings.Finding`; nothing here raises on bad input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from corral.config.findings import Finding, Level
from corral.config.source import MAX_CONFIG_BYTES, size_text
from corral.errors import YamlBudgetExceeded

try:
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader

#: Largest config file accepted, bytes (see ``corral.config.source``).
MAX_FILE_BYTES = MAX_CONFIG_BYTES
#: Most nodes visited while building data (aliases count every time they are expanded).
MAX_NODES = 100_000
#: Deepest nesting accepted; the schema itself is 8 levels deep.
MAX_DEPTH = 40

#: Keys whose values are free-form settings: scalars under them keep their source text
#: (``OverSubscribe: NO`` stays ``"NO"`` instead of YAML 1.1's ``False``).
RAW_TEXT_KEYS = frozenset({"CustomSlurmSettings", "AdditionalSssdConfigs"})

CODE_FILE = "ConfigFileValidator"
CODE_SYNTAX = "YamlSyntaxValidator"
CODE_DUPLICATE = "DuplicateKeyValidator"

_T = "tag:yaml.org,2002:"
_SCALAR_TAGS = frozenset(_T + t for t in ("str", "int", "float", "bool", "null", "timestamp"))
_MERGE_TAG = _T + "merge"


class YamlNull:
    """An explicit YAML null (``Key:`` or ``Key: ~``) where a value is expected.

    ParallelCluster rejects explicit nulls ("Field may not be null"); this marker fails every model type
    so pydantic reports it alongside the other errors, and the loader words it as "has no value".
    Free-form settings (``CustomSlurmSettings``) keep plain ``None``.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return "null"


NULL = YamlNull()


@dataclass
class ParsedYaml:
    """Plain data (dicts, lists, scalars) and where each key path starts."""

    data: Any
    locations: dict[str, tuple[int, int]] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    #: Source text of unquoted scalars YAML read as something other than a string (``1:05:00`` is the
    #: number 3900 in YAML 1.1), so that "must be a string" errors can show what was written.
    plain_texts: dict[str, str] = field(default_factory=dict)


def _mark(node: Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def decode(raw: bytes, filename: str, size: int | None = None) -> tuple[str | None, Finding | None]:
    """Bytes -> text, or a located finding for oversized or non-UTF-8 input (``size``: the file's
    real size when ``raw`` is only its first bytes)."""
    size = len(raw) if size is None else size
    if size > MAX_FILE_BYTES:
        return None, Finding(
            Level.ERROR,
            CODE_FILE,
            "",
            f"the file is {size_text(size)}; a config may be at most {size_text(MAX_FILE_BYTES)}",
            hint="check that this is the cluster config (a YAML file of a few KiB)",
            file=filename,
        )
    try:
        return raw.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        return None, Finding(
            Level.ERROR,
            CODE_FILE,
            "",
            f"the file is not UTF-8 text (byte 0x{raw[exc.start]:02x} cannot be decoded)",
            hint="save the file as UTF-8",
            file=filename,
            line=line,
            column=column,
        )


def parse(text: str, filename: str) -> ParsedYaml:
    """Parse ``text``; problems land in ``.findings`` (with ``data`` None when nothing usable remains)."""
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        where = (mark.line + 1, mark.column + 1) if mark is not None else (None, None)
        finding = Finding(
            Level.ERROR,
            CODE_SYNTAX,
            "",
            f"invalid YAML: {problem}",
            hint="fix the YAML syntax at this position (indentation, brackets, quotes, ':' after keys)",
            file=filename,
            line=where[0],
            column=where[1],
        )
        return ParsedYaml(None, findings=[finding])
    except yaml.reader.ReaderError as exc:  # control characters and the like
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        char = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "\0")
        finding = Finding(
            Level.ERROR,
            CODE_SYNTAX,
            "",
            f"invalid YAML: character U+{char:04X} is not allowed in a YAML file",
            hint='remove the control character (or quote it as an escape such as "\\t")',
            file=filename,
            line=line,
            column=column,
        )
        return ParsedYaml(None, findings=[finding])
    except (yaml.YAMLError, RecursionError, ValueError) as exc:  # limits of the parser itself
        return ParsedYaml(
            None, findings=[Finding(Level.ERROR, CODE_SYNTAX, "", f"invalid YAML: {exc}", file=filename)]
        )
    if node is None:
        return ParsedYaml(
            None,
            findings=[
                Finding(
                    Level.ERROR,
                    CODE_FILE,
                    "",
                    "the file is empty",
                    hint="a cluster config needs Image, HeadNode and Scheduling; an image config needs Build",
                    file=filename,
                )
            ],
        )
    builder = _Builder(filename)
    try:
        data = builder.build(node, "", 0, raw_text=False)
    except YamlBudgetExceeded as exc:
        return ParsedYaml(None, builder.locations, [exc.finding])
    return ParsedYaml(data, builder.locations, builder.findings, builder.plain_texts)


class _Builder:
    """Walks a composed node graph into plain data, recording key locations and problems."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.locations: dict[str, tuple[int, int]] = {}
        self.plain_texts: dict[str, str] = {}
        self.findings: list[Finding] = []
        self.visited = 0
        self._constructor = SafeConstructor()

    def _finding(self, code: str, path: str, node: Node, message: str, hint: str = "") -> Finding:
        line, column = _mark(node)
        return Finding(
            Level.ERROR, code, path, message, hint=hint, file=self.filename, line=line, column=column
        )

    def build(self, node: Node, path: str, depth: int, *, raw_text: bool) -> Any:
        self.visited += 1
        if self.visited > MAX_NODES:
            raise YamlBudgetExceeded(
                self._finding(
                    CODE_FILE,
                    path,
                    node,
                    f"the file expands to more than {MAX_NODES} YAML nodes (anchors and aliases included)",
                    hint="remove the alias chain; a config needs neither deep aliasing nor that many values",
                )
            )
        if depth > MAX_DEPTH:
            raise YamlBudgetExceeded(
                self._finding(
                    CODE_FILE,
                    path,
                    node,
                    f"nesting deeper than {MAX_DEPTH} levels",
                    hint="flatten the structure",
                )
            )
        if isinstance(node, MappingNode):
            return self._mapping(node, path, depth, raw_text=raw_text)
        if isinstance(node, SequenceNode):
            return self._sequence(node, path, depth, raw_text=raw_text)
        return self._scalar(node, path, raw_text=raw_text)

    def _sequence(self, node: SequenceNode, path: str, depth: int, *, raw_text: bool) -> Any:
        if node.tag != _T + "seq":
            return self._bad_tag(node, path)
        items = []
        for index, child in enumerate(node.value):
            child_path = f"{path}[{index}]"
            self.locations.setdefault(child_path, _mark(child))
            items.append(self.build(child, child_path, depth + 1, raw_text=raw_text))
        return items

    def _mapping(self, node: MappingNode, path: str, depth: int, *, raw_text: bool) -> Any:
        if node.tag != _T + "map":
            return self._bad_tag(node, path)
        result: dict[str, Any] = {}
        first_seen: dict[str, Node] = {}
        for key_node, value_node in self._merged_pairs(node, path):
            key = self._key(key_node, path)
            if key is None:
                continue
            child_path = f"{path}/{key}" if path else key
            if key in first_seen:
                first_line = _mark(first_seen[key])[0]
                self.findings.append(
                    self._finding(
                        CODE_DUPLICATE,
                        child_path,
                        key_node,
                        f"duplicate key {key!r} (first set on line {first_line})",
                        hint=f"keep one {key!r}; with two, it is unclear which value applies",
                    )
                )
                continue
            first_seen[key] = key_node
            self.locations.setdefault(child_path, _mark(key_node))
            result[key] = self.build(
                value_node, child_path, depth + 1, raw_text=raw_text or key in RAW_TEXT_KEYS
            )
        return result

    def _merged_pairs(self, node: MappingNode, path: str) -> list[tuple[Node, Node]]:
        """The mapping's own pairs, then those pulled in by ``<<: *anchor`` (own keys win)."""
        own: list[tuple[Node, Node]] = []
        merged: list[tuple[Node, Node]] = []
        for key_node, value_node in node.value:
            if key_node.tag != _MERGE_TAG:
                own.append((key_node, value_node))
                continue
            sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
            for source in sources:
                self.visited += 1
                if not isinstance(source, MappingNode):
                    self.findings.append(
                        self._finding(
                            CODE_SYNTAX, path, key_node, "'<<' must merge a mapping or a list of mappings"
                        )
                    )
                    continue
                merged.extend(source.value)
        own_keys = {k.value for k, _ in own if isinstance(k, ScalarNode)}
        return own + [(k, v) for k, v in merged if not (isinstance(k, ScalarNode) and k.value in own_keys)]

    def _key(self, key_node: Node, path: str) -> str | None:
        if not isinstance(key_node, ScalarNode):
            self.findings.append(
                self._finding(
                    CODE_SYNTAX,
                    path,
                    key_node,
                    "a key must be a plain word, not a list or mapping",
                    hint="check for a stray '?' or '[' / '{' before the ':'",
                )
            )
            return None
        # Keys compare as their text: `1:` or `true:` are simply unknown keys, reported with the rest.
        return str(key_node.value)

    def _scalar(self, node: Node, path: str, *, raw_text: bool) -> Any:
        if node.tag not in _SCALAR_TAGS:
            return self._bad_tag(node, path)
        if node.tag == _T + "null":
            return None if raw_text else NULL
        if raw_text:
            return str(node.value)
        if node.tag != _T + "str":
            self.plain_texts[path] = str(node.value)
        try:
            return self._constructor.construct_object(node, deep=True)
        except (ConstructorError, ValueError, OverflowError) as exc:
            self.findings.append(
                self._finding(CODE_SYNTAX, path, node, f"cannot read value {node.value!r}: {exc}")
            )
            return None

    def _bad_tag(self, node: Node, path: str) -> None:
        self.findings.append(
            self._finding(
                CODE_SYNTAX,
                path,
                node,
                f"unsupported YAML tag {node.tag!r}",
                hint="remove the '!' tag: a config holds plain strings, numbers, booleans, lists, mappings",
            )
        )
        return None

"""What Corral does with every config key, per provider, and the findings that say so.

The data is ``data/key_support.txt`` (one line per leaf key of ParallelCluster 3.16's cluster and
image-builder schemas; its header explains the format). Each key is, per provider (``local``,
``aws``):

- ``honoured``: done as ParallelCluster does it; no finding;
- ``emulated``: the effect is given another way (the text says how); no finding;
- ``n/a``: meaningless on that provider; an INFO finding (``KeyNotApplicable``) says why;
- ``todo``: not implemented yet; a WARNING finding (``KeyNotImplemented``) says what is missing.

Findings are emitted only for keys the file sets, one per distinct reason (listing the keys), so
that a config with a whole ``LoginNodes`` section gets one warning, not twenty.
``docs/config-keys.md`` is generated from the same data (``scripts/gen_key_support_doc.py``).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType

from corral.config import targets
from corral.config.findings import Finding, Level
from corral.errors import KeySupportDataError

NOT_APPLICABLE_CODE = "KeyNotApplicable"
NOT_IMPLEMENTED_CODE = "KeyNotImplemented"
PROVIDERS = targets.TARGETS
KINDS = ("cluster", "image")
_PROVIDER_NAMES = {targets.LOCAL: "the local provider", targets.AWS: "AWS"}
_INDEX = re.compile(r"\[\d+\]")
_SHOWN_KEYS = 3


class Support(enum.Enum):
    """How a provider treats a key; the value is the spelling used in the data file."""

    HONOURED = "honoured"
    EMULATED = "emulated"
    NOT_APPLICABLE = "n/a"
    NOT_IMPLEMENTED = "todo"


_FLAGGED = (Support.NOT_APPLICABLE, Support.NOT_IMPLEMENTED)


@dataclass(frozen=True)
class Treatment:
    """One provider's treatment of one key, with its explanation (empty for ``honoured``)."""

    support: Support
    text: str = ""
    #: Only these written values (as YAML text: ``true``, ``CAPACITY_BLOCK``) get the treatment;
    #: any other value is honoured. Empty: every value.
    when: tuple[str, ...] = ()

    def label(self) -> str:
        word = self.support.value + (f" (when {' or '.join(self.when)})" if self.when else "")
        return f"{word}: {self.text}" if self.text else word

    def applies_to(self, value: object) -> bool:
        return not self.when or _yaml_text(value) in self.when


@dataclass(frozen=True)
class KeyEntry:
    """A leaf key of the schema (``Scheduling/SlurmQueues/Name``, no indices) and its treatments."""

    path: str
    local: Treatment
    aws: Treatment

    def on(self, provider: str) -> Treatment:
        return self.local if provider == targets.LOCAL else self.aws


@cache
def table(kind: str) -> Mapping[str, KeyEntry]:
    """Every classified key of ``kind`` (``cluster`` or ``image``), by schema path."""
    return _parse(resources.files("corral.config").joinpath("data/key_support.txt").read_text())[kind]


def _parse(text: str) -> dict[str, Mapping[str, KeyEntry]]:
    reasons: dict[str, str] = {}
    sections: dict[str, dict[str, KeyEntry]] = {kind: {} for kind in KINDS}
    section = ""
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        if section == "reasons":
            name, sep, value = line.partition("=")
            if not sep or not name.strip().startswith("@"):
                raise KeySupportDataError(f"line {number}: expected '@NAME = text'")
            reasons[name.strip()] = value.strip()
            continue
        if section not in sections:
            raise KeySupportDataError(f"line {number}: outside [reasons], [cluster] or [image]")
        entry = _entry(line, reasons, number)
        if entry.path in sections[section]:
            raise KeySupportDataError(f"line {number}: {entry.path} is listed twice")
        sections[section][entry.path] = entry
    return {kind: MappingProxyType(entries) for kind, entries in sections.items()}


def _entry(line: str, reasons: Mapping[str, str], number: int) -> KeyEntry:
    parts = [part.strip() for part in line.split("|")]
    if len(parts) != 3:
        raise KeySupportDataError(f"line {number}: expected 'KEY | LOCAL | AWS'")
    path, local, aws = parts
    return KeyEntry(path, _treatment(local, reasons, number), _treatment(aws, reasons, number))


def _treatment(cell: str, reasons: Mapping[str, str], number: int) -> Treatment:
    head, _, text = cell.partition(":")
    word, _, condition = head.strip().partition(" when ")
    try:
        support = Support(word.strip())
    except ValueError:
        raise KeySupportDataError(f"line {number}: unknown treatment {word.strip()!r}") from None
    when = tuple(v.strip() for v in condition.split(",") if v.strip())
    text = text.strip()
    if text.startswith("@"):
        if text not in reasons:
            raise KeySupportDataError(f"line {number}: undefined reason {text}")
        text = reasons[text]
    if (support is Support.HONOURED) == bool(text):
        raise KeySupportDataError(f"line {number}: 'honoured' takes no text, the others need one")
    return Treatment(support, text, when)


def _yaml_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def schema_path(path: str) -> str:
    """``Scheduling/SlurmQueues[1]/CustomActions/OnNodeStart/Sequence[0]/Script`` ->
    ``Scheduling/SlurmQueues/CustomActions/OnNodeStart/Script``."""
    parts = [part for part in _INDEX.sub("", path).split("/") if part and part != "Sequence"]
    return "/".join(parts)


def entry_for(path: str, kind: str) -> KeyEntry | None:
    """The entry of the leaf key at ``path`` (indices allowed); a key inside a free-form mapping
    (``CustomSlurmSettings/Foo``) belongs to that mapping. None for a section."""
    entries = table(kind)
    key = schema_path(path)
    while key:
        found = entries.get(key)
        if found is not None:
            return found
        key = key.rpartition("/")[0]
    return None


def _parent(path: str) -> str:
    """``A/B[1]`` -> ``A/B``; ``A/B/C`` -> ``A/B``."""
    if path.endswith("]"):
        return path[: path.rindex("[")]
    return path.rpartition("/")[0]


def key_findings(
    written: Iterable[str], *, kind: str, provider: str, value: Callable[[str], object] = lambda _p: None
) -> list[Finding]:
    """The INFO/WARNING findings for the keys a file sets (``written``: YAML key paths with
    indices) that ``provider`` does not apply: one finding per distinct reason. ``value(path)``
    gives the written value, for treatments that depend on it."""
    groups: dict[tuple[Support, str], list[str]] = {}
    for path in written:
        found = entry_for(path, kind)
        if found is None or entry_for(_parent(path), kind) is found:
            continue  # a section, or an item of a list or mapping that is itself the key
        treatment = found.on(provider)
        if treatment.support in _FLAGGED and treatment.applies_to(value(path)):
            groups.setdefault((treatment.support, treatment.text), []).append(path)
    return [_finding(support, text, keys, provider) for (support, text), keys in groups.items()]


def _finding(support: Support, text: str, keys: list[str], provider: str) -> Finding:
    where = _PROVIDER_NAMES.get(provider, provider)
    if support is Support.NOT_APPLICABLE:
        level, code, message = Level.INFO, NOT_APPLICABLE_CODE, f"not applicable on {where}: {text}"
        hint = "the key is kept for AWS; nothing to do" if provider == targets.LOCAL else ""
    else:
        level, code, message = Level.WARNING, NOT_IMPLEMENTED_CODE, f"not implemented yet on {where}: {text}"
        hint = "the key is accepted but has no effect yet"
    others = keys[1:]
    if others:
        shown = ", ".join(others[:_SHOWN_KEYS])
        more = f" and {len(others) - _SHOWN_KEYS} more" if len(others) > _SHOWN_KEYS else ""
        message += f" (also {shown}{more})"
    return Finding(level, code, keys[0], message, hint)


def render_markdown() -> str:
    """``docs/config-keys.md``: the whole table, generated by ``scripts/gen_key_support_doc.py``."""
    out = [
        "# Config keys: what each provider does with them",
        "",
        "<!-- Generated from src/corral/config/data/key_support.txt by scripts/gen_key_support_doc.py;"
        " do not edit. -->",
        "",
        "Every leaf key of ParallelCluster 3.16's cluster and image-builder configs, per provider:",
        "",
        "- **honoured**: Corral does what ParallelCluster does with it;",
        "- **emulated**: the effect is given another way (said how);",
        "- **n/a**: meaningless on that provider; setting it gives an INFO finding"
        f" (`{NOT_APPLICABLE_CODE}`);",
        f"- **todo**: not implemented yet; setting it gives a WARNING finding (`{NOT_IMPLEMENTED_CODE}`).",
        "",
        '"when V" means the finding comes only when the file writes that value; any other value is'
        " honoured. Suppress these findings like any other: `--suppress-validators type:KeyNotApplicable`.",
    ]
    for kind, title in (("cluster", "Cluster config"), ("image", "Image builder config")):
        entries = table(kind)
        out += ["", f"## {title} ({len(entries)} keys)", "", "| key | local | aws |", "|---|---|---|"]
        out += [f"| `{e.path}` | {_cell(e.local)} | {_cell(e.aws)} |" for e in entries.values()]
    return "\n".join(out) + "\n"


def _cell(treatment: Treatment) -> str:
    return treatment.label().replace("|", "\\|")


__all__ = [
    "KINDS",
    "NOT_APPLICABLE_CODE",
    "NOT_IMPLEMENTED_CODE",
    "PROVIDERS",
    "KeyEntry",
    "KeySupportDataError",
    "Support",
    "Treatment",
    "entry_for",
    "key_findings",
    "render_markdown",
    "schema_path",
    "table",
]

"""``diff(old, new) -> ChangeSet``: what an update changes, and whether each change may go ahead now.

The walk follows ParallelCluster's ``ConfigPatch``: items of keyed lists (queues, compute resources,
storage, login pools, tags, ...) are matched by their key (``Name``, ``Key``, ...), not by position; a
section or item that appears or disappears is one change carrying the policy of its field; other
changes are leaf values carrying the leaf's policy. Unlike ParallelCluster it compares the models
with their implied defaults filled in, so writing a default explicitly is not a change.

Whether a change is allowed follows ParallelCluster's policy semantics (``_update_checks``) for the
given compute-fleet state; blocked changes carry the reason and the remedy.
"""

from __future__ import annotations

import functools
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from corral.config.model import ClusterConfig
from corral.config.policies import UpdatePolicy, policy_of
from corral.plan._change import Change


@dataclass(frozen=True)
class ChangeSet:
    """Every change from one config to another, each judged for the fleet state it was computed for."""

    changes: tuple[Change, ...] = ()
    fleet_status: str = "RUNNING"

    def __iter__(self) -> Iterator[Change]:
        return iter(self.changes)

    def __len__(self) -> int:
        return len(self.changes)

    def __bool__(self) -> bool:
        return bool(self.changes)

    @property
    def allowed(self) -> bool:
        """True when every change may be applied in this fleet state."""
        return all(c.allowed for c in self.changes)

    @property
    def blocked(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if not c.allowed)

    def to_change_set(self) -> list[dict[str, Any]]:
        """pcluster's ``changeSet`` items: ``{parameter, currentValue, requestedValue}``, the values
        as pcluster's API writes them (strings, ``-`` for an absent value)."""
        return [
            {"parameter": c.parameter, "currentValue": _text(c.old), "requestedValue": _text(c.new)}
            for c in self.changes
            if c.policy is not UpdatePolicy.IGNORED
        ]

    def to_update_errors(self) -> list[dict[str, Any]]:
        """pcluster's ``updateValidationErrors`` items for the blocked changes (message = reason + remedy)."""
        return [
            {
                "parameter": c.parameter,
                "currentValue": _text(c.old),
                "requestedValue": _text(c.new),
                "message": f"{c.reason}. {c.remedy[:1].upper()}{c.remedy[1:]}." if c.remedy else c.reason,
            }
            for c in self.blocked
        ]


def _text(value: Any) -> str:
    """A change's value as pcluster's API reports it: ``str()`` of the value, ``-`` when absent."""
    return "-" if value is None else str(value)


def diff(
    old: ClusterConfig,
    new: ClusterConfig,
    *,
    fleet_status: str = "RUNNING",
    login_nodes_running: bool | None = None,
    cluster_name: str = "NAME",
) -> ChangeSet:
    """Every change from ``old`` to ``new``, each judged for a compute fleet in ``fleet_status``.

    ``fleet_status`` is the compute fleet's status (``RUNNING``, ``STOPPED``, ...; only ``STOPPED``
    counts as stopped, as in ParallelCluster). ``login_nodes_running`` defaults to "pools of ``old``
    with ``Count`` > 0 are running". ``cluster_name`` fills the commands named in remedies.
    """
    from corral.plan._update_checks import UpdateContext, judge

    raw: list[Change] = []
    _walk(ClusterConfig, old, new, "", "", "", raw)
    context = UpdateContext.of(old, new, fleet_status, login_nodes_running, cluster_name, raw)
    return ChangeSet(tuple(judge(change, context) for change in raw), fleet_status)


# ---------------------------------------------------------------- the walk

#: The key that identifies items of each keyed list (ParallelCluster's ``update_key``).
_LIST_KEYS = {
    "SlurmQueues": "name",
    "ComputeResources": "name",
    "SharedStorage": "name",
    "Pools": "name",
    "DataRepositoryAssociations": "name",
    "Tags": "key",
    "AdditionalIamPolicies": "policy",
    "S3Access": "bucket_name",
    "Instances": "instance_type",
}


@dataclass(frozen=True)
class _FieldKind:
    name: str
    alias: str
    policy: UpdatePolicy
    #: "leaf", "model" (a nested section) or "list" (a keyed list of sections)
    kind: str
    model: type[BaseModel] | None = None
    key_attr: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@functools.cache
def _fields(cls: type[BaseModel]) -> tuple[_FieldKind, ...]:
    kinds = []
    for name, info in cls.model_fields.items():
        alias = info.alias or name
        policy = policy_of(cls, name)
        model, is_list = _model_of(info.annotation)
        key_attr = _LIST_KEYS.get(alias)
        if model is not None and not is_list:
            kinds.append(_FieldKind(name, alias, policy, "model", model))
        elif model is not None and key_attr is not None and key_attr in model.model_fields:
            kinds.append(_FieldKind(name, alias, policy, "list", model, key_attr))
        else:  # scalars, lists of scalars, free-form pairs, custom-action scripts
            kinds.append(_FieldKind(name, alias, policy, "leaf"))
    return tuple(kinds)


def _model_of(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """(model class, is a tuple of them) inside an annotation, through Optional and Annotated."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _model_of(args[0])
    if origin is tuple and args:
        inner, _ = _model_of(args[0])
        return inner, inner is not None
    if origin is not None:
        for arg in args:
            found = _model_of(arg)
            if found[0] is not None:
                return found
    return None, False


def _join(path: str, part: str) -> str:
    return f"{path}/{part}" if path else part


def _walk(
    cls: type[BaseModel],
    old: BaseModel | None,
    new: BaseModel | None,
    path: str,
    old_path: str | None,
    new_path: str | None,
    out: list[Change],
) -> None:
    for f in _fields(cls):
        o = getattr(old, f.name) if old is not None else None
        n = getattr(new, f.name) if new is not None else None
        here = _join(path, f.alias)
        op = _join(old_path, f.alias) if old_path is not None and o is not None else None
        np = _join(new_path, f.alias) if new_path is not None and n is not None else None
        if f.kind == "list" and f.model is not None and f.key_attr is not None:
            _walk_list(f, o or (), n or (), here, op, np, out)
        elif f.kind == "model" and f.model is not None:
            if (o is not None and n is not None) or (o != n and f.policy is UpdatePolicy.IGNORED):
                _walk(f.model, o, n, here, op, np, out)
            elif o != n:
                out.append(Change(here, _plain(o), _plain(n), f.policy, old_path=op, new_path=np))
        elif o != n:
            out.append(Change(here, _plain(o), _plain(n), f.policy, old_path=op, new_path=np))


def _walk_list(
    f: _FieldKind,
    old_items: tuple[BaseModel, ...],
    new_items: tuple[BaseModel, ...],
    path: str,
    old_path: str | None,
    new_path: str | None,
    out: list[Change],
) -> None:
    assert f.model is not None and f.key_attr is not None
    unmatched = dict(enumerate(old_items))
    for j, item in enumerate(new_items):
        key = getattr(item, f.key_attr)
        i = next((i for i, o in unmatched.items() if getattr(o, f.key_attr) == key), None)
        item_path = f"{path}[{key}]"
        new_item_path = f"{new_path}[{j}]" if new_path is not None else None
        if i is None:
            out.append(
                Change(item_path, None, _plain(item), f.policy, new_path=new_item_path, is_list_item=True)
            )
            continue
        old_item = unmatched.pop(i)
        old_item_path = f"{old_path}[{i}]" if old_path is not None else None
        _walk(f.model, old_item, item, item_path, old_item_path, new_item_path, out)
    for i, old_item in unmatched.items():
        old_item_path = f"{old_path}[{i}]" if old_path is not None else None
        out.append(
            Change(
                f"{path}[{getattr(old_item, f.key_attr)}]",
                _plain(old_item),
                None,
                f.policy,
                old_path=old_item_path,
                is_list_item=True,
            )
        )


def _plain(value: Any) -> Any:
    """A JSON-friendly copy: models as their YAML keys (defaults left out), tuples as lists."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


__all__ = ["Change", "ChangeSet", "diff"]

"""The model against ParallelCluster 3.16's schema trees: every key exists with its update policy and
required-ness, and nothing exists that the tree does not list."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from corral.config._errors import model_at
from corral.config.model import ClusterConfig, CustomActionScript, ImageBuilderConfig
from corral.config.policies import UpdatePolicy, policy_of
from support.corpus import skip_module_without_shared

skip_module_without_shared()

SHARED = Path(__file__).resolve().parents[4] / "shared" / "pcluster-3.16"
LINE = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z0-9]+)(?P<list>\[\])?: (?P<rest>.*)$")

#: Keys the schema leaves optional that ParallelCluster's config classes cannot be built without;
#: Corral requires them so that the error is a located message, not a crash.
REQUIRED_BEYOND_SCHEMA = {
    "Scheduling/SlurmQueues/ComputeResources",
    "HeadNode/Image/CustomAmi",
    "Scheduling/SlurmQueues/Image/CustomAmi",
    "LoginNodes/Pools/Image/CustomAmi",
    "HeadNode/Dcv/Enabled",
    "LoginNodes/Pools/Dcv/Enabled",
    "Build/Components/Type",
    "Build/Components/Value",
    "DevSettings/DistributionConfiguration/Regions",
}
#: Keys Corral accepts beyond the 3.16 image-builder tree (ParallelCluster's own examples use them).
EXTRA_KEYS = {"DevSettings/AwsBatchCliPackage"}


def tree_entries(name: str) -> list[tuple[str, bool, str | None]]:
    """(key path, required, upd) for every key line of a schema tree."""
    entries = []
    stack: list[str] = []
    for raw in (SHARED / name).read_text().splitlines():
        match = LINE.match(raw)
        if match is None:
            continue  # "(see XSchema)" lines
        depth = len(match["indent"]) // 2
        del stack[depth:]
        stack.append(match["key"])
        rest = match["rest"]
        upd = re.search(r"upd=([A-Z_]+)", rest)
        required = bool(re.search(r"\brequired\b", rest.split("<", 1)[0] if "<Regexp" in rest else rest))
        entries.append(("/".join(stack), required, upd.group(1) if upd else None))
    return entries


def field_for(root: type[BaseModel], path: str) -> tuple[type[BaseModel], str]:
    parent, _, key = path.rpartition("/")
    model = model_at(root, parent)
    assert model is not None, f"no model at {parent!r}"
    for name, info in model.model_fields.items():
        if info.alias == key:
            return model, name
    raise AssertionError(f"{model.__name__} has no key {key!r} (tree path {path})")


CLUSTER = tree_entries("cluster_schema_tree.txt")
IMAGE = tree_entries("imagebuilder_schema_tree.txt")


def test_trees_parse() -> None:
    assert len(CLUSTER) > 250
    assert len(IMAGE) > 40


@pytest.mark.parametrize(("root", "entries"), [(ClusterConfig, CLUSTER), (ImageBuilderConfig, IMAGE)])
def test_every_tree_key_is_a_field_with_its_policy(root: type[BaseModel], entries: list) -> None:
    wrong = []
    for path, _required, upd in entries:
        model, name = field_for(root, path)
        if model is CustomActionScript:
            # One script class serves every event; a script takes the policy of its event.
            model, name = field_for(root, path.rpartition("/")[0])
        if upd is not None and policy_of(model, name) != UpdatePolicy(upd):
            wrong.append(f"{path}: tree {upd}, model {policy_of(model, name)}")
    assert wrong == []


@pytest.mark.parametrize(("root", "entries"), [(ClusterConfig, CLUSTER), (ImageBuilderConfig, IMAGE)])
def test_required_keys_match_the_tree(root: type[BaseModel], entries: list) -> None:
    wrong = []
    for path, required, _upd in entries:
        model, name = field_for(root, path)
        expected = required or path in REQUIRED_BEYOND_SCHEMA
        if model.model_fields[name].is_required() != expected:
            wrong.append(f"{path}: tree required={required}, model required={not expected}")
    assert wrong == []


def _all_paths(root: type[BaseModel], prefix: str = "", seen: frozenset[type] = frozenset()) -> set[str]:
    paths = set()
    for name, info in root.model_fields.items():
        path = f"{prefix}/{info.alias}" if prefix else str(info.alias)
        paths.add(path)
        child = model_at(root, str(info.alias))
        if child is not None and child not in seen:
            paths |= _all_paths(child, path, seen | {root})
        del name
    return paths


@pytest.mark.parametrize(("root", "entries"), [(ClusterConfig, CLUSTER), (ImageBuilderConfig, IMAGE)])
def test_no_key_beyond_the_tree(root: type[BaseModel], entries: list) -> None:
    listed = {path for path, _, _ in entries}
    # A "(see XSchema)" line stands for the children of an earlier identical section.
    extra = {
        p
        for p in _all_paths(root) - listed - EXTRA_KEYS
        if not any(p.startswith(q + "/") for q in listed if _collapsed(q, entries))
    }
    assert extra == set()


def _collapsed(path: str, entries: list) -> bool:
    """True when the tree lists no children under ``path`` (it printed "(see ...)" instead)."""
    return not any(p.startswith(path + "/") for p, _, _ in entries)


def test_every_policy_in_the_trees_is_an_enum_member() -> None:
    text = (SHARED / "cluster_schema_tree.txt").read_text() + (
        SHARED / "imagebuilder_schema_tree.txt"
    ).read_text()
    names = set(re.findall(r"upd=([A-Z_]+)", text))
    assert names == {p.value for p in UpdatePolicy}
    for policy in UpdatePolicy:
        assert policy.description
        assert policy.policy_class is not None

"""No config key silently ignored: every leaf key is classified per provider (key_support.txt), the
classification emits INFO/WARNING findings for the keys a file sets, and docs/config-keys.md is
generated from it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from corral.config._errors import model_at
from corral.config.check import check_cluster_config, check_image_config
from corral.config.findings import Level
from corral.config.key_support import (
    NOT_APPLICABLE_CODE,
    NOT_IMPLEMENTED_CODE,
    KeySupportDataError,
    Support,
    _parse,
    entry_for,
    render_markdown,
    schema_path,
    table,
)
from corral.config.model import ClusterConfig, ImageBuilderConfig

from ._broken_base import BASE

ROOT = Path(__file__).resolve().parents[3]
TREES = ROOT.parent / "shared" / "pcluster-3.16"
LINE = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z0-9]+)(?:\[\])?: ")
ROOTS = {"cluster": ClusterConfig, "image": ImageBuilderConfig}
TREE_FILES = {"cluster": "cluster_schema_tree.txt", "image": "imagebuilder_schema_tree.txt"}
needs_trees = pytest.mark.skipif(not TREES.is_dir(), reason=f"{TREES} is absent (CI has ../shared)")


def model_leaves(root: type[BaseModel], prefix: str = "", seen: frozenset[type] = frozenset()) -> set[str]:
    """Every leaf key path of a model: a field that holds no nested section."""
    leaves: set[str] = set()
    for info in root.model_fields.values():
        path = f"{prefix}/{info.alias}" if prefix else str(info.alias)
        child = model_at(root, str(info.alias))
        if child is None:
            leaves.add(path)
        elif child not in seen:
            leaves |= model_leaves(child, path, seen | {root})
    return leaves


@pytest.mark.parametrize("kind", ["cluster", "image"])
def test_every_model_leaf_is_classified_and_nothing_else(kind: str) -> None:
    leaves = model_leaves(ROOTS[kind])
    classified = set(table(kind))
    assert sorted(leaves - classified) == [], "add a line per key to config/data/key_support.txt"
    assert sorted(classified - leaves) == [], "these lines name no key of the model"


def tree_leaves(name: str) -> tuple[set[str], set[str]]:
    """(leaf paths, collapsed section paths) of a schema tree: a collapsed section is printed as
    "(see XSchema)", its leaves are those of the earlier identical section."""
    paths: list[str] = []
    collapsed: set[str] = set()
    stack: list[str] = []
    for raw in (TREES / name).read_text().splitlines():
        if raw.strip().startswith("(see "):
            collapsed.add(paths[-1])
            continue
        match = LINE.match(raw)
        if match is None:
            continue
        del stack[len(match["indent"]) // 2 :]
        stack.append(match["key"])
        paths.append("/".join(stack))
    leaves = {p for p in paths if p not in collapsed and not any(q.startswith(p + "/") for q in paths)}
    return leaves, collapsed


@needs_trees
@pytest.mark.parametrize("kind", ["cluster", "image"])
def test_every_schema_tree_leaf_is_classified(kind: str) -> None:
    leaves, collapsed = tree_leaves(TREE_FILES[kind])
    classified = set(table(kind))
    assert len(leaves) > (150 if kind == "cluster" else 30)
    assert sorted(leaves - classified) == []
    for section in collapsed:
        assert any(key.startswith(section + "/") for key in classified), section


def test_every_treatment_explains_itself() -> None:
    for kind in ("cluster", "image"):
        for entry in table(kind).values():
            for treatment in (entry.local, entry.aws):
                assert (treatment.support is Support.HONOURED) == (treatment.text == ""), entry.path


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[cluster]\nA | honoured | maybe\n", "unknown treatment"),
        ("[cluster]\nA | todo: @NOPE | honoured\n", "undefined reason"),
        ("[cluster]\nA | honoured | honoured\nA | honoured | honoured\n", "listed twice"),
        ("[cluster]\nA | honoured\n", "expected 'KEY | LOCAL | AWS'"),
        ("[cluster]\nA | todo | honoured\n", "need one"),
        ("[cluster]\nA | honoured: because | honoured\n", "takes no text"),
        ("A | honoured | honoured\n", "outside"),
    ],
)
def test_malformed_data_is_rejected(text: str, problem: str) -> None:
    with pytest.raises(KeySupportDataError, match=problem):
        _parse(text)


def test_schema_path_and_entries() -> None:
    path = "Scheduling/SlurmQueues[1]/CustomActions/OnNodeStart/Sequence[0]/Script"
    assert schema_path(path) == "Scheduling/SlurmQueues/CustomActions/OnNodeStart/Script"
    custom = entry_for("Scheduling/SlurmQueues[0]/CustomSlurmSettings/Weight", "cluster")
    assert custom is not None and custom.path == "Scheduling/SlurmQueues/CustomSlurmSettings"
    assert entry_for("Scheduling/SlurmQueues[0]", "cluster") is None


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cluster.yaml"
    path.write_text(text)
    return path


LOGIN = """LoginNodes:
  Pools:
    - Name: login
      InstanceType: t3.small
      Count: 1
      Networking:
        SubnetIds: [subnet-0123456789abcdef0]
"""


def by_code(report: object, code: str) -> list:
    return [f for f in report.findings if f.code == code]  # type: ignore[attr-defined]


UPDATED_ACTION = """      CustomActions:
        OnNodeUpdated:
          Script: /opt/updated.sh
          Args: [a]
"""


@pytest.mark.parametrize(
    ("target", "extra", "reason", "other_key"),
    [
        (
            "aws",
            UPDATED_ACTION,
            "OnNodeUpdated on the head node only",
            "LoginNodes/Pools[0]/CustomActions/OnNodeUpdated/Args",
        ),
    ],
)
def test_an_unimplemented_key_is_one_warning_on_each_provider(
    tmp_path: Path, target: str, extra: str, reason: str, other_key: str
) -> None:
    report = check_cluster_config(write(tmp_path, BASE + LOGIN + extra), cluster_name="c", target=target)
    [warning] = [f for f in by_code(report, NOT_IMPLEMENTED_CODE) if f.path.startswith("LoginNodes")]
    assert warning.level is Level.WARNING and warning.line is not None
    assert "not implemented yet" in warning.message and reason in warning.message
    assert other_key in f"{warning.path} {warning.message}"  # every key with that reason is named
    assert not report.blocking
    strict = check_cluster_config(
        write(tmp_path, BASE + LOGIN + extra), cluster_name="c", failure_level="WARNING", target=target
    )
    assert strict.blocking


def test_login_pools_are_honoured_locally(tmp_path: Path) -> None:
    report = check_cluster_config(write(tmp_path, BASE + LOGIN), cluster_name="c", target="local")
    assert [f for f in by_code(report, NOT_IMPLEMENTED_CODE) if f.path.startswith("LoginNodes")] == []
    # its subnet is one more key of the INFO about the cluster's bridge
    [bridge] = [
        f
        for f in by_code(report, NOT_APPLICABLE_CODE)
        if "LoginNodes/Pools[0]/Networking/SubnetIds" in f.message
    ]
    assert bridge.level is Level.INFO and "bridge" in bridge.message


def test_login_pools_are_honoured_on_aws(tmp_path: Path) -> None:
    report = check_cluster_config(write(tmp_path, BASE + LOGIN), cluster_name="c", target="aws")
    assert [f for f in by_code(report, NOT_IMPLEMENTED_CODE) if f.path.startswith("LoginNodes")] == []


def test_not_applicable_keys_are_info_locally_and_silent_on_aws(tmp_path: Path) -> None:
    local = check_cluster_config(write(tmp_path, BASE), cluster_name="c")
    infos = by_code(local, NOT_APPLICABLE_CODE)
    assert infos and all(f.level is Level.INFO for f in infos)
    assert any("SubnetId" in f.path and "bridge" in f.message for f in infos)
    aws = check_cluster_config(write(tmp_path, BASE), cluster_name="c", target="aws")
    assert not any("SubnetId" in f.path for f in by_code(aws, NOT_APPLICABLE_CODE))


def test_value_conditions(tmp_path: Path) -> None:
    # "n/a when SPOT,CAPACITY_BLOCK" locally: only those values get the INFO; both honoured on aws
    assert "CapacityType: ONDEMAND" in BASE
    ondemand = check_cluster_config(write(tmp_path, BASE), cluster_name="c", target="local")
    assert not [f for f in ondemand.findings if f.path.endswith("CapacityType")]
    block = BASE.replace("CapacityType: ONDEMAND", "CapacityType: CAPACITY_BLOCK")
    report = check_cluster_config(write(tmp_path, block), cluster_name="c", target="local", suppress=["ALL"])
    assert report.findings == ()  # suppressible like any validator
    report = check_cluster_config(write(tmp_path, block), cluster_name="c", target="local")
    assert [f.level for f in report.findings if f.path.endswith("CapacityType")] == [Level.INFO]
    on_aws = check_cluster_config(write(tmp_path, block), cluster_name="c", target="aws")
    assert not [f for f in on_aws.findings if f.path.endswith("CapacityType")]


def test_image_configs_say_what_does_not_apply_locally(tmp_path: Path) -> None:
    path = tmp_path / "image.yaml"
    path.write_text("Build:\n  InstanceType: c5.xlarge\n  ParentImage: ami-0123456789abcdef0\n")
    report = check_image_config(path, image_id="img")
    [info] = report.findings
    assert info.code == NOT_APPLICABLE_CODE and info.path == "Build/InstanceType"
    assert "a build node is a machine on this host" in info.message


def test_the_committed_doc_is_generated_from_the_data() -> None:
    doc = ROOT / "docs" / "config-keys.md"
    assert doc.read_text() == render_markdown(), "run: python scripts/gen_key_support_doc.py"

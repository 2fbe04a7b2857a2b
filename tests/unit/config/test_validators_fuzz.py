"""Hypothesis: check_cluster_config on mutated configs never raises and no validator ever crashes."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corral.config.check import CRASH_CODE, check_cluster_config
from corral.config.findings import Level
from support.corpus import skip_module_without_shared

from ._broken_base import BASE

skip_module_without_shared()

CORPUS = Path(__file__).resolve().parents[4] / "shared" / "corpus" / "cluster-configs"
SEEDS = [BASE] + [p.read_text() for p in sorted(CORPUS.glob("*.yaml"))[::6]]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-5, max_value=100_000),
    st.sampled_from(
        [
            "",
            "c5.xlarge",
            "c6g.xlarge",
            "p4d.24xlarge",
            "t3.nano",
            "nope.large",
            "/shared",
            "/usr",
            "shared",
            "s3://b/k",
            "http://x",
            "default",
            "Q_1",
            "SCRATCH_1",
            "PERSISTENT_2",
            "HDD",
            "gp2",
            "io2",
            "CAPACITY_BLOCK",
            "SPOT",
            "0.0.0.0/0",
            "subnet-12345678",
            "fs-12345678",
        ]
    ),
    st.text(max_size=12),
)


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += paths(value, (*prefix, i))
    return found


def mutate(doc: Any, path: tuple[Any, ...], action: str, value: Any) -> Any:
    if not path:
        return doc
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    last = path[-1]
    if action == "set":
        parent[last] = value
    elif action == "delete":
        del parent[last]
    elif action == "duplicate" and isinstance(parent, list):
        parent.insert(last, yaml.safe_load(yaml.safe_dump(parent[last])))
    elif action == "wrap":
        parent[last] = [parent[last]]
    return doc


def run(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cluster.yaml"
        path.write_text(text)
        for target in ("local", "aws"):
            report = check_cluster_config(path, cluster_name="fuzz", target=target, failure_level=Level.INFO)
            assert CRASH_CODE not in report.codes(), [
                f.message for f in report.findings if f.code == CRASH_CODE
            ]
            for finding in report.findings:
                assert finding.file and finding.code and finding.message


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_structural_mutations_never_raise(data: st.DataObject) -> None:
    doc = yaml.safe_load(data.draw(st.sampled_from(SEEDS)))
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        where = data.draw(st.sampled_from(paths(doc)))
        action = data.draw(st.sampled_from(["set", "set", "set", "delete", "duplicate", "wrap"]))
        doc = mutate(doc, where, action, data.draw(SCALARS))
    run(yaml.safe_dump(doc, sort_keys=False))


@settings(max_examples=150, deadline=None)
@given(seed=st.sampled_from(SEEDS), cut=st.integers(min_value=0, max_value=5000), junk=st.text(max_size=20))
def test_text_mutations_never_raise(seed: str, cut: int, junk: str) -> None:
    cut %= len(seed) + 1
    run(seed[:cut] + junk + seed[cut:])

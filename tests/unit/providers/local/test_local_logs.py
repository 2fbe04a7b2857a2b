"""A local cluster's log files as pcluster-named streams; retention and deletion policy on disk."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from corral.providers.base import NodeRole
from corral.providers.local import _logs
from corral.providers.local._layout import ClusterDescriptor, ClusterLayout, NodeRecord
from support import plans


@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        ("slurmctld.log", ("", "slurmctld")),
        ("head-agent.log", ("", "cfn-init")),
        ("munged.log", ("", "munge")),
        ("reconciler.log", ("", "clustermgtd")),
        ("resume.log", ("", "slurm_resume")),
        ("supervisor.log", ("", "supervisord")),
        ("suspend.log", ("", "slurm_suspend")),
        ("node-q1-st-c1-1.log", ("q1-st-c1-1", "cloud-init-output")),
        ("slurmd-q1-dy-c1-2.log", ("q1-dy-c1-2", "slurmd")),
        ("actions/HeadNode/01-OnNodeConfigured-fail.sh.log", ("", "01-OnNodeConfigured-fail.sh")),
        ("actions/q1-st-c1-1/00-OnNodeStart-a b.sh.log", ("q1-st-c1-1", "00-OnNodeStart-a_b.sh")),
        ("supervisor/reconciler.out", ("", "supervisor-reconciler.out")),
        ("weird:name.log", ("", "weird_name")),
    ],
)
def test_classify(relative: str, expected: tuple[str, str]) -> None:
    assert _logs.classify(relative) == expected


NODES = (
    NodeRecord("q1-st-c1-1", 0, "10.240.16.10", "q1", "c1", "c5.large", "static"),
    NodeRecord("q1-dy-c1-1", 1, "10.240.16.11", "q1", "c1", "c5.large", "dynamic"),
)


def _cluster(tmp_path: Path) -> tuple[ClusterLayout, ClusterDescriptor]:
    layout = ClusterLayout(tmp_path, "demo")
    plan = plans.plan("demo", [("q1", "c1", 1, 1)])
    descriptor = ClusterDescriptor(plan, "10.240.16.0/20", "10.240.16.1", "head", "py", NODES)
    layout.root.mkdir(parents=True)
    layout.descriptor.write_text(descriptor.dump())
    for name in ("slurmctld.log", "munged.log", "node-q1-st-c1-1.log", "slurmd-q1-st-c1-1.log"):
        (layout.log / name).parent.mkdir(parents=True, exist_ok=True)
        (layout.log / name).write_text(f"[2026-11-22T23:00:00.000] {name}\n")
    (layout.log / "node-q1-dy-c1-1.log").write_text("terminated node's bootstrap\n")
    (layout.log / "node-gone-1.log").write_text("a node no longer in the config\n")
    (layout.log / ".instances.jsonl").write_text("")
    layout.head_dir.mkdir()
    (layout.head_dir / "instance_id").write_text("i-head\n")
    layout.node_dir("q1-st-c1-1").mkdir(parents=True)
    (layout.node_dir("q1-st-c1-1") / "instance_id").write_text("i-static\n")
    launched = datetime(2026, 11, 22, tzinfo=UTC)
    _logs.record_instance(layout, "q1-dy-c1-1", "i-old", launched)
    _logs.record_instance(layout, "q1-dy-c1-1", "i-dynamic", launched)  # the last launch wins
    return layout, descriptor


def test_live_sources_name_every_file(tmp_path: Path) -> None:
    layout, descriptor = _cluster(tmp_path)
    sources = {s.stream_name: s for s in _logs.live_sources(layout, descriptor)}
    assert sorted(sources) == [
        "head.i-head.gone-1-cloud-init-output",
        "head.i-head.munge",
        "head.i-head.slurmctld",
        "q1-dy-c1-1.i-dynamic.cloud-init-output",
        "q1-st-c1-1.i-static.cloud-init-output",
        "q1-st-c1-1.i-static.slurmd",
    ]
    slurmd = sources["q1-st-c1-1.i-static.slurmd"]
    assert (slurmd.role, slurmd.private_dns_name, slurmd.hostname) == (
        NodeRole.COMPUTE,
        "ip-10-240-16-10",
        "q1-st-c1-1",
    )
    assert slurmd.path == layout.log / "slurmd-q1-st-c1-1.log"
    assert sources["head.i-head.munge"].private_dns_name == "ip-10-240-16-1"
    assert slurmd.retention_days == 180  # pcluster's default when nothing was recorded


def test_retain_moves_the_logs_and_keeps_them_readable(tmp_path: Path) -> None:
    layout, descriptor = _cluster(tmp_path)
    (layout.root / _logs.POLICY_FILE).write_text('{"retention_in_days": 0, "deletion_policy": "Retain"}')
    before = {s.stream_name: s.path.read_text() for s in _logs.live_sources(layout, descriptor)}
    target = _logs.retain_or_remove(layout, retain_storage=True)
    assert target is not None and target.parent == tmp_path / "retained-logs" / "demo"
    assert not layout.log.exists()
    after = _logs.retained_sources(tmp_path, "demo")
    assert {s.stream_name: s.path.read_text() for s in after} == before
    assert {s.retention_days for s in after} == {None}  # 0: never expire


def test_delete_policy_leaves_the_logs_to_be_removed(tmp_path: Path) -> None:
    layout, _ = _cluster(tmp_path)
    (layout.root / _logs.POLICY_FILE).write_text('{"retention_in_days": 7, "deletion_policy": "Delete"}')
    assert _logs.retain_or_remove(layout, retain_storage=True) is None
    assert layout.log.exists()
    assert _logs.retained_sources(tmp_path, "demo") == []

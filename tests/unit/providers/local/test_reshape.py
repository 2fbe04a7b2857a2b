"""DRAIN with a new instance type: a running node keeps its old shape in slurm.conf until it is
replaced (Slurm 24.11's reconfigure requeues a job whose node's cores change)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from corral.plan import ClusterPlan
from corral.providers.local import _reshape
from corral.providers.local._layout import ClusterLayout
from corral.slurm.conf import render_slurm_conf
from support.plans import plan, shape
from unit.slurm.test_conf import RUNTIME


def _reshaped(
    old_plan: ClusterPlan, instance_type: str = "c5.xlarge", strategy: str = "DRAIN"
) -> ClusterPlan:
    bigger = shape(instance_type, 4, 7200)
    nodes = tuple(replace(n, shape=bigger) for n in old_plan.nodes)
    return replace(old_plan, nodes=nodes, slurm=replace(old_plan.slurm, queue_update_strategy=strategy))


def test_drain_keeps_the_running_shape_of_a_reshaped_node_and_terminate_does_not(tmp_path: Path) -> None:
    layout = ClusterLayout(tmp_path, "c1")
    layout.root.mkdir(parents=True)
    old = plan("c1", (("q1", "c1", 2, 0),))
    new = _reshaped(old)
    kept = _reshape.deferred(layout, old, new, ["q1-st-c1-1"])
    assert kept == {"q1-st-c1-1": old.nodes[0]}
    assert _reshape.deferred(layout, old, _reshaped(old, strategy="TERMINATE"), ["q1-st-c1-1"]) == {}
    conf = render_slurm_conf(_reshape.conf_plan(new, kept), RUNTIME)
    lines = [line for line in conf.splitlines() if line.startswith("NodeName=q1-")]
    assert len(lines) == 2
    assert "NodeName=q1-st-c1-1 " in lines[0] and "CPUs=2" in lines[0]
    assert "NodeName=q1-st-c1-2 " in lines[1] and "CPUs=4" in lines[1]


def test_a_kept_shape_survives_the_next_update_until_the_node_is_replaced(tmp_path: Path) -> None:
    layout = ClusterLayout(tmp_path, "c1")
    layout.root.mkdir(parents=True)
    old = plan("c1", (("q1", "c1", 2, 0),))
    new = _reshaped(old)
    _reshape.save(layout, {"q1-st-c1-1": old.nodes[0]})
    assert _reshape.running_shapes(layout) == {"q1-st-c1-1": old.nodes[0]}
    # a later DRAIN update to yet another type: the node still runs its first shape
    newer = _reshaped(new, "c5.2xlarge")
    assert _reshape.deferred(layout, new, newer, ["q1-st-c1-1"]) == {"q1-st-c1-1": old.nodes[0]}
    _reshape.save(layout, {})
    assert _reshape.running_shapes(layout) == {} and not (layout.root / _reshape.FILE).exists()

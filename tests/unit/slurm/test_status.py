"""Parsers, fed with output captured from a real Slurm 22.05 local cluster (tests/unit/slurm/data)."""

from __future__ import annotations

from pathlib import Path

from corral.slurm.status import parse_fields, parse_nodes, parse_partitions, parse_sinfo, parse_squeue

DATA = Path(__file__).parent / "data"


def test_fields_keep_spaces_and_nested_equals() -> None:
    fields = parse_fields(
        "NodeName=a CfgTRES=cpu=2,mem=1800M OS=Linux 6.1 #1 SMP Reason=boot failed: x [root@t]"
    )
    assert fields["CfgTRES"] == "cpu=2,mem=1800M"
    assert fields["OS"] == "Linux 6.1 #1 SMP"
    assert fields["Reason"] == "boot failed: x [root@t]"


def test_node_states_from_a_real_cluster() -> None:
    nodes = parse_nodes((DATA / "scontrol_show_node_states.txt").read_text())
    by_state = {(n.state, n.flags): n for n in nodes}
    powered_down = by_state[("IDLE", frozenset({"CLOUD", "POWERED_DOWN"}))]
    assert powered_down.powered_down and not powered_down.ready and not powered_down.static
    assert powered_down.features == ("dynamic", "c5.large", "c1") and powered_down.partitions == ("q1",)
    assert powered_down.addr.startswith("10.240.0.")
    up = by_state[("IDLE", frozenset({"CLOUD"}))]
    assert up.ready and not up.powered_down
    booting = by_state[("MIXED", frozenset({"CLOUD", "NOT_RESPONDING", "POWERING_UP"}))]
    assert not booting.ready and not booting.powered_down
    down = next(n for n in nodes if n.state == "DOWN")
    assert down.failed and down.reason.startswith("bootstrap failure: OnNodeStart script /x.sh exited with 1")


def test_partitions_sinfo_squeue() -> None:
    parts = parse_partitions((DATA / "scontrol_show_partition.txt").read_text())
    assert [(p.name, p.state, p.default) for p in parts] == [("q1", "UP", True), ("q2", "UP", False)]
    assert parts[0].nodes == "q1-dy-c1-[1-3],q1-st-c1-1"
    (inactive,) = parse_partitions((DATA / "scontrol_show_partition_q2_inactive.txt").read_text())
    assert inactive.state == "INACTIVE"
    rows = parse_sinfo((DATA / "sinfo.txt").read_text())
    assert rows[0].partition == "q1" and rows[0].default and rows[0].state == "down~"
    assert sum(r.node_count for r in rows) == 6
    (job,) = parse_squeue((DATA / "squeue.txt").read_text())
    assert (job.job_id, job.state, job.node_count, job.nodes) == ("3", "PENDING", 1, "")

"""Local capacity limits: parsing, admission (pure), and reservations under a lock (real files)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from corral.errors import ProviderError
from corral.providers.local import _capacity
from corral.providers.local._capacity import Admission, CapacityLimits, Limit, Slot, admit
from corral.providers.local._layout import ClusterLayout, NodeRecord
from corral.providers.local._settings import LocalSettings


def test_parse_every_kind_of_limit() -> None:
    limits = CapacityLimits.parse("total=10, memory_mib=65536,c5.xlarge=2,c5.xlarge:memory_mib=16384")
    assert limits.total == Limit(nodes=10, memory_mib=65536)
    assert limits.per_type == {"c5.xlarge": Limit(nodes=2, memory_mib=16384)}
    assert limits.limited and limits.needs_memory
    assert not CapacityLimits.parse("").limited
    assert not CapacityLimits.parse("t2.micro=3").needs_memory


@pytest.mark.parametrize("text", ["total", "total=ten", "c5.xlarge=-1", "x:cpus=3", "=3"])
def test_parse_rejects_bad_items_with_a_hint(text: str) -> None:
    with pytest.raises(ProviderError) as caught:
        CapacityLimits.parse(text)
    assert "total=10" in caught.value.hint


def slots(*names: str, itype: str = "c5.xlarge", mem: int = 8192) -> list[Slot]:
    return [Slot(n, itype, mem) for n in names]


def test_per_type_limit_admits_in_order_and_refuses_the_rest() -> None:
    limits = CapacityLimits.parse("c5.xlarge=2")
    got = admit(limits, slots("a"), slots("b", "c", "d"), all_or_nothing=False)
    assert got.admitted == ("b",)
    assert set(got.refused) == {"c", "d"}
    assert "capacity of 2 node(s) c5.xlarge reached" in got.refused["c"]


def test_other_types_are_not_limited_by_a_per_type_limit_but_by_the_total() -> None:
    limits = CapacityLimits.parse("c5.xlarge=1,total=3")
    requested = [*slots("a", "b"), *slots("m1", "m2", itype="m5.large")]
    got = admit(limits, [], requested, all_or_nothing=False)
    assert got.admitted == ("a", "m1", "m2")
    assert "in total" not in got.refused["b"]


def test_memory_limits() -> None:
    limits = CapacityLimits.parse("memory_mib=20000")
    got = admit(limits, slots("a"), slots("b", "c"), all_or_nothing=False)  # 8192 each
    assert got.admitted == ("b",)
    assert "20000 MiB in total" in got.refused["c"]


def test_all_or_nothing_refuses_the_whole_request() -> None:
    limits = CapacityLimits.parse("c5.xlarge=2")
    got = admit(limits, [], slots("a", "b", "c"), all_or_nothing=True)
    assert got == Admission((), got.refused)
    assert set(got.refused) == {"a", "b", "c"}
    assert admit(limits, [], slots("a", "b"), all_or_nothing=True).admitted == ("a", "b")


def test_a_running_node_asked_again_does_not_count_twice() -> None:
    limits = CapacityLimits.parse("total=1")
    assert admit(limits, slots("a"), slots("a"), all_or_nothing=True).admitted == ("a",)


# -- reservations on disk ---------------------------------------------------------------------


def records(n: int, itype: str = "c5.xlarge") -> list[NodeRecord]:
    return [
        NodeRecord(f"q-dy-cr-{i}", i, f"10.0.0.{i}", "q", "cr", itype, "dynamic") for i in range(1, n + 1)
    ]


@pytest.fixture
def layout(tmp_path: Path) -> ClusterLayout:
    layout = ClusterLayout(tmp_path, "cap")
    layout.nodes_dir.mkdir(parents=True)
    return layout


def test_without_limits_nothing_is_written(layout: ClusterLayout, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(_capacity.CAPACITY_ENV, raising=False)
    nodes = records(3)
    got = _capacity.reserve(layout, nodes, nodes, lambda _t: 0, all_or_nothing=False)
    assert got.admitted == tuple(n.name for n in nodes)
    assert not (layout.root / "reservations").exists()


def test_file_wins_over_environment_and_running_nodes_count(
    layout: ClusterLayout, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(_capacity.CAPACITY_ENV, "total=100")
    _capacity.capacity_file(layout).write_text("c5.xlarge=2\n")
    nodes = records(4)
    (layout.node_dir(nodes[0].name)).mkdir()
    (layout.node_dir(nodes[0].name) / "instance_id").write_text("i-1\n")  # already running
    got = _capacity.reserve(layout, nodes[1:], nodes, lambda _t: 0, all_or_nothing=False)
    assert got.admitted == (nodes[1].name,)
    # the reservation holds the slot until released, for this (live) process
    again = _capacity.reserve(layout, nodes[2:], nodes, lambda _t: 0, all_or_nothing=False)
    assert again.admitted == ()
    _capacity.release(layout, nodes[1].name)
    assert _capacity.reserve(layout, nodes[2:], nodes, lambda _t: 0, all_or_nothing=False).admitted == (
        nodes[2].name,
    )


def test_reservation_of_a_dead_process_is_void(layout: ClusterLayout) -> None:
    _capacity.capacity_file(layout).write_text("total=1")
    nodes = records(2)
    (layout.root / "reservations").mkdir()
    (layout.root / "reservations" / nodes[0].name).write_text("999999999\n")
    got = _capacity.reserve(layout, nodes[1:], nodes, lambda _t: 0, all_or_nothing=False)
    assert got.admitted == (nodes[1].name,)
    assert not (layout.root / "reservations" / nodes[0].name).exists()


def test_concurrent_reservations_never_exceed_the_limit(layout: ClusterLayout) -> None:
    """Eight launchers race for 30 nodes with room for 5: exactly 5 are admitted overall."""
    _capacity.capacity_file(layout).write_text("c5.xlarge=5")
    nodes = records(30)
    admitted: list[str] = []
    lock = threading.Lock()

    def launcher(part: list[NodeRecord]) -> None:
        got = _capacity.reserve(layout, part, nodes, lambda _t: 0, all_or_nothing=False)
        with lock:
            admitted.extend(got.admitted)

    threads = [threading.Thread(target=launcher, args=(nodes[i::8],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(admitted) == 5
    assert sorted(os.listdir(layout.root / "reservations")) == sorted(admitted)


def test_record_limits_validates_and_keeps_the_environment(
    layout: ClusterLayout, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(_capacity.CAPACITY_ENV, "t3.micro=1")
    _capacity.record_limits(layout)
    assert _capacity.read_limits(layout).per_type == {"t3.micro": Limit(nodes=1)}
    monkeypatch.setenv(_capacity.CAPACITY_ENV, "nonsense")
    with pytest.raises(ProviderError):
        _capacity.record_limits(layout)


def test_resume_environment_carries_strategy_heartbeat_and_threshold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataclasses import replace

    from corral.providers.local import _scaling
    from support.plans import plan

    layout = ClusterLayout(tmp_path, "env")
    cluster = replace(plan("env"), scaling_strategy="greedy-all-or-nothing")
    monkeypatch.delenv(_scaling.HEARTBEAT_TIMEOUT_ENV, raising=False)
    env = _scaling.resume_environment(cluster, layout, LocalSettings.from_env())
    assert env == {
        "CORRAL_PROVIDER": "local",
        "CORRAL_SCALING_STRATEGY": "greedy-all-or-nothing",
        "CORRAL_HEARTBEAT_FILE": str(layout.run_dir / "heartbeat"),
    }
    monkeypatch.setenv(_scaling.HEARTBEAT_TIMEOUT_ENV, "42")
    knobs = LocalSettings.from_env()  # read at create, handed on as it is
    assert _scaling.resume_environment(cluster, layout, knobs)[_scaling.HEARTBEAT_TIMEOUT_ENV] == "42"

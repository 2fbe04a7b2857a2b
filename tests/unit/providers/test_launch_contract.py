"""The capacity side of the provider contract: ``launch`` raises ``InsufficientCapacityError``,
``launch_batch`` reports per-node failures, ``launch_nodes`` gives both the same shape."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from corral.errors import InsufficientCapacityError, ProviderError
from corral.providers.base import Instance, LaunchFailure, launch_nodes
from corral.providers.fake import FakeFailures, FakeProvider
from support.plans import plan


def cluster(**failures: object) -> FakeProvider:
    provider = FakeProvider(FakeFailures(**failures))  # type: ignore[arg-type]
    provider.create(plan("cap", (("q1", "c1", 0, 3),)), on_event=lambda _r, _m: None)
    return provider


def test_launch_is_all_or_nothing_and_raises_the_capacity_error() -> None:
    provider = cluster(capacity=(("c5.large", 2),))
    with pytest.raises(InsufficientCapacityError) as caught:
        provider.launch("cap", ["q1-dy-c1-1", "q1-dy-c1-2", "q1-dy-c1-3"])
    error = caught.value
    assert error.reason_code == "InsufficientInstanceCapacity"
    assert (error.instance_type, error.compute_resource) == ("c5.large", "c1")
    assert isinstance(error, ProviderError) and error.hint
    assert [i.node_name for i in provider.instances("cap") if i.node_name] == []
    assert len(provider.launch("cap", ["q1-dy-c1-1", "q1-dy-c1-2"])) == 2


def test_launch_batch_best_effort_and_all_or_nothing() -> None:
    provider = cluster(capacity=(("total", 2),))
    partial = provider.launch_batch("cap", ["q1-dy-c1-1", "q1-dy-c1-2", "q1-dy-c1-3"])
    assert partial.launched_names() == ["q1-dy-c1-1", "q1-dy-c1-2"]
    assert [(f.node_name, f.code) for f in partial.failed] == [("q1-dy-c1-3", "InsufficientInstanceCapacity")]
    # already running nodes are returned again without counting twice (idempotent per node)
    again = provider.launch_batch("cap", ["q1-dy-c1-1", "q1-dy-c1-3"], all_or_nothing=True)
    assert again.launched == () and {f.node_name for f in again.failed} == {"q1-dy-c1-1", "q1-dy-c1-3"}
    assert provider.launch_batch("cap", ["q1-dy-c1-2"], all_or_nothing=True).launched_names() == [
        "q1-dy-c1-2"
    ]


class LaunchOnly:
    """A provider with only ``launch`` (no ``launch_batch``): the fallback's subject."""

    name = "launch-only"

    def __init__(self, error: ProviderError | None) -> None:
        self.error = error

    def launch(self, cluster_name: str, node_names: Sequence[str]) -> list[Instance]:
        if self.error:
            raise self.error
        return []


def test_launch_nodes_turns_a_launch_error_into_per_node_failures() -> None:
    ice = InsufficientCapacityError("no c5.large", reason_code="InsufficientHostCapacity")
    result = launch_nodes(LaunchOnly(ice), "c", ["a", "b"])  # type: ignore[arg-type]
    assert result.failed == (
        LaunchFailure("a", "InsufficientHostCapacity", "no c5.large"),
        LaunchFailure("b", "InsufficientHostCapacity", "no c5.large"),
    )
    other = launch_nodes(LaunchOnly(ProviderError("boom")), "c", ["a"])  # type: ignore[arg-type]
    assert other.failed == (LaunchFailure("a", "", "boom"),)
    assert launch_nodes(LaunchOnly(None), "c", ["a"]).failed == ()  # type: ignore[arg-type]

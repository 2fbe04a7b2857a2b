"""The provider contract suite: the same assertions for every provider.

Each provider's test module builds a ``Subject`` (a provider with one created cluster, two of its
dynamic node names and a way to refuse capacity) and runs every function of ``CHECKS`` against it:
the fake provider and the aws provider (moto server) in the unit tests, the local provider end to
end. What they hold every provider to:

- ``launch_batch`` is idempotent per node: launching a running node again starts nothing new (one
  instance per node, the same one), and every requested node is reported launched or failed;
- ``terminate`` is idempotent per node: terminating twice is no error and the node is gone;
- capacity failures come back as data: with no capacity, ``launch_batch`` raises nothing and
  reports each node failed with an insufficient-capacity code, and nothing is left running;
- after ``delete`` (idempotent too), ``instances`` is empty.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

from corral.providers.base import INSUFFICIENT_CAPACITY_CODES, NodeRole, Provider


@dataclass
class Subject:
    provider: Provider
    cluster: str
    #: two dynamic compute nodes of the cluster, powered down
    nodes: tuple[str, str]
    #: while entered, the provider has capacity for no further compute node
    no_capacity: Callable[[], AbstractContextManager[object]]


def compute(subject: Subject) -> dict[str, list[str]]:
    """Running compute nodes -> their instance ids."""
    found: dict[str, list[str]] = {}
    for instance in subject.provider.instances(subject.cluster):
        if instance.role is NodeRole.COMPUTE and instance.node_name:
            found.setdefault(instance.node_name, []).append(instance.instance_id)
    return found


def _reported(result: object, names: tuple[str, ...]) -> None:
    launched = set(result.launched_names())  # type: ignore[attr-defined]
    failed = {f.node_name for f in result.failed}  # type: ignore[attr-defined]
    assert launched | failed == set(names) and not launched & failed, (launched, failed)


def launch_is_idempotent_per_node(subject: Subject) -> None:
    first, second = subject.nodes
    result = subject.provider.launch_batch(subject.cluster, [first])
    assert result.launched_names() == [first] and result.failed == ()
    before = compute(subject)
    assert len(before[first]) == 1
    again = subject.provider.launch_batch(subject.cluster, [first, second])
    _reported(again, (first, second))
    after = compute(subject)
    assert after[first] == before[first], "a running node was launched again"
    assert all(len(ids) == 1 for ids in after.values()), after
    subject.provider.terminate(subject.cluster, [first, second])


def terminate_is_idempotent_per_node(subject: Subject) -> None:
    first, second = subject.nodes
    subject.provider.launch_batch(subject.cluster, [first, second])
    subject.provider.terminate(subject.cluster, [first])
    subject.provider.terminate(subject.cluster, [first])
    assert first not in compute(subject)
    assert second in compute(subject)
    subject.provider.terminate(subject.cluster, [first, second])
    subject.provider.terminate(subject.cluster, [second])
    assert not set(subject.nodes) & set(compute(subject))


def capacity_failures_come_back_as_data(subject: Subject) -> None:
    running = compute(subject)
    with subject.no_capacity():
        result = subject.provider.launch_batch(subject.cluster, list(subject.nodes), all_or_nothing=True)
        assert result.launched == ()
        assert {f.node_name for f in result.failed} == set(subject.nodes)
        assert all(f.code in INSUFFICIENT_CAPACITY_CODES for f in result.failed), result.failed
        best_effort = subject.provider.launch_batch(subject.cluster, list(subject.nodes))
        assert best_effort.launched == () and len(best_effort.failed) == 2
    assert compute(subject) == running, "a refused launch left something running"


CHECKS: tuple[Callable[[Subject], None], ...] = (
    launch_is_idempotent_per_node,
    terminate_is_idempotent_per_node,
    capacity_failures_come_back_as_data,
)


def delete_leaves_no_instances(subject: Subject) -> None:
    """Run last: the cluster is gone afterwards."""
    subject.provider.launch_batch(subject.cluster, [subject.nodes[0]])
    subject.provider.delete(subject.cluster)
    subject.provider.delete(subject.cluster)
    assert subject.provider.instances(subject.cluster) == []
    assert not subject.provider.exists(subject.cluster)


__all__ = [
    "CHECKS",
    "Subject",
    "capacity_failures_come_back_as_data",
    "compute",
    "delete_leaves_no_instances",
]

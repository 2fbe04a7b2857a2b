"""Batch launches of a local cluster's compute nodes, under its capacity limits (``_capacity``).

``launch_batch`` is the local provider's ``Provider.launch_batch``: admission first (capacity
refusals become ``InsufficientInstanceCapacity`` failures, as EC2 reports them), then the admitted
nodes start in parallel. With ``all_or_nothing`` nothing is left running when any node fails.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from corral.config import catalog
from corral.errors import CorralError, InsufficientCapacityError, ProviderError
from corral.providers.base import Instance, LaunchFailure, LaunchResult
from corral.providers.local import _capacity, _nodes
from corral.providers.local._layout import ClusterDescriptor, ClusterLayout, NodeRecord

LAUNCH_WORKERS = 8
#: ParallelCluster's code for a node name that maps to no compute resource.
INVALID_NODE_CODE = "InvalidNodenameError"


def memory_mib(instance_type: str) -> int:
    """The catalog memory of an instance type (0 when the catalog does not know it)."""
    info = catalog.get(instance_type)
    return info.memory_mib if info else 0


def _start(
    layout: ClusterLayout, descriptor: ClusterDescriptor, node: NodeRecord
) -> Instance | LaunchFailure:
    try:
        return _nodes.launch_node(layout, descriptor, node)
    except (CorralError, OSError) as exc:
        message = exc.message if isinstance(exc, CorralError) else str(exc)
        # A half-started node holds no capacity and leaves no namespace behind.
        _nodes.terminate_nodes(layout, descriptor, [node.name])
        return LaunchFailure(node.name, "", f"{node.name}: launch failed: {message}")
    finally:
        _capacity.release(layout, node.name)


def launch_batch(
    layout: ClusterLayout, descriptor: ClusterDescriptor, node_names: Sequence[str], *, all_or_nothing: bool
) -> LaunchResult:
    """Start the nodes that capacity admits; report every other one as a failure (see module doc)."""
    names = list(dict.fromkeys(node_names))
    records = [r for r in (descriptor.node(n) for n in names) if r is not None]
    unknown = [
        LaunchFailure(n, INVALID_NODE_CODE, f"node {n!r} is not part of cluster {descriptor.name!r}")
        for n in names
        if descriptor.node(n) is None
    ]
    if all_or_nothing and unknown:
        return LaunchResult(
            failed=(*unknown, *(LaunchFailure(r.name, unknown[0].code, unknown[0].message) for r in records))
        )
    admission = _capacity.reserve(
        layout, records, descriptor.nodes, memory_mib, all_or_nothing=all_or_nothing
    )
    refused = [LaunchFailure(n, _capacity.ICE_CODE, m) for n, m in admission.refused.items()]
    admitted = [r for r in records if r.name in set(admission.admitted)]
    with ThreadPoolExecutor(max_workers=LAUNCH_WORKERS) as pool:
        outcomes = list(pool.map(lambda r: _start(layout, descriptor, r), admitted))
    launched = tuple(o for o in outcomes if isinstance(o, Instance))
    failed = [o for o in outcomes if isinstance(o, LaunchFailure)]
    if all_or_nothing and failed and launched:
        _nodes.terminate_nodes(layout, descriptor, [i.node_name for i in launched if i.node_name])
        failed += [LaunchFailure(i.node_name or "", failed[0].code, failed[0].message) for i in launched]
        launched = ()
    return LaunchResult(launched=launched, failed=(*unknown, *refused, *failed))


def instances_or_raise(result: LaunchResult, descriptor: ClusterDescriptor) -> list[Instance]:
    """The launched instances of an all-or-nothing batch, or its first failure as an error:
    ``InsufficientCapacityError`` for capacity, ``ProviderError`` otherwise."""
    if not result.failed:
        return list(result.launched)
    first = result.failed[0]
    if first.code == _capacity.ICE_CODE:
        record = descriptor.node(first.node_name)
        raise InsufficientCapacityError(
            f"insufficient capacity: {first.message}",
            hint=f"raise the limits in {_capacity.CAPACITY_FILE} of the cluster directory"
            f" (or {_capacity.CAPACITY_ENV} at create), or wait for nodes to be released",
            reason_code=first.code,
            instance_type=record.instance_type if record else "",
            compute_resource=record.compute_resource if record else "",
        )
    raise ProviderError(first.message)

"""The compute fleet verbs of ``ClusterService``: ``describe-compute-fleet``,
``update-compute-fleet`` (and waiting for it) over ``corral.service._fleet``, and the instance
verbs ``describe-cluster-instances`` and ``delete-cluster-instances``."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from corral.errors import BadRequestError, ConflictError
from corral.providers.base import Instance, NodeRole, Provider
from corral.service._views import FleetView, InstanceList
from corral.state import ClusterRecord, FleetStatus, utc_now

if TYPE_CHECKING:
    from corral.state import StateStore


class FleetVerbs:
    """The fleet and instance verbs of ``ClusterService`` (which provides ``store``, ``provider``,
    ``get``, ``_head_down`` and ``_instances``)."""

    if TYPE_CHECKING:
        store: StateStore

        def provider(self, name: str) -> Provider: ...

        def get(self, cluster_name: str) -> ClusterRecord: ...

        def _head_down(self, record: ClusterRecord) -> str | None: ...

        def _instances(self, record: ClusterRecord) -> list[Instance]: ...

    def describe_compute_fleet(self, cluster_name: str) -> FleetView:
        """The compute fleet's status (moved on when Slurm shows a stop/start has finished)."""
        from corral.service import _fleet

        record = self.get(cluster_name)
        if self._head_down(record) is not None:
            return FleetView(FleetStatus.UNKNOWN, utc_now())
        return _fleet.describe(self.store, self.provider(record.provider), record)

    def update_compute_fleet(self, cluster_name: str, status: str) -> FleetView:
        """START_REQUESTED or STOP_REQUESTED, applied through Slurm on the head node."""
        from corral.service import _fleet

        record = self.get(cluster_name)
        down = self._head_down(record)
        if down is not None:
            raise ConflictError(
                f"Cannot change the compute fleet of cluster {cluster_name!r}: its head node is {down}",
                hint="the host may have restarted or the head node died; "
                f"`corral describe-cluster -n {cluster_name}` shows its state (nothing was changed)",
            )
        return _fleet.update(self.store, self.provider(record.provider), record, status)

    def wait_compute_fleet(
        self,
        cluster_name: str,
        *,
        timeout: float = 300.0,
        poll: float = 1.0,
        on_change: Callable[[FleetView], None] | None = None,
    ) -> FleetView:
        """Poll until the fleet is STOPPED or RUNNING (or ``timeout`` seconds pass); ``on_change``
        sees every status met on the way."""
        deadline = time.monotonic() + timeout
        view = self.describe_compute_fleet(cluster_name)
        if on_change is not None:
            on_change(view)
        while view.status not in (FleetStatus.STOPPED, FleetStatus.RUNNING) and time.monotonic() < deadline:
            time.sleep(poll)
            seen = self.describe_compute_fleet(cluster_name)
            if seen.status is not view.status and on_change is not None:
                on_change(seen)
            view = seen
        return view

    def instances(
        self, cluster_name: str, *, node_type: str | None = None, queue_name: str | None = None
    ) -> InstanceList:
        """Running instances; ``node_type`` is ``HeadNode``, ``ComputeNode`` or ``LoginNode``."""
        record = self.get(cluster_name)
        found = self._instances(record)
        if node_type is not None:
            roles = {"HeadNode": NodeRole.HEAD, "ComputeNode": NodeRole.COMPUTE, "LoginNode": NodeRole.LOGIN}
            role = roles.get(node_type)
            if role is None:
                raise BadRequestError(
                    f"unknown node type {node_type!r}", hint="use HeadNode, ComputeNode or LoginNode"
                )
            found = [i for i in found if i.role is role]
        if queue_name is not None:
            found = [i for i in found if i.queue == queue_name]
        return InstanceList(tuple(found))

    def delete_instances(
        self, cluster_name: str, *, force: bool = False, provider: str | None = None
    ) -> None:
        """Terminate every compute instance. With ``force``, also when Corral has no record of the
        cluster (``provider`` names where to look)."""
        record = self.store.find(cluster_name)
        if record is None:
            if not force or provider is None:
                self.store.get(cluster_name)  # raises NotFoundError with did-you-mean
                return
            prov = self.provider(provider)
        else:
            prov = self.provider(record.provider)
        names = [
            i.node_name for i in prov.instances(cluster_name) if i.role is NodeRole.COMPUTE and i.node_name
        ]
        if names:
            prov.terminate(cluster_name, names)


__all__ = ["FleetVerbs"]

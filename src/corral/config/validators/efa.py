"""EFA and placement groups.

Facts from ParallelCluster 3.16: EFA needs an instance type that supports it; GdrSupport needs EFA;
an EFA-enabled compute resource needs an explicit placement group (or ``Enabled: false``) unless the
queue spans several AZs or uses a capacity block; EFA and placement groups do not work across AZs;
a placement group takes either Name or Id, never both, and never with ``Enabled: false``; every
instance type in a cluster placement group must support the ``cluster`` strategy; nodes with more
than one network interface cannot get a public IP.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from corral.config import catalog
from corral.config.findings import Finding
from corral.config.validators._base import (
    ClusterContext,
    compute_resources,
    cr_instance_types,
    enum_value,
    error,
    g,
    is_flexible,
    multi_az,
    queues,
    warning,
)


@dataclass(frozen=True)
class PlacementChoice:
    """The placement group that applies to one compute resource (its own, else its queue's)."""

    path: str
    enabled: bool | None  # None: not written by the user
    assignment: str | None  # Name or Id

    @property
    def key(self) -> str | None:
        """What ParallelCluster keys the group on; None means no placement group."""
        if self.assignment:
            return self.assignment
        return "managed" if self.enabled else None


def _placement(ctx: ClusterContext, pg: Any, path: str) -> PlacementChoice:
    enabled = g(pg, "enabled") if ctx.present(f"{path}/Enabled") else None
    return PlacementChoice(path, enabled, g(pg, "name") or g(pg, "id"))


def placement_for(ctx: ClusterContext, qpath: str, queue: Any, crpath: str, cr: Any) -> PlacementChoice:
    cr_path = f"{crpath}/Networking/PlacementGroup"
    if g(cr, "networking", "placement_group") is not None and ctx.present(cr_path):
        return _placement(ctx, g(cr, "networking", "placement_group"), cr_path)
    q_path = f"{qpath}/Networking/PlacementGroup"
    return _placement(ctx, g(queue, "networking", "placement_group"), q_path)


def _qpath(crpath: str) -> str:
    return crpath.rsplit("/ComputeResources", 1)[0]


def efa_support(ctx: ClusterContext) -> Iterator[Finding]:
    """EfaValidator / InstancesEFAValidator: EFA only on EFA types; GdrSupport needs EFA."""
    for path, queue, cr in compute_resources(ctx.config):
        enabled = bool(g(cr, "efa", "enabled"))
        types = cr_instance_types(cr)
        unsupported = [n for _r, n in types if (i := catalog.get(n)) is not None and not i.efa_supported]
        supported = [n for _r, n in types if (i := catalog.get(n)) is not None and i.efa_supported]
        code = "InstancesEFAValidator" if is_flexible(cr) else "EfaValidator"
        if enabled and unsupported:
            yield error(
                code,
                f"{path}/Efa/Enabled",
                f"the instance type(s) {', '.join(sorted(unsupported))} do not support EFA",
                "set Efa/Enabled: false or use an EFA-capable instance type (c5n.18xlarge, hpc7g, p4d...)",
            )
        if not enabled and supported and not multi_az(queue):
            yield warning(
                code,
                path,
                f"the instance type(s) {', '.join(sorted(supported))} support EFA, which is not enabled",
                "add Efa/Enabled: true for low-latency inter-node communication",
            )
        if g(cr, "efa", "gdr_support") and not enabled:
            yield error(
                "EfaValidator",
                f"{path}/Efa/GdrSupport",
                "GdrSupport can be used only if EFA is enabled",
                "set Efa/Enabled: true",
            )


def efa_placement_group(ctx: ClusterContext) -> Iterator[Finding]:
    """EfaPlacementGroupValidator: EFA compute resources state their placement group."""
    for path, queue, cr in compute_resources(ctx.config):
        if not g(cr, "efa", "enabled") or multi_az(queue):
            continue
        if enum_value(g(queue, "capacity_type")) == "CAPACITY_BLOCK":
            continue
        choice = placement_for(ctx, _qpath(path), queue, path, cr)
        if choice.enabled is False:
            yield warning(
                "EfaPlacementGroupValidator",
                choice.path,
                f"the placement group is disabled for queue {g(queue, 'name')!r} with EFA enabled",
                "expected with a capacity reservation that has its own placement group; otherwise enable it",
            )
        elif choice.key is None:
            yield error(
                "EfaPlacementGroupValidator",
                f"{path}/Efa/Enabled",
                "the placement group for EFA-enabled compute resources in queue "
                f"{g(queue, 'name')!r} must be explicit",
                "add Networking/PlacementGroup/Enabled: true (or false to run without one)",
            )


def efa_multi_az(ctx: ClusterContext) -> Iterator[Finding]:
    """EfaMultiAzValidator: no EFA in a queue with several subnets."""
    for path, queue, cr in compute_resources(ctx.config):
        if g(cr, "efa", "enabled") and multi_az(queue):
            yield error(
                "EfaMultiAzValidator",
                f"{path}/Efa/Enabled",
                f"EFA is not supported across Availability Zones, but queue {g(queue, 'name')!r} "
                "lists several subnets",
                "disable EFA or give the queue a single subnet",
            )


def multi_az_placement_group(ctx: ClusterContext) -> Iterator[Finding]:
    """MultiAzPlacementGroupValidator: no placement group in a queue with several subnets."""
    for path, queue, cr in compute_resources(ctx.config):
        if not multi_az(queue):
            continue
        choice = placement_for(ctx, _qpath(path), queue, path, cr)
        if choice.enabled or choice.assignment:
            yield error(
                "MultiAzPlacementGroupValidator",
                choice.path,
                f"placement groups are not supported across Availability Zones (queue {g(queue, 'name')!r})",
                "remove the PlacementGroup or give the queue a single subnet",
            )


def placement_group_naming(ctx: ClusterContext) -> Iterator[Finding]:
    """PlacementGroupNamingValidator: Id or Name, never both, never with Enabled: false."""
    groups = []
    for qpath, queue in queues(ctx.config):
        groups.append((f"{qpath}/Networking/PlacementGroup", g(queue, "networking", "placement_group")))
        for j, cr in enumerate(g(queue, "compute_resources") or ()):
            cr_pg = f"{qpath}/ComputeResources[{j}]/Networking/PlacementGroup"
            groups.append((cr_pg, g(cr, "networking", "placement_group")))
    for path, pg in groups:
        if pg is None:
            continue
        if g(pg, "id") and g(pg, "name"):
            yield error(
                "PlacementGroupNamingValidator",
                f"{path}/Id",
                "a PlacementGroup takes either Id or Name, not both",
                "remove Id (Name is preferred)",
            )
        if (g(pg, "id") or g(pg, "name")) and ctx.present(f"{path}/Enabled") and g(pg, "enabled") is False:
            yield error(
                "PlacementGroupNamingValidator",
                f"{path}/Enabled",
                "a placement group Name or Id requires the placement group to be enabled",
                "remove Enabled: false, or remove the Name/Id",
            )


def placement_group_support(ctx: ClusterContext) -> Iterator[Finding]:
    """Placement group rules per instance type, capacity block and flexible resource."""
    for path, queue, cr in compute_resources(ctx.config):
        choice = placement_for(ctx, _qpath(path), queue, path, cr)
        if choice.key is None:
            continue
        if enum_value(g(queue, "capacity_type")) == "CAPACITY_BLOCK":
            yield warning(
                "PlacementGroupCapacityTypeValidator",
                choice.path,
                "a placement group with a capacity block reservation may cause insufficient capacity errors",
                "remove the placement group for this compute resource",
            )
        for rel, name in cr_instance_types(cr):
            it = catalog.get(name)
            if it is not None and "cluster" not in it.placement_strategies:
                yield error(
                    "InstanceTypePlacementGroupValidator",
                    f"{path}/{rel}",
                    f"the instance type {name!r} cannot be launched in a cluster placement group",
                    "disable the placement group or choose another instance type",
                )
        if is_flexible(cr) and len(cr_instance_types(cr)) > 1:
            yield warning(
                "InstancesNetworkingValidator",
                choice.path,
                "a placement group with several instance types may cause insufficient capacity errors",
                "use one instance type or disable the placement group",
            )


def multi_network_interfaces(ctx: ClusterContext) -> Iterator[Finding]:
    """MultiNetworkInterfacesInstancesValidator: no public IP for multi-interface nodes."""
    efa_type = g(ctx.config, "dev_settings", "efa_interface_type")
    for qpath, queue in queues(ctx.config):
        if not g(queue, "networking", "assign_public_ip"):
            continue
        culprits = []
        for cr in g(queue, "compute_resources") or ():
            for _rel, name in cr_instance_types(cr):
                it = catalog.get(name)
                if it is None:
                    continue
                multi_card = it.network_cards > 1
                efa_pair = (
                    bool(g(cr, "efa", "enabled"))
                    and efa_type != "efa"
                    and it.max_efa_interfaces == it.network_cards
                    and it.max_network_interfaces >= 2
                )
                if multi_card or efa_pair:
                    culprits.append(name)
        if culprits:
            yield error(
                "MultiNetworkInterfacesInstancesValidator",
                f"{qpath}/Networking/AssignPublicIp",
                f"queue {g(queue, 'name')!r} launches nodes with several network interfaces "
                f"({', '.join(sorted(set(culprits)))}), which cannot get a public IP",
                "set AssignPublicIp: false and use a private subnet with a NAT gateway",
            )


VALIDATORS = (
    efa_support,
    efa_placement_group,
    efa_multi_az,
    multi_az_placement_group,
    placement_group_naming,
    placement_group_support,
    multi_network_interfaces,
)

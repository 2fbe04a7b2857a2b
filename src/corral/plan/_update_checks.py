"""Whether one change may be applied now: ParallelCluster's update-policy conditions, as pure functions.

Each check mirrors the documented behaviour of the policy (``pcluster update-cluster``):

- COMPUTE_FLEET_STOP: only with the compute fleet STOPPED;
- QUEUE_UPDATE_STRATEGY: fleet stopped, or (under ``SlurmQueues``) QueueUpdateStrategy DRAIN/TERMINATE;
- RESIZE_UPDATE_STRATEGY_ON_REMOVE: fleet stopped; or under ``SlurmQueues``: QueueUpdateStrategy
  TERMINATE, or adding a queue/compute resource; or MaxCount not decreasing; or MinCount growing by no
  more than MaxCount grows;
- COMPUTE_FLEET_STOP_ON_REMOVE: fleet stopped, or adding an item under ``SlurmQueues``;
- MANAGED_PLACEMENT_GROUP: removing a managed placement group needs the fleet stopped; else as
  QUEUE_UPDATE_STRATEGY;
- MANAGED_FSX (queue subnets): never while a managed FSx for Lustre stays in the config; else fleet
  stopped, QueueUpdateStrategy set, or only adding subnets;
- SHARED_STORAGE_UPDATE_POLICY: never for ``/home``; external EFS/FSx/File Cache mount and unmount are
  live; otherwise running login nodes block it, and a running fleet blocks it unless QueueUpdateStrategy
  is set;
- LOGIN_NODES_*: the login nodes (of the pool) must be stopped; adding a pool is always fine;
- EXTRA_CHEF_ATTRIBUTES: only a few attributes may change;
- UNSUPPORTED, READ_ONLY_RESOURCE_BUCKET: never; SUPPORTED, IGNORED: always; SUPPORTED_UNLESS_ADC:
  except in us-iso regions.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from corral.config.model import ClusterConfig, PlacementGroup
from corral.config.policies import UpdatePolicy as P
from corral.plan._change import Change

#: ExtraChefAttributes leaves that may change on a live cluster (ParallelCluster 3.16).
UPDATABLE_CHEF_ATTRIBUTES = frozenset(
    {
        "cluster.slurm.reconfigure_timeout",
        "cluster.cluster_readiness_check_enabled",
        "cluster.cluster_readiness_check_ignore_failure",
    }
)
_LIVE_STORAGE_TYPES = frozenset({"Efs", "FsxLustre", "FsxOntap", "FsxOpenZfs", "FileCache"})
_EXTERNAL_STORAGE_KEYS = ("VolumeId", "FileSystemId", "FileCacheId")


@dataclass(frozen=True)
class UpdateContext:
    old: ClusterConfig
    new: ClusterConfig
    fleet_running: bool
    login_running: bool
    running_pools: frozenset[str]
    strategy: str
    cluster_name: str
    changes: tuple[Change, ...]

    @classmethod
    def of(
        cls,
        old: ClusterConfig,
        new: ClusterConfig,
        fleet_status: str,
        login_nodes_running: bool | None,
        cluster_name: str,
        changes: list[Change],
    ) -> UpdateContext:
        pools = old.login_nodes.pools if old.login_nodes else ()
        if login_nodes_running is None:
            running = frozenset(p.name for p in pools if p.count > 0)
            login_running = bool(running)
        else:
            running = frozenset(p.name for p in pools) if login_nodes_running else frozenset()
            login_running = login_nodes_running
        return cls(
            old=old,
            new=new,
            fleet_running=fleet_status.strip().upper() != "STOPPED",
            login_running=login_running,
            running_pools=running,
            strategy=new.scheduling.slurm_settings.queue_update_strategy,
            cluster_name=cluster_name,
            changes=tuple(changes),
        )

    @property
    def strategy_set(self) -> bool:
        return self.strategy != "COMPUTE_FLEET_STOP"

    # remedies ---------------------------------------------------------------

    def stop_fleet(self) -> str:
        command = f"corral update-compute-fleet -n {self.cluster_name} --status STOP_REQUESTED"
        return f"stop the compute fleet with `{command}`"

    def stop_login(self) -> str:
        return (
            "stop the login nodes: set Count: 0 on the login node pools and run "
            f"`corral update-cluster -n {self.cluster_name}` first"
        )


Verdict = tuple[bool, str, str]  # (allowed, reason, remedy)
_OK: Verdict = (True, "", "")


def judge(change: Change, ctx: UpdateContext) -> Change:
    """``change`` with ``allowed``, ``reason`` and ``remedy`` filled in for ``ctx``."""
    check = _CHECKS.get(change.policy, _unsupported)
    allowed, reason, remedy = check(change, ctx)
    return replace(change, allowed=allowed, reason=reason, remedy=remedy)


def _in_queues(change: Change) -> bool:
    return change.path.startswith("Scheduling/SlurmQueues[")


def _is_queue_list(change: Change) -> bool:
    return change.path.startswith("Scheduling/SlurmQueues") and change.is_list_item


def _added(change: Change) -> bool:
    return change.is_list_item and change.old is None and change.new is not None


def _restore(change: Change) -> str:
    if change.old is None:
        return f"remove {change.path}"
    if change.new is None:
        return f"restore {change.path}"
    return f"restore {change.key} to {change.old!r}"


def _unsupported(change: Change, ctx: UpdateContext) -> Verdict:
    return (
        False,
        f"{change.key} cannot be changed on an existing cluster",
        f"{_restore(change)}, or create a new cluster with this config",
    )


def _always(change: Change, ctx: UpdateContext) -> Verdict:
    return _OK


def _fleet_stop(change: Change, ctx: UpdateContext) -> Verdict:
    if not ctx.fleet_running:
        return _OK
    return False, "all compute nodes must be stopped", ctx.stop_fleet()


def _queue_strategy(change: Change, ctx: UpdateContext) -> Verdict:
    if not ctx.fleet_running or (_in_queues(change) and ctx.strategy_set):
        return _OK
    if _in_queues(change):
        return (
            False,
            "all compute nodes must be stopped, or QueueUpdateStrategy must be DRAIN or TERMINATE",
            f"{ctx.stop_fleet()}, or set Scheduling/SlurmSettings/QueueUpdateStrategy: DRAIN or TERMINATE",
        )
    return _fleet_stop(change, ctx)


def _resize(change: Change, ctx: UpdateContext) -> Verdict:
    if not ctx.fleet_running:
        return _OK
    if (_in_queues(change) or _is_queue_list(change)) and (ctx.strategy == "TERMINATE" or _added(change)):
        return _OK
    if change.key == "MaxCount" and _int(change.new, 10) >= _int(change.old, 10):
        return _OK
    if change.key == "MinCount" and _min_count_covered(change, ctx):
        return _OK
    return (
        False,
        "removing nodes needs all compute nodes stopped, or QueueUpdateStrategy: TERMINATE",
        f"{ctx.stop_fleet()}, or set Scheduling/SlurmSettings/QueueUpdateStrategy: TERMINATE",
    )


def _int(value: Any, default: int) -> int:
    return int(value) if isinstance(value, int) else default


def _min_count_covered(change: Change, ctx: UpdateContext) -> bool:
    """MinCount may change live when MaxCount grows by at least as much in the same compute resource."""
    sibling = change.path.rpartition("/")[0] + "/MaxCount"
    other = next((c for c in ctx.changes if c.path == sibling), None)
    if other is None:
        return False
    return _int(other.new, 10) - _int(other.old, 10) >= _int(change.new, 0) - _int(change.old, 0)


def _fleet_stop_on_remove(change: Change, ctx: UpdateContext) -> Verdict:
    if not ctx.fleet_running or (_in_queues(change) and _added(change)):
        return _OK
    return False, "removing this needs all compute nodes stopped", ctx.stop_fleet()


def _placement_group(change: Change, ctx: UpdateContext) -> Verdict:
    if ctx.fleet_running and _managed_pg(ctx.old, change.path) and not _managed_pg(ctx.new, change.path):
        return False, "deleting a managed placement group needs all compute nodes stopped", ctx.stop_fleet()
    return _queue_strategy(change, ctx)


def _managed_pg(config: ClusterConfig, path: str) -> bool:
    """Whether the queue/compute resource named in ``path`` uses a placement group Corral manages."""
    queue_name = _named(path, "SlurmQueues")
    queue = next((q for q in config.scheduling.slurm_queues if q.name == queue_name), None)
    if queue is None:
        return False
    cr_name = _named(path, "ComputeResources")
    cr = next((c for c in queue.compute_resources if c.name == cr_name), None)
    chosen = cr.networking.placement_group if cr is not None else PlacementGroup()
    if chosen == PlacementGroup():  # not set on the compute resource: the queue's applies
        chosen = queue.networking.placement_group
    return bool(chosen.enabled) and not (chosen.name or chosen.id)


def _named(path: str, list_key: str) -> str | None:
    match = re.search(rf"{list_key}\[([^\]]+)\]", path)
    return match.group(1) if match else None


def _managed_fsx(change: Change, ctx: UpdateContext) -> Verdict:
    kept = _managed_lustre(ctx.old) & _managed_lustre(ctx.new)
    if kept:
        names = ", ".join(sorted(kept))
        return (
            False,
            f"{change.key} cannot change while the managed FSx for Lustre file system(s) {names}"
            " stay configured (the update would replace them and lose their data)",
            f"{_restore(change)}; to move subnets, first detach or replace the managed file system",
        )
    old, new = change.old or [], change.new or []
    if not ctx.fleet_running or ctx.strategy_set or all(s in new for s in old):
        return _OK
    return (
        False,
        "removing subnets needs all compute nodes stopped, or QueueUpdateStrategy set",
        f"{ctx.stop_fleet()}, or set Scheduling/SlurmSettings/QueueUpdateStrategy: DRAIN or TERMINATE",
    )


def _managed_lustre(config: ClusterConfig) -> set[str]:
    return {
        s.name
        for s in config.shared_storage
        if s.storage_type == "FsxLustre"
        and not (s.fsx_lustre_settings and s.fsx_lustre_settings.file_system_id)
    }


def _shared_storage(change: Change, ctx: UpdateContext) -> Verdict:
    item = change.new if change.new is not None else change.old
    if change.is_list_item and isinstance(item, dict) and item.get("MountDir") in ("home", "/home"):
        return (
            False,
            "the /home directory cannot be changed during an update",
            "revert the change to the /home mount",
        )
    live = change.is_list_item and isinstance(item, dict) and _external_live(item)
    if not live and ctx.login_running:
        return False, "all login nodes must be stopped", ctx.stop_login()
    if not live and ctx.fleet_running and not ctx.strategy_set:
        return (
            False,
            "all compute nodes must be stopped, or QueueUpdateStrategy must be set",
            f"{ctx.stop_fleet()}, or set Scheduling/SlurmSettings/QueueUpdateStrategy: DRAIN or TERMINATE",
        )
    return _OK


def _external_live(item: dict[str, Any]) -> bool:
    storage_type = item.get("StorageType")
    settings = item.get(f"{storage_type}Settings") or {}
    external = any(key in settings for key in _EXTERNAL_STORAGE_KEYS)
    return external and storage_type in _LIVE_STORAGE_TYPES


def _compute_and_login_stop(change: Change, ctx: UpdateContext) -> Verdict:
    if ctx.fleet_running:
        return (
            False,
            "all compute and login nodes must be stopped",
            f"{ctx.stop_fleet()}, and {ctx.stop_login()}",
        )
    if ctx.login_running:
        return False, "all login nodes must be stopped", ctx.stop_login()
    return _OK


def _login_stop(change: Change, ctx: UpdateContext) -> Verdict:
    if ctx.login_running:
        return False, "all login nodes must be stopped", ctx.stop_login()
    return _OK


def _login_pool_stop(change: Change, ctx: UpdateContext) -> Verdict:
    pool = _named(change.path, "Pools")
    if pool in ctx.running_pools:
        return (
            False,
            f"the login nodes of pool {pool} must be stopped",
            f"set Count: 0 on login node pool {pool} and run"
            f" `corral update-cluster -n {ctx.cluster_name}` first",
        )
    return _OK


def _login_pools(change: Change, ctx: UpdateContext) -> Verdict:
    if _added(change) or not ctx.login_running:
        return _OK
    return False, "removing a login node pool needs its login nodes stopped", ctx.stop_login()


def _adc(change: Change, ctx: UpdateContext) -> Verdict:
    region = ctx.new.region or ctx.old.region or ""
    if region.startswith("us-iso"):
        return (
            False,
            f"{change.key} cannot change in ADC regions",
            f"restore {change.key} to its previous value",
        )
    return _OK


def _chef_attributes(change: Change, ctx: UpdateContext) -> Verdict:
    changed = _json_diff(_json(change.old), _json(change.new))
    fixed = sorted(p for p in changed if p not in UPDATABLE_CHEF_ATTRIBUTES)
    if not fixed:
        return _OK
    return (
        False,
        f"these ExtraChefAttributes fields cannot be updated: {', '.join(fixed)}",
        "revert those ExtraChefAttributes fields to their previous values",
    )


def _json(text: Any) -> Any:
    try:
        return json.loads(text) if isinstance(text, str) and text else {}
    except ValueError:
        return {}


def _json_diff(old: Any, new: Any, prefix: str = "") -> set[str]:
    """Dotted paths of the leaves that differ between two JSON documents."""
    if isinstance(old, dict) and isinstance(new, dict):
        paths: set[str] = set()
        for key in old.keys() | new.keys():
            paths |= _json_diff(old.get(key), new.get(key), f"{prefix}.{key}" if prefix else str(key))
        return paths
    return set() if old == new else {prefix}


def _read_only_bucket(change: Change, ctx: UpdateContext) -> Verdict:
    return (
        False,
        "CustomS3Bucket is fixed when the cluster is created",
        f"restore CustomS3Bucket to {change.old!r}" if change.old else "remove CustomS3Bucket",
    )


_CHECKS: dict[P, Callable[[Change, UpdateContext], Verdict]] = {
    P.IGNORED: _always,
    P.SUPPORTED: _always,
    P.UNSUPPORTED: _unsupported,
    P.COMPUTE_FLEET_STOP: _fleet_stop,
    P.COMPUTE_FLEET_STOP_ON_REMOVE: _fleet_stop_on_remove,
    P.QUEUE_UPDATE_STRATEGY: _queue_strategy,
    P.RESIZE_UPDATE_STRATEGY_ON_REMOVE: _resize,
    P.MANAGED_PLACEMENT_GROUP: _placement_group,
    P.MANAGED_FSX: _managed_fsx,
    P.SHARED_STORAGE_UPDATE_POLICY: _shared_storage,
    P.COMPUTE_AND_LOGIN_NODES_STOP: _compute_and_login_stop,
    P.LOGIN_NODES_STOP: _login_stop,
    P.LOGIN_NODES_POOL_STOP: _login_pool_stop,
    P.LOGIN_NODES_POOLS_UPDATE_POLICY: _login_pools,
    P.SUPPORTED_UNLESS_ADC: _adc,
    P.READ_ONLY_RESOURCE_BUCKET: _read_only_bucket,
    P.EXTRA_CHEF_ATTRIBUTES: _chef_attributes,
}

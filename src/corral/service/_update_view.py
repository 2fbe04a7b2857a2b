"""An update's change set explained for a person (the web UI's update page): per change, pcluster's
update policy and its verdict with the compute fleet running, and what Corral does with it on this
cluster's provider: apply it live (``corral.plan.live``), need a fleet stop, or never.

The same judgement the update dry run makes (``_update.prepare``: ``diff`` then ``relax``), taken
twice, once as if the fleet were running and once as if it were stopped, so the answer does not
depend on the moment; ``allowedNow`` is the verdict for the fleet as it is."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from corral.config.policies import PolicyClass, UpdatePolicy

if TYPE_CHECKING:
    from corral.plan.changeset import Change, ChangeSet
    from corral.service._service import ClusterService

#: what Corral does with a change, by the fleet state that lets it through
LIVE, FLEET_STOP, NEVER = "live", "fleet stop", "never"


def _judged(old: Any, new: Any, name: str, fleet: str, kinds: frozenset[str], strategy: str) -> ChangeSet:
    from corral.plan import diff
    from corral.plan.live import relax

    return relax(diff(old, new, fleet_status=fleet, cluster_name=name), kinds, strategy)


def _pcluster_verdict(change: Change) -> str:
    """pcluster's verdict with the fleet running (before Corral's live kinds relax it)."""
    if change.policy.policy_class is PolicyClass.NEVER:
        return NEVER
    return LIVE if change.allowed else FLEET_STOP


def _item(pcluster: Change, running: Change, stopped: Change, now: Change) -> dict[str, Any]:
    corral = LIVE if running.allowed else FLEET_STOP if stopped.allowed else NEVER
    blocked = now if not now.allowed else running if not running.allowed else None
    return {
        "parameter": running.parameter,
        "currentValue": "-" if running.old is None else str(running.old),
        "requestedValue": "-" if running.new is None else str(running.new),
        "policy": running.policy.value,
        "policyDescription": running.policy.description,
        "pcluster": _pcluster_verdict(pcluster),
        "corral": corral,
        "allowedNow": now.allowed,
        "reason": running.reason if running.allowed else (blocked.reason if blocked else ""),
        "remedy": blocked.remedy if blocked else "",
    }


def explain_update(service: ClusterService, cluster_name: str, config_path: str | Path) -> dict[str, Any]:
    """``{"fleetStatus", "changes": [...]}`` for the config at ``config_path`` against the applied
    one (``ConfigError`` when it does not validate, ``NotFoundError`` for an unknown cluster)."""
    from corral.config.loader import load_cluster_config_text
    from corral.plan import diff
    from corral.service._validate import check_cluster

    record = service.get(cluster_name)
    provider = service.provider(record.provider)
    checked = check_cluster(
        config_path,
        cluster_name=cluster_name,
        target=provider.traits.validation_target,
        cloud=provider.cloud_findings,
    )
    old = load_cluster_config_text(record.config_text, "applied config").config
    new = checked.config
    kinds = provider.live_update_kinds() if provider.can_update() else frozenset()
    strategy = new.scheduling.slurm_settings.queue_update_strategy
    fleet = record.fleet_status.value
    pcluster = diff(old, new, fleet_status="RUNNING", cluster_name=cluster_name)
    running = _judged(old, new, cluster_name, "RUNNING", kinds, strategy)
    stopped = _judged(old, new, cluster_name, "STOPPED", kinds, strategy)
    now = _judged(old, new, cluster_name, fleet, kinds, strategy)
    changes = [
        _item(*four)
        for four in zip(pcluster.changes, running.changes, stopped.changes, now.changes, strict=True)
        if four[0].policy is not UpdatePolicy.IGNORED
    ]
    return {"fleetStatus": fleet, "canUpdate": provider.can_update(), "changes": changes}


__all__ = ["FLEET_STOP", "LIVE", "NEVER", "explain_update"]

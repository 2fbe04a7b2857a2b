"""``corral repair-state``: rebuild the state database from what the providers find.

A damaged database (truncated, garbage, malformed) is kept aside as ``corral.db.damaged-<UTC time>``
(with its WAL), never deleted. Every cluster a provider finds on its own side (for the local
provider, each cluster directory) that has no record gets one again: the same name and the same
cluster id (so ownership by identity still holds), the config it was created with, and
CREATE_COMPLETE. Clusters that have a record are left as they are. Nothing running is touched.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from corral import PCLUSTER_COMPAT_VERSION, __version__
from corral.errors import CorralError
from corral.providers.base import RecoveredCluster
from corral.service._codec import plan_to_json
from corral.service._events import stack_event_record
from corral.state import ClusterRecord, FleetStatus, StackStatus, StateStore, StateStoreError, header_problem


@dataclass
class RepairReport:
    kept_aside: list[str] = field(default_factory=list)
    rebuilt: list[str] = field(default_factory=list)
    already_recorded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {
            "damagedDatabaseKeptAs": self.kept_aside,
            "rebuiltClusters": self.rebuilt,
            "alreadyRecorded": self.already_recorded,
            "skipped": self.skipped,
        }


def keep_damaged_aside(store: StateStore) -> list[str]:
    """Move a damaged database and its WAL/SHM aside (never delete them); the paths kept."""
    damaged = header_problem(store.path) is not None
    if not damaged:
        try:
            store.names()
        except StateStoreError as exc:
            damaged = exc.cause == "corrupt"
            if not damaged:
                raise  # locked, read-only, full: repairing would not help, the error says what does
    if not damaged:
        return []
    store.close()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    kept = []
    for suffix in ("", "-wal", "-shm"):
        source = Path(f"{store.path}{suffix}")
        if source.exists():
            target = source.with_name(f"{source.name}.damaged-{stamp}")
            source.rename(target)
            kept.append(str(target))
    return kept


def rebuild_record(
    store: StateStore, provider: str, found: RecoveredCluster, config_text: str
) -> ClusterRecord:
    """Insert the record of a cluster found by ``provider``, with its own cluster id."""
    from corral.plan import build_plan
    from corral.service._validate import check_cluster

    with tempfile.TemporaryDirectory(prefix="corral-repair-") as directory:
        path = Path(directory) / "cluster.yaml"
        path.write_text(config_text, encoding="utf-8")
        checked = check_cluster(path, cluster_name=found.name, suppress=("ALL",))
    plan = build_plan(checked.config, cluster_name=found.name)
    now = datetime.now(UTC)
    record = ClusterRecord(
        name=found.name,
        stack_id=f"corral:{provider}:{found.name}/{found.cluster_id}",
        stack_status=StackStatus.CREATE_COMPLETE,
        provider=provider,
        config_text=config_text,
        region=plan.region or provider,
        plan_json=plan_to_json(plan),
        corral_version=__version__,
        pcluster_version=PCLUSTER_COMPAT_VERSION,
        tags=plan.tags,
        created_at=found.created_at,
        updated_at=now,
        fleet_status=FleetStatus.RUNNING if found.head_running else FleetStatus.UNKNOWN,
        fleet_updated_at=now,
    )
    stored = store.insert(record)
    reason = f"record rebuilt by repair-state from {found.location}"
    store.add_event(stack_event_record(stored, StackStatus.CREATE_COMPLETE, reason))
    return stored


def config_for(store: StateStore, found: RecoveredCluster) -> str:
    """The config the cluster was created with: the service's own copy, else the provider's."""
    snapshot = store.state_dir / "configs" / f"{found.name}.yaml"
    try:
        return snapshot.read_text(encoding="utf-8")
    except OSError:
        return found.config_text


def repair(store: StateStore, providers: dict[str, list[RecoveredCluster]]) -> RepairReport:
    """Keep a damaged database aside, then record every found cluster that has no record."""
    report = RepairReport(kept_aside=keep_damaged_aside(store))
    known = set(store.names())
    for provider, clusters in providers.items():
        for found in clusters:
            if found.name in known:
                report.already_recorded.append(found.name)
                continue
            if not found.cluster_id:
                report.skipped.append(f"{found.name}: made before cluster ids; delete it by hand")
                continue
            try:
                rebuild_record(store, provider, found, config_for(store, found))
            except CorralError as exc:
                report.skipped.append(f"{found.name}: {exc.message}")
                continue
            report.rebuilt.append(found.name)
            known.add(found.name)
    return report

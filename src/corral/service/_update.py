"""update-cluster: judge the change set, refuse with pcluster's errors, apply it atomically.

Two halves, as for create and delete. ``prepare`` reads the new config and decides: validation,
the change set (pcluster's update policies, then the changes the provider applies live,
``corral.plan.live``), and the jobs the update would end; any refusal is an error and nothing is
recorded. ``accept`` records UPDATE_IN_PROGRESS with the pending update beside the store
(``<state>/updates/<name>.json``), and ``run`` has the provider converge on the new plan: the
record then takes the new config (UPDATE_COMPLETE), or the provider converges back on the old
plan (UPDATE_ROLLBACK_IN_PROGRESS → UPDATE_ROLLBACK_COMPLETE, or UPDATE_ROLLBACK_FAILED) with the
cause in the failure reason and the stack events. The record keeps the applied config until the
update completes, so an interrupted update (UPDATE_FAILED) is retried against what was applied.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from corral.config.findings import Finding, Level
from corral.errors import BadRequestError, ConflictError, CorralError, UpdateRefusedError
from corral.plan import ChangeSet, ClusterPlan
from corral.plan.live import NodeDelta, node_delta, relax
from corral.providers.base import EventSink, Provider
from corral.runtime.files import write_atomic
from corral.service._codec import plan_from_json, plan_to_json
from corral.service._events import stack_event_record
from corral.service._failures import failure_from
from corral.service._validate import check_cluster
from corral.service._views import DRY_RUN_MESSAGE, cluster_info_summary
from corral.slurm.occupancy import JOBS_ARGV, Job, jobs_in_the_way, parse_occupancy
from corral.state import ClusterRecord, ProcessIdentity, StackEventRecord, StackStatus, StateStore

JSON = dict[str, Any]
NO_CHANGES = "No changes found in your cluster configuration."
UPDATE_FAILURE = "Update failure"
FAILURE_CODE = "ClusterUpdateFailure"

#: Statuses from which an update may start (the lifecycle table has the edges).
UPDATABLE = frozenset(
    {
        StackStatus.CREATE_COMPLETE,
        StackStatus.UPDATE_COMPLETE,
        StackStatus.UPDATE_ROLLBACK_COMPLETE,
        StackStatus.UPDATE_FAILED,
        StackStatus.UPDATE_ROLLBACK_FAILED,
    }
)


@dataclass(frozen=True)
class UpdateRequest:
    """A judged update that may go ahead."""

    record: ClusterRecord
    old: ClusterPlan
    new: ClusterPlan
    changes: ChangeSet
    findings: tuple[Finding, ...]
    config_text: str
    config_path: str
    forced: tuple[str, ...] = ()  # parameters of blocked changes applied because of --force-update


@dataclass(frozen=True)
class UpdateAccepted:
    """``UpdateClusterResponseContent``; with ``dry_run``, ``DryrunOperationExceptionResponseContent``."""

    record: ClusterRecord
    changes: ChangeSet
    validation_messages: tuple[Finding, ...] = ()
    dry_run: bool = False

    def to_json(self) -> JSON:
        out: JSON = (
            {"message": DRY_RUN_MESSAGE} if self.dry_run else {"cluster": cluster_info_summary(self.record)}
        )
        if self.validation_messages:
            out["validationMessages"] = [f.to_validation_message() for f in self.validation_messages]
        out["changeSet"] = self.changes.to_change_set()
        return out

    def rows(self) -> list[tuple[str, str, str, str]]:
        """(parameter, current, requested, how) for a readable diff (``--output table``)."""
        return [
            (c.parameter, _show(c.old), _show(c.new), c.reason or c.policy.description)
            for c in self.changes
            if c.policy.value != "IGNORED"
        ]


def _show(value: Any) -> str:
    if value is None:
        return "-"
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def check_status(record: ClusterRecord) -> None:
    """``ConflictError`` unless the cluster is in a status an update may start from."""
    if record.stack_status in UPDATABLE:
        return
    if "IN_PROGRESS" in record.stack_status.value:  # pcluster's own words
        raise ConflictError(
            f"Cannot execute update while stack is in {record.stack_status} status.",
            hint=f"wait until `corral describe-cluster -n {record.name}` shows the operation has ended",
        )
    raise ConflictError(
        f"Cluster '{record.name}' is in {record.stack_status}; it cannot be updated",
        hint="wait for the operation in progress to end (`corral describe-cluster -n "
        f"{record.name}`), or delete and re-create a cluster whose creation failed",
    )


def prepare(
    record: ClusterRecord,
    provider: Provider,
    config_path: str | Path,
    *,
    suppress: Sequence[str] = (),
    failure_level: Level = Level.ERROR,
    force: bool = False,
) -> UpdateRequest:
    """Validate the new config and judge the change set for ``record``; raise the refusal (config
    errors, no changes, blocked changes, jobs in the way) without recording anything."""
    from corral.config.loader import load_cluster_config_text
    from corral.plan import build_plan, diff

    check_status(record)
    if not provider.can_update():
        raise ConflictError(
            f"update-cluster is not implemented yet for the {record.provider} provider",
            hint="delete the cluster and create it again with the new config",
        )
    checked = check_cluster(
        config_path,
        cluster_name=record.name,
        suppress=suppress,
        failure_level=failure_level,
        target=provider.traits.validation_target,
        cloud=provider.cloud_findings,
    )
    old_config = load_cluster_config_text(record.config_text, "applied config").config
    new_config = checked.config
    changes = diff(old_config, new_config, fleet_status=record.fleet_status.value, cluster_name=record.name)
    changes = relax(
        changes, provider.live_update_kinds(), new_config.scheduling.slurm_settings.queue_update_strategy
    )
    if not changes.to_change_set():
        raise BadRequestError(NO_CHANGES, hint="edit the config file, then run update-cluster again")
    forced: tuple[str, ...] = ()
    if not changes.allowed:
        if not force:
            raise UpdateRefusedError(
                UPDATE_FAILURE,
                hint=_refusal_hint(changes, record.name),
                update_errors=tuple(changes.to_update_errors()),
                change_set=tuple(changes.to_change_set()),
            )
        forced = tuple(c.parameter for c in changes.blocked)
    _refuse_not_implemented(changes, provider, record.name)
    expires = _expires_at(record.plan_json)  # no config says it (corral run's time-to-live)
    old_plan = replace(build_plan(old_config, cluster_name=record.name), expires_at=expires)  # no codec cost
    new_plan = replace(build_plan(new_config, cluster_name=record.name), expires_at=expires)
    return UpdateRequest(
        record=record,
        old=old_plan,
        new=new_plan,
        changes=changes,
        findings=checked.findings,
        config_text=Path(config_path).read_text(encoding="utf-8"),
        config_path=str(Path(config_path).resolve()),
        forced=forced,
    )


def _refuse_not_implemented(changes: ChangeSet, provider: Provider, name: str) -> None:
    """A change pcluster's policy allows but this provider cannot apply yet: said, never ignored."""
    for pattern, reason in provider.traits.update_not_implemented:
        found = sorted({c.path for c in changes.changes if re.search(pattern, c.path)})
        if found:
            raise ConflictError(
                f"update-cluster cannot apply {', '.join(found)} yet: {reason}",
                hint=f"delete cluster {name} and create it with the new config (an accounting database"
                " and its records outlive the cluster)",
            )


def _refusal_hint(changes: ChangeSet, name: str) -> str:
    unsupported = [
        c for c in changes.blocked if c.policy.value in ("UNSUPPORTED", "READ_ONLY_RESOURCE_BUCKET")
    ]
    if len(unsupported) >= 3 and len(unsupported) * 2 >= len(changes.to_change_set()):
        return (
            f"most changes can never be applied to a cluster: is this the config of another cluster? "
            f"`corral describe-cluster -n {name}` links the config {name} runs"
        )
    return "follow the message of each updateValidationError, or pass --force-update true to apply anyway"


def check_jobs(request: UpdateRequest, provider: Provider) -> NodeDelta:
    """Refuse (``UpdateRefusedError`` naming the job ids) an update that would remove nodes or
    queues holding jobs, unless QueueUpdateStrategy is TERMINATE (their jobs are requeued)."""
    delta = node_delta(request.old, request.new)
    strategy = request.new.slurm.queue_update_strategy
    if strategy == "TERMINATE" or not (delta.removed or delta.removed_queues):
        return delta
    result = provider.run_on_head(request.record.name, list(JOBS_ARGV), timeout=30)
    if result.returncode != 0:
        raise ConflictError(
            f"cannot list the jobs of cluster {request.record.name!r}: {result.stderr.strip()}",
            hint="the update removes nodes, so Corral must see their jobs first; check the head node",
        )
    jobs = jobs_in_the_way(parse_occupancy(result.stdout), delta.removed, delta.removed_queues)
    if jobs:
        raise UpdateRefusedError(
            UPDATE_FAILURE,
            hint="wait for the jobs to end or cancel them (scancel), or set "
            "Scheduling/SlurmSettings/QueueUpdateStrategy: TERMINATE to requeue them",
            update_errors=tuple(_job_errors(request, jobs, delta)),
            change_set=tuple(request.changes.to_change_set()),
        )
    return delta


def _job_errors(request: UpdateRequest, jobs: list[Job], delta: NodeDelta) -> list[JSON]:
    errors = []
    for queue in sorted(
        {n.queue for n in request.old.nodes if n.name in delta.removed} | set(delta.removed_queues)
    ):
        mine = [
            j
            for j in jobs
            if queue in j.partitions
            or any(request.old.node(n).queue == queue for n in j.nodes if n in delta.removed)
        ]
        if not mine:
            continue
        ids = ", ".join(j.job_id for j in mine)
        what = "is removed" if queue in delta.removed_queues else "loses nodes"
        errors.append(
            {
                "parameter": f"Scheduling.SlurmQueues[{queue}]",
                "currentValue": "-",
                "requestedValue": "-",
                "message": f"Queue {queue} {what} but has jobs running or queued on what goes: {ids}. Wait"
                f" for them to end, cancel them (scancel {ids.replace(',', '')}), or set"
                " Scheduling/SlurmSettings/QueueUpdateStrategy: TERMINATE to requeue them",
            }
        )
    return errors


# -- the pending update, beside the store ---------------------------------------------------------


def pending_path(store: StateStore, name: str) -> Path:
    return store.state_dir / "updates" / f"{name}.json"


def write_pending(store: StateStore, request: UpdateRequest) -> None:
    path = pending_path(store, request.record.name)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    doc = {
        "old_plan": request.record.plan_json,
        "new_plan": plan_to_json(request.new),
        "config_text": request.config_text,
        "config_path": request.config_path,
        "forced": list(request.forced),
    }
    write_atomic(path, json.dumps(doc))


def read_pending(store: StateStore, name: str) -> JSON:
    path = pending_path(store, name)
    try:
        doc: JSON = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConflictError(
            f"cluster {name!r} has no readable pending update at {path}: {exc}",
            hint=f"run `corral update-cluster -n {name} -c FILE` again",
        ) from None
    return doc


# -- the worker's half ------------------------------------------------------------------------------

Save = Callable[[ClusterRecord, ClusterRecord], ClusterRecord]
Notify = Callable[[StackEventRecord], None]


@dataclass(frozen=True)
class UpdateRun:
    """What the worker needs: the store, the provider, and a factory of event sinks."""

    store: StateStore
    provider: Provider
    sink: Callable[[ClusterRecord, StackStatus], EventSink]
    notify: Callable[[ClusterRecord], None]

    def run(self, name: str) -> ClusterRecord:
        record = self.store.get(name)
        if record.stack_status is not StackStatus.UPDATE_IN_PROGRESS:
            raise ConflictError(f"cluster {name!r} is {record.stack_status}, not UPDATE_IN_PROGRESS")
        pending = read_pending(self.store, name)
        expires = _expires_at(pending["old_plan"])
        old = replace(_planned(record.config_text, name, pending["old_plan"]), expires_at=expires)
        new = replace(_planned(pending["config_text"], name, pending["new_plan"]), expires_at=expires)
        try:
            self.provider.update(old, new, on_event=self.sink(record, StackStatus.UPDATE_IN_PROGRESS))
        except CorralError as exc:
            return self._roll_back(name, old, new, exc)
        except BaseException as exc:
            self._roll_back(name, old, new, exc)
            raise
        return self._complete(name, pending, new)

    def _complete(self, name: str, pending: JSON, new: ClusterPlan) -> ClusterRecord:
        current = self.store.get(name)
        done = self.store.save(
            current,
            replace(
                current,
                stack_status=StackStatus.UPDATE_COMPLETE,
                config_text=pending["config_text"],
                config_path=pending["config_path"],
                plan_json=pending["new_plan"],
                tags=new.tags,
                owner=None,
            ),
        )
        forced = pending.get("forced") or []
        reason = f"forced past pcluster's update policies: {', '.join(forced)}" if forced else ""
        self.store.add_event(stack_event_record(done, StackStatus.UPDATE_COMPLETE, reason))
        pending_path(self.store, name).unlink(missing_ok=True)
        self.notify(done)
        return done

    def _roll_back(self, name: str, old: ClusterPlan, new: ClusterPlan, exc: BaseException) -> ClusterRecord:
        _, reason = failure_from(exc)
        reason = reason.replace("create was interrupted", "update was interrupted")
        current = self.store.get(name)
        rolling = self.store.save(
            current,
            replace(
                current,
                stack_status=StackStatus.UPDATE_ROLLBACK_IN_PROGRESS,
                failure_code=FAILURE_CODE,
                failure_reason=reason,
            ),
        )
        self.store.add_event(
            stack_event_record(
                rolling,
                StackStatus.UPDATE_ROLLBACK_IN_PROGRESS,
                f"The following resource(s) failed to update: {reason}",
            )
        )
        self.notify(rolling)
        status, extra = StackStatus.UPDATE_ROLLBACK_COMPLETE, ""
        try:
            self.provider.update(
                new, old, on_event=self.sink(rolling, StackStatus.UPDATE_ROLLBACK_IN_PROGRESS), rollback=True
            )
        except Exception as cleanup:
            status, extra = StackStatus.UPDATE_ROLLBACK_FAILED, f"rollback failed: {failure_from(cleanup)[1]}"
        current = self.store.get(name)
        done = self.store.save(
            current,
            replace(
                current,
                stack_status=status,
                owner=None,
                failure_reason=current.failure_reason + (f"; {extra}" if extra else ""),
            ),
        )
        self.store.add_event(stack_event_record(done, status, extra))
        pending_path(self.store, name).unlink(missing_ok=True)
        self.notify(done)
        return done


def _expires_at(stored: str) -> str | None:
    """What an update keeps from the stored plan because no config sets it: the time-to-live
    ``expires_at`` (``corral run --ttl``), read from the JSON without decoding the plan."""
    try:
        value = json.loads(stored).get("expires_at")
    except (ValueError, AttributeError):
        value = None
    return value if isinstance(value, str) else None


def _planned(config_text: str, name: str, stored: str) -> ClusterPlan:
    """The plan of ``config_text`` with its validated config attached (providers render files from
    it, e.g. the cluster-config.yaml every node gets): built again, which is deterministic and much
    cheaper than decoding the stored JSON; the stored plan when the text no longer loads."""
    from corral.config.loader import load_cluster_config_text
    from corral.plan import build_plan

    try:
        config = load_cluster_config_text(config_text, "cluster config").config
    except CorralError:
        return plan_from_json(stored)
    return build_plan(config, cluster_name=name)


def accept(store: StateStore, request: UpdateRequest) -> ClusterRecord:
    """Record UPDATE_IN_PROGRESS owned by this process, then the pending update. The status is
    written first: of concurrent updates, creates and deletes one wins the versioned write and the
    others get ``ConflictError`` before their pending update could overwrite the winner's."""
    record = request.record
    updating = store.save(
        record,
        replace(
            record,
            stack_status=StackStatus.UPDATE_IN_PROGRESS,
            owner=ProcessIdentity.current(),
            failure_code="",
            failure_reason="",
        ),
    )
    write_pending(store, request)
    store.add_event(stack_event_record(updating, StackStatus.UPDATE_IN_PROGRESS, "User Initiated"))
    return updating


__all__ = [
    "FAILURE_CODE",
    "NO_CHANGES",
    "UPDATABLE",
    "UPDATE_FAILURE",
    "UpdateAccepted",
    "UpdateRequest",
    "UpdateRun",
    "accept",
    "check_jobs",
    "check_status",
    "pending_path",
    "prepare",
]

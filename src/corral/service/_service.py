"""ClusterService: the one place that runs a cluster's lifecycle, for the CLI, the API and the web UI.

It validates, records every status change and event in the state store, and drives a ``Provider``
(never a concrete one: providers come from the ``provider_factory`` it is given). Long operations
come in two halves: ``create``/``delete`` check and record the request and return at once; the
``run_create``/``run_delete`` half does the work, in this process (``--wait``) or in a detached
worker. Whoever does the work is recorded as the cluster's owner (pid + start time), so a status
left in progress by a dead process is reported as interrupted, never as still running.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from corral import PCLUSTER_COMPAT_VERSION, __version__
from corral.config.findings import Level
from corral.errors import ConflictError, CorralError, NotFoundError, Terminated
from corral.providers.base import Instance, InstanceState, NodeRole, Provider
from corral.service import _identity
from corral.service._access_verbs import AccessVerbs
from corral.service._codec import plan_from_json
from corral.service._create_verbs import CreateVerbs
from corral.service._events import NODE_RESOURCE_TYPE, stack_event_record
from corral.service._failures import failure_from
from corral.service._fleet_verbs import FleetVerbs
from corral.service._image_verbs import ImageVerbs
from corral.service._log_verbs import LogVerbs
from corral.service._ownership import request_stop, set_owner, settle, take_stop_reason
from corral.service._repair import RepairReport, repair
from corral.service._views import (
    ClusterDescription,
    ClusterList,
    DeleteAccepted,
    StackEvents,
)
from corral.state import (
    IN_PROGRESS,
    WORKING,
    ClusterRecord,
    FleetStatus,
    ProcessIdentity,
    StackEventRecord,
    StackStatus,
    StaleWriteError,
    StateStore,
    utc_now,
)

if TYPE_CHECKING:
    from corral.service._update import UpdateAccepted

ProviderFactory = Callable[[str], Provider]
EventCallback = Callable[[StackEventRecord], None]


class ClusterService(CreateVerbs, LogVerbs, FleetVerbs, AccessVerbs, ImageVerbs):
    """Create, delete, describe and operate clusters; every change is recorded in ``store``."""

    def __init__(self, store: StateStore, provider_factory: ProviderFactory) -> None:
        self.store = store
        self._provider_factory = provider_factory
        self._providers: dict[str, Provider] = {}

    def provider(self, name: str) -> Provider:
        if name not in self._providers:
            self._providers[name] = self._provider_factory(name)
        return self._providers[name]

    # -- create (the request half is ``CreateVerbs``) ---------------------------------------

    def hand_over(self, cluster_name: str, worker: ProcessIdentity | int) -> ClusterRecord:
        """Make ``worker`` (a detached process about to run ``run_create``/``run_delete``, or its
        pid) the owner."""
        identity = worker if isinstance(worker, ProcessIdentity) else ProcessIdentity.of(worker)
        return self._set_owner(cluster_name, identity)

    def run_create(self, cluster_name: str, *, on_event: EventCallback | None = None) -> ClusterRecord:
        """Build the recorded plan with the provider. Ends CREATE_COMPLETE; or, on failure,
        ROLLBACK_COMPLETE/ROLLBACK_FAILED (rollback on) or CREATE_FAILED (rollback off). Returns the
        final record; re-raises anything that is not a ``CorralError`` after recording it."""
        record = self._set_owner(cluster_name, ProcessIdentity.current())
        if record.stack_status is not StackStatus.CREATE_IN_PROGRESS:
            raise ConflictError(f"cluster {cluster_name!r} is {record.stack_status}, not CREATE_IN_PROGRESS")
        prov = self.provider(record.provider)
        sink = self._sink(record, StackStatus.CREATE_IN_PROGRESS, on_event)
        try:
            head = _identity.create(prov, plan_from_json(record.plan_json), record, sink)
        except CorralError as exc:
            return self._fail_create(cluster_name, exc, on_event, record)
        except BaseException as exc:
            self._fail_create(cluster_name, exc, on_event, record)
            raise
        try:  # a store that cannot record the success (a full disk) fails the create: nothing is left
            current = self.store.get(cluster_name)
            done = self.store.save(
                current,
                replace(
                    current,
                    stack_status=StackStatus.CREATE_COMPLETE,
                    fleet_status=FleetStatus.RUNNING,
                    fleet_updated_at=utc_now(),
                    owner=None,
                ),
            )
            self._stack_event(
                done, StackStatus.CREATE_COMPLETE, f"head node {head.instance_id} at {head.private_ip}"
            )
        except CorralError as exc:
            return self._fail_create(cluster_name, exc, on_event, record)
        self._notify(on_event, done)
        return done

    def _fail_create(
        self, name: str, exc: BaseException, on_event: EventCallback | None, known: ClusterRecord
    ) -> ClusterRecord:
        code, reason = failure_from(exc)
        interrupted = isinstance(exc, KeyboardInterrupt | Terminated)
        stopped = take_stop_reason(self.store, name) if interrupted else None
        reason = stopped or reason
        try:
            current = self.store.get(name)
        except CorralError:
            # The store cannot be read (a full disk): still take down what this create made.
            _identity.delete(self.provider(known.provider), known, retain_storage=True)
            raise
        if not current.rollback_on_failure:
            failed = self.store.save(
                current,
                replace(
                    current,
                    stack_status=StackStatus.CREATE_FAILED,
                    failure_code=code,
                    failure_reason=reason,
                    owner=None,
                ),
            )
            self._stack_event(failed, StackStatus.CREATE_FAILED, reason)
            self._notify(on_event, failed)
            return failed
        try:
            rolling = self.store.save(
                current,
                replace(
                    current,
                    stack_status=StackStatus.ROLLBACK_IN_PROGRESS,
                    failure_code=code,
                    failure_reason=reason,
                ),
            )
            self._stack_event(
                rolling, StackStatus.ROLLBACK_IN_PROGRESS, f"The following resource(s) failed: {reason}"
            )
        except CorralError:
            # The store cannot record it (a full disk): still take down what this create made; the
            # record settles to CREATE_FAILED once this process is gone, and the error says why.
            _identity.delete(self.provider(current.provider), current, retain_storage=True)
            raise
        self._notify(on_event, rolling)
        try:
            _identity.delete(self.provider(rolling.provider), rolling, retain_storage=True)
        except Exception as cleanup:
            return self._finish(rolling, StackStatus.ROLLBACK_FAILED, f"rollback failed: {cleanup}", on_event)
        return self._finish(rolling, StackStatus.ROLLBACK_COMPLETE, "", on_event)

    def _finish(
        self, record: ClusterRecord, status: StackStatus, reason: str, on_event: EventCallback | None
    ) -> ClusterRecord:
        current = self.store.get(record.name)
        extra = f"; {reason}" if reason else ""
        done = self.store.save(
            current,
            replace(current, stack_status=status, owner=None, failure_reason=current.failure_reason + extra),
        )
        self._stack_event(done, status, reason)
        self._notify(on_event, done)
        return done

    # -- repair -----------------------------------------------------------------------------

    def repair_state(self) -> RepairReport:
        """``corral repair-state`` (see ``_repair``): keep a damaged database aside and rebuild the
        records of the clusters the providers still find. Touches no cluster."""
        from corral.providers import PROVIDERS

        found = {}
        for name in PROVIDERS:
            try:
                found[name] = self.provider(name).recoverable_clusters()
            except CorralError:
                continue  # a provider that cannot run here has nothing of ours to find
        return repair(self.store, found)

    # -- delete -----------------------------------------------------------------------------

    def delete(self, cluster_name: str) -> DeleteAccepted:
        """Record DELETE_IN_PROGRESS owned by this process. A create still running in another process
        is stopped first (that exact process, by pid and start time). Idempotent while deleting."""
        record = self._settle(self.store.get(cluster_name))  # no restore: it is going away
        if record.stack_status is StackStatus.DELETE_IN_PROGRESS:
            return DeleteAccepted(record)
        # A machine that cannot run the provider (not root, ...) must not mark the cluster DELETE_FAILED.
        self.provider(record.provider).check_prerequisites()
        if record.stack_status in IN_PROGRESS and record.owner is not None and record.owner.is_alive():
            verb = record.stack_status.value.split("_")[0].lower()
            why = f"{verb} stopped by delete-cluster (pid {os.getpid()})"
            request_stop(self.store, cluster_name, record.owner, why)
        for _ in range(5):
            # a stopped creator/rollback leaves an in-progress status: settle it to its failed form first
            current = self._settle(self.store.get(cluster_name))
            try:
                deleting = self.store.save(
                    current,
                    replace(
                        current, stack_status=StackStatus.DELETE_IN_PROGRESS, owner=ProcessIdentity.current()
                    ),
                )
                break
            except StaleWriteError:
                continue
        else:  # pragma: no cover - five lost races in a row
            raise ConflictError(f"cluster {cluster_name!r} keeps changing", hint="retry the delete")
        self._stack_event(deleting, StackStatus.DELETE_IN_PROGRESS, "User Initiated")
        return DeleteAccepted(deleting)

    def run_delete(self, cluster_name: str, *, on_event: EventCallback | None = None) -> ClusterRecord | None:
        """Remove the cluster's infrastructure, then its record. Returns None when it is gone, or the
        DELETE_FAILED record (with the reason) when the provider could not remove everything."""
        try:
            if self._wait_for_other_delete(cluster_name):
                return None  # the delete that was already running removed it
            record = self._set_owner(cluster_name, ProcessIdentity.current())
        except NotFoundError:
            return None  # removed by a concurrent delete between the two reads
        if record.stack_status is not StackStatus.DELETE_IN_PROGRESS:
            raise ConflictError(f"cluster {cluster_name!r} is {record.stack_status}, not DELETE_IN_PROGRESS")
        prov = self.provider(record.provider)
        try:
            _identity.delete(prov, record, retain_storage=True)
            if _identity.exists(prov, record):
                raise ConflictError(f"resources of cluster {cluster_name!r} are still present after delete")
        except CorralError as exc:
            return self._finish(record, StackStatus.DELETE_FAILED, failure_from(exc)[1], on_event)
        except BaseException as exc:
            self._finish(record, StackStatus.DELETE_FAILED, failure_from(exc)[1], on_event)
            raise
        current = self.store.get(cluster_name)
        self._stack_event(current, StackStatus.DELETE_COMPLETE, "")
        if on_event is not None:
            on_event(stack_event_record(current, StackStatus.DELETE_COMPLETE, ""))
        self.store.remove(current)
        self._config_snapshot(current).unlink(missing_ok=True)
        return None

    # -- update (the judging and applying live in ``_update``) -------------------------------

    def update(
        self,
        cluster_name: str,
        config_path: str | Path,
        *,
        dry_run: bool = False,
        force: bool = False,
        suppress: Sequence[str] = (),
        failure_level: Level = Level.ERROR,
    ) -> UpdateAccepted:
        """Judge the new config against the applied one; with ``dry_run`` only report the change
        set; else record UPDATE_IN_PROGRESS owned by this process (``run_update`` applies it).
        Refusals raise: ``NotFoundError``, ``ConfigError``, ``BadRequestError`` (no changes),
        ``UpdateRefusedError`` (blocked changes, jobs in the way), ``ConflictError`` (another
        operation in progress, or a provider that cannot update)."""
        from corral.service import _update

        record = self.get(cluster_name)
        prov = self.provider(record.provider)
        request = _update.prepare(
            record, prov, config_path, suppress=suppress, failure_level=failure_level, force=force
        )
        _update.check_jobs(request, prov)
        if dry_run:
            return _update.UpdateAccepted(record, request.changes, request.findings, dry_run=True)
        updating = _update.accept(self.store, request)
        return _update.UpdateAccepted(updating, request.changes, request.findings)

    def run_update(self, cluster_name: str, *, on_event: EventCallback | None = None) -> ClusterRecord:
        """Apply the recorded update: UPDATE_COMPLETE, or rolled back (UPDATE_ROLLBACK_COMPLETE /
        UPDATE_ROLLBACK_FAILED) with the cause in the failure reason and the events."""
        from corral.service import _update

        record = self._set_owner(cluster_name, ProcessIdentity.current())
        run = _update.UpdateRun(
            self.store,
            self.provider(record.provider),
            lambda r, status: self._sink(r, status, on_event),
            lambda r: self._notify(on_event, r),
        )
        done = run.run(cluster_name)
        if done.stack_status is StackStatus.UPDATE_COMPLETE:
            self._write_config_snapshot(done)
        return done

    def _wait_for_other_delete(self, cluster_name: str) -> bool:
        """While another living process runs this cluster's delete, wait for it instead of racing
        it. True when it removed the cluster; False when it is ours to do (again)."""
        me = ProcessIdentity.current()
        while True:
            record = self.store.find(cluster_name)
            if record is None:
                return True
            owner = record.owner
            running = owner is not None and owner != me and owner.is_alive()
            if record.stack_status is not StackStatus.DELETE_IN_PROGRESS or not running:
                if record.stack_status is StackStatus.DELETE_FAILED:
                    self.delete(cluster_name)  # it failed: this delete tries again
                return False
            time.sleep(0.2)

    # -- reads ------------------------------------------------------------------------------

    def get(self, cluster_name: str) -> ClusterRecord:
        """The cluster's record, with an in-progress status whose process died settled first, and
        the cluster restored first if its machine restarted since (``Provider.restore``)."""
        return self._restore(self._settle(self.store.get(cluster_name)))

    def _restore(self, record: ClusterRecord) -> ClusterRecord:
        self._restore_cluster(record)
        return record

    def _restore_cluster(self, record: ClusterRecord) -> bool:
        """Restore a working cluster whose host restarted; a failure is an event, not an error (the
        command goes on, and describe-cluster shows the head node stopped)."""
        if record.stack_status not in WORKING or (record.owner and record.owner.is_alive()):
            return False
        plan, cluster_id = plan_from_json(record.plan_json), _identity.cluster_id(record)
        try:
            restored = self.provider(record.provider).restore(plan, cluster_id=cluster_id)
        except CorralError as exc:
            self._stack_event(record, record.stack_status, f"restore after a restart failed: {exc.message}")
            return False
        if restored:
            self._stack_event(record, record.stack_status, "restored after the host restarted")
        return restored

    def restore_all(self) -> list[str]:
        """Restore every cluster whose host restarted (the boot-time service runs this)."""
        return [r.name for r in self.store.all() if self._restore_cluster(self._settle(r))]

    def describe(self, cluster_name: str) -> ClusterDescription:
        record = self.get(cluster_name)
        head = None
        if record.stack_status not in (StackStatus.ROLLBACK_COMPLETE, StackStatus.DELETE_IN_PROGRESS):
            head = next((i for i in self._instances(record) if i.role is NodeRole.HEAD), None)
        down = record.stack_status in WORKING and (head is None or head.state is not InstanceState.RUNNING)
        pools = self.provider(record.provider).login_pools(cluster_name) if head is not None else []
        return ClusterDescription(
            record, head, self._config_snapshot(record).as_uri(), fleet_unknown=down, login_pools=tuple(pools)
        )

    def _head_down(self, record: ClusterRecord) -> str | None:
        """Why the head node of a working cluster is not running (None while it runs)."""
        if record.stack_status not in WORKING:
            return None
        head = next((i for i in self._instances(record) if i.role is NodeRole.HEAD), None)
        if head is None:
            return "gone"
        return None if head.state is InstanceState.RUNNING else head.state.value

    def list_clusters(self, statuses: Sequence[str] = ()) -> ClusterList:
        """Every cluster, optionally only those whose ``clusterStatus`` is in ``statuses``."""
        records = [self._restore(self._settle(r)) for r in self.store.all()]
        wanted = set(statuses)
        return ClusterList(tuple(r for r in records if not wanted or r.cluster_status in wanted))

    def stack_events(self, cluster_name: str) -> StackEvents:
        record = self.get(cluster_name)
        return StackEvents(tuple(self.store.events(record.stack_id)))

    def events_after(self, cluster_name: str, after_id: int) -> list[StackEventRecord]:
        """Events newer than ``after_id``, oldest first (for following a cluster live)."""
        record = self.store.find(cluster_name)
        return [] if record is None else self.store.events(record.stack_id, after_id=after_id)

    def version(self) -> dict[str, str]:
        return version_info()

    def databases(self, provider: str) -> dict[str, object]:
        """The provider's accounting database stand-ins (``Database/Uri``), which outlive clusters."""
        return {"databases": [d.to_json() for d in self.provider(provider).databases()]}

    def delete_database(self, uri: str, *, provider: str, force: bool = False) -> dict[str, object]:
        deleted = self.provider(provider).delete_database(uri, force=force)
        return {"message": f"Deleted the database stand-in for {deleted.uri}.", "database": deleted.to_json()}

    # -- internals --------------------------------------------------------------------------

    def _instances(self, record: ClusterRecord) -> list[Instance]:
        try:
            return list(self.provider(record.provider).instances(record.name))
        except CorralError:
            return []

    def _settle(self, record: ClusterRecord) -> ClusterRecord:
        """An in-progress status whose owner is gone follows the provider's own stack when it has
        one (``Provider.stack_status``), else becomes the matching failed status."""
        reader = None
        if record.stack_status in IN_PROGRESS and not (record.owner and record.owner.is_alive()):
            reader = self.provider(record.provider).stack_status
        return settle(self.store, record, stack_status=reader)

    def _set_owner(self, name: str, owner: ProcessIdentity) -> ClusterRecord:
        return set_owner(self.store, name, owner)

    def _sink(
        self, record: ClusterRecord, status: StackStatus, on_event: EventCallback | None
    ) -> Callable[[str, str], None]:
        def sink(resource: str, message: str) -> None:
            event = self.store.add_event(
                StackEventRecord(
                    stack_id=record.stack_id,
                    cluster_name=record.name,
                    timestamp=utc_now(),
                    logical_resource_id=resource,
                    physical_resource_id=resource,
                    resource_type=NODE_RESOURCE_TYPE,
                    resource_status=status.value,
                    reason=message,
                )
            )
            if on_event is not None:
                on_event(event)

        return sink

    def _stack_event(self, record: ClusterRecord, status: StackStatus, reason: str) -> StackEventRecord:
        return self.store.add_event(stack_event_record(record, status, reason))

    def _notify(self, on_event: EventCallback | None, record: ClusterRecord) -> None:
        if on_event is None:
            return
        events = self.store.events(record.stack_id)
        if events:
            on_event(events[-1])

    def _config_snapshot(self, record: ClusterRecord) -> Path:
        return self.store.state_dir / "configs" / f"{record.name}.yaml"

    def _write_config_snapshot(self, record: ClusterRecord) -> None:
        path = self._config_snapshot(record)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.write_text(record.config_text, encoding="utf-8")


def version_info() -> dict[str, str]:
    """``corral version``: pcluster's ``{"version": ...}`` (the release Corral follows), plus Corral's own."""
    return {"version": PCLUSTER_COMPAT_VERSION, "corralVersion": __version__}


__all__ = ["ClusterService", "EventCallback", "ProviderFactory", "version_info"]

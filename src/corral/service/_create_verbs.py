"""The request half of create-cluster: validate (once, reading the file once), check the
provider's prerequisites, plan and record CREATE_IN_PROGRESS; and the dry run. ``ClusterService``
inherits it; the work half (``run_create``) stays in the service."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from corral import PCLUSTER_COMPAT_VERSION, __version__
from corral.config.findings import Finding, Level
from corral.errors import ConflictError
from corral.plan import ClusterPlan
from corral.providers.base import Provider
from corral.service._codec import plan_to_json
from corral.service._validate import CheckedConfig, check_cluster, check_name, read_config
from corral.service._views import CreateAccepted, DryRunResult
from corral.state import ClusterRecord, ProcessIdentity, StackStatus, duplicate_cluster, utc_now

if TYPE_CHECKING:
    from corral.state import StackEventRecord, StateStore


class CreateVerbs:
    """create / dry run / create_planned of ``ClusterService`` (which provides ``store``,
    ``provider``, ``_write_config_snapshot`` and ``_stack_event``)."""

    if TYPE_CHECKING:
        store: StateStore

        def provider(self, name: str) -> Provider: ...

        def _write_config_snapshot(self, record: ClusterRecord) -> None: ...

        def _stack_event(
            self, record: ClusterRecord, status: StackStatus, reason: str
        ) -> StackEventRecord: ...

    def create(
        self,
        cluster_name: str,
        config_path: str | Path,
        *,
        provider: str,
        rollback_on_failure: bool = True,
        suppress: Sequence[str] = (),
        failure_level: Level = Level.ERROR,
        expires_at: str | None = None,
        region: str | None = None,
    ) -> CreateAccepted:
        """Validate, check the provider's prerequisites, plan, and record CREATE_IN_PROGRESS owned by
        this process. ``ConfigError`` for a bad config, ``ConflictError`` for a taken name,
        ``PrerequisiteError`` for a machine that cannot run the provider. Nothing is built yet.
        The provider's ``cloud_findings`` (aws: its cloud validators) are gated with the rest.
        ``expires_at`` (ISO 8601): the cluster deletes itself then (``corral run --ttl``).
        ``region`` (``-r``) must agree with the config's ``Region`` and is the cluster's when the
        config names none (``BadRequestError`` otherwise, as pcluster)."""
        source = read_config(config_path)  # the one read of the file
        region = _create_region(source, region)
        checked = self._check(config_path, cluster_name, provider, suppress, failure_level, source)
        self.provider(provider).check_prerequisites()
        if self.store.find(cluster_name) is not None:
            raise duplicate_cluster(cluster_name)
        if self.provider(provider).exists(cluster_name):
            raise ConflictError(
                f"a {provider} cluster named {cluster_name!r} already exists, but the state store has no"
                " record of it",
                hint="if it belongs to this state directory, `corral repair-state` rebuilds its record;"
                " otherwise it runs from another CORRAL_STATE_DIR: choose another name",
            )
        from corral.plan import build_plan

        plan = build_plan(checked.config, cluster_name=cluster_name)
        return self._record_create(
            replace(plan, expires_at=expires_at, region=plan.region or region),
            provider=provider,
            config_text=(source or Path(config_path).read_bytes()).decode("utf-8"),
            config_path=str(Path(config_path).resolve()),
            rollback_on_failure=rollback_on_failure,
            findings=checked.findings,
        )

    def dry_run_create(
        self,
        config_path: str | Path,
        *,
        cluster_name: str,
        provider: str,
        suppress: Sequence[str] = (),
        failure_level: Level = Level.ERROR,
        region: str | None = None,
    ) -> DryRunResult:
        """``create-cluster --dryrun true``: validate for ``provider`` (its validation target and
        cloud validators) and add its summary of what would be deployed. Nothing is recorded.
        ``region`` is checked as in ``create``."""
        source = read_config(config_path)
        _create_region(source, region)
        checked = self._check(config_path, cluster_name, provider, suppress, failure_level, source)
        summary = self.provider(provider).dry_run_summary(Path(config_path), cluster_name) or ""
        return DryRunResult(checked.findings, summary=summary)

    def _check(
        self,
        config_path: str | Path,
        cluster_name: str,
        provider: str,
        suppress: Sequence[str],
        failure_level: Level,
        source: bytes | None,
    ) -> CheckedConfig:
        """The config validated for ``provider``: its validation target and cloud validators."""
        prov = self.provider(provider)
        return check_cluster(
            config_path,
            cluster_name=cluster_name,
            suppress=suppress,
            failure_level=failure_level,
            target=prov.traits.validation_target,
            cloud=prov.cloud_findings,
            source=source,
        )

    def create_planned(
        self,
        plan: ClusterPlan,
        *,
        provider: str,
        config_text: str,
        config_path: str = "",
        rollback_on_failure: bool = True,
        findings: tuple[Finding, ...] = (),
    ) -> CreateAccepted:
        """Record CREATE_IN_PROGRESS for an already validated ``plan``, owned by this process
        (``create`` without the validation; the API, which receives config text, also uses it)."""
        check_name(plan.cluster_name, "cluster-name")
        self.provider(provider).check_prerequisites()
        return self._record_create(
            plan,
            provider=provider,
            config_text=config_text,
            config_path=config_path,
            rollback_on_failure=rollback_on_failure,
            findings=findings,
        )

    def _record_create(
        self,
        plan: ClusterPlan,
        *,
        provider: str,
        config_text: str,
        config_path: str,
        rollback_on_failure: bool,
        findings: tuple[Finding, ...],
    ) -> CreateAccepted:
        name = plan.cluster_name
        now = utc_now()
        record = ClusterRecord(
            name=name,
            stack_id=f"corral:{provider}:{name}/{uuid.uuid4()}",
            stack_status=StackStatus.CREATE_IN_PROGRESS,
            provider=provider,
            config_text=config_text,
            config_path=config_path,
            region=plan.region or self.provider(provider).default_region() or provider,
            plan_json=plan_to_json(plan),
            corral_version=__version__,
            pcluster_version=PCLUSTER_COMPAT_VERSION,
            tags=plan.tags,
            created_at=now,
            updated_at=now,
            owner=ProcessIdentity.current(),
            rollback_on_failure=rollback_on_failure,
        )
        record = self.store.insert(record)
        self._write_config_snapshot(record)
        self._stack_event(record, StackStatus.CREATE_IN_PROGRESS, "User Initiated")
        return CreateAccepted(record, findings)


def _create_region(source: bytes | None, given: str | None) -> str | None:
    """The region of a create (``-r`` or the config's ``Region``), checked as pcluster does before
    anything else: a conflict or an unsupported region is a Bad Request."""
    from corral.config.regions import config_region_of, resolve_region

    return resolve_region(given, config_region_of(source) if source is not None else None)


__all__ = ["CreateVerbs"]

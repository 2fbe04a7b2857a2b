"""pcluster's CloudWatch log verbs (``list-cluster-log-streams``, ``get-cluster-log-events``,
``export-cluster-logs``) over the provider's log streams, read through ``LogSource.open()``.
``ClusterService`` inherits them; new log verbs go here, not into the service."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Unpack

from corral.errors import BadRequestError
from corral.providers.base import LogSource, Provider
from corral.service._codec import plan_from_json
from corral.service._log_access import (
    EventQuery,
    ExportedLogs,
    ExportRequest,
    LogEventList,
    LogStreamList,
)

if TYPE_CHECKING:
    from corral.service._views import StackEvents
    from corral.state import StateStore


class LogVerbs:
    """The log verbs of ``ClusterService`` (which provides ``store``, ``provider`` and
    ``stack_events``)."""

    if TYPE_CHECKING:
        store: StateStore

        def provider(self, name: str) -> Provider: ...

        def stack_events(self, cluster_name: str) -> StackEvents: ...

    def log_streams(
        self,
        cluster_name: str,
        *,
        filters: Sequence[str] = (),
        next_token: str | None = None,
        provider: str | None = None,
    ) -> LogStreamList:
        """``list-cluster-log-streams``. ``provider`` is where to look for the retained logs of a
        cluster Corral no longer has a record of (deleted with DeletionPolicy Retain)."""
        from corral.service import _log_access

        self._require_cloudwatch_logs(cluster_name)
        region, sources = self._log_sources(cluster_name, provider)
        prefix = f"arn:corral:logs:{region}::log-group:/corral/{cluster_name}:log-stream:"
        return _log_access.list_streams(sources, filters=filters, next_token=next_token, arn_prefix=prefix)

    def log_events(
        self,
        cluster_name: str,
        log_stream_name: str,
        *,
        provider: str | None = None,
        **query: Unpack[EventQuery],
    ) -> LogEventList:
        """``get-cluster-log-events``: the latest ``limit`` events, or the first with
        ``start_from_head``; ISO 8601 bounds, start inclusive, end exclusive."""
        from corral.service import _log_access

        self._require_cloudwatch_logs(cluster_name)
        _, sources = self._log_sources(cluster_name, provider)
        return _log_access.get_events(sources, log_stream_name, **query)

    def export_logs(
        self,
        cluster_name: str,
        *,
        filters: Sequence[str] = (),
        provider: str | None = None,
        **request: Unpack[ExportRequest],
    ) -> ExportedLogs:
        """``export-cluster-logs``: a tar.gz of the streams (and the stack events) to
        ``output_file`` and/or ``s3://bucket/bucket_prefix/``."""
        from corral.service import _log_access

        _, sources = self._log_sources(cluster_name, provider)
        record = self.store.find(cluster_name)
        if record is not None and not _cloudwatch_logs(record.plan_json):
            sources = []  # as pcluster: only the stack events are exported
        extra = {}
        if record is not None:
            extra[f"{cluster_name}-cfn-events"] = _log_access.stack_events_text(
                self.stack_events(cluster_name).to_json()["events"]
            )
        return _log_access.export(cluster_name, sources, filters=filters, extra_files=extra, **request)

    def _require_cloudwatch_logs(self, cluster_name: str) -> None:
        """pcluster's answer for a cluster whose config has ``Monitoring/Logs/CloudWatch/Enabled:
        false``: it keeps no log streams (the logs stay on its machines)."""
        record = self.store.find(cluster_name)
        if record is not None and not _cloudwatch_logs(record.plan_json):
            raise BadRequestError(
                f"Bad Request: CloudWatch logging is not enabled for cluster {cluster_name}.",
                hint="set Monitoring/Logs/CloudWatch/Enabled: true to keep log streams; "
                "`corral ssh` reaches the logs on the head node",
            )

    def _log_sources(self, cluster_name: str, provider: str | None) -> tuple[str, list[LogSource]]:
        """(region, sources) of the cluster's logs: its provider's, or, without a record, the
        retained ones ``provider`` still keeps. ``NotFoundError`` when there are none."""
        record = self.store.find(cluster_name)
        if record is not None:
            return record.region, self.provider(record.provider).log_sources(cluster_name)
        sources = self.provider(provider).log_sources(cluster_name) if provider else []
        if not sources:
            self.store.get(cluster_name)  # raises NotFoundError with did-you-mean
        return provider or "", sources


def _cloudwatch_logs(plan_json: str) -> bool:
    """Whether the recorded plan keeps log streams (``Monitoring/Logs/CloudWatch/Enabled``)."""
    if not plan_json:
        return True
    return plan_from_json(plan_json).cloudwatch_logs


__all__ = ["LogVerbs"]

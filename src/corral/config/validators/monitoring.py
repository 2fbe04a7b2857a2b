"""Monitoring: log rotation without CloudWatch, detailed monitoring cost, and the CloudWatch log
retention values (the model limits RetentionInDays to CloudWatch's allowed values)."""

from __future__ import annotations

from collections.abc import Iterator

from corral.config.findings import Finding
from corral.config.validators._base import ClusterContext, g, warning


def log_rotation(ctx: ClusterContext) -> Iterator[Finding]:
    """LogRotationValidator: rotation without CloudWatch deletes logs."""
    logs = g(ctx.config, "monitoring", "logs")
    if g(logs, "rotation", "enabled") and g(logs, "cloud_watch", "enabled") is False:
        yield warning(
            "LogRotationValidator",
            "Monitoring/Logs/Rotation/Enabled",
            "CloudWatch logging is disabled but log rotation is on: rotated logs are removed from "
            "the cluster",
            "set Monitoring/Logs/Rotation/Enabled: false to keep logs locally",
        )


def detailed_monitoring(ctx: ClusterContext) -> Iterator[Finding]:
    """DetailedMonitoringValidator: detailed monitoring costs more."""
    if g(ctx.config, "monitoring", "detailed_monitoring"):
        yield warning(
            "DetailedMonitoringValidator",
            "Monitoring/DetailedMonitoring",
            "detailed monitoring of compute instances adds cost (1-minute metrics)",
            "set Monitoring/DetailedMonitoring: false for basic monitoring",
        )


VALIDATORS = (log_rotation, detailed_monitoring)

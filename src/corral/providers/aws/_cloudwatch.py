"""An AWS cluster's logs in CloudWatch Logs: what each node ships, and how the log verbs read it.

Shipping (pure, ``agent_config``): every node runs the Amazon CloudWatch agent with a config that
sends the node's log files to the cluster's log group (``/aws/corral/<cluster>-<8 hex digits>``,
``RetentionInDays`` and ``DeletionPolicy`` from ``Monitoring/Logs/CloudWatch`` on the group in the
template) as streams named ``{hostname}.{instance_id}.<identifier>``, pcluster's names, with the
same identifiers as the local provider's streams (``providers.local._logs.STREAMS``):

| node | file | identifier |
|---|---|---|
| head | ``/var/log/corral-bootstrap.log`` | ``cfn-init`` |
| head | ``/var/log/corral/slurmctld.log`` | ``slurmctld`` |
| head | ``/var/log/corral/munged.log`` | ``munge`` |
| head | ``/var/log/corral/reconciler.log`` | ``clustermgtd`` |
| head | ``/var/log/corral/resume.log``, ``suspend.log`` | ``slurm_resume``, ``slurm_suspend`` |
| head | ``/var/log/corral/prolog.log`` | ``slurm_prolog_epilog`` |
| compute | ``/var/log/corral-bootstrap.log`` | ``cloud-init-output`` |
| compute | ``/var/log/corral/slurmd-*.log`` | ``slurmd`` |
| compute | ``/var/log/corral/munged.log`` | ``munge`` |

``Monitoring/Logs/CloudWatch/Enabled: false`` ships nothing.

Reading (``CloudWatchLogReader``, ``log_sources``): the streams of the group become the cluster's
``LogSource``s; a reader gives the service each stream's lines (GetLogEvents, every page), its
size (``storedBytes``) and last write, so ``list-cluster-log-streams``, ``get-cluster-log-events``
and ``export-cluster-logs`` take the same flags and page the same way as on the local provider.
An event whose message carries no timestamp of its own is given CloudWatch's, in front of it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from corral.plan import ClusterPlan
from corral.providers.aws._clients import AwsClients
from corral.providers.aws._errors import BOTO_ERRORS, aws_call, error_code, translate
from corral.providers.base import LogSource, NodeRole

AGENT_CONFIG = "/opt/aws/amazon-cloudwatch-agent/etc/corral-cloudwatch.json"
AGENT_CTL = "/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl"
LOG_DIR = "/var/log/corral"
BOOTSTRAP_LOG = "/var/log/corral-bootstrap.log"
#: A line that starts with its own time (ISO 8601, Slurm's ``[...]``), which the log verbs read.
OWN_TIMESTAMP = re.compile(r"(?:=== )?\[?\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}")
#: ``<hostname>.<instance id>.<identifier>`` (the hostname may hold dots).
STREAM_NAME = re.compile(r"^(.+)\.(i-[0-9a-f]+)\.([^.].*)$")
#: (file, identifier) per node role.
HEAD_FILES = (
    (BOOTSTRAP_LOG, "cfn-init"),
    (f"{LOG_DIR}/slurmctld.log", "slurmctld"),
    (f"{LOG_DIR}/munged.log", "munge"),
    (f"{LOG_DIR}/reconciler.log", "clustermgtd"),
    (f"{LOG_DIR}/resume.log", "slurm_resume"),
    (f"{LOG_DIR}/suspend.log", "slurm_suspend"),
    (f"{LOG_DIR}/prolog.log", "slurm_prolog_epilog"),
)
COMPUTE_FILES = (
    (BOOTSTRAP_LOG, "cloud-init-output"),
    (f"{LOG_DIR}/slurmd-*.log", "slurmd"),
    (f"{LOG_DIR}/munged.log", "munge"),
)


def shipping_enabled(plan: ClusterPlan) -> bool:
    return plan.config is None or bool(plan.config.monitoring.logs.cloud_watch.enabled)


def agent_config(log_group: str, *, head: bool) -> dict[str, Any]:
    """The CloudWatch agent's configuration for a head or compute node. Pure."""
    files = HEAD_FILES if head else COMPUTE_FILES
    collect = [
        {
            "file_path": path,
            "log_group_name": log_group,
            "log_stream_name": "{hostname}.{instance_id}." + identifier,
            "retention_in_days": -1,  # the group's RetentionInDays (the template sets it) stays
        }
        for path, identifier in files
    ]
    return {
        "agent": {"run_as_user": "root", "logfile": f"{LOG_DIR}/cloudwatch-agent.log"},
        "logs": {"logs_collected": {"files": {"collect_list": collect}}, "force_flush_interval": 5},
    }


def agent_steps(log_group: str, *, head: bool) -> tuple[tuple[str, str, int], tuple[str, ...]]:
    """The agent's config file (path, content, mode) and the service that starts the agent on it;
    an image without the agent gets a line in the node's log, not a failed bootstrap."""
    content = json.dumps(agent_config(log_group, head=head), indent=2, sort_keys=True)
    start = (
        f"if [ -x {AGENT_CTL} ]; then {AGENT_CTL} -a fetch-config -m ec2 -c file:{AGENT_CONFIG} -s; "
        "else echo 'corral: the Amazon CloudWatch agent is not installed: logs stay on this node' >&2; fi"
    )
    return (AGENT_CONFIG, content, 0o644), ("/bin/sh", "-c", start)


@dataclass(frozen=True)
class CloudWatchLogReader:
    """One CloudWatch Logs stream, read through GetLogEvents (``providers.base.LogReader``)."""

    clients: AwsClients
    group: str
    stream: str
    stored_bytes: int = 0
    last_event: datetime | None = None

    def events(self) -> list[tuple[datetime, str]]:
        """Every event of the stream, oldest first (none when the stream is gone)."""
        found: list[tuple[datetime, str]] = []
        token: str | None = None
        logs = self.clients.client("logs")
        while True:
            kwargs: dict[str, Any] = {"logGroupName": self.group, "logStreamName": self.stream}
            kwargs.update({"nextToken": token} if token else {"startFromHead": True})
            try:
                page = logs.get_log_events(**kwargs)
            except BOTO_ERRORS as exc:
                if error_code(exc) == "ResourceNotFoundException":
                    return found
                raise translate(exc, "GetLogEvents") from exc
            found += [(_time(e["timestamp"]), str(e.get("message", ""))) for e in page.get("events", [])]
            if not page.get("events") or page.get("nextForwardToken") in (None, token):
                return found
            token = page["nextForwardToken"]

    def read_text(self) -> str:
        lines = [_stamped(stamp, message) for stamp, message in self.events()]
        return "\n".join(lines) + ("\n" if lines else "")

    def last_write(self) -> datetime:
        return self.last_event or datetime.now(UTC)

    def size(self) -> int:
        return self.stored_bytes

    def edges(self, limit: int) -> tuple[list[str], list[str]]:
        """The first and last events (one GetLogEvents call at each end, at most EDGE_EVENTS
        events, about ``limit`` bytes), not the whole stream."""
        head = _lines(self._end(from_head=True), limit)
        tail = _lines(self._end(from_head=False), limit, tail=True)
        return head, tail

    def _end(self, *, from_head: bool) -> list[tuple[datetime, str]]:
        try:
            page = self.clients.client("logs").get_log_events(
                logGroupName=self.group, logStreamName=self.stream, startFromHead=from_head, limit=EDGE_EVENTS
            )
        except BOTO_ERRORS as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return []
            raise translate(exc, "GetLogEvents") from exc
        return [(_time(e["timestamp"]), str(e.get("message", ""))) for e in page.get("events", [])]


#: Events read at each end of a stream for list-cluster-log-streams' first and last timestamps.
EDGE_EVENTS = 100


def _stamped(stamp: datetime, message: str) -> str:
    """``message``, with CloudWatch's time in front when its first line has none of its own."""
    first = message.splitlines()[0] if message else ""
    return (
        message if first.startswith("{") or OWN_TIMESTAMP.match(first) else f"{stamp.isoformat()} {message}"
    )


def _lines(events: list[tuple[datetime, str]], limit: int, *, tail: bool = False) -> list[str]:
    """The events' lines, at most ``limit`` bytes of them (the last bytes with ``tail``)."""
    data = "\n".join(_stamped(stamp, message) for stamp, message in events).encode()
    kept = data[-limit:] if tail else data[:limit]
    return kept.decode(errors="ignore").splitlines()


def _time(milliseconds: int | float) -> datetime:
    return datetime.fromtimestamp(milliseconds / 1000, UTC)


def log_sources(clients: AwsClients, group: str, head_instance_id: str | None) -> list[LogSource]:
    """Every stream of ``group`` as a ``LogSource`` read from CloudWatch (the head's by its
    instance id, the others' as compute nodes')."""
    logs = clients.client("logs")
    streams: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {"logGroupName": group, **({"nextToken": token} if token else {})}
        try:
            page = logs.describe_log_streams(**kwargs)
        except BOTO_ERRORS as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return []
            raise translate(exc, "DescribeLogStreams") from exc
        streams += page.get("logStreams", [])
        token = page.get("nextToken")
        if not token:
            break
    sources = []
    for stream in sorted(streams, key=lambda s: s["logStreamName"]):
        name = stream["logStreamName"]
        parts = STREAM_NAME.match(name)
        hostname, instance_id, identifier = parts.groups() if parts else (name, "", name)
        last = stream.get("lastEventTimestamp") or stream.get("lastIngestionTime")
        reader = CloudWatchLogReader(
            clients, group, name, int(stream.get("storedBytes") or 0), _time(last) if last else None
        )
        role = NodeRole.HEAD if head_instance_id and instance_id == head_instance_id else NodeRole.COMPUTE
        sources.append(
            LogSource(name, None, role, hostname, hostname, instance_id, identifier, reader=reader)
        )
    return sources


def retained_group(clients: AwsClients, cluster_name: str) -> str | None:
    """The newest log group a deleted cluster of this name kept (``/aws/corral/<cluster>-<8 hex>``)."""
    pattern = re.compile(rf"/aws/corral/{re.escape(cluster_name)}-[0-9a-f]{{8}}")
    logs = clients.client("logs")
    found: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {"logGroupNamePrefix": f"/aws/corral/{cluster_name}-"}
        page = aws_call(
            "DescribeLogGroups", logs.describe_log_groups, **kwargs, **({"nextToken": token} if token else {})
        )
        found += [g for g in page.get("logGroups", []) if pattern.fullmatch(g["logGroupName"])]
        token = page.get("nextToken")
        if not token:
            break
    newest = max(found, key=lambda g: g.get("creationTime", 0), default=None)
    return str(newest["logGroupName"]) if newest else None


def put_events(clients: AwsClients, group: str, stream: str, events: list[tuple[datetime, str]]) -> None:
    """Write ``events`` to ``stream`` (created when missing): what a node's agent does."""
    logs = clients.client("logs")
    try:
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    except BOTO_ERRORS as exc:
        if error_code(exc) != "ResourceAlreadyExistsException":
            raise translate(exc, "CreateLogStream") from exc
    batch = [{"timestamp": int(t.timestamp() * 1000), "message": m} for t, m in events]
    aws_call("PutLogEvents", logs.put_log_events, logGroupName=group, logStreamName=stream, logEvents=batch)


__all__ = [
    "CloudWatchLogReader",
    "agent_config",
    "agent_steps",
    "log_sources",
    "put_events",
    "retained_group",
    "shipping_enabled",
]

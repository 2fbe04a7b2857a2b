"""A local cluster's logs as pcluster's CloudWatch log streams.

Every file under ``<cluster>/log/`` (hidden files aside: they are Corral's bookkeeping) is one
stream named ``<hostname>.<instance-id>.<identifier>``, as ParallelCluster names its streams. The
``STREAMS`` table maps the files Corral writes to pcluster's identifiers where pcluster has an
equivalent; any other file becomes a head-node stream named after its path (``classify``).

Instance ids: the head's comes from ``head/instance_id``; a compute node's from ``nodes/<node>/``
while it runs, else from ``log/.instances.jsonl`` (one line per launch, appended by
``record_instance``), so that the streams of terminated nodes keep the id they had.

``Monitoring/Logs/CloudWatch`` applies: ``<cluster>/logs.json`` records RetentionInDays and
DeletionPolicy at create. At delete, Retain moves ``log/`` to
``<state>/retained-logs/<cluster>/<UTC time>/`` with ``sources.json`` (the streams, so that they
can be read without the cluster); Delete removes them with the cluster.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from corral.plan import ClusterPlan
from corral.providers.base import LogSource, NodeRole
from corral.providers.local._layout import ClusterDescriptor, ClusterLayout

POLICY_FILE = "logs.json"
INSTANCES_FILE = ".instances.jsonl"
SOURCES_FILE = "sources.json"
UNKNOWN_INSTANCE = "i-00000000000000000"

HEAD = ""  # the owner of head-node streams in ``classify``'s answers

#: Files Corral writes in ``log/`` → (owner, identifier). pcluster's identifier where it has one.
STREAMS: dict[str, tuple[str, str]] = {
    "head-agent.log": (HEAD, "cfn-init"),  # the head's bootstrap, its custom actions' output
    "slurmctld.log": (HEAD, "slurmctld"),
    "slurmctld.stdout": (HEAD, "slurmctld-stdout"),
    "munged.log": (HEAD, "munge"),
    "reconciler.log": (HEAD, "clustermgtd"),  # Corral's reconciler plays clustermgtd's role
    "reconciler.events": (HEAD, "clustermgtd-events"),
    "resume.log": (HEAD, "slurm_resume"),
    "suspend.log": (HEAD, "slurm_suspend"),
    "prolog.log": (HEAD, "slurm_prolog_epilog"),
    "supervisor.log": (HEAD, "supervisord"),  # keeps munged, slurmctld and the reconciler running
    "supervisor.events": (HEAD, "supervisord-events"),
    "datasync.log": (HEAD, "datasync"),  # FSx for Lustre data repository associations
}
#: Per-node files: ``node-<node>.log`` (the agent: bootstrap and custom actions) and slurmd's.
NODE_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"node-(?P<node>.+)\.log"), "cloud-init-output"),
    (re.compile(r"slurmd-(?P<node>.+)\.log"), "slurmd"),
)
ACTIONS_DIR = "actions"
HEAD_ACTIONS_OWNER = "HeadNode"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]+")


@dataclass(frozen=True)
class LogPolicy:
    """``Monitoring/Logs/CloudWatch`` of the cluster (pcluster's defaults when not recorded)."""

    retention_in_days: int = 180
    deletion_policy: str = "Retain"


def _safe(text: str) -> str:
    return _UNSAFE.sub("_", text).strip("_") or "log"


def classify(relative: str) -> tuple[str, str]:
    """(owner, identifier) of a file at ``relative`` (a POSIX path under ``log/``): owner is
    ``HEAD`` or a node name. Known files follow ``STREAMS``/``NODE_PATTERNS``; custom-action logs
    (``actions/<HeadNode|node>/<NN>-<Event>-<script>.log``) become ``<NN>-<Event>-<script>`` of
    that machine; any other file is a head-node stream named after its path."""
    if relative in STREAMS:
        return STREAMS[relative]
    parts = relative.split("/")
    if len(parts) == 1:
        for pattern, identifier in NODE_PATTERNS:
            match = pattern.fullmatch(relative)
            if match:
                return match["node"], identifier
    if len(parts) == 3 and parts[0] == ACTIONS_DIR:
        owner = HEAD if parts[1] == HEAD_ACTIONS_OWNER else parts[1]
        return owner, _safe(parts[2].removesuffix(".log"))
    stem = relative.removesuffix(".log")
    return HEAD, _safe(stem.replace("/", "-"))


def private_dns_name(address: str) -> str:
    """EC2's short private DNS name of an address: ``10.0.0.101`` → ``ip-10-0-0-101``."""
    return "ip-" + address.replace(".", "-")


def stream_name(hostname: str, instance_id: str, identifier: str) -> str:
    return f"{hostname}.{instance_id}.{identifier}"


# -- bookkeeping written while the cluster lives -------------------------------------------------


def write_policy(plan: ClusterPlan, layout: ClusterLayout) -> None:
    """Record the cluster's log retention and deletion policy (from its config) at create."""
    policy = LogPolicy()
    if plan.config is not None:
        cloud_watch = plan.config.monitoring.logs.cloud_watch
        policy = LogPolicy(cloud_watch.retention_in_days, cloud_watch.deletion_policy)
    (layout.root / POLICY_FILE).write_text(json.dumps(asdict(policy)) + "\n")


def retention(policy: LogPolicy) -> int | None:
    """RetentionInDays as a number of days, None for 0 (never expire, as CloudWatch)."""
    return policy.retention_in_days or None


def read_policy(path: Path) -> LogPolicy:
    try:
        raw = json.loads(path.read_text())
        return LogPolicy(int(raw["retention_in_days"]), str(raw["deletion_policy"]))
    except (OSError, ValueError, KeyError, TypeError):
        return LogPolicy()


def record_instance(layout: ClusterLayout, node_name: str, instance_id: str, launched: datetime) -> None:
    """Remember that ``node_name`` ran as ``instance_id``: its logs keep that id once it is gone."""
    layout.log.mkdir(parents=True, exist_ok=True)
    line = json.dumps({"node": node_name, "instance_id": instance_id, "launch_time": launched.isoformat()})
    with (layout.log / INSTANCES_FILE).open("a") as out:
        out.write(line + "\n")


def recorded_instances(path: Path) -> dict[str, str]:
    """node name → the last instance id it was launched as, from ``.instances.jsonl``."""
    found: dict[str, str] = {}
    with contextlib.suppress(OSError):
        for line in path.read_text().splitlines():
            with contextlib.suppress(ValueError, KeyError, TypeError):
                raw = json.loads(line)
                found[str(raw["node"])] = str(raw["instance_id"])
    return found


# -- discovery -------------------------------------------------------------------------------------


def _read_id(directory: Path) -> str | None:
    try:
        return (directory / "instance_id").read_text().strip() or None
    except OSError:
        return None


def log_files(log_dir: Path) -> list[str]:
    """POSIX paths (relative to ``log_dir``) of every regular, non-hidden file under it, sorted."""
    if not log_dir.is_dir():
        return []
    found = []
    for path in log_dir.rglob("*"):
        relative = path.relative_to(log_dir)
        if path.is_file() and not any(part.startswith(".") for part in relative.parts):
            found.append(relative.as_posix())
    return sorted(found)


def live_sources(layout: ClusterLayout, descriptor: ClusterDescriptor) -> list[LogSource]:
    """The streams of a cluster that still exists (its ``log/`` directory)."""
    recorded = recorded_instances(layout.log / INSTANCES_FILE)
    days = retention(read_policy(layout.root / POLICY_FILE))
    head_id = _read_id(layout.head_dir) or UNKNOWN_INSTANCE
    sources = []
    for relative in log_files(layout.log):
        owner, identifier = classify(relative)
        node = descriptor.node(owner) if owner != HEAD else None
        if owner == HEAD or node is None:
            # a file naming an unknown node still belongs to the cluster: the head keeps it
            if owner != HEAD:
                identifier = _safe(f"{owner}-{identifier}")
            hostname, address, instance_id, role = (
                descriptor.head_hostname,
                descriptor.head_address,
                head_id,
                NodeRole.HEAD,
            )
        else:
            hostname, address, role = descriptor.hostname(node), node.address, NodeRole.COMPUTE
            instance_id = _read_id(layout.node_dir(node.name)) or recorded.get(node.name, UNKNOWN_INSTANCE)
        sources.append(
            LogSource(
                stream_name=stream_name(hostname, instance_id, identifier),
                path=layout.log / relative,
                role=role,
                hostname=hostname,
                private_dns_name=private_dns_name(address),
                instance_id=instance_id,
                identifier=identifier,
                retention_days=days,
            )
        )
    return sources


def retained_root(state_dir: Path, cluster_name: str) -> Path:
    return state_dir / "retained-logs" / cluster_name


def retained_sources(state_dir: Path, cluster_name: str) -> list[LogSource]:
    """The streams of the latest retained copy of the cluster's logs (none when there is none)."""
    root = retained_root(state_dir, cluster_name)
    copies = sorted(p for p in root.iterdir() if (p / SOURCES_FILE).is_file()) if root.is_dir() else []
    if not copies:
        return []
    latest = copies[-1]
    try:
        raw = json.loads((latest / SOURCES_FILE).read_text())
        days = retention(LogPolicy(**raw["policy"]))
        return [
            LogSource(
                **{**item, "path": latest / "log" / item["path"], "role": NodeRole(item["role"])},
                retention_days=days,
            )
            for item in raw["streams"]
        ]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def retain_or_remove(layout: ClusterLayout, *, retain_storage: bool) -> Path | None:
    """At delete: with DeletionPolicy Retain (and storage retained), move ``log/`` with a
    ``sources.json`` to ``<state>/retained-logs/<cluster>/<UTC time>/`` and return that directory;
    otherwise leave ``log/`` to be removed with the cluster."""
    policy = read_policy(layout.root / POLICY_FILE)
    if policy.deletion_policy != "Retain" or not retain_storage or not layout.log.is_dir():
        return None
    try:
        descriptor = ClusterDescriptor.load(layout.descriptor)
    except (OSError, ValueError, KeyError):
        return None
    sources = live_sources(layout, descriptor)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    target = retained_root(layout.state_dir, layout.name) / stamp
    target.mkdir(parents=True, exist_ok=True)
    streams = [
        {
            **{k: v for k, v in asdict(s).items() if k not in ("retention_days", "reader")},
            "path": s.path.relative_to(layout.log).as_posix(),
            "role": s.role.value,
        }
        for s in sources
        if s.path is not None  # every local stream is a file under log/
    ]
    manifest = {"cluster": layout.name, "policy": asdict(policy), "streams": streams}
    shutil.move(str(layout.log), str(target / "log"))
    (target / SOURCES_FILE).write_text(json.dumps(manifest, indent=1) + "\n")
    return target

"""An in-memory provider that implements the Provider contract, with injectable failures.

It lets the service (and the CLI) be tested without root, Slurm or a cloud. It keeps clusters in a
dict; given a ``persist_dir`` it also mirrors them to JSON files there, so a CLI run and its detached
worker (two processes) see the same fake infrastructure.

Failures are injected with ``FakeFailures`` (or, for a CLI subprocess, ``CORRAL_FAKE_FAIL``: a comma
list of ``prerequisites``, ``create``, ``delete``, ``commands``, and ``CORRAL_FAKE_DELAY`` seconds
to sleep in the middle of each create).

Login nodes: each ``LoginNodes/Pools`` entry gets ``Count`` running LOGIN instances at create and
after each update, and ``login_pools`` reports every pool with at least one node as active, its
first node's address standing in for the load balancer's.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from corral.errors import InsufficientCapacityError, PrerequisiteError, ProviderError
from corral.plan import ClusterPlan
from corral.providers.base import (
    INSUFFICIENT_CAPACITY_CODES,
    CommandResult,
    EventSink,
    Instance,
    InstanceState,
    LaunchFailure,
    LaunchResult,
    LoginPoolStatus,
    LogSource,
    NodeRole,
    ProviderBase,
    ProviderTraits,
)
from corral.runtime import settings
from corral.runtime.files import write_atomic


@dataclass(frozen=True)
class FakeFailures:
    """What the fake should get wrong."""

    prerequisites: bool = False
    create: bool = False  # fails after the head node is up, so a rollback has something to remove
    delete: bool = False
    commands: bool = False  # run_on_head returns a non-zero status
    create_delay_s: float = 0.0  # sleep between the head node and the static nodes
    update: bool = False  # update fails after applying the new plan (as a failing OnNodeUpdated)
    update_delay_s: float = 0.0  # sleep in the middle of each update
    #: most compute nodes running at once, per instance type, or "total": (("c5.xlarge", 2),)
    capacity: tuple[tuple[str, int], ...] = ()
    #: nodes whose launch fails with this error code: (("q-dy-cr-1", "InsufficientHostCapacity"),)
    launch_errors: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_env(cls, environ: settings.Environ | None = None) -> FakeFailures:
        """The fake provider's settings record: ``CORRAL_FAKE_FAIL`` (words), ``CORRAL_FAKE_DELAY``
        (seconds) and ``CORRAL_FAKE_CAPACITY`` (``type=count,...``)."""
        words = settings.words("CORRAL_FAKE_FAIL", environ=environ)
        return cls(
            prerequisites="prerequisites" in words,
            create="create" in words,
            delete="delete" in words,
            commands="commands" in words,
            create_delay_s=settings.seconds("CORRAL_FAKE_DELAY", 0.0, environ=environ, allow_zero=True),
            update="update" in words,
            update_delay_s=settings.seconds(
                "CORRAL_FAKE_UPDATE_DELAY", 0.0, environ=environ, allow_zero=True
            ),
            capacity=tuple(
                (k, int(v))
                for k, v in settings.pairs("CORRAL_FAKE_CAPACITY", environ=environ)
                if k and v.isdigit()
            ),
        )


#: What the fake's `ssh` runs: drop USER@HEAD and ssh's options (those taking a value skip it),
#: then run the command with /bin/sh (a login shell when there is none).
FAKE_SSH = (
    'shift; while [ $# -gt 0 ]; do case "$1" in --) shift; break;; '
    "-[BbcDEeFIiJLlmOoPpQRSWw]) shift 2;; -*) shift;; *) break;; esac; done; "
    'if [ $# -eq 0 ]; then exec /bin/sh -l; fi; exec /bin/sh -c "$*"'
)


@dataclass
class _FakeCluster:
    instances: list[Instance] = field(default_factory=list)
    commands: list[list[str]] = field(default_factory=list)
    nodes: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # name -> (queue, cr, type)
    static: list[str] = field(default_factory=list)
    partitions: dict[str, str] = field(default_factory=dict)  # name -> UP | INACTIVE
    powered_down: list[str] = field(default_factory=list)  # nodes Slurm shows POWERED_DOWN


class FakeProvider(ProviderBase):
    """The Provider contract, in memory."""

    name = "fake"
    traits = ProviderTraits(enforces_expiry=True)

    def __init__(self, failures: FakeFailures | None = None, *, persist_dir: Path | None = None) -> None:
        self.failures = failures or FakeFailures()
        self._persist_dir = persist_dir
        self._clusters: dict[str, _FakeCluster] = {}
        self._lock = threading.Lock()
        self._counter = 0
        self._log_root: Path | None = None

    # -- contract -----------------------------------------------------------------------------

    def check_prerequisites(self) -> None:
        if self.failures.prerequisites:
            raise PrerequisiteError(
                "the fake provider was told to miss its prerequisites",
                hint="unset CORRAL_FAKE_FAIL=prerequisites",
            )

    def create(self, plan: ClusterPlan, *, on_event: EventSink) -> Instance:
        cluster = _FakeCluster(
            nodes={n.name: (n.queue, n.compute_resource, n.shape.instance_type) for n in plan.nodes},
            static=[n.name for n in plan.static_nodes],
            partitions={p.name: "UP" for p in plan.partitions},
            powered_down=[n.name for n in plan.dynamic_nodes],
        )
        head = self._instance(NodeRole.HEAD, plan.head_node.shape.instance_type)
        cluster.instances.append(head)
        self._store(plan.cluster_name, cluster)
        on_event = self._logging_sink(plan.cluster_name, head, on_event)
        on_event("HeadNode", f"head node {head.instance_id} started at {head.private_ip}")
        for storage in plan.storage:
            on_event(storage.name, f"{storage.storage_type} mounted at {storage.mount_dir}")
        if self.failures.create_delay_s:
            time.sleep(self.failures.create_delay_s)
        if self.failures.create:
            raise ProviderError(
                "the fake provider was told to fail while starting static nodes",
                hint="unset CORRAL_FAKE_FAIL=create",
            )
        for node in plan.static_nodes:
            cluster.instances.append(
                self._instance(
                    NodeRole.COMPUTE, node.shape.instance_type, node.name, node.queue, node.compute_resource
                )
            )
            on_event(node.name, "static node up")
        self._start_login_nodes(plan, cluster, on_event)
        self._store(plan.cluster_name, cluster)
        return head

    def _start_login_nodes(self, plan: ClusterPlan, cluster: _FakeCluster, on_event: EventSink) -> None:
        """Each pool's nodes up to its ``Count``; nodes of pools gone or shrunk are terminated."""
        counts = {p.name: p.count for p in plan.login_pools}
        kept: dict[str, int] = {}
        instances = []
        for i in cluster.instances:
            if i.role is NodeRole.LOGIN:
                if kept.get(i.pool or "", 0) >= counts.get(i.pool or "", 0):
                    continue
                kept[i.pool or ""] = kept.get(i.pool or "", 0) + 1
            instances.append(i)
        cluster.instances = instances
        for pool in plan.login_pools:
            for index in range(kept.get(pool.name, 0) + 1, pool.count + 1):
                node = self._instance(NodeRole.LOGIN, pool.instance_type, pool=pool.name)
                cluster.instances.append(node)
                on_event(f"{pool.name}-{index}", f"login node {node.instance_id} up at {node.private_ip}")

    def login_pools(self, cluster_name: str) -> list[LoginPoolStatus]:
        cluster = self._load(cluster_name)
        pools: dict[str, list[Instance]] = {}
        for i in cluster.instances if cluster is not None else ():
            if i.role is NodeRole.LOGIN and i.pool:
                pools.setdefault(i.pool, []).append(i)
        return [
            LoginPoolStatus(
                name, "active", address=nodes[0].private_ip, scheme="internal", healthy=len(nodes)
            )
            for name, nodes in pools.items()
        ]

    def live_update_kinds(self) -> frozenset[str]:
        """``ClusterUpdater``: the fake applies every kind the local provider does."""
        from corral.plan.live import LIVE_KINDS

        return LIVE_KINDS

    def update(
        self, old: ClusterPlan, new: ClusterPlan, *, on_event: EventSink, rollback: bool = False
    ) -> None:
        """``ClusterUpdater.update``: the node set and partitions become ``new``'s; nodes that go
        are terminated, new static nodes start. ``FakeFailures.update`` fails afterwards."""
        cluster = self._require(new.cluster_name)
        keep = {n.name for n in new.nodes}
        cluster.instances = [
            i for i in cluster.instances if i.role in (NodeRole.HEAD, NodeRole.LOGIN) or i.node_name in keep
        ]
        cluster.nodes = {n.name: (n.queue, n.compute_resource, n.shape.instance_type) for n in new.nodes}
        cluster.static = [n.name for n in new.static_nodes]
        cluster.partitions = {p.name: cluster.partitions.get(p.name, "UP") for p in new.partitions}
        running = {i.node_name for i in cluster.instances}
        cluster.powered_down = [n.name for n in new.dynamic_nodes if n.name not in running]
        if self.failures.update_delay_s:
            time.sleep(self.failures.update_delay_s)
        for node in new.static_nodes:
            if node.name not in running:
                cluster.instances.append(
                    self._instance(
                        NodeRole.COMPUTE,
                        node.shape.instance_type,
                        node.name,
                        node.queue,
                        node.compute_resource,
                    )
                )
                on_event(node.name, "static node up")
        self._start_login_nodes(new, cluster, on_event)
        self._store(new.cluster_name, cluster)
        on_event("ComputeFleet", f"{len(new.nodes)} node(s) in {len(new.partitions)} queue(s)")
        if self.failures.update and not rollback:
            raise ProviderError(
                "OnNodeUpdated failed on the head node: the fake provider was told to fail updating",
                hint="unset CORRAL_FAKE_FAIL=update",
            )

    def delete(self, cluster_name: str, *, retain_storage: bool = True) -> None:
        if self.failures.delete:
            raise ProviderError(
                "the fake provider was told to fail deleting", hint="unset CORRAL_FAKE_FAIL=delete"
            )
        with self._lock:
            self._clusters.pop(cluster_name, None)
            path = self._path(cluster_name)
            if path is not None:
                path.unlink(missing_ok=True)
        shutil.rmtree(self._log_dir(cluster_name), ignore_errors=True)

    def exists(self, cluster_name: str) -> bool:
        return self._load(cluster_name) is not None

    def launch(self, cluster_name: str, node_names: Sequence[str]) -> list[Instance]:
        cluster = self._require(cluster_name)
        for name in node_names:
            if name not in cluster.nodes:
                raise ProviderError(f"node {name!r} is not part of cluster {cluster_name!r}")
        result = self.launch_batch(cluster_name, node_names, all_or_nothing=True)
        if result.failed:
            first = result.failed[0]
            if first.code not in INSUFFICIENT_CAPACITY_CODES:
                raise ProviderError(first.message)
            raise InsufficientCapacityError(
                first.message,
                hint="raise FakeFailures.capacity (CORRAL_FAKE_CAPACITY)",
                reason_code=first.code,
                instance_type=cluster.nodes[first.node_name][2],
                compute_resource=cluster.nodes[first.node_name][1],
            )
        return list(result.launched)

    def launch_batch(
        self, cluster_name: str, node_names: Sequence[str], *, all_or_nothing: bool = False
    ) -> LaunchResult:
        """``Provider.launch_batch`` under ``FakeFailures.capacity`` and ``launch_errors``."""
        cluster = self._require(cluster_name)
        running = {i.node_name: i for i in cluster.instances if i.node_name}
        failed: list[LaunchFailure] = []
        started: list[Instance] = []
        for name in dict.fromkeys(node_names):
            why = self._refusal(cluster, running, name)
            if why is not None:
                failed.append(LaunchFailure(name, *why))
                continue
            if name not in running:
                queue, cr, itype = cluster.nodes[name]
                running[name] = self._instance(NodeRole.COMPUTE, itype, name, queue, cr)
                started.append(running[name])
        launched = [running[n] for n in dict.fromkeys(node_names) if n in running]
        if all_or_nothing and failed:
            first = failed[0]
            return LaunchResult(
                failed=tuple(LaunchFailure(n, first.code, first.message) for n in dict.fromkeys(node_names))
            )
        cluster.instances.extend(started)
        self._store(cluster_name, cluster)
        return LaunchResult(launched=tuple(launched), failed=tuple(failed))

    def _refusal(
        self, cluster: _FakeCluster, running: dict[str, Instance], name: str
    ) -> tuple[str, str] | None:
        """(code, message) when ``name`` cannot start beside ``running``, else None."""
        if name not in cluster.nodes:
            return "InvalidNodenameError", f"node {name!r} is not part of the cluster"
        code = dict(self.failures.launch_errors).get(name)
        if code is not None:
            return code, f"{name}: injected launch failure {code}"
        if name in running:
            return None
        itype = cluster.nodes[name][2]
        limits = dict(self.failures.capacity)
        computes = [i for i in running.values() if i.role is NodeRole.COMPUTE]
        same = [i for i in computes if i.instance_type == itype]
        if itype in limits and len(same) >= limits[itype]:
            return "InsufficientInstanceCapacity", f"{itype} for {name}: capacity of {limits[itype]} reached"
        if "total" in limits and len(computes) >= limits["total"]:
            return "InsufficientInstanceCapacity", f"{name}: total capacity of {limits['total']} reached"
        return None

    def terminate(self, cluster_name: str, node_names: Sequence[str]) -> None:
        cluster = self._load(cluster_name)
        if cluster is None:
            return
        gone = set(node_names)
        cluster.instances = [i for i in cluster.instances if i.node_name not in gone]
        self._store(cluster_name, cluster)

    def instances(self, cluster_name: str) -> list[Instance]:
        cluster = self._load(cluster_name)
        return [] if cluster is None else list(cluster.instances)

    def run_on_head(
        self,
        cluster_name: str,
        argv: Sequence[str],
        *,
        user: str | None = None,
        stdin: str | None = None,
        timeout: float | None = 60.0,
    ) -> CommandResult:
        cluster = self._require(cluster_name)
        cluster.commands.append(list(argv))
        if self.failures.commands:
            self._store(cluster_name, cluster)
            return CommandResult(1, "", f"{argv[0]}: fake failure")
        result = _FakeSlurm(cluster, self).run(list(argv))
        self._store(cluster_name, cluster)
        return result

    def expire(self, cluster_name: str) -> None:
        """The fake deletes an expired cluster at once (its reconciler runs in the caller)."""
        self.delete(cluster_name)

    def head_shell_argv(
        self, cluster_name: str, argv: Sequence[str], *, user: str | None = None
    ) -> list[str]:
        cluster = self._require(cluster_name)
        head = next((i for i in cluster.instances if i.role is NodeRole.HEAD), None)
        address = head.private_ip if head is not None else "127.0.0.1"
        # pcluster's `ssh USER@HEAD ARGS`, with a local shell standing in for ssh: it skips ssh's
        # options and runs the command here
        return ["/bin/sh", "-c", FAKE_SSH, "ssh", f"{user or 'ec2-user'}@{address}", *argv]

    def log_sources(self, cluster_name: str) -> list[LogSource]:
        """Files under ``<logs>/<cluster>/<HeadNode|Compute>/<hostname>.<instance>.<identifier>``."""
        sources = []
        for role in NodeRole:
            directory = self._log_dir(cluster_name) / role.value
            for path in sorted(directory.glob("*.*.*")) if directory.is_dir() else ():
                hostname, instance_id, identifier = path.name.split(".", 2)
                sources.append(
                    LogSource(path.name, path, role, hostname, hostname, instance_id, identifier, 180)
                )
        return sources

    # -- for tests ------------------------------------------------------------------------------

    def write_log(self, cluster_name: str, instance: Instance, identifier: str, text: str) -> Path:
        """Append ``text`` to the stream ``identifier`` of ``instance`` (its hostname is its short
        private DNS name, as on EC2)."""
        hostname = "ip-" + instance.private_ip.replace(".", "-")
        path = (
            self._log_dir(cluster_name)
            / instance.role.value
            / f"{hostname}.{instance.instance_id}.{identifier}"
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as out:
            out.write(text)
        return path

    def commands(self, cluster_name: str) -> list[list[str]]:
        """Every argv run on the head node of ``cluster_name``, in order."""
        cluster = self._load(cluster_name)
        return [] if cluster is None else list(cluster.commands)

    # -- internals ------------------------------------------------------------------------------

    def _log_dir(self, cluster_name: str) -> Path:
        if self._log_root is None:
            self._log_root = (
                self._persist_dir / "logs"
                if self._persist_dir is not None
                else Path(tempfile.mkdtemp(prefix="corral-fake-logs-"))
            )
        return self._log_root / cluster_name

    def _logging_sink(self, cluster_name: str, head: Instance, on_event: EventSink) -> EventSink:
        """``on_event``, also writing each event to the head's ``cfn-init`` stream."""

        def sink(resource: str, message: str) -> None:
            stamp = datetime.now(UTC).isoformat(timespec="milliseconds")
            self.write_log(cluster_name, head, "cfn-init", f"{stamp} {resource}: {message}\n")
            on_event(resource, message)

        return sink

    def _instance(
        self,
        role: NodeRole,
        itype: str,
        node: str | None = None,
        queue: str | None = None,
        cr: str | None = None,
        pool: str | None = None,
    ) -> Instance:
        with self._lock:
            self._counter += 1
            n = self._counter
        return Instance(
            instance_id=f"i-fake{os.getpid():x}{n:06x}",
            role=role,
            instance_type=itype,
            private_ip=f"10.99.{n // 250}.{n % 250 + 2}",
            state=InstanceState.RUNNING,
            launch_time=datetime.now(UTC),
            node_name=node,
            queue=queue,
            compute_resource=cr,
            pool=pool,
        )

    def _require(self, cluster_name: str) -> _FakeCluster:
        cluster = self._load(cluster_name)
        if cluster is None:
            raise ProviderError(f"fake cluster {cluster_name!r} does not exist")
        return cluster

    def _path(self, cluster_name: str) -> Path | None:
        return None if self._persist_dir is None else self._persist_dir / f"{cluster_name}.json"

    def _store(self, cluster_name: str, cluster: _FakeCluster) -> None:
        with self._lock:
            self._clusters[cluster_name] = cluster
            path = self._path(cluster_name)
            if path is None:
                return
            path.parent.mkdir(parents=True, exist_ok=True)
            doc = {
                "instances": [
                    {**asdict(i), "launch_time": i.launch_time.isoformat()} for i in cluster.instances
                ],
                "commands": cluster.commands,
                "nodes": cluster.nodes,
                "static": cluster.static,
                "partitions": cluster.partitions,
                "powered_down": cluster.powered_down,
            }
            write_atomic(path, json.dumps(doc))

    def _load(self, cluster_name: str) -> _FakeCluster | None:
        with self._lock:
            path = self._path(cluster_name)
            if path is None:
                return self._clusters.get(cluster_name)
            if not path.exists():
                return None
            doc = json.loads(path.read_text())
        instances = [
            Instance(
                **{
                    **i,
                    "role": NodeRole(i["role"]),
                    "state": InstanceState(i["state"]),
                    "launch_time": datetime.fromisoformat(i["launch_time"]),
                }
            )
            for i in doc["instances"]
        ]
        nodes = {k: (v[0], v[1], v[2]) for k, v in doc["nodes"].items()}
        return _FakeCluster(
            instances=instances,
            commands=doc["commands"],
            nodes=nodes,
            static=doc["static"],
            partitions=doc["partitions"],
            powered_down=doc["powered_down"],
        )


class _FakeSlurm:
    """Just enough of ``scontrol`` for the fleet: partition states, node power states, and the
    ``-o show partition|node`` output Corral's parsers read. Anything else succeeds silently."""

    def __init__(self, cluster: _FakeCluster, provider: FakeProvider) -> None:
        self.cluster = cluster
        self.provider = provider

    def run(self, argv: list[str]) -> CommandResult:
        if argv[:1] != ["scontrol"]:
            return CommandResult(0, "", "")
        if argv[1:4] == ["-o", "show", "partition"]:
            return CommandResult(0, self._show_partitions(), "")
        if argv[1:4] == ["-o", "show", "node"]:
            return CommandResult(0, self._show_nodes(), "")
        if argv[1:2] == ["update"]:
            return self._update(dict(a.split("=", 1) for a in argv[2:] if "=" in a))
        return CommandResult(0, "", "")

    def _update(self, fields: dict[str, str]) -> CommandResult:
        from corral.slurm import hostlist

        c = self.cluster
        if "PartitionName" in fields:
            if fields["PartitionName"] not in c.partitions:
                return CommandResult(1, "", f"Invalid partition name specified: {fields['PartitionName']}")
            c.partitions[fields["PartitionName"]] = fields.get("State", "UP").upper()
        elif "NodeName" in fields:
            names = hostlist.expand(fields["NodeName"])
            state = fields.get("State", "").upper()
            if state.startswith("POWER_DOWN"):
                c.powered_down = sorted(set(c.powered_down) | set(names))
                c.instances = [i for i in c.instances if i.node_name not in set(names)]
            elif state == "POWER_UP":
                c.powered_down = [n for n in c.powered_down if n not in set(names)]
                running = {i.node_name for i in c.instances}
                for name in names:
                    if name not in running:
                        queue, cr, itype = c.nodes[name]
                        c.instances.append(self.provider._instance(NodeRole.COMPUTE, itype, name, queue, cr))
        return CommandResult(0, "", "")

    def _show_partitions(self) -> str:
        lines = []
        for name, state in self.cluster.partitions.items():
            nodes = ",".join(n for n, (q, _cr, _t) in self.cluster.nodes.items() if q == name) or "(null)"
            lines.append(f"PartitionName={name} Nodes={nodes} State={state}")
        return "\n".join(lines) + "\n"

    def _show_nodes(self) -> str:
        lines = []
        for name, (queue, _cr, _itype) in self.cluster.nodes.items():
            kind = "static" if name in self.cluster.static else "dynamic"
            state = "IDLE+CLOUD+POWERED_DOWN" if name in self.cluster.powered_down else "IDLE"
            lines.append(f"NodeName={name} State={state} AvailableFeatures={kind} Partitions={queue}")
        return "\n".join(lines) + "\n"


def from_state_dir(state_dir: Path) -> FakeProvider:
    """The registry's fake provider: failures from ``CORRAL_FAKE_*``, clusters kept under
    ``state_dir`` so that separate processes (CLI, worker, daemons) share them."""
    return FakeProvider(FakeFailures.from_env(), persist_dir=Path(state_dir) / "fake-provider")


__all__ = ["FakeFailures", "FakeProvider", "from_state_dir"]

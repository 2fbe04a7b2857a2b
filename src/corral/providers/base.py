"""The Provider contract: the small surface the service uses to build and run a cluster.

A provider turns a ``ClusterPlan`` into infrastructure (``create``/``delete``), starts and stops
compute nodes (``launch``/``terminate``, called by Slurm's Resume/Suspend programs), reports what
exists (``instances``), and runs commands on the head node (``run_on_head``) so that the service can
drive Slurm the same way on every provider. Errors come back as ``ProviderError``.

Every capability is a method of ``Provider``; those not every provider has (``launch_batch``,
``default_region``, ``stack_status``, ``cloud_findings``, ``dry_run_summary``) have a neutral
default in ``ProviderBase``, which every provider inherits. New capabilities go here the same way:
a method on ``Provider`` and its default on ``ProviderBase`` (never a ``getattr`` probe). The
daemons need only ``NodeFleet``. Providers are found by name in ``corral.providers``' registry.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, cast

from corral.config import targets
from corral.config.findings import Finding
from corral.errors import BadRequestError, ConflictError, InsufficientCapacityError, ProviderError
from corral.plan import ClusterPlan


class InstanceState(enum.StrEnum):
    """EC2's instance states, which pcluster's JSON reports (``describe-cluster-instances``)."""

    PENDING = "pending"
    RUNNING = "running"
    SHUTTING_DOWN = "shutting-down"
    TERMINATED = "terminated"
    STOPPING = "stopping"
    STOPPED = "stopped"


class NodeRole(enum.StrEnum):
    HEAD = "HeadNode"
    COMPUTE = "Compute"
    LOGIN = "LoginNode"


@dataclass(frozen=True)
class Instance:
    """One running (or starting) machine of a cluster."""

    instance_id: str
    role: NodeRole
    instance_type: str
    private_ip: str
    state: InstanceState
    launch_time: datetime
    node_name: str | None = None  # Slurm node name; None for the head node
    queue: str | None = None
    compute_resource: str | None = None
    public_ip: str | None = None
    #: the ``LoginNodes/Pools`` entry a login node (role LOGIN) belongs to
    pool: str | None = None


#: pcluster's ``LoginNodesState`` values (``describe-cluster``'s ``loginNodes[].status``).
LOGIN_POOL_STATES = ("pending", "active", "failed")


@dataclass(frozen=True)
class LoginPoolStatus:
    """One login node pool as ``describe-cluster`` reports it (pcluster's ``LoginNodesPool``):
    ``address`` is where users ssh to (aws: the pool's Network Load Balancer DNS name), ``scheme``
    the load balancer's (``internet-facing`` / ``internal``); the counts are healthy and unhealthy
    nodes of the pool."""

    pool_name: str
    status: str  # one of LOGIN_POOL_STATES
    address: str | None = None
    scheme: str | None = None
    healthy: int = 0
    unhealthy: int = 0

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"poolName": self.pool_name, "status": self.status}
        if self.address is not None:
            out["address"] = self.address
        if self.scheme is not None:
            out["scheme"] = self.scheme
        out["healthyNodes"] = self.healthy
        out["unhealthyNodes"] = self.unhealthy
        return out


@dataclass(frozen=True)
class DatabaseStandin:
    """A stand-in for an accounting database (``Database/Uri``) that outlives clusters."""

    uri: str
    running: bool
    path: str
    used_by: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {
            "uri": self.uri,
            "status": "RUNNING" if self.running else "STOPPED",
            "path": self.path,
            "usedBy": list(self.used_by),
        }


@dataclass(frozen=True)
class DcvTarget:
    """The node ``dcv-connect`` opens a DCV session on: the head node (``address`` None) or the
    login node at ``address``; ``port`` is that node's ``Dcv/Port``."""

    node_type: str
    address: str | None
    port: int


@dataclass(frozen=True)
class CommandResult:
    returncode: int
    stdout: str
    stderr: str


class LogReader(Protocol):
    """How the service reads one log stream, wherever its lines are kept: a file on this machine
    (``FileLogReader``), or a remote store (a CloudWatch reader implements the same four)."""

    def read_text(self) -> str:
        """Every line of the stream ("" when it is gone)."""
        ...

    def last_write(self) -> datetime:
        """When the stream last received a line (now when that cannot be told)."""
        ...

    def size(self) -> int:
        """The stream's stored bytes (0 when it is gone)."""
        ...

    def edges(self, limit: int) -> tuple[list[str], list[str]]:
        """The first and the last lines, from at most ``limit`` bytes at each end."""
        ...


@dataclass(frozen=True)
class FileLogReader:
    """A stream kept in a file on this machine."""

    path: Path

    def read_text(self) -> str:
        try:
            return self.path.read_bytes().decode("utf-8", errors="replace")
        except OSError:
            return ""

    def last_write(self) -> datetime:
        try:
            return datetime.fromtimestamp(self.path.stat().st_mtime, UTC)
        except OSError:
            return datetime.now(UTC)

    def size(self) -> int:
        try:
            return self.path.stat().st_size
        except OSError:
            return 0

    def edges(self, limit: int) -> tuple[list[str], list[str]]:
        try:
            with self.path.open("rb") as f:
                head = f.read(limit)
                size = f.seek(0, os.SEEK_END)
                f.seek(max(0, size - limit))
                tail = f.read()
        except OSError:
            return [], []
        return head.decode(errors="replace").splitlines(), tail.decode(errors="replace").splitlines()


@dataclass(frozen=True)
class LogSource:
    """One log stream of a cluster (pcluster's CloudWatch stream): where its lines are and the
    machine that wrote them. ``stream_name`` is ``<hostname>.<instance-id>.<identifier>``. Readers
    go through ``open()``: ``path`` is only where a provider that keeps files put them (None for
    a stream kept elsewhere, which gives its ``reader``)."""

    stream_name: str
    path: Path | None
    role: NodeRole
    hostname: str
    private_dns_name: str  # short private DNS name, "ip-10-0-0-101"
    instance_id: str
    identifier: str  # "slurmctld", "cfn-init", ...
    #: Monitoring/Logs/CloudWatch/RetentionInDays: older events are expired; None keeps them all
    retention_days: int | None = None
    #: how the lines are read when they are not in ``path`` (a remote store)
    reader: LogReader | None = field(default=None, compare=False)

    def open(self) -> LogReader:
        """The stream's reader: ``reader``, else the file at ``path``."""
        if self.reader is not None:
            return self.reader
        if self.path is None:
            raise ValueError(f"log stream {self.stream_name} has neither a reader nor a path")
        return FileLogReader(self.path)


@dataclass(frozen=True)
class ProviderTraits:
    """What generic layers may know about a provider, instead of comparing its name."""

    #: which rules of ``corral.config.check`` bind: "aws" keeps AWS's service limits ERRORs; the
    #: providers that run on this machine report them as WARNINGs ("local")
    validation_target: str = targets.LOCAL
    #: whether the head node deletes a cluster past its ``expires_at`` (``Provider.expire``)
    enforces_expiry: bool = False
    #: config paths (regular expressions over a change's path) whose changes update-cluster cannot
    #: apply on this provider yet although pcluster's policy allows them: refused with that reason
    update_not_implemented: tuple[tuple[str, str], ...] = ()


EventSink = Callable[[str, str], None]
"""``sink(resource, message)``: a provider reports progress (``("HeadNode", "slurmctld started")``)."""


@dataclass(frozen=True)
class RecoveredCluster:
    """A cluster found on the provider's side: enough to rebuild its record."""

    name: str
    cluster_id: str
    config_text: str
    created_at: datetime
    #: where it was found (shown to the user)
    location: str
    head_running: bool


class NodeFleet(Protocol):
    """The slice of the contract the head node's daemons use (as small as Ray autoscaler v2's):
    launch (per-node outcomes as data), terminate, list instances, run a command on the head,
    and delete the cluster from its own side when its time-to-live has passed."""

    def launch_batch(
        self, cluster_name: str, node_names: Sequence[str], *, all_or_nothing: bool = False
    ) -> LaunchResult:
        """Start these compute nodes (idempotent per node name). With ``all_or_nothing`` either
        every node starts or none does and nothing is left running (EC2's MinTargetCapacity equal
        to the target); otherwise as many as the capacity allows, in the order given. Per-node
        failures (capacity above all) come back in ``failed``; only a problem with the cluster
        itself raises ``ProviderError``. Default: ``launch`` the whole batch (``launch_nodes``)."""
        ...

    def terminate(self, cluster_name: str, node_names: Sequence[str]) -> None:
        """Stop these compute nodes (Slurm SuspendProgram). Idempotent per node name."""

    def instances(self, cluster_name: str) -> list[Instance]:
        """Head and compute instances that are not terminated."""
        ...

    def run_on_head(
        self,
        cluster_name: str,
        argv: Sequence[str],
        *,
        user: str | None = None,
        stdin: str | None = None,
        timeout: float | None = 60.0,
    ) -> CommandResult:
        """Run a command on the head node with the cluster's Slurm environment, capturing output."""
        ...

    def expire(self, cluster_name: str) -> None:
        """Delete the cluster from its own side: its time-to-live (``ClusterPlan.expires_at``) has
        passed. Called by the head node's reconciler, so it must not depend on the process that
        created the cluster; it starts the delete and returns (the delete ends the caller)."""

    def heal_login_nodes(self, cluster_name: str) -> list[str]:
        """Bring the login node pools to their Count (the reconciler calls it every pass): replace
        dead login nodes, launch missing ones, warn and stop, after GracetimePeriod, those past
        Count. Returns what it did, one line each. Default: nothing (a provider whose pools heal
        themselves, as AWS Auto Scaling groups do)."""
        ...


class Provider(NodeFleet, Protocol):
    """What every provider implements. Idempotent where the name says so. Capabilities that not
    every provider has are methods too, with a neutral default in ``ProviderBase``; ``traits``
    says what generic layers need to know about a provider (never its name). The daemons' slice,
    ``NodeFleet``, is part of it."""

    name: str
    traits: ProviderTraits

    def check_prerequisites(self) -> None:
        """Raise ``PrerequisiteError`` naming what is missing (root, packages, namespaces) and the fix."""

    def create(self, plan: ClusterPlan, *, on_event: EventSink) -> Instance:
        """Build the cluster: head node, shared storage, Slurm, static nodes. Returns the head node.

        On failure raise ``ProviderError``; the caller decides whether to roll back (``delete``).
        """
        ...

    def delete(self, cluster_name: str, *, retain_storage: bool = True) -> None:
        """Remove every process, namespace, interface, mount and file of the cluster. Idempotent;
        storage whose DeletionPolicy is Retain is kept unless ``retain_storage`` is False."""

    def exists(self, cluster_name: str) -> bool:
        """Whether any infrastructure of the cluster is still present."""
        ...

    # Ownership by identity: ``cluster_id`` names one create (the service passes the unique tail
    # of the record's stack id). What that create makes carries the id, and ``delete_owned``
    # removes only what carries it, so a create that failed because the name was in use, or a
    # record whose cluster another create replaced, never destroys someone else's cluster. The
    # defaults (``ProviderBase``) are the plain, name-keyed calls.
    def create_owned(self, plan: ClusterPlan, *, on_event: EventSink, cluster_id: str) -> Instance:
        """``create``, everything made carrying ``cluster_id``; ``ConflictError`` (nothing touched)
        when the name is in use."""
        ...

    def delete_owned(self, cluster_name: str, *, cluster_id: str, retain_storage: bool = True) -> None:
        """``delete``, but only of what carries ``cluster_id`` (nothing when another create owns it)."""

    def exists_owned(self, cluster_name: str, cluster_id: str) -> bool:
        """Whether anything of that create is still present."""
        ...

    def restore(self, plan: ClusterPlan, *, cluster_id: str) -> bool:
        """Bring the cluster back after the machine it runs on restarted (head node, static
        nodes, Slurm's saved queue, storage as they were); False when nothing needed it."""
        ...

    def recoverable_clusters(self) -> list[RecoveredCluster]:
        """The clusters this provider finds on its own side (for ``corral repair-state``, which
        rebuilds the records a damaged or lost state database no longer has)."""
        ...

    def launch(self, cluster_name: str, node_names: Sequence[str]) -> list[Instance]:
        """Start these compute nodes (Slurm ResumeProgram). Idempotent per node name.

        Raises ``InsufficientCapacityError`` (a ``ProviderError``) when the provider has no
        capacity for them; ``launch_batch`` reports per-node outcomes instead."""
        ...

    def head_shell_argv(
        self, cluster_name: str, argv: Sequence[str], *, user: str | None = None
    ) -> list[str]:
        """pcluster's ``ssh USER@HEAD ARGS`` for ``corral ssh``: ``argv`` are ssh's options and the
        remote command (a login shell when there is none); ``user`` defaults to the cluster's."""
        ...

    def log_sources(self, cluster_name: str) -> list[LogSource]:
        """Every log stream the cluster keeps, of live and terminated machines alike, and after a
        delete or rollback those kept by ``Monitoring/Logs/CloudWatch/DeletionPolicy: Retain``
        (the latest retained copy). Empty when there are none."""
        ...

    # -- capabilities with a neutral default in ``ProviderBase`` ----------------------------------

    def default_region(self) -> str | None:
        """The region a config without ``Region`` deploys to (the service records it, so
        describe-cluster reports it), or None when the provider cannot tell. Default: None."""
        ...

    def stack_status(self, cluster_name: str) -> str | None:
        """The status of infrastructure that goes on by itself (a CloudFormation stack keeps
        creating when the process that started it dies): ``CREATE_COMPLETE``, ..., or None without
        one. The service asks it before declaring an orphaned in-progress operation failed.
        Default: None."""
        ...

    def cloud_findings(self, config: Any) -> list[Finding]:
        """Validators that need the provider's cloud APIs (aws: subnets, security groups, key pair,
        AMIs, instance type offerings, capacity reservations) for a validated ``ClusterConfig``;
        the service gates them like the offline ones. Never raises for a missing resource (an INFO
        finding when it cannot run). Default: none."""
        ...

    def databases(self) -> list[DatabaseStandin]:
        """The accounting database stand-ins this provider runs for ``Database/Uri`` (local: a
        MariaDB server per Uri, kept after the clusters using it are deleted). Default: none."""
        ...

    def delete_database(self, uri: str, *, force: bool = False) -> DatabaseStandin:
        """Stop and remove the stand-in for ``uri`` and its data; ``ConflictError`` while a cluster
        uses it, unless ``force``; ``NotFoundError`` when there is none. Default: none exist."""
        ...

    def dcv_url(self, cluster_name: str, target: DcvTarget, *, key_path: str | None = None) -> str:
        """The one-time URL of a NICE DCV session on ``target`` (``dcv-connect``), reached over SSH
        with ``key_path``. Default: ``ProviderError`` (this provider's nodes run no DCV server)."""
        ...

    def configure_choices(self, region: str) -> dict[str, list[str]] | None:
        """What ``corral configure`` offers to choose from in ``region``: ``{"key_pairs": [...],
        "subnets": [...]}`` from the account (aws), or None to ask for typed-in values (offline).
        Default: None."""
        ...

    def dry_run_summary(self, config_path: Path, cluster_name: str) -> str | None:
        """What a create would deploy, for ``create-cluster --dryrun true`` (aws: the templates'
        stacks, resources and bytes), printed on stderr; None when there is nothing to add.
        Default: None."""
        ...

    def live_update_kinds(self) -> frozenset[str]:
        """The kinds of change (``corral.plan.live.LIVE_KINDS``) update-cluster applies with the
        compute fleet running beyond what pcluster's update policies allow. Default: none
        (pcluster's verdicts exactly)."""
        ...

    def update(
        self, old: ClusterPlan, new: ClusterPlan, *, on_event: EventSink, rollback: bool = False
    ) -> None:
        """update-cluster: bring the running cluster from ``old`` to ``new`` (node set, slurm.conf,
        storage, custom actions); jobs on kept nodes keep running. The service has judged the
        change set and the jobs in the way, and records the lifecycle. Idempotent: converges on
        ``new`` from wherever an interrupted update left it; the service rolls back by calling it
        with the plans swapped and ``rollback`` True. Unless ``rollback``, runs the head node's
        OnNodeUpdated actions last (a failing one raises ``ProviderError`` with its output's tail).
        Default: ``ConflictError`` "not implemented yet" (nothing changed)."""
        ...

    def can_update(self) -> bool:
        """Whether ``update`` is implemented; the service refuses an update up front otherwise.
        Default: True exactly when the provider overrides ``update``."""
        ...

    def login_pools(self, cluster_name: str) -> list[LoginPoolStatus]:
        """The cluster's login node pools as ``describe-cluster``'s ``loginNodes`` reports them
        (status, address, healthy/unhealthy counts). Default: none."""
        ...

    def login_shell_argv(
        self, cluster_name: str, pool: str, argv: Sequence[str], *, user: str | None = None
    ) -> list[str]:
        """``ssh USER@NODE ARGS`` to one login node of ``pool`` (``corral ssh --login-pool``),
        spread over the pool's nodes as its load balancer does; ``argv`` as for ``head_shell_argv``.
        Default: ``BadRequestError`` "not implemented yet"."""
        ...

    # Custom images (``build-image`` and the image verbs). JSON-level: each returns pcluster's
    # shape (``../shared/pcluster-3.16/openapi.yaml``) so the CLI and the API print it as it is.
    def build_image(
        self,
        config_text: str,
        image_id: str,
        *,
        region: str | None,
        rollback_on_failure: bool = True,
        on_event: EventSink,
    ) -> dict[str, Any]:
        """Start building image ``image_id`` from an image config (pcluster's ``Build``/``Image``
        YAML); pcluster's ``ImageInfoSummary`` (``imageBuildStatus`` BUILD_IN_PROGRESS when the
        build goes on by itself). Default: ``BadRequestError`` "not implemented yet"."""
        ...

    def describe_image(self, image_id: str, *, region: str | None) -> dict[str, Any]:
        """pcluster's ``DescribeImageResponseContent``; ``NotFoundError`` for an unknown id.
        Default: ``BadRequestError`` "not implemented yet"."""
        ...

    def list_images(self, *, image_status: str, region: str | None) -> list[dict[str, Any]]:
        """pcluster's ``ImageInfoSummary`` of every image in ``image_status`` (AVAILABLE, PENDING,
        FAILED). Default: ``BadRequestError`` "not implemented yet"."""
        ...

    def delete_image(self, image_id: str, *, region: str | None, force: bool = False) -> dict[str, Any]:
        """Start deleting the image and what its build made; pcluster's ``ImageInfoSummary``
        (DELETE_IN_PROGRESS). Default: ``BadRequestError`` "not implemented yet"."""
        ...

    def image_log_sources(self, image_id: str, *, region: str | None) -> list[LogSource]:
        """The image build's log streams (``list-image-log-streams``, ``get-image-log-events``,
        ``export-image-logs`` read them like a cluster's). Default: "not implemented yet"."""
        ...

    def image_stack_events(self, image_id: str, *, region: str | None) -> list[dict[str, Any]]:
        """pcluster's ``StackEvent`` items of the image's build, newest first. Default: "not
        implemented yet"."""
        ...


#: EC2 error codes ParallelCluster treats as insufficient capacity (its fast fail-over list); a
#: ``LaunchFailure`` with one of them makes the reconciler skip the compute resource for a while.
INSUFFICIENT_CAPACITY_CODES = frozenset(
    {
        "InsufficientInstanceCapacity",
        "InsufficientHostCapacity",
        "InsufficientReservedInstanceCapacity",
        "MaxSpotInstanceCountExceeded",
        "Unsupported",
        "SpotMaxPriceTooLow",
    }
)


@dataclass(frozen=True)
class LaunchFailure:
    """A node the provider could not launch. ``code`` is the EC2-style error code ParallelCluster
    puts in the node's reason (``InsufficientInstanceCapacity``, ...), or "" when there is none."""

    node_name: str
    code: str
    message: str


@dataclass(frozen=True)
class LaunchResult:
    """What one batch launch did: every requested node is in exactly one of the two."""

    launched: tuple[Instance, ...] = ()
    failed: tuple[LaunchFailure, ...] = ()

    def launched_names(self) -> list[str]:
        return [i.node_name for i in self.launched if i.node_name]


def launch_nodes(provider: NodeLauncher, cluster_name: str, node_names: Sequence[str]) -> LaunchResult:
    """``launch`` the whole batch and turn its error into per-node failures: the default
    ``launch_batch`` of a provider that can only launch all of a request or none of it."""
    try:
        return LaunchResult(launched=tuple(provider.launch(cluster_name, list(node_names))))
    except InsufficientCapacityError as exc:
        code, message = exc.reason_code, exc.message
    except ProviderError as exc:
        code, message = "", exc.message
    return LaunchResult(failed=tuple(LaunchFailure(n, code, message) for n in node_names))


class NodeLauncher(Protocol):
    def launch(self, cluster_name: str, node_names: Sequence[str]) -> list[Instance]: ...


class ProviderBase:
    """Neutral defaults for the capabilities not every provider has; providers inherit it and
    override what they can do better."""

    traits = ProviderTraits()

    def launch(self, cluster_name: str, node_names: Sequence[str]) -> list[Instance]:
        raise NotImplementedError  # every provider implements launch

    def launch_batch(
        self, cluster_name: str, node_names: Sequence[str], *, all_or_nothing: bool = False
    ) -> LaunchResult:
        return launch_nodes(self, cluster_name, node_names)

    def default_region(self) -> str | None:
        return None

    def create_owned(self, plan: ClusterPlan, *, on_event: EventSink, cluster_id: str) -> Instance:
        return cast("Provider", self).create(plan, on_event=on_event)

    def delete_owned(self, cluster_name: str, *, cluster_id: str, retain_storage: bool = True) -> None:
        cast("Provider", self).delete(cluster_name, retain_storage=retain_storage)

    def exists_owned(self, cluster_name: str, cluster_id: str) -> bool:
        return cast("Provider", self).exists(cluster_name)

    def restore(self, plan: ClusterPlan, *, cluster_id: str) -> bool:
        return False

    def recoverable_clusters(self) -> list[RecoveredCluster]:
        return []

    def dcv_url(self, cluster_name: str, target: DcvTarget, *, key_path: str | None = None) -> str:
        raise ProviderError(
            f"dcv-connect: the {cast('Provider', self).name} provider's nodes run no NICE DCV server yet",
            hint=f"open a shell with `corral ssh -n {cluster_name}`",
        )

    def expire(self, cluster_name: str) -> None:
        raise ProviderError(
            f"cluster {cluster_name!r} passed its time-to-live, but this provider cannot delete a"
            " cluster from its own side yet",
            hint=f"delete it: corral delete-cluster -n {cluster_name}",
        )

    def stack_status(self, cluster_name: str) -> str | None:
        return None

    def cloud_findings(self, config: Any) -> list[Finding]:
        return []

    def dry_run_summary(self, config_path: Path, cluster_name: str) -> str | None:
        return None

    def configure_choices(self, region: str) -> dict[str, list[str]] | None:
        return None

    def live_update_kinds(self) -> frozenset[str]:
        return frozenset()

    def update(
        self, old: ClusterPlan, new: ClusterPlan, *, on_event: EventSink, rollback: bool = False
    ) -> None:
        raise ConflictError(
            f"update-cluster is not implemented yet for the {getattr(self, 'name', '?')} provider",
            hint="delete the cluster and create it again with the new config",
        )

    def can_update(self) -> bool:
        """Whether ``update`` is implemented (the service refuses an update up front otherwise)."""
        return type(self).update is not ProviderBase.update

    def databases(self) -> list[DatabaseStandin]:
        return []

    def login_pools(self, cluster_name: str) -> list[LoginPoolStatus]:
        return []

    def heal_login_nodes(self, cluster_name: str) -> list[str]:
        return []

    def login_shell_argv(
        self, cluster_name: str, pool: str, argv: Sequence[str], *, user: str | None = None
    ) -> list[str]:
        raise BadRequestError(
            f"ssh --login-pool is not implemented yet for the {getattr(self, 'name', '?')} provider",
            hint=f"open a shell on the head node: corral ssh -n {cluster_name}",
        )

    def _images_not_implemented(self, verb: str) -> BadRequestError:
        return BadRequestError(
            f"{verb} is not implemented yet for the {getattr(self, 'name', '?')} provider",
            hint="use a provider that builds images",
        )

    def build_image(
        self,
        config_text: str,
        image_id: str,
        *,
        region: str | None,
        rollback_on_failure: bool = True,
        on_event: EventSink,
    ) -> dict[str, Any]:
        raise self._images_not_implemented("build-image")

    def describe_image(self, image_id: str, *, region: str | None) -> dict[str, Any]:
        raise self._images_not_implemented("describe-image")

    def list_images(self, *, image_status: str, region: str | None) -> list[dict[str, Any]]:
        raise self._images_not_implemented("list-images")

    def delete_image(self, image_id: str, *, region: str | None, force: bool = False) -> dict[str, Any]:
        raise self._images_not_implemented("delete-image")

    def image_log_sources(self, image_id: str, *, region: str | None) -> list[LogSource]:
        raise self._images_not_implemented("list-image-log-streams")

    def image_stack_events(self, image_id: str, *, region: str | None) -> list[dict[str, Any]]:
        raise self._images_not_implemented("get-image-stack-events")

    def delete_database(self, uri: str, *, force: bool = False) -> DatabaseStandin:
        from corral.errors import NotFoundError

        raise NotFoundError(f"no database stand-in for {uri!r}", hint="`corral list-databases` lists them")


__all__ = [
    "INSUFFICIENT_CAPACITY_CODES",
    "LOGIN_POOL_STATES",
    "CommandResult",
    "DatabaseStandin",
    "DcvTarget",
    "EventSink",
    "FileLogReader",
    "Instance",
    "InstanceState",
    "LaunchFailure",
    "LaunchResult",
    "LogReader",
    "LogSource",
    "LoginPoolStatus",
    "NodeFleet",
    "NodeLauncher",
    "NodeRole",
    "Provider",
    "ProviderBase",
    "ProviderError",
    "ProviderTraits",
    "RecoveredCluster",
    "launch_nodes",
]

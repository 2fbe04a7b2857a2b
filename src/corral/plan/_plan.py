"""ClusterPlan: everything a provider needs to build a cluster, decided up front, as plain data.

``build_plan(config)`` (in ``corral.plan``) turns a validated ``ClusterConfig`` into this; providers and
Slurm rendering read only this, never the config, so they never guess a default.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from corral.config.model import ClusterConfig


class NodeKind(enum.StrEnum):
    STATIC = "static"
    DYNAMIC = "dynamic"


@dataclass(frozen=True)
class NodeShape:
    """What a node advertises to Slurm, from the instance-type catalog."""

    instance_type: str
    cpus: int  # vCPUs Slurm sees (halved when DisableSimultaneousMultithreading)
    sockets: int
    cores_per_socket: int
    threads_per_core: int
    real_memory_mib: int  # RealMemory advertised to Slurm
    gpus: int = 0
    gpu_type: str = ""  # e.g. "a100"; used for Gres=gpu:<type>:<n>
    architecture: str = "x86_64"
    price: float | None = None  # on-demand USD/hour where known


@dataclass(frozen=True)
class NodeSpec:
    """One Slurm node: ``{queue}-st-{cr}-{N}`` or ``{queue}-dy-{cr}-{N}``."""

    name: str
    queue: str
    compute_resource: str
    kind: NodeKind
    index: int  # N, 1-based
    shape: NodeShape
    weight: int  # Slurm Weight: lower is picked first; follows price and the node priorities
    features: tuple[str, ...]  # e.g. ("static", "c5.xlarge", "compute-resource-0")
    #: Slurm node-line settings from CustomSlurmSettings at compute-resource level, in order.
    custom_settings: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class PartitionSpec:
    """One queue as a Slurm partition."""

    name: str
    node_names: tuple[str, ...]
    default: bool
    job_exclusive: bool = False
    #: Partition-line settings from the queue's CustomSlurmSettings (e.g. MaxNodes, MaxTime), in order.
    custom_settings: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class DataRepositorySpec:
    """An FSx for Lustre data repository association (or the legacy ImportPath): what is synced
    between ``DataRepositoryPath`` (s3://bucket/prefix) and ``MountDir/FileSystemPath``."""

    name: str
    file_system_path: str
    data_repository_path: str
    batch_import: bool = False  # BatchImportMetaDataOnCreate
    auto_import: tuple[str, ...] = ()  # AutoImportPolicy events: NEW, CHANGED, DELETED
    auto_export: tuple[str, ...] = ()  # AutoExportPolicy events: NEW, CHANGED, DELETED


@dataclass(frozen=True)
class StorageSpec:
    """One SharedStorage entry, or the cluster's /home export."""

    name: str
    storage_type: str  # Ebs, Efs, FsxLustre, FsxOpenZfs, FsxOntap, FileCache, or "Home"
    mount_dir: str
    deletion_policy: str  # Delete, Retain, Snapshot
    existing: bool = False  # refers to an existing volume/file system (VolumeId, FileSystemId, ...)
    #: (FileSystemPath, DataRepositoryPath) for FSx Lustre import/export and data repository associations.
    data_repositories: tuple[tuple[str, str], ...] = ()
    #: FileSystemId / VolumeId / FileCacheId of an existing file system ("" when Corral creates it).
    existing_id: str = ""
    #: The data repository associations with their import/export policies (FSx for Lustre).
    associations: tuple[DataRepositorySpec, ...] = ()
    #: Its capacity in GiB: EBS Size, FSx StorageCapacity, the head's RootVolume Size for the
    #: implicit /home; 0 when the config gives none (EFS is elastic; an existing one keeps its own).
    size_gib: int = 0


#: The custom-action events, in the order a node runs them.
ACTION_EVENTS = ("OnNodeStart", "OnNodeConfigured", "OnNodeUpdated")


def event_rank(event: str) -> int:
    """Where ``event`` runs among ``ACTION_EVENTS``; an unknown event runs last."""
    return ACTION_EVENTS.index(event) if event in ACTION_EVENTS else len(ACTION_EVENTS)


@dataclass(frozen=True)
class CustomActionSpec:
    """A bootstrap script for one event on one kind of node."""

    event: str  # OnNodeStart, OnNodeConfigured, OnNodeUpdated
    script: str  # s3://, https:// or a local path
    args: tuple[str, ...] = ()
    sequence_index: int = 0  # order within the event when a Sequence is given

    @property
    def run_order(self) -> tuple[int, int]:
        """Sort key of the order a node runs its actions: by event, then by sequence."""
        return event_rank(self.event), self.sequence_index


@dataclass(frozen=True)
class HeadNodeSpec:
    shape: NodeShape
    custom_actions: tuple[CustomActionSpec, ...] = ()
    #: HeadNode/LocalStorage/EphemeralVolume/MountDir: the node's instance-store directory.
    ephemeral_dir: str = "/scratch"
    #: HeadNode/LocalStorage/RootVolume/Size in GiB (0: not given, as in hand-built plans).
    root_volume_gib: int = 0


@dataclass(frozen=True)
class LoginPoolSpec:
    """One ``LoginNodes/Pools`` entry: ``count`` login nodes (sshd and the Slurm clients, no
    slurmd) of ``instance_type``. ``gracetime_min`` (GracetimePeriod, minutes) is how long a node
    that scale-in removes keeps running after its logged-in users were warned."""

    name: str
    instance_type: str
    count: int
    gracetime_min: int = 10
    custom_actions: tuple[CustomActionSpec, ...] = ()
    #: Ssh/AllowedIps ("" when not set)
    allowed_ips: str = ""


@dataclass(frozen=True)
class SlurmPlan:
    """Cluster-wide Slurm settings, defaults materialised."""

    scaledown_idletime_min: int  # ScaledownIdletime (minutes; -1 disables power-down)
    memory_based_scheduling: bool
    queue_update_strategy: str
    #: Cluster-level CustomSlurmSettings, in order (slurm.conf key=value lines).
    custom_settings: tuple[tuple[str, str], ...] = ()
    custom_settings_include_file: str | None = None  # path, https:// or s3:// URL
    database_uri: str | None = None  # Database/Uri, host[:port]
    #: Database/DatabaseName, defaulted as pcluster does (the cluster name, '-' as '_'); None without
    #: a Database section
    database_name: str | None = None
    database_user: str | None = None
    database_password_secret_arn: str | None = None
    #: ExternalSlurmdbd/Host and Port: the slurmdbd the cluster's slurmctld reports to
    external_slurmdbd_host: str | None = None
    external_slurmdbd_port: int = 6819

    @property
    def accounting(self) -> bool:
        """Whether jobs are accounted (slurmdbd on the head node, or an external one)."""
        return bool(self.database_uri or self.external_slurmdbd_host)

    def database_endpoint(self) -> tuple[str, int]:
        """Database/Uri as (host, port); MySQL's 3306 when the Uri has no port."""
        host, _, port = (self.database_uri or "").rpartition(":")
        if host and port.isdigit():
            return host, int(port)
        return self.database_uri or "", 3306


@dataclass(frozen=True)
class ClusterPlan:
    cluster_name: str
    os: str
    region: str | None
    head_node: HeadNodeSpec
    nodes: tuple[NodeSpec, ...]
    partitions: tuple[PartitionSpec, ...]
    storage: tuple[StorageSpec, ...]
    slurm: SlurmPlan
    #: queue name -> custom actions for its compute nodes.
    queue_custom_actions: tuple[tuple[str, tuple[CustomActionSpec, ...]], ...] = ()
    tags: tuple[tuple[str, str], ...] = ()
    scaling_strategy: str = "all-or-nothing"
    compute_node_bootstrap_timeout_s: int = 1800
    head_node_bootstrap_timeout_s: int = 1800  # DevSettings/Timeouts/HeadNodeBootstrapTimeout
    #: queue name -> its compute nodes' EphemeralVolume/MountDir (every queue, defaults included).
    queue_ephemeral_dirs: tuple[tuple[str, str], ...] = ()
    #: Monitoring/Logs/CloudWatch/Enabled: False leaves the logs on the machines, with no log streams.
    cloudwatch_logs: bool = True
    #: Scheduling/SlurmSettings/Dns/UseEc2Hostnames: compute nodes take EC2's default host name
    #: (``ip-10-0-0-5``), which becomes their Slurm NodeHostname; their NodeName is unchanged.
    use_ec2_hostnames: bool = False
    #: queue name -> its compute nodes' LocalStorage/RootVolume/Size in GiB (every queue).
    queue_root_volume_gib: tuple[tuple[str, int], ...] = ()
    extra: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    #: When the cluster deletes itself (ISO 8601, UTC), enforced by its head node's reconciler; set by
    #: ``corral run --ttl`` so that a killed ``corral run`` leaves no cluster behind. None: never.
    expires_at: str | None = None
    #: LoginNodes/Pools, in config order.
    login_pools: tuple[LoginPoolSpec, ...] = ()
    #: The validated config the plan was built from, for providers that need more than the plan
    #: (the AWS template: networking, IAM, images). Not part of the plan's identity.
    config: ClusterConfig | None = field(default=None, compare=False, hash=False, repr=False)

    def node(self, name: str) -> NodeSpec:
        for node in self.nodes:
            if node.name == name:
                return node
        from corral.errors import NotFoundError

        raise NotFoundError(f"node {name!r} is not part of cluster {self.cluster_name!r}")

    @property
    def static_nodes(self) -> tuple[NodeSpec, ...]:
        return tuple(n for n in self.nodes if n.kind is NodeKind.STATIC)

    @property
    def dynamic_nodes(self) -> tuple[NodeSpec, ...]:
        return tuple(n for n in self.nodes if n.kind is NodeKind.DYNAMIC)

    def login_pool(self, name: str) -> LoginPoolSpec | None:
        return next((p for p in self.login_pools if p.name == name), None)

    def custom_actions_for(self, queue: str) -> tuple[CustomActionSpec, ...]:
        return dict(self.queue_custom_actions).get(queue, ())

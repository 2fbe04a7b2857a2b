"""Where a local cluster lives on disk, and the descriptor every local program reads.

``<state>/clusters/<name>/`` holds the cluster: ``cluster.json`` (the descriptor, written before
any namespace exists so that ``delete`` can always find everything), ``etc/`` (hosts, munge key),
``bin/`` (Resume/Suspend/Prolog wrappers), ``log/``, ``state/`` (slurmctld),
``head/`` and ``nodes/<node>/`` (holder pid, instance id, launch time), ``failures/``, ``shared/``.
Unix sockets, spool dirs and the Slurm config files go under a short, world-readable tmpfs of its own,
``/run/corral/<key>/`` (socket paths are limited to 108 bytes; every user's srun reads slurm.conf).
Storage with DeletionPolicy Retain lives in ``<state>/retained/<cluster>/<name>/``; an existing file
system or volume named by its id (FileSystemId, VolumeId) in ``<state>/volumes/<id>/``, shared by
every cluster that names the id and never deleted by a cluster delete. Each custom action logs to
``log/actions/<HeadNode|node name>/<NN>-<Event>-<script>.log``.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from corral.providers.local._settings import LocalSettings
from corral.runtime import codec

RUN_ROOT = Path("/run/corral")
#: ``ClusterDescriptor.extra`` key: when the cluster deletes itself (``ClusterPlan.expires_at``, ISO
#: 8601), passed to the head's reconciler.
EXPIRES_AT_KEY = "expires_at"
#: ``ClusterDescriptor.extra`` key: ``Database/Uri`` (slurmdbd on the head against its stand-in).
DATABASE_URI_KEY = "database_uri"
#: ``ClusterDescriptor.extra``: ``ExternalSlurmdbd``'s Host:Port (slurm.conf accounts jobs there)
EXTERNAL_SLURMDBD_ENDPOINT_KEY = "external_slurmdbd_endpoint"


@dataclass(frozen=True)
class ClusterLayout:
    state_dir: Path
    name: str

    @property
    def clusters_dir(self) -> Path:
        return self.state_dir / "clusters"

    @property
    def root(self) -> Path:
        return self.clusters_dir / self.name

    @property
    def run_dir(self) -> Path:
        key = hashlib.sha1(str(self.root.resolve()).encode()).hexdigest()[:12]
        return RUN_ROOT / key

    @property
    def retained_dir(self) -> Path:
        return self.state_dir / "retained" / self.name

    @property
    def volumes_dir(self) -> Path:
        """Existing file systems and volumes by id, shared by all clusters of this state dir."""
        return self.state_dir / "volumes"

    @property
    def snapshots_dir(self) -> Path:
        return self.state_dir / "snapshots" / self.name

    @property
    def action_logs(self) -> Path:
        """``<HeadNode|node>/<NN>-<Event>-<script>.log``, one file per custom action."""
        return self.log / "actions"

    @property
    def datasync_dir(self) -> Path:
        """The data repository sync's config, state and pid file."""
        return self.root / "datasync"

    @property
    def descriptor(self) -> Path:
        return self.root / "cluster.json"

    @property
    def subnet_file(self) -> Path:
        return self.root / "subnet"

    @property
    def etc(self) -> Path:
        return self.root / "etc"

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    @property
    def log(self) -> Path:
        return self.root / "log"

    @property
    def slurm_state(self) -> Path:
        return self.root / "state"

    @property
    def head_dir(self) -> Path:
        return self.root / "head"

    @property
    def nodes_dir(self) -> Path:
        return self.root / "nodes"

    @property
    def failures_dir(self) -> Path:
        return self.root / "failures"

    @property
    def actions_dir(self) -> Path:
        return self.root / "actions"

    @property
    def conf_dir(self) -> Path:
        """slurm.conf, gres.conf and the include file: under /run so that every user can read them
        whatever the permissions of the state dir (clients such as srun parse slurm.conf)."""
        return self.run_dir / "etc"

    @property
    def requests_dir(self) -> Path:
        """Where ``corral delete-cluster`` run on the cluster's nodes leaves its request for the
        reconciler (``corral.node.selfdelete``): world-writable, sticky, not listable."""
        return self.run_dir / "requests"

    @property
    def slurm_conf(self) -> Path:
        return self.conf_dir / "slurm.conf"

    @property
    def hosts_file(self) -> Path:
        return self.root / "etc/hosts"

    @property
    def munge_key(self) -> Path:
        return self.root / "etc/munge.key"

    @property
    def munge_socket(self) -> Path:
        return self.run_dir / "munge.socket"

    def node_dir(self, node: str) -> Path:
        return self.nodes_dir / node


@dataclass(frozen=True)
class ActionRecord:
    event: str
    source: str  # the URL or path from the config
    local_path: str  # the fetched copy the agent runs
    args: tuple[str, ...] = ()


def ec2_hostname(address: str) -> str:
    """EC2's default host name of an address: ``10.240.0.10`` -> ``ip-10-240-0-10``."""
    return "ip-" + address.replace(".", "-")


@dataclass(frozen=True)
class NodeRecord:
    name: str
    index: int
    address: str
    queue: str
    compute_resource: str
    instance_type: str
    kind: str


@dataclass(frozen=True)
class LoginPoolRecord:
    """A ``LoginNodes/Pools`` entry as the running cluster holds it (``_login``)."""

    name: str
    instance_type: str
    count: int
    #: GracetimePeriod in seconds: how long a node scale-in removes runs after its users were warned
    gracetime_s: int
    #: which block of the subnet's top addresses the pool's nodes take (0-9, kept across updates)
    block: int
    actions: tuple[ActionRecord, ...] = ()


#: Addresses per login pool (each pool takes a block of the subnet's top; pcluster allows 10 pools).
LOGIN_POOL_BLOCK = 100
#: Addresses at the very top of the subnet that login nodes leave free: the accounting link's /30
#: (the last) and the NAT uplink's (the second-to-last, ``_nat.addresses``). A login node inside the
#: uplink's /30 is unreachable: the head routes that /30 to its uplink, not to its bridge.
LOGIN_TOP_RESERVED = 8


@dataclass(frozen=True)
class LoginNode:
    """One slot of a login pool: ``login-<pool>-<index>`` at a fixed address."""

    pool: str
    index: int
    name: str
    address: str


def login_node_name(pool: str, index: int) -> str:
    return f"login-{pool}-{index}"


def login_address(subnet: ipaddress.IPv4Network, block: int, index: int) -> ipaddress.IPv4Address:
    """Slot ``index`` (1-based) of the pool in ``block``: downwards from the top of the subnet
    (compute nodes fill it upwards from the bottom)."""
    return subnet.broadcast_address - LOGIN_TOP_RESERVED - (block * LOGIN_POOL_BLOCK + index - 1)


@dataclass(frozen=True)
class StorageRecord:
    name: str
    mount_dir: str
    data_dir: str
    deletion_policy: str
    created_mount_root: str  # the top-most mount dir Corral created on the host, or ""
    storage_type: str = ""
    #: the id a later cluster can name (FileSystemId/VolumeId) to mount this storage again
    storage_id: str = ""
    #: True for an existing file system or volume (``<state>/volumes/<id>``): never deleted
    shared_volume: bool = False
    #: its capacity: ``data_dir`` is the mount point of a volume of this size (``_volumes``); 0: a
    #: plain directory (an existing one mounts its volume when it has one)
    size_gib: int = 0


@dataclass(frozen=True)
class DataRepositoryRecord:
    """One data repository association, with the host directory it syncs."""

    storage: str
    name: str
    local_dir: str  # <storage data dir>/<FileSystemPath> on the host
    url: str  # s3://bucket/prefix
    batch_import: bool = False
    auto_import: tuple[str, ...] = ()
    auto_export: tuple[str, ...] = ()


@dataclass(frozen=True)
class ClusterDescriptor:
    """Everything the Resume/Suspend programs and the node agent need, as JSON on disk."""

    name: str
    subnet: str
    head_address: str
    head_hostname: str
    head_instance_type: str
    python: str
    nodes: tuple[NodeRecord, ...]
    storage: tuple[StorageRecord, ...] = ()
    head_actions: tuple[ActionRecord, ...] = ()
    queue_actions: tuple[tuple[str, tuple[ActionRecord, ...]], ...] = ()
    #: environment passed to node agents (S3 endpoint and credentials captured at create time)
    env: tuple[tuple[str, str], ...] = ()
    extra: dict[str, str] = field(default_factory=dict)
    data_repositories: tuple[DataRepositoryRecord, ...] = ()
    region: str = ""
    os: str = ""
    #: the cluster config as YAML, placed on every node at /opt/parallelcluster/shared
    cluster_config: str = ""
    head_timeout_s: int = 1800
    compute_timeout_s: int = 1800
    #: EphemeralVolume/MountDir of the head node ("") and of each queue's compute nodes
    ephemeral_dirs: tuple[tuple[str, str], ...] = ()
    #: (mount dir, first dir created) of the ephemeral mount points create made on the host
    ephemeral_created: tuple[tuple[str, str], ...] = ()
    #: UseEc2Hostnames: compute nodes are named ``ip-a-b-c-d`` after their address (their Slurm
    #: NodeHostname), as EC2 names instances
    use_ec2_hostnames: bool = False
    #: RootVolume/Size in GiB of the head node ("") and of each queue's compute nodes: an
    #: image-rooted machine's writable layer is a volume of that size (0 or absent: a directory)
    root_volumes: tuple[tuple[str, int], ...] = ()
    #: the environment's knobs as the create read them (``_settings``): used from then on
    settings: LocalSettings = field(default_factory=LocalSettings)

    def root_volume_gib(self, queue: str | None) -> int:
        return dict(self.root_volumes).get(queue or "", 0)

    #: LoginNodes/Pools (``_login``)
    login_pools: tuple[LoginPoolRecord, ...] = ()

    def login_pool(self, name: str) -> LoginPoolRecord | None:
        return next((p for p in self.login_pools if p.name == name), None)

    def login_slot(self, pool: LoginPoolRecord, index: int) -> LoginNode:
        subnet = ipaddress.IPv4Network(self.subnet)
        address = str(login_address(subnet, pool.block, index))
        return LoginNode(pool.name, index, login_node_name(pool.name, index), address)

    def login_slots(self) -> list[LoginNode]:
        """Every slot of every login pool, up to its Count."""
        return [self.login_slot(p, i) for p in self.login_pools for i in range(1, p.count + 1)]

    def node(self, name: str) -> NodeRecord | None:
        for node in self.nodes:
            if node.name == name:
                return node
        return None

    def hostname(self, node: NodeRecord) -> str:
        """The host name of compute node ``node``: its node name, or EC2's with UseEc2Hostnames."""
        return ec2_hostname(node.address) if self.use_ec2_hostnames else node.name

    def ephemeral_dir(self, queue: str | None) -> str:
        """Where the node of ``queue`` (None: the head node) has its instance-store directory."""
        return dict(self.ephemeral_dirs).get(queue or "", "/scratch")

    def actions_for(self, queue: str | None) -> tuple[ActionRecord, ...]:
        if queue is None:
            return self.head_actions
        return dict(self.queue_actions).get(queue, ())

    def dump(self) -> str:
        return codec.dumps(self, indent=1)

    @classmethod
    def load(cls, path: Path) -> ClusterDescriptor:
        return codec.loads(cls, path.read_text())

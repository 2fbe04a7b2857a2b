"""Where a local cluster lives on disk, and the descriptor every local program reads.

``<state>/clusters/<name>/`` holds the cluster: ``cluster.json`` (the descriptor: the cluster's plan
and where this machine put it, written before any namespace exists so that ``delete`` can always
find everything), ``etc/`` (hosts, munge key),
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
import json
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from corral.plan import ClusterPlan
from corral.providers.local._settings import LocalSettings
from corral.runtime import codec

RUN_ROOT = Path("/run/corral")


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
class LoginPoolPlacement:
    """Where this machine put a ``LoginNodes/Pools`` entry of the plan (``_login``): what the plan's
    ``LoginPoolSpec`` does not say."""

    name: str
    #: GracetimePeriod in seconds as applied here (the plan's, or the environment's override): how
    #: long a node scale-in removes runs after its users were warned
    gracetime_s: int
    #: which block of the subnet's top addresses the pool's nodes take (0-9, kept across updates)
    block: int
    #: the pool's custom actions, fetched
    actions: tuple[ActionRecord, ...] = ()


@dataclass(frozen=True)
class LoginPoolRecord:
    """A ``LoginNodes/Pools`` entry as the running cluster holds it (``_login``): the plan's pool
    (instance type, Count) with its placement. Not stored: ``ClusterDescriptor.login_pools``."""

    name: str
    instance_type: str
    count: int
    gracetime_s: int
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
    """Everything the Resume/Suspend programs and the node agent need, as JSON on disk.

    It holds the cluster's ``ClusterPlan`` once (``plan``, in the one stored form of a plan:
    ``corral.runtime.codec``, as the service's ``plan_json`` and the AWS ``cluster.json``), plus
    only what the plan does not say: where this machine put the cluster (subnet, addresses, fetched
    action scripts, storage directories, login address blocks), the environment and settings the
    create captured, and the ``extra`` facts local programs record (image roots, NAT, accounting
    stand-ins). What the plan says (instance types, OS, timeouts, mount dirs, the config, the expiry,
    the Database) is read from ``plan`` through the properties below, so an update changes it in one
    place.

    A ``cluster.json`` written by a Corral from before the plan was stored in it has no ``plan``:
    ``load`` rebuilds the plan from the config YAML that file kept (``cluster_config``) and its
    expiry, as the service builds a plan, and keeps the rest of the file; the next update or create
    writes the new form. A file of that kind without the config cannot be rebuilt and fails to
    load with a ``ValueError`` naming it.
    """

    plan: ClusterPlan
    subnet: str
    head_address: str
    head_hostname: str
    python: str
    nodes: tuple[NodeRecord, ...]
    storage: tuple[StorageRecord, ...] = ()
    head_actions: tuple[ActionRecord, ...] = ()
    queue_actions: tuple[tuple[str, tuple[ActionRecord, ...]], ...] = ()
    #: environment passed to node agents (S3 endpoint and credentials captured at create time)
    env: tuple[tuple[str, str], ...] = ()
    #: facts local programs record about the running cluster (image roots, NAT, accounting
    #: stand-ins' keys); never a copy of the plan
    extra: dict[str, str] = field(default_factory=dict)
    data_repositories: tuple[DataRepositoryRecord, ...] = ()
    #: (mount dir, first dir created) of the ephemeral mount points create made on the host
    ephemeral_created: tuple[tuple[str, str], ...] = ()
    #: the environment's knobs as the create read them (``_settings``): used from then on
    settings: LocalSettings = field(default_factory=LocalSettings)
    #: where each of the plan's LoginNodes/Pools is placed (``_login``)
    login_placements: tuple[LoginPoolPlacement, ...] = ()

    # -- what the plan says ------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.plan.cluster_name

    @property
    def head_instance_type(self) -> str:
        return self.plan.head_node.shape.instance_type

    @property
    def region(self) -> str:
        return self.plan.region or ""

    @property
    def os(self) -> str:
        return self.plan.os

    @property
    def cluster_config(self) -> str:
        """The cluster config as YAML (the keys the user set), placed on every node at
        /opt/parallelcluster/shared ("" for a plan built without one)."""
        config = self.plan.config
        if config is None:
            return ""
        import yaml

        dumped = config.model_dump(mode="json", by_alias=True, exclude_unset=True)
        return str(yaml.safe_dump(dumped, sort_keys=False))

    @property
    def head_timeout_s(self) -> int:
        return self.plan.head_node_bootstrap_timeout_s

    @property
    def compute_timeout_s(self) -> int:
        return self.plan.compute_node_bootstrap_timeout_s

    @property
    def ephemeral_dirs(self) -> tuple[tuple[str, str], ...]:
        """EphemeralVolume/MountDir of the head node ("") and of each queue's compute nodes."""
        return (("", self.plan.head_node.ephemeral_dir), *self.plan.queue_ephemeral_dirs)

    @property
    def root_volumes(self) -> tuple[tuple[str, int], ...]:
        """RootVolume/Size in GiB of the head node ("") and of each queue's compute nodes: an
        image-rooted machine's writable layer is a volume of that size (0: a directory)."""
        return (("", self.plan.head_node.root_volume_gib), *self.plan.queue_root_volume_gib)

    @property
    def use_ec2_hostnames(self) -> bool:
        """UseEc2Hostnames: compute nodes are named ``ip-a-b-c-d`` after their address (their Slurm
        NodeHostname), as EC2 names instances."""
        return self.plan.use_ec2_hostnames

    @property
    def expires_at(self) -> str | None:
        """When the cluster deletes itself (ISO 8601), passed to the head's reconciler."""
        return self.plan.expires_at

    @property
    def database_uri(self) -> str | None:
        """``Database/Uri``: slurmdbd on the head against its stand-in."""
        return self.plan.slurm.database_uri

    @property
    def accounting(self) -> bool:
        """Whether slurm.conf accounts jobs (a Database, or an ExternalSlurmdbd)."""
        return self.plan.slurm.accounting

    def root_volume_gib(self, queue: str | None) -> int:
        return dict(self.root_volumes).get(queue or "", 0)

    @property
    def login_pools(self) -> tuple[LoginPoolRecord, ...]:
        """The plan's login pools (in config order) with where each is placed."""
        placed = {p.name: p for p in self.login_placements}
        return tuple(
            LoginPoolRecord(spec.name, spec.instance_type, spec.count, p.gracetime_s, p.block, p.actions)
            for spec in self.plan.login_pools
            if (p := placed.get(spec.name)) is not None
        )

    # -- where this machine put it -------------------------------------------------------------
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
        """The descriptor at ``path`` (one written before the plan was stored in it: see the class
        docstring). ``OSError``/``ValueError``/``KeyError``/``TypeError`` when it cannot be read."""
        data = json.loads(path.read_text())
        if isinstance(data, dict) and "plan" not in data:
            data = _older_descriptor(data, path)
        return codec.decode(cls, data)


_FIELDS = frozenset(f.name for f in fields(ClusterDescriptor))
#: ``extra`` keys of a descriptor from before the plan was stored in it (copies of the plan's).
_OLDER_PLAN_KEYS = ("expires_at", "database_uri", "external_slurmdbd_endpoint")


def _older_descriptor(data: dict[str, Any], path: Path) -> dict[str, Any]:
    """A descriptor written before the plan was stored in it, in today's form: its plan built from
    the config YAML it kept, with the expiry it kept (no config says it); ``ValueError`` when it
    kept no config. Its copies of the plan's fields are left out."""
    text = data.get("cluster_config") or ""
    if not text:
        raise ValueError(
            f"{path} was written by an older Corral and holds no cluster config to rebuild its plan"
            " from; delete the cluster and create it again"
        )
    from corral.config.loader import load_cluster_config_text
    from corral.errors import CorralError
    from corral.plan import build_plan

    try:
        config = load_cluster_config_text(text, str(path)).config
        plan = build_plan(config, cluster_name=str(data["name"]))
    except CorralError as exc:
        raise ValueError(f"{path}: cannot rebuild the plan from the config it kept: {exc}") from exc
    extra = data.get("extra") or {}
    plan = replace(plan, expires_at=extra.get("expires_at") or None)
    kept = {k: v for k, v in data.items() if k in _FIELDS}
    kept["extra"] = {k: v for k, v in extra.items() if k not in _OLDER_PLAN_KEYS}
    kept["login_placements"] = data.get("login_pools") or []  # their copies of the plan's go
    return {**kept, "plan": codec.encode(plan)}

"""``build_plan``: a validated ``ClusterConfig`` becomes a ``ClusterPlan``. Pure: no I/O.

Every default the plan needs is decided here (or was materialised by the model), so providers and
the Slurm renderer never guess. Node shapes come from the offline instance-type catalog.
"""

from __future__ import annotations

from collections.abc import Iterable

from corral.config import catalog
from corral.config.model import (
    ClusterConfig,
    CustomActionScript,
    FsxLustreSettings,
    SharedStorage,
    SlurmComputeResource,
    SlurmQueue,
)
from corral.config.model.head_node import DEFAULT_EPHEMERAL_DIR
from corral.errors import ConfigError
from corral.plan._plan import (
    ClusterPlan,
    CustomActionSpec,
    DataRepositorySpec,
    HeadNodeSpec,
    LoginPoolSpec,
    NodeKind,
    NodeShape,
    NodeSpec,
    PartitionSpec,
    SlurmPlan,
    StorageSpec,
)

#: Fraction of an instance's memory advertised to Slurm as RealMemory when SchedulableMemory is not
#: set, as ParallelCluster does (the rest is left to the OS and daemons).
SCHEDULABLE_MEMORY_FRACTION = 0.95
#: Slurm's Weight is a uint32; the price term keeps cheaper nodes first within one priority band.
_MAX_WEIGHT = 4_294_967_295
_USD_PER_VCPU_HOUR = 0.0425
_USD_PER_GIB_HOUR = 0.0053
_USD_PER_GPU_HOUR = 0.9
_EVENTS = (
    ("OnNodeStart", "on_node_start"),
    ("OnNodeConfigured", "on_node_configured"),
    ("OnNodeUpdated", "on_node_updated"),
)


def default_database_name(cluster_name: str) -> str:
    """pcluster's default ``Database/DatabaseName``: the cluster's name as a MySQL database name
    (lower case, '-' as '_')."""
    return cluster_name.lower().replace("-", "_")


def build_plan(config: ClusterConfig, *, cluster_name: str) -> ClusterPlan:
    """Decide the whole cluster: head node, node inventory, partitions, storage, Slurm settings."""
    scheduling = config.scheduling
    nodes: list[NodeSpec] = []
    partitions: list[PartitionSpec] = []
    queue_actions: list[tuple[str, tuple[CustomActionSpec, ...]]] = []
    for position, queue in enumerate(scheduling.slurm_queues):
        queue_nodes = [node for cr in queue.compute_resources for node in _nodes_of(queue, cr)]
        nodes.extend(queue_nodes)
        partitions.append(_partition(queue, queue_nodes, default=position == 0))
        queue_actions.append((queue.name, _custom_actions(queue.custom_actions)))
    head = config.head_node
    slurm = scheduling.slurm_settings
    return ClusterPlan(
        cluster_name=cluster_name,
        config=config,
        os=config.image.os,
        region=config.region,
        head_node=HeadNodeSpec(
            shape=_head_shape(head.instance_type, head.disable_simultaneous_multithreading),
            custom_actions=_custom_actions(head.custom_actions),
            ephemeral_dir=_ephemeral_dir(head.local_storage.ephemeral_volume),
            root_volume_gib=head.local_storage.root_volume.size,
        ),
        nodes=tuple(nodes),
        partitions=tuple(partitions),
        storage=_storage(config.shared_storage, head.local_storage.root_volume.size),
        slurm=SlurmPlan(
            scaledown_idletime_min=slurm.scaledown_idletime,
            memory_based_scheduling=slurm.enable_memory_based_scheduling,
            queue_update_strategy=slurm.queue_update_strategy,
            custom_settings=tuple(slurm.custom_slurm_settings),
            custom_settings_include_file=slurm.custom_slurm_settings_include_file,
            database_uri=slurm.database.uri if slurm.database else None,
            database_name=(
                (slurm.database.database_name or default_database_name(cluster_name))
                if slurm.database
                else None
            ),
            database_user=slurm.database.user_name if slurm.database else None,
            database_password_secret_arn=slurm.database.password_secret_arn if slurm.database else None,
            external_slurmdbd_host=slurm.external_slurmdbd.host if slurm.external_slurmdbd else None,
            external_slurmdbd_port=slurm.external_slurmdbd.port if slurm.external_slurmdbd else 6819,
        ),
        queue_custom_actions=tuple(queue_actions),
        tags=tuple((tag.key, tag.value) for tag in config.tags),
        scaling_strategy=scheduling.scaling_strategy,
        compute_node_bootstrap_timeout_s=config.dev_settings.timeouts.compute_node_bootstrap_timeout,
        head_node_bootstrap_timeout_s=config.dev_settings.timeouts.head_node_bootstrap_timeout,
        cloudwatch_logs=config.monitoring.logs.cloud_watch.enabled,
        use_ec2_hostnames=slurm.dns.use_ec2_hostnames,
        queue_ephemeral_dirs=tuple(
            (q.name, _ephemeral_dir(q.compute_settings.local_storage.ephemeral_volume))
            for q in scheduling.slurm_queues
        ),
        queue_root_volume_gib=tuple(
            (q.name, q.compute_settings.local_storage.root_volume.size) for q in scheduling.slurm_queues
        ),
        login_pools=_login_pools(config),
    )


def _login_pools(config: ClusterConfig) -> tuple[LoginPoolSpec, ...]:
    pools = config.login_nodes.pools if config.login_nodes else ()
    return tuple(
        LoginPoolSpec(
            name=p.name,
            instance_type=p.instance_type,
            count=p.count,
            gracetime_min=p.gracetime_period,
            custom_actions=_custom_actions(p.custom_actions),
            allowed_ips=(p.ssh.allowed_ips or "") if p.ssh else "",
        )
        for p in pools
    )


def _ephemeral_dir(volume: object) -> str:
    """``EphemeralVolume/MountDir`` as an absolute path; ParallelCluster's ``/scratch`` when unset."""
    mount_dir = str(getattr(volume, "mount_dir", None) or DEFAULT_EPHEMERAL_DIR)
    return "/" + mount_dir.strip("/")


def node_name(queue: str, compute_resource: str, kind: NodeKind, index: int) -> str:
    """ParallelCluster's node naming: ``{queue}-st-{cr}-{N}`` or ``{queue}-dy-{cr}-{N}``."""
    infix = "st" if kind is NodeKind.STATIC else "dy"
    return f"{queue}-{infix}-{compute_resource}-{index}"


def _nodes_of(queue: SlurmQueue, cr: SlurmComputeResource) -> Iterable[NodeSpec]:
    shape = _shape(cr.instance_types, cr.disable_simultaneous_multithreading, cr.schedulable_memory)
    features = _features(cr, shape)
    counts = ((NodeKind.STATIC, cr.min_count), (NodeKind.DYNAMIC, cr.max_count - cr.min_count))
    for kind, count in counts:
        priority = cr.static_node_priority if kind is NodeKind.STATIC else cr.dynamic_node_priority
        for index in range(1, count + 1):
            yield NodeSpec(
                name=node_name(queue.name, cr.name, kind, index),
                queue=queue.name,
                compute_resource=cr.name,
                kind=kind,
                index=index,
                shape=shape,
                weight=_weight(priority, shape),
                features=(kind.value, *features),
                custom_settings=tuple(cr.custom_slurm_settings),
            )


def _weight(priority: int, shape: NodeShape) -> int:
    """Slurm picks the lowest Weight first: the node priority sets the band, the hourly price (in
    tenths of a cent) orders nodes inside it, so cheaper instance types are used first."""
    return min(priority + round(hourly_cost(shape) * 1000), _MAX_WEIGHT)


def hourly_cost(shape: NodeShape) -> float:
    """The on-demand price where the catalog knows it; otherwise an estimate from the shape, with
    per-vCPU, per-GiB and per-GPU rates near us-east-1's general-purpose prices, so that weights
    still follow size when no price data ships."""
    if shape.price is not None:
        return shape.price
    return (
        _USD_PER_VCPU_HOUR * shape.cpus
        + _USD_PER_GIB_HOUR * shape.real_memory_mib / 1024
        + _USD_PER_GPU_HOUR * shape.gpus
    )


def _features(cr: SlurmComputeResource, shape: NodeShape) -> tuple[str, ...]:
    features = list(cr.instance_types)
    if cr.efa.enabled:
        features.append("efa")
    if shape.gpus:
        features.append("gpu")
    return tuple(features)


def _shape(instance_types: tuple[str, ...], disable_smt: bool, schedulable_mib: int | None) -> NodeShape:
    """The node shape Slurm sees. With several instance types, the smallest of each dimension, so
    that a job that fits the advertised shape fits whatever type is launched."""
    infos = []
    for name in instance_types:
        info = catalog.get(name)
        if info is None:
            raise ConfigError(
                f"instance type {name!r} is not in Corral's catalog",
                hint="run `corral create-cluster --dryrun true` to see the validation findings",
            )
        infos.append(info)
    threads = 1 if disable_smt else min(i.threads_per_core for i in infos)
    cores = min(i.cores for i in infos)
    cpus = min(i.cores if disable_smt else i.vcpus for i in infos)
    memory = min(i.memory_mib for i in infos)
    gpu_infos = [i for i in infos if i.gpu_count]
    gpus = min(i.gpu_count for i in infos) if len(gpu_infos) == len(infos) else 0
    prices = [i.on_demand_usd_per_hour for i in infos if i.on_demand_usd_per_hour is not None]
    return NodeShape(
        instance_type=instance_types[0],
        cpus=cpus,
        sockets=1,
        cores_per_socket=cores,
        threads_per_core=threads,
        real_memory_mib=schedulable_mib or int(memory * SCHEDULABLE_MEMORY_FRACTION),
        gpus=gpus,
        gpu_type=_gpu_type(gpu_infos[0].gpu_name) if gpus else "",
        architecture=infos[0].architecture,
        price=min(prices) if prices else None,
    )


def _head_shape(instance_type: str, disable_smt: bool) -> NodeShape:
    """The head node's shape. It runs slurmctld, not slurmd, so Slurm never sees it: an instance
    type the catalog lacks (validation warned about it) gets a nominal one-CPU shape instead."""
    if catalog.get(instance_type) is not None:
        return _shape((instance_type,), disable_smt, None)
    return NodeShape(
        instance_type=instance_type,
        cpus=1,
        sockets=1,
        cores_per_socket=1,
        threads_per_core=1,
        real_memory_mib=1024,
    )


def _gpu_type(gpu_name: str | None) -> str:
    return (gpu_name or "gpu").lower().replace(" ", "-")


def _partition(queue: SlurmQueue, nodes: list[NodeSpec], *, default: bool) -> PartitionSpec:
    return PartitionSpec(
        name=queue.name,
        node_names=tuple(node.name for node in nodes),
        default=default,
        job_exclusive=queue.job_exclusive_allocation,
        custom_settings=tuple(queue.custom_slurm_settings),
    )


def _custom_actions(actions: object) -> tuple[CustomActionSpec, ...]:
    """Every script of every event, in event order then sequence order."""
    specs: list[CustomActionSpec] = []
    for event, attribute in _EVENTS:
        scripts: tuple[CustomActionScript, ...] = getattr(actions, attribute, ())
        specs.extend(
            CustomActionSpec(event=event, script=s.script, args=tuple(s.args), sequence_index=i)
            for i, s in enumerate(scripts)
        )
    return tuple(specs)


def _storage(shared: tuple[SharedStorage, ...], head_root_gib: int) -> tuple[StorageSpec, ...]:
    specs = [_storage_spec(item) for item in shared]
    if not any(spec.mount_dir.rstrip("/") == "/home" for spec in specs):
        # ParallelCluster exports the head node's /home to every node; so does Corral.
        # Named so that it never collides with a SharedStorage entry called "home".
        name = "home" if all(spec.name != "home" for spec in specs) else "cluster-home"
        # It lives on the head node's root volume there: locally a volume of that size.
        home = StorageSpec(
            name=name,
            storage_type="Home",
            mount_dir="/home",
            deletion_policy="Delete",
            size_gib=head_root_gib,
        )
        specs.insert(0, home)
    return tuple(specs)


def _storage_spec(item: SharedStorage) -> StorageSpec:
    settings = item.settings
    policy = getattr(settings, "deletion_policy", None) or ("Retain" if item.is_existing else "Delete")
    repositories: tuple[tuple[str, str], ...] = ()
    associations: tuple[DataRepositorySpec, ...] = ()
    if isinstance(settings, FsxLustreSettings):
        repositories = _data_repositories(settings)
        associations = _associations(settings)
    mount_dir = item.mount_dir if item.mount_dir.startswith("/") else "/" + item.mount_dir
    return StorageSpec(
        name=item.name,
        storage_type=item.storage_type,
        mount_dir=mount_dir,
        deletion_policy=policy,
        existing=item.is_existing,
        data_repositories=repositories,
        existing_id=_existing_id(settings),
        associations=associations,
        size_gib=0 if item.is_existing else _size_gib(settings),
    )


#: ParallelCluster's FSx for Lustre StorageCapacity when the config gives none, GiB.
DEFAULT_FSX_LUSTRE_CAPACITY_GIB = 1200


def _size_gib(settings: object) -> int:
    """The capacity of a new volume or file system (EBS Size, FSx StorageCapacity); 0: none."""
    if isinstance(settings, FsxLustreSettings):
        return settings.storage_capacity or DEFAULT_FSX_LUSTRE_CAPACITY_GIB
    return int(getattr(settings, "size", None) or 0)


def _existing_id(settings: object) -> str:
    """The id of the existing file system or volume an item mounts, or ""."""
    for attribute in ("file_system_id", "volume_id", "file_cache_id"):
        value = getattr(settings, attribute, None)
        if value:
            return str(value)
    return ""


#: The legacy ``AutoImportPolicy`` of an FSx Lustre ``ImportPath`` as DRA event lists.
_LEGACY_IMPORT_EVENTS = {
    "NEW": ("NEW",),
    "NEW_CHANGED": ("NEW", "CHANGED"),
    "NEW_CHANGED_DELETED": ("NEW", "CHANGED", "DELETED"),
}


def _associations(settings: FsxLustreSettings) -> tuple[DataRepositorySpec, ...]:
    """The DRAs, and a legacy ``ImportPath`` as an association on "/" that imports at create."""
    specs = [
        DataRepositorySpec(
            name=dra.name,
            file_system_path=dra.file_system_path,
            data_repository_path=dra.data_repository_path,
            batch_import=dra.batch_import_meta_data_on_create,
            auto_import=tuple(dra.auto_import_policy),
            auto_export=tuple(dra.auto_export_policy),
        )
        for dra in settings.data_repository_associations
    ]
    if settings.import_path:
        legacy = DataRepositorySpec(
            name="ImportPath",
            file_system_path="/",
            data_repository_path=settings.import_path,
            batch_import=True,
            auto_import=_LEGACY_IMPORT_EVENTS.get(settings.auto_import_policy or "", ()),
        )
        specs.insert(0, legacy)
    return tuple(specs)


def _data_repositories(settings: FsxLustreSettings) -> tuple[tuple[str, str], ...]:
    pairs = [
        (dra.file_system_path, dra.data_repository_path) for dra in settings.data_repository_associations
    ]
    if settings.import_path:
        pairs.insert(0, ("/", settings.import_path))
    return tuple(pairs)

"""Render ``slurm.conf`` and ``gres.conf`` from a ``ClusterPlan`` plus where things live (pure).

The plan says *what* the cluster is (nodes, partitions, Slurm settings); ``SlurmRuntime`` says *where*
and *how* a provider runs it (paths, addresses, programs, ports, timing). Nothing here touches disk.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from corral.plan import ClusterPlan, NodeSpec, PartitionSpec
from corral.slurm import hostlist


@dataclass(frozen=True)
class SlurmRuntime:
    """Provider-specific facts the rendered configuration needs."""

    state_save_dir: str
    spool_dir: str  # SlurmdSpoolDir; "%n" is expanded by slurmd to the node name
    log_dir: str
    run_dir: str  # pid files
    munge_socket: str
    head_hostname: str
    head_addr: str
    resume_program: str
    suspend_program: str
    prolog_slurmctld: str | None = None
    #: node name -> address; nodes absent here get no NodeAddr (resolved by name).
    node_addrs: tuple[tuple[str, str], ...] = ()
    #: node name -> host name when it differs from the node name (UseEc2Hostnames): NodeHostname
    node_hostnames: tuple[tuple[str, str], ...] = ()
    #: overrides ScaledownIdletime*60 (tests use a few seconds); None keeps the plan's value.
    suspend_time_s: int | None = None
    suspend_timeout_s: int = 5
    #: None uses the plan's compute-node bootstrap timeout.
    resume_timeout_s: int | None = None
    include_file: str | None = None  # a local copy of CustomSlurmSettingsIncludeFile
    slurmctld_port: int = 6817
    slurmd_port: int = 6818
    slurm_user: str = "root"
    #: where slurmdbd listens when the head node runs it (Database)
    slurmdbd_port: int = 6819
    #: the provider runs accounting as the plan asks (a provider that does not yet keeps
    #: AccountingStorageType=none rather than pointing slurmctld at a slurmdbd that is not there)
    accounting: bool = False
    #: ``LaunchParameters``; the local provider's slurmctld runs in the host's mount namespace, where
    #: the cluster's default user does not exist: ``disable_send_gids`` lets each node look it up.
    launch_parameters: str | None = None
    #: ``SlurmdParameters=conmgr_threads``: slurmd 24.11's connection workers (Slurm's default is
    #: 10, each a thread with its own stack). The local provider runs hundreds of slurmds on one
    #: host, each idle but for a few messages, and asks for the minimum (2). None: Slurm's default.
    slurmd_conmgr_threads: int | None = None
    #: ``MessageTimeout`` (None: Slurm's default, 10 s)
    message_timeout_s: int | None = None


def _merge(defaults: Sequence[tuple[str, str]], custom: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Defaults in order, a custom value replacing the default of the same key (case-insensitive),
    other custom keys appended in their order."""
    merged = list(defaults)
    index = {key.lower(): i for i, (key, _) in enumerate(merged)}
    for key, value in custom:
        if key.lower() in index:
            merged[index[key.lower()]] = (merged[index[key.lower()]][0], value)
        else:
            index[key.lower()] = len(merged)
            merged.append((key, value))
    return merged


def _line(pairs: Iterable[tuple[str, str]]) -> str:
    return " ".join(f"{key}={value}" for key, value in pairs)


def suspend_time(plan: ClusterPlan, runtime: SlurmRuntime) -> int:
    """Seconds a node stays idle before power-down; -1 disables power saving (ScaledownIdletime -1)."""
    if runtime.suspend_time_s is not None:
        return runtime.suspend_time_s
    minutes = plan.slurm.scaledown_idletime_min
    return -1 if minutes < 0 else minutes * 60


def _slurmd_parameters(runtime: SlurmRuntime) -> str:
    params = ["config_overrides"]
    if runtime.slurmd_conmgr_threads is not None:
        params.append(f"conmgr_threads={runtime.slurmd_conmgr_threads}")
    return ",".join(params)


def _global_settings(plan: ClusterPlan, runtime: SlurmRuntime) -> list[tuple[str, str]]:
    static = [n.name for n in plan.static_nodes]
    resume_timeout = runtime.resume_timeout_s or plan.compute_node_bootstrap_timeout_s
    select_params = "CR_CPU_Memory" if plan.slurm.memory_based_scheduling else "CR_CPU"
    settings: list[tuple[str, str]] = [
        ("ClusterName", plan.cluster_name),
        ("SlurmctldHost", f"{runtime.head_hostname}({runtime.head_addr})"),
        ("SlurmUser", runtime.slurm_user),
        ("SlurmdUser", "root"),
        ("AuthType", "auth/munge"),
        ("CredType", "cred/munge"),
        ("AuthInfo", f"socket={runtime.munge_socket}"),
        ("SlurmctldPort", str(runtime.slurmctld_port)),
        ("SlurmdPort", str(runtime.slurmd_port)),
        ("StateSaveLocation", runtime.state_save_dir),
        ("SlurmdSpoolDir", runtime.spool_dir),
        ("SlurmctldPidFile", f"{runtime.run_dir}/slurmctld.pid"),
        ("SlurmdPidFile", f"{runtime.run_dir}/slurmd-%n.pid"),
        ("SlurmctldLogFile", f"{runtime.log_dir}/slurmctld.log"),
        ("SlurmdLogFile", f"{runtime.log_dir}/slurmd-%n.log"),
        ("ProctrackType", "proctrack/linuxproc"),
        ("TaskPlugin", "task/none"),
        *_accounting_settings(plan, runtime),
        ("JobCompType", "jobcomp/none"),
        ("SchedulerType", "sched/backfill"),
        # batch jobs are otherwise scheduled up to 3 s after submission
        ("SchedulerParameters", "batch_sched_delay=0"),
        ("SelectType", "select/cons_tres"),
        ("SelectTypeParameters", select_params),
        ("MpiDefault", "none"),
        ("ReturnToService", "2"),
        ("SlurmdParameters", _slurmd_parameters(runtime)),
        # CLOUD nodes are invisible to sinfo/scontrol without this.
        ("PrivateData", "cloud"),
        ("TreeWidth", "65533"),
        ("CommunicationParameters", "NoAddrCache"),
        *((("MessageTimeout", str(runtime.message_timeout_s)),) if runtime.message_timeout_s else ()),
        ("ResumeProgram", runtime.resume_program),
        ("SuspendProgram", runtime.suspend_program),
        ("ResumeTimeout", str(resume_timeout)),
        ("SuspendTime", str(suspend_time(plan, runtime))),
        ("SuspendTimeout", str(runtime.suspend_timeout_s)),
        ("ResumeRate", "0"),
        ("SuspendRate", "0"),
        ("SlurmctldParameters", "idle_on_node_suspend,power_save_interval=1,power_save_min_interval=0"),
    ]
    if runtime.launch_parameters:
        settings.append(("LaunchParameters", runtime.launch_parameters))
    if static:
        settings.append(("SuspendExcNodes", hostlist.compress(static)))
    if runtime.prolog_slurmctld:
        # Slurm 22.05 launches a batch job on resumed nodes only on a 30 s periodic pass; a
        # PrologSlurmctld that returns once the nodes are up makes it start at once.
        settings.append(("PrologSlurmctld", runtime.prolog_slurmctld))
    if any(n.shape.gpus for n in plan.nodes):
        settings.append(("GresTypes", "gpu"))
    return _merge(settings, plan.slurm.custom_settings)


def _node_groups(nodes: Sequence[NodeSpec]) -> list[list[NodeSpec]]:
    """Consecutive nodes of one queue, compute resource, kind and shape share a NodeName line (a
    node an update keeps at its old shape until it is replaced gets a line of its own)."""
    groups: list[list[NodeSpec]] = []

    def key(node: NodeSpec) -> tuple[object, ...]:
        return (node.queue, node.compute_resource, node.kind, node.shape)

    for node in nodes:
        if groups and key(groups[-1][0]) == key(node):
            groups[-1].append(node)
        else:
            groups.append([node])
    return groups


def _features(node: NodeSpec) -> str:
    kind = node.kind.value
    features = node.features if kind in node.features else (kind, *node.features)
    return ",".join(features)


def _gres(node: NodeSpec) -> str | None:
    if not node.shape.gpus:
        return None
    kind = f"gpu:{node.shape.gpu_type}" if node.shape.gpu_type else "gpu"
    return f"{kind}:{node.shape.gpus}"


def _node_line(group: Sequence[NodeSpec], addrs: dict[str, str], hostnames: dict[str, str]) -> str:
    first = group[0]
    names = [n.name for n in group]
    pairs: list[tuple[str, str]] = [("NodeName", hostlist.compress(names))]
    if all(name in addrs for name in names):
        pairs.append(("NodeAddr", hostlist.compress(addrs[name] for name in names)))
    if all(name in hostnames for name in names):
        pairs.append(("NodeHostname", hostlist.compress(hostnames[name] for name in names)))
    pairs += [
        ("CPUs", str(first.shape.cpus)),
        ("RealMemory", str(first.shape.real_memory_mib)),
        ("State", "CLOUD"),
        ("Feature", _features(first)),
        ("Weight", str(first.weight)),
    ]
    gres = _gres(first)
    if gres:
        pairs.append(("Gres", gres))
    return _line(_merge(pairs, first.custom_settings))


def _partition_line(partition: PartitionSpec) -> str:
    pairs: list[tuple[str, str]] = [
        ("PartitionName", partition.name),
        ("Nodes", hostlist.compress(partition.node_names) if partition.node_names else '""'),
        ("Default", "YES" if partition.default else "NO"),
        ("MaxTime", "INFINITE"),
        ("State", "UP"),
    ]
    if partition.job_exclusive:
        pairs.append(("OverSubscribe", "EXCLUSIVE"))
    return _line(_merge(pairs, partition.custom_settings))


def _accounting_settings(plan: ClusterPlan, runtime: SlurmRuntime) -> list[tuple[str, str]]:
    """Job accounting: to the head node's slurmdbd (Database) or an ExternalSlurmdbd; none without."""
    if not (plan.slurm.accounting and runtime.accounting):
        return [
            ("JobAcctGatherType", "jobacct_gather/none"),
            ("AccountingStorageType", "accounting_storage/none"),
        ]
    if plan.slurm.external_slurmdbd_host:
        host, port = plan.slurm.external_slurmdbd_host, plan.slurm.external_slurmdbd_port
    else:
        host, port = runtime.head_addr, runtime.slurmdbd_port
    return [
        ("JobAcctGatherType", "jobacct_gather/linux"),
        ("JobAcctGatherFrequency", "30"),
        ("AccountingStorageType", "accounting_storage/slurmdbd"),
        ("AccountingStorageHost", host),
        ("AccountingStoragePort", str(port)),
        # DBD connections take their munge socket from here, not from AuthInfo
        ("AccountingStoragePass", runtime.munge_socket),
        ("AccountingStorageTRES", "gres/gpu"),
        # fair share from the accounted usage (sshare, sprio), as an accounted cluster is run
        ("PriorityType", "priority/multifactor"),
        ("PriorityWeightFairshare", "10000"),
        ("PriorityWeightAge", "1000"),
    ]


@dataclass(frozen=True)
class SlurmdbdSettings:
    """Provider facts for the head node's slurmdbd.conf: where the database answers and how to log in
    (the password comes from ``Database/PasswordSecretArn``)."""

    storage_host: str  # the Uri's host, or an address it resolves to
    storage_port: int
    password: str
    pid_file: str
    log_file: str


def render_slurmdbd_conf(plan: ClusterPlan, runtime: SlurmRuntime, dbd: SlurmdbdSettings) -> str:
    """slurmdbd.conf for a cluster with ``Database`` (it holds the password: the provider writes it
    readable by SlurmUser only, as slurmdbd requires)."""
    if not plan.slurm.database_uri:
        raise ValueError("render_slurmdbd_conf needs a plan with Database")
    settings = [
        ("AuthType", "auth/munge"),
        ("AuthInfo", f"socket={runtime.munge_socket}"),
        ("DbdHost", runtime.head_hostname),
        ("DbdAddr", runtime.head_addr),
        ("DbdPort", str(runtime.slurmdbd_port)),
        ("SlurmUser", runtime.slurm_user),
        ("PidFile", dbd.pid_file),
        ("LogFile", dbd.log_file),
        ("StorageType", "accounting_storage/mysql"),
        ("StorageHost", dbd.storage_host),
        ("StoragePort", str(dbd.storage_port)),
        ("StorageUser", plan.slurm.database_user or ""),
        ("StoragePass", dbd.password),
        ("StorageLoc", plan.slurm.database_name or ""),
    ]
    header = f"# slurmdbd.conf for cluster {plan.cluster_name}, generated by Corral. Do not edit."
    return "\n".join([header, "", *(f"{k}={v}" for k, v in settings)]) + "\n"


def render_slurm_conf(plan: ClusterPlan, runtime: SlurmRuntime) -> str:
    """The complete slurm.conf for the plan: globals, one line per node group, one per partition,
    then an ``Include`` of the custom settings file when there is one."""
    addrs = dict(runtime.node_addrs)
    lines = [f"# slurm.conf for cluster {plan.cluster_name}, generated by Corral. Do not edit.", ""]
    lines += [f"{key}={value}" for key, value in _global_settings(plan, runtime)]
    lines.append("")
    hostnames = dict(runtime.node_hostnames)
    lines += [_node_line(group, addrs, hostnames) for group in _node_groups(plan.nodes)]
    lines.append("")
    lines += [_partition_line(p) for p in plan.partitions]
    if runtime.include_file:
        lines += ["", f"Include {runtime.include_file}"]
    return "\n".join(lines) + "\n"


def gpu_device_count(plan: ClusterPlan) -> int:
    """How many emulated GPU device files the cluster needs (the largest GPU count of a node)."""
    return max((n.shape.gpus for n in plan.nodes), default=0)


def render_gres_conf(plan: ClusterPlan, device_dir: str) -> str:
    """gres.conf declaring each node's GPUs. Slurm counts a GPU only with a character device
    ``File``; the provider creates ``device_dir/gpu<i>`` for that (the GPUs are emulated)."""
    lines = ["# gres.conf generated by Corral", "AutoDetect=off"]
    for group in _node_groups(plan.nodes):
        first = group[0]
        count = first.shape.gpus
        if not count:
            continue
        type_part = f" Type={first.shape.gpu_type}" if first.shape.gpu_type else ""
        names = hostlist.compress(n.name for n in group)
        files = f"{device_dir}/gpu0" if count == 1 else f"{device_dir}/gpu[0-{count - 1}]"
        lines.append(f"NodeName={names} Name=gpu{type_part} File={files}")
    return "\n".join(lines) + "\n"

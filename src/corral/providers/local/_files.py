"""Pure renderers for the files a local cluster needs: hosts, program wrappers, the Slurm runtime,
the cluster descriptor and each node's bootstrap spec."""

from __future__ import annotations

import ipaddress
import os
import shlex
from collections.abc import Mapping

from corral.node.actions import action_log_name
from corral.node.agent import Action, BootstrapSpec
from corral.plan import ClusterPlan, event_rank
from corral.providers.local import _bootfiles, _imageroot, _net, _scaling, _sshd, _storage
from corral.providers.local._layout import (
    ActionRecord,
    ClusterDescriptor,
    ClusterLayout,
    NodeRecord,
    StorageRecord,
    ec2_hostname,
)
from corral.providers.local._proc import SAFE_PATH
from corral.slurm.conf import SlurmRuntime

HEAD_HOSTNAME = "head"
#: A node's instance store: this directory of its own (under its node directory), mounted at
#: EphemeralVolume/MountDir.
EPHEMERAL_DIR = "ephemeral"
#: Environment variables captured at create time and handed to node agents and actions.
PASSED_ENV = (
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "CORRAL_S3_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
)
PROGRAMS = ("resume", "suspend", "prolog")
#: slurmd's connection worker threads (``SlurmdParameters=conmgr_threads``; Slurm's minimum):
#: 12 threads become 4, about 0.25 MB less per node (measured on slurmd 24.11 after a job).
SLURMD_CONMGR_THREADS = 2


def message_timeout_s(node_count: int) -> int | None:
    """``MessageTimeout`` for a local cluster of ``node_count`` compute nodes: Slurm's 10 s up to 160
    nodes, then a second per 16 nodes. With ``TreeWidth=65533`` one srun reaches every node of its
    step at once, and each of its connections opens *before* it asks munged to sign the message;
    slurmd closes a connection that stays silent for ``MessageTimeout``. On one host, 1,000 of
    them at once (munged signing in turn, the load average above 100) outlasted 10 s: the launch
    failed on 399 nodes with "Unexpected missing socket error" (issue #20)."""
    seconds = -(-node_count // 16)
    return seconds if seconds > 10 else None


#: The environment of a compute node's slurmd, which sits idle on every node (issue #20's 2 MB):
#: - glibc's malloc: one arena instead of one per thread, no 128 KiB pad kept at the heap's top;
#: - hwloc (slurmd reads the CPU topology with it) without its GPU, PCI and libxml plugins, which
#:   pull Level Zero and libstdc++ into every slurmd; a local node has no such device to find.
#: Measured on slurmd 24.11 after a job, with ``SLURMD_CONMGR_THREADS``: 1,716 KiB private with
#: none of these, 1,316 with the malloc settings, 1,184 with hwloc's plugins left out too.
SLURMD_ENV = (
    ("MALLOC_ARENA_MAX", "1"),
    ("MALLOC_TOP_PAD_", "0"),
    ("HWLOC_PLUGINS_BLACKLIST", "hwloc_levelzero,hwloc_opencl,hwloc_gl,hwloc_pci,hwloc_xml_libxml"),
)


def render_hosts(descriptor: ClusterDescriptor) -> str:
    """The cluster's /etc/hosts: every node's address is known before any node starts."""
    lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"]
    lines.append(f"{descriptor.head_address}\t{descriptor.head_hostname}")
    lines += [
        f"{node.address}\t{descriptor.hostname(node)} {node.name}"
        if descriptor.use_ec2_hostnames
        else f"{node.address}\t{node.name}"
        for node in descriptor.nodes
    ]
    # login nodes: EC2-style names, as login instances have
    lines += [f"{s.address}\t{ec2_hostname(s.address)}" for s in descriptor.login_slots()]
    return "\n".join(lines) + "\n"


def render_wrapper(
    layout: ClusterLayout,
    python: str,
    program: str,
    extra_env: Mapping[str, str] | None = None,
    *,
    leave: str = "",
) -> str:
    """A shell wrapper Slurm can run without arguments or environment: slurmscriptd gives its
    programs no PATH, no SLURM_CONF, a closed stderr and blocked signals. The ResumeProgram is
    the provider-neutral ``corral.daemons.resume`` (``_scaling``). ``leave`` prefixes the command
    that takes it out of an image-rooted head's root (``_imageroot.LEAVE_HEAD``)."""
    env = {
        "PATH": SAFE_PATH,
        "SLURM_CONF": str(layout.slurm_conf),
        "CORRAL_STATE_DIR": str(layout.state_dir),
        "CORRAL_CLUSTER_NAME": layout.name,
        **(extra_env or {}),
    }
    assigns = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    # env -i drops Slurm's variables; the prolog needs to know the job's nodes, the ResumeProgram
    # the job-to-node mapping.
    passed = {
        "prolog": 'SLURM_JOB_ID="$SLURM_JOB_ID" SLURM_JOB_NODELIST="$SLURM_JOB_NODELIST"',
        "resume": 'SLURM_RESUME_FILE="$SLURM_RESUME_FILE"',
    }.get(program, "")
    log = shlex.quote(str(layout.log / f"{program}.log"))
    module = {"resume": _scaling.RESUME_MODULE, "suspend": _scaling.SUSPEND_MODULE}.get(
        program, f"corral.providers.local.{program}"
    )
    return (
        "#!/bin/sh\n"
        f"# Slurm {program} program for cluster {layout.name}, generated by Corral.\n"
        f"exec </dev/null >>{log} 2>&1\n"
        f"exec {leave + ' ' if leave else ''}"
        f'/usr/bin/env -i {assigns} {passed} {shlex.quote(python)} -m {module} "$@"\n'
    )


def slurm_runtime(
    layout: ClusterLayout,
    descriptor: ClusterDescriptor,
    *,
    suspend_time_s: int | None,
    include_file: str | None,
) -> SlurmRuntime:
    return SlurmRuntime(
        state_save_dir=str(layout.slurm_state),
        spool_dir=str(layout.run_dir / "%n"),
        log_dir=str(layout.log),
        run_dir=str(layout.run_dir),
        munge_socket=str(layout.munge_socket),
        head_hostname=descriptor.head_hostname,
        head_addr=descriptor.head_address,
        resume_program=str(layout.bin / "resume"),
        suspend_program=str(layout.bin / "suspend"),
        prolog_slurmctld=str(layout.bin / "prolog"),
        launch_parameters="disable_send_gids",
        slurmd_conmgr_threads=SLURMD_CONMGR_THREADS,
        message_timeout_s=message_timeout_s(len(descriptor.nodes)),
        node_addrs=tuple((n.name, n.address) for n in descriptor.nodes),
        node_hostnames=tuple((n.name, descriptor.hostname(n)) for n in descriptor.nodes)
        if descriptor.use_ec2_hostnames
        else (),
        suspend_time_s=suspend_time_s,
        include_file=include_file,
        # Database: slurmdbd on the head against a MariaDB stand-in; ExternalSlurmdbd: its stand-in
        accounting=descriptor.accounting,
    )


# Kept here for callers of the earlier API; the decisions live in ``_storage``.
storage_with_home = _storage.storage_with_home
storage_data_dir = _storage.storage_data_dir


def build_descriptor(
    plan: ClusterPlan,
    subnet: ipaddress.IPv4Network,
    *,
    python: str,
    storage: tuple[StorageRecord, ...],
    actions: Mapping[str | None, tuple[ActionRecord, ...]],
    env: Mapping[str, str],
) -> ClusterDescriptor:
    """The descriptor for a plan (which it holds): node addresses follow each node's position in
    the plan."""
    nodes = tuple(
        NodeRecord(
            name=n.name,
            index=i,
            address=str(_net.node_address(subnet, i)),
            queue=n.queue,
            compute_resource=n.compute_resource,
            instance_type=n.shape.instance_type,
            kind=n.kind.value,
        )
        for i, n in enumerate(plan.nodes)
    )
    return ClusterDescriptor(
        plan=plan,
        subnet=str(subnet),
        head_address=str(_net.head_address(subnet)),
        head_hostname=HEAD_HOSTNAME,
        python=python,
        nodes=nodes,
        storage=storage,
        head_actions=actions.get(None, ()),
        queue_actions=tuple((q, a) for q, a in actions.items() if q is not None),
        env=tuple(sorted(env.items())),
        data_repositories=_storage.data_repositories(_storage.storage_with_home(plan), storage),
    )


def node_environment(layout: ClusterLayout, descriptor: ClusterDescriptor) -> dict[str, str]:
    env = {
        **dict(descriptor.env),
        "PATH": SAFE_PATH,
        "SLURM_CONF": str(layout.slurm_conf),
        "CORRAL_CLUSTER_NAME": descriptor.name,
        "HOME": "/root",
        "LANG": "C.UTF-8",
    }
    if _imageroot.image_root(descriptor) is not None:
        env = _imageroot.agent_env(env)  # the agent's services (the watchdog) import Corral too
    return env


def host_namespaces() -> tuple[tuple[str, str], ...]:
    """The caller's mount, UTS and network namespaces: the host's, which the agent must not touch."""
    return tuple((kind, os.readlink(f"/proc/self/ns/{kind}")) for kind in ("mnt", "uts", "net"))


def node_actions(layout: ClusterLayout, records: tuple[ActionRecord, ...], label: str) -> tuple[Action, ...]:
    """The agent's actions in run order (OnNodeStart, OnNodeConfigured, OnNodeUpdated; config order
    within each), each with its log file ``log/actions/<label>/<NN>-<Event>-<script>.log``."""
    ordered = sorted(records, key=lambda a: event_rank(a.event))
    directory = layout.action_logs / label
    return tuple(
        Action(
            a.event, a.local_path, a.args, a.source, str(directory / action_log_name(i, a.event, a.source))
        )
        for i, a in enumerate(ordered, start=1)
    )


def bootstrap_spec(
    layout: ClusterLayout, descriptor: ClusterDescriptor, node: NodeRecord | None
) -> BootstrapSpec:
    """The agent's instructions for the head node (``node`` None) or a compute node."""
    hosts = (str(layout.hosts_file), "/etc/hosts")
    storage = tuple((s.data_dir, s.mount_dir) for s in descriptor.storage)
    # The node's instance store: a directory of its own, gone with the node, at EphemeralVolume/MountDir.
    own_dir = layout.node_dir(node.name) if node else layout.head_dir
    ephemeral = (str(own_dir / EPHEMERAL_DIR), descriptor.ephemeral_dir(node.queue if node else None))
    # The head node's /home is its own disk (ParallelCluster exports it): there before OnNodeStart.
    early = (hosts, ephemeral, *(m for m in storage if node is None and m[1].rstrip("/") == "/home"))
    home = _sshd.home_mount(layout)  # the cluster's /home (the default user's) when no storage is
    if home is not None and not any(m[1].rstrip("/") == "/home" for m in storage):
        early = (*early, home)
    mounts = tuple(m for m in storage if m not in early)
    records = descriptor.actions_for(node.queue if node else None)
    label = node.name if node else _bootfiles.HEAD_NODE_TYPE
    actions = node_actions(layout, records, label)
    env = {**node_environment(layout, descriptor), **_bootfiles.script_environment(descriptor, node)}
    files = (*_bootfiles.node_files(descriptor, node), *_sshd.account_files(layout))
    private_root = _imageroot.image_root(descriptor) is not None
    if private_root:  # a host-rooted node would need an overlay on the host's /usr for it
        launcher = _bootfiles.render_corral_launcher(
            descriptor, str(layout.requests_dir), _imageroot.CORRAL_LIB
        )
        files = (*files, (_bootfiles.CORRAL_LAUNCHER, launcher))
    if node is None:
        return BootstrapSpec(
            node_name="HeadNode",
            hostname=descriptor.head_hostname,
            status_file=str(layout.head_dir / "status.json"),
            early_mounts=early,
            mounts=mounts,
            actions=actions,
            env=tuple(sorted(env.items())),
            host_namespaces=host_namespaces(),
            timeout_s=descriptor.head_timeout_s,
            files=files,
            scratch_dir=str(layout.head_dir / "rootfs"),
            private_root=private_root,
            private_dirs=(ephemeral[0],),
        )
    return BootstrapSpec(
        node_name=node.name,
        hostname=descriptor.hostname(node),
        status_file=str(layout.node_dir(node.name) / "status.json"),
        early_mounts=early,
        mounts=mounts,
        actions=actions,
        services=(("slurmd", "-b", "-N", node.name),),
        service_env=SLURMD_ENV,
        service_pidfiles=(str(layout.run_dir / f"slurmd-{node.name}.pid"),),
        env=tuple(sorted(env.items())),
        on_failure=("scontrol", "update", f"NodeName={node.name}", "State=DOWN"),
        host_namespaces=host_namespaces(),
        timeout_s=descriptor.compute_timeout_s,
        files=files,
        scratch_dir=str(layout.node_dir(node.name) / "rootfs"),
        private_root=private_root,
        private_dirs=(ephemeral[0],),
    )

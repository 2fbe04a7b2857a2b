"""What an AWS node runs between OnNodeStart and OnNodeConfigured: Slurm, munge, the reconciler and
the storage mounts, decided from the cluster's plan and the node's context. Pure (``NodeSetup``);
``corral.providers.aws.node`` writes the files and hands the services to the node agent, which
starts them in order between the two events, as on the local provider.

The head node runs:

1. the storage steps (``_storage_setup``: EBS formatted when blank, mounted and exported, ``/home``
   exported, file systems mounted);
2. ``munged --force`` (as root) with the cluster's key (``/etc/munge/munge.key``, generated at create and kept
   in the artefact bucket under ``corral/<cluster>/munge.key``);
3. ``slurmctld`` on ``/etc/slurm/slurm.conf``, rendered by ``corral.slurm.conf.render_slurm_conf``
   (the local provider's renderer) with ``SlurmctldParameters`` extended by ``cloud_reg_addrs`` (a
   node's address is the one it registers from: no DNS or NodeAddr bookkeeping) and
   ``enable_configless`` (compute nodes fetch the configuration from slurmctld), and with the
   ResumeProgram/SuspendProgram wrappers ``/opt/corral/libexec/{resume,suspend}``, which run the
   provider-neutral ``python -m corral.daemons.resume`` (``CORRAL_PROVIDER=aws``) and
   ``python -m corral.daemons.suspend`` in a clean environment (slurmctld gives its
   programs none), and the PrologSlurmctld ``/opt/corral/libexec/prolog``
   (``corral.providers.aws.prolog``: a batch job starts as soon as its nodes are up);
4. the reconciler loop ``python -m corral.daemons.reconcilerd /var/lib/corral <cluster> --provider aws``,
   detached (``setsid -f``), with its heartbeat where the ResumeProgram looks for it.

A compute node runs its storage steps (the head's exports and the file systems), ``munged`` and
``slurmd -N <node name> --conf-server <head>:6817`` (configless: its configuration comes from
slurmctld, so it is the head's, byte for byte).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from corral import PCLUSTER_COMPAT_VERSION
from corral.node.agent import BootstrapSpec
from corral.plan import ClusterPlan
from corral.providers.aws import _settings
from corral.providers.aws._cloudwatch import agent_steps, shipping_enabled
from corral.providers.aws._node_failure import CLIENT_CONF, failure_command, head_label
from corral.providers.aws._storage_setup import StorageFacts, storage_steps
from corral.slurm.conf import SlurmdbdSettings, SlurmRuntime, render_slurm_conf, render_slurmdbd_conf

PYTHON = "/opt/corral/bin/python"
LIBEXEC = "/opt/corral/libexec"
STATE_DIR = "/var/lib/corral"
CLUSTER_FILE = str(_settings.CLUSTER_FILE)
SLURM_CONF = "/etc/slurm/slurm.conf"
RUN_DIR = "/run/corral"
LOG_DIR = "/var/log/corral"
SPOOL_DIR = "/var/spool/corral"
MUNGE_KEY = "/etc/munge/munge.key"
MUNGE_SOCKET = "/run/munge/munge.socket.2"
HEARTBEAT_FILE = f"{STATE_DIR}/heartbeat"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SLURMCTLD_PORT = 6817
#: ``corral delete-cluster`` on any node of the cluster (``corral.node.selfdelete``) writes its
#: request here; the head's reconciler reads it at every pass. On ``/home``, the one directory
#: every node shares with the head (the head's NFS export, or the internal EFS).
REQUESTS_DIR = "/home/.corral-requests"
CORRAL_COMMAND = "/usr/local/bin/corral"
#: What the node agent's services may need: where the cluster's context and Slurm's config are.
AWS_SLURMCTLD_PARAMETERS = ("cloud_reg_addrs", "enable_configless")
#: The instance metadata service: only root may reach it on a head node with ``Imds/Secured``.
IMDS_ADDRESS = "169.254.169.254"
IMDS_CHAIN = "CORRAL_IMDS"


@dataclass(frozen=True)
class NodeContext:
    """``/etc/corral/cluster.json`` as the user data writes it (``template._userdata``)."""

    cluster_name: str
    node_role: str  # HeadNode, Compute or LoginNode
    region: str
    queue: str = ""
    compute_resource: str = ""
    head_private_ip: str = ""
    artefact_bucket: str = ""
    stack_name: str = ""  # the node's own stack: the root stack for the head node
    log_group: str = ""  # the cluster's CloudWatch log group
    table_name: str = ""  # the cluster's DynamoDB node table
    login_pool: str = ""  # a login node's pool (node_role LoginNode)

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> NodeContext:
        return cls(
            cluster_name=str(data["cluster_name"]),
            node_role=str(data.get("node_role") or ""),
            region=str(data.get("region") or ""),
            queue=str(data.get("queue") or ""),
            compute_resource=str(data.get("compute_resource") or ""),
            head_private_ip=str(data.get("head_private_ip") or ""),
            artefact_bucket=str(data.get("artefact_bucket") or ""),
            stack_name=str(data.get("stack_name") or ""),
            log_group=str(data.get("log_group") or ""),
            table_name=str(data.get("table_name") or ""),
            login_pool=str(data.get("login_pool") or ""),
        )

    @property
    def is_head(self) -> bool:
        return self.node_role == "HeadNode"

    @property
    def is_login(self) -> bool:
        return self.node_role == "LoginNode"


@dataclass(frozen=True)
class NodeSetup:
    """What the node program does before the agent (directories, files) and what the agent starts."""

    directories: tuple[str, ...]
    files: tuple[tuple[str, str, int], ...]  # (path, content, mode)
    services: tuple[tuple[str, ...], ...]
    service_pidfiles: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    #: storage the node does not mount, each with why (reported in the node's log)
    skipped: tuple[str, ...] = ()
    #: what the agent runs when the bootstrap fails (``_node_failure``), the reason appended
    on_failure: tuple[str, ...] = ()


def slurm_runtime(
    plan: ClusterPlan, head_hostname: str, head_addr: str, include_file: str | None = None
) -> SlurmRuntime:
    """The AWS head node's paths and programs for ``render_slurm_conf`` (``include_file``: the
    local copy of ``CustomSlurmSettingsIncludeFile``)."""
    return SlurmRuntime(
        include_file=include_file,
        state_save_dir=f"{SPOOL_DIR}/slurmctld",
        spool_dir=f"{SPOOL_DIR}/slurmd",
        log_dir=LOG_DIR,
        run_dir=RUN_DIR,
        munge_socket=MUNGE_SOCKET,
        head_hostname=head_hostname,
        head_addr=head_addr,
        resume_program=f"{LIBEXEC}/resume",
        suspend_program=f"{LIBEXEC}/suspend",
        prolog_slurmctld=f"{LIBEXEC}/prolog",
        slurmctld_port=SLURMCTLD_PORT,
        accounting=plan.slurm.accounting,  # Database: slurmdbd on the head; ExternalSlurmdbd: theirs
    )


def aws_slurm_conf(plan: ClusterPlan, runtime: SlurmRuntime) -> str:
    """``render_slurm_conf`` with ``SlurmctldParameters`` extended by ``AWS_SLURMCTLD_PARAMETERS``
    (kept when the config's custom settings already name them)."""
    lines = render_slurm_conf(plan, runtime).split("\n")
    for i, line in enumerate(lines):
        if line.lower().startswith("slurmctldparameters="):
            key, value = line.split("=", 1)
            present = {p.split("=")[0].lower() for p in value.split(",")}
            extra = [p for p in AWS_SLURMCTLD_PARAMETERS if p not in present]
            lines[i] = f"{key}={','.join([value, *extra])}" if value else f"{key}={','.join(extra)}"
    return "\n".join(lines)


def wrapper(program: str, module: str, env: Mapping[str, str], passed: str = "") -> str:
    """A shell wrapper Slurm can run as its Resume/SuspendProgram: slurmscriptd gives its programs
    no PATH and no environment, and a closed stderr (the same shape as the local provider's)."""
    assigns = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    log = shlex.quote(f"{LOG_DIR}/{program}.log")
    return (
        "#!/bin/sh\n"
        f"# Slurm {program} program, generated by Corral.\n"
        f"exec </dev/null >>{log} 2>&1\n"
        f'exec /usr/bin/env -i {assigns} {passed}{" " if passed else ""}{PYTHON} -m {module} "$@"\n'
    )


def program_env(plan: ClusterPlan, context: NodeContext) -> dict[str, str]:
    """The environment of the head's Slurm programs and of the reconciler."""
    return {
        "PATH": PATH,
        "SLURM_CONF": SLURM_CONF,
        "CORRAL_STATE_DIR": STATE_DIR,
        "CORRAL_CLUSTER_NAME": plan.cluster_name,
        "CORRAL_CLUSTER_CONFIG": CLUSTER_FILE,
        "CORRAL_PROVIDER": "aws",
        "CORRAL_SCALING_STRATEGY": plan.scaling_strategy,
        "CORRAL_HEARTBEAT_FILE": HEARTBEAT_FILE,
        "AWS_REGION": context.region,
        "AWS_DEFAULT_REGION": context.region,
    }


def log_shipping(
    plan: ClusterPlan, context: NodeContext
) -> tuple[list[tuple[str, str, int]], list[tuple[str, ...]]]:
    """The CloudWatch agent's config file and start (``_cloudwatch``), first of the node's services
    so the bootstrap's own log is shipped; nothing with ``Monitoring/Logs/CloudWatch/Enabled: false``."""
    if not context.log_group or not shipping_enabled(plan):
        return [], []
    config, start = agent_steps(context.log_group, head=context.is_head)
    return [config], [start]


#: Simultaneous multithreading off, on a node whose type the launch template cannot set CpuOptions for.
SMT_OFF = (
    "/bin/sh",
    "-c",
    "[ ! -e /sys/devices/system/cpu/smt/control ] || echo off > /sys/devices/system/cpu/smt/control",
)


def smt_off(plan: ClusterPlan, context: NodeContext) -> list[tuple[str, ...]]:
    """``DisableSimultaneousMultithreading`` on a compute resource with several instance types:
    one CpuOptions cannot fit them all (the single-type case is the launch template's), so the node
    turns SMT off itself, as pcluster's cookbook does."""
    if plan.config is None:
        return []
    for queue in plan.config.scheduling.slurm_queues:
        for cr in queue.compute_resources if queue.name == context.queue else ():
            if cr.name == context.compute_resource and cr.disable_simultaneous_multithreading:
                return [SMT_OFF] if len(cr.instance_types) > 1 else []
    return []


def search_domain(plan: ClusterPlan) -> list[tuple[str, ...]]:
    """The step that makes ``<cluster>.pcluster`` a DNS search domain (``node_search``), so node
    names resolve through the records the ResumeProgram writes (``_dns``); none when no records
    are written (``DisableManagedDns``, ``UseEc2Hostnames``) or the zone is one you gave (its
    domain is then yours to search)."""
    dns = plan.config.scheduling.slurm_settings.dns if plan.config is not None else None
    if dns is not None and (dns.disable_managed_dns or dns.use_ec2_hostnames or dns.hosted_zone_id):
        return []
    return [(PYTHON, "-m", "corral.providers.aws.node_search", f"{plan.cluster_name.lower()}.pcluster")]


def imds_guard() -> tuple[str, ...]:
    """``HeadNode/Imds/Secured`` (default true), as pcluster: iptables lets only root (slurmctld, its
    Resume/Suspend programs and the reconciler run as root) reach the instance metadata service, so
    no other user of the head node can read the head role's credentials. Idempotent; fails the
    bootstrap, saying why, when iptables is missing."""
    chain, rule = IMDS_CHAIN, f"OUTPUT -d {IMDS_ADDRESS}/32 -j {IMDS_CHAIN}"
    script = (
        "command -v iptables >/dev/null || "
        "{ echo 'corral: HeadNode/Imds/Secured needs iptables on the head node: install it in the image, "
        "or set HeadNode/Imds/Secured: false' >&2; exit 1; }\n"
        f"iptables -w -N {chain} 2>/dev/null || iptables -w -F {chain}\n"
        f"iptables -w -A {chain} -m owner --uid-owner 0 -j RETURN\n"
        f"iptables -w -A {chain} -p tcp -j REJECT --reject-with tcp-reset\n"
        f"iptables -w -A {chain} -j REJECT\n"
        f"iptables -w -C {rule} 2>/dev/null || iptables -w -I {rule}\n"
    )
    return ("/bin/sh", "-ec", script)


def corral_command(plan: ClusterPlan, context: NodeContext) -> tuple[str, str, int]:
    """``/usr/local/bin/corral`` on every node of the cluster: only ``corral delete-cluster -n
    NAME`` (this cluster), which asks the head's reconciler to delete the cluster (as locally)."""
    env = {
        "CORRAL_CLUSTER_NAME": plan.cluster_name,
        "CORRAL_REQUEST_DIR": REQUESTS_DIR,
        "CORRAL_CLUSTER_REGION": context.region,
        "CORRAL_PCLUSTER_VERSION": PCLUSTER_COMPAT_VERSION,
    }
    assigns = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    text = (
        "#!/bin/sh\n"
        f"# corral on a node of cluster {plan.cluster_name}: only `corral delete-cluster -n NAME`\n"
        f'{assigns} exec {PYTHON} -m corral.node.selfdelete "$@"\n'
    )
    return (CORRAL_COMMAND, text, 0o755)


#: The request directory, made on the head once ``/home`` is in place (after the storage steps: an
#: EFS ``/home`` mounted over it would hide it): any user may drop a request, none may list them.
REQUESTS_DIR_STEP = ("/bin/sh", "-c", f"mkdir -p {REQUESTS_DIR} && chmod 1733 {REQUESTS_DIR}")


def _munged() -> tuple[str, ...]:
    """munged as root (``--force``) with the cluster's key, its files in Corral's directories (so
    the image's munge user and directories need no setup)."""
    return (
        "munged",
        "--force",
        f"--key-file={MUNGE_KEY}",
        f"--socket={MUNGE_SOCKET}",
        "--pid-file=/run/munge/munged.pid",
        f"--log-file={LOG_DIR}/munged.log",
        f"--seed-file={RUN_DIR}/munged.seed",
    )


def munged_service() -> tuple[str, ...]:
    """The ``munged`` service every node runs (``_login_setup`` uses it too)."""
    return _munged()


def _reconciler(plan: ClusterPlan) -> tuple[str, ...]:
    """The reconciler loop, detached: the agent waits for each service's command to return."""
    argv = [
        PYTHON,
        "-m",
        "corral.daemons.reconcilerd",
        STATE_DIR,
        plan.cluster_name,
        "--provider",
        "aws",
        "--pid-file",
        f"{RUN_DIR}/reconciler.pid",
        "--heartbeat-file",
        HEARTBEAT_FILE,
        "--status-file",
        f"{STATE_DIR}/protected.json",
        "--nodes-file",
        f"{STATE_DIR}/nodes.json",
        "--events-file",
        f"{LOG_DIR}/events.jsonl",
        "--requests-dir",
        REQUESTS_DIR,
    ]
    if plan.expires_at:  # the time-to-live: the head deletes its own stack then (``_expire``)
        argv += ["--expires-at", plan.expires_at]
    command = f"exec {shlex.join(argv)} </dev/null >>{LOG_DIR}/reconciler.log 2>&1"
    return ("setsid", "-f", "/bin/sh", "-c", command)


def head_setup(
    plan: ClusterPlan,
    context: NodeContext,
    *,
    hostname: str,
    address: str,
    storage_ids: Mapping[str, str] | None = None,
    include_file: str | None = None,
    storage: StorageFacts | None = None,
    database_password: str | None = None,
) -> NodeSetup:
    """The head node's directories, files (slurm.conf, the two wrappers) and services; ``storage``
    (else ``storage_ids`` alone) is what the node knows of the cluster's storage. With ``Database``,
    ``database_password`` (the secret's value) goes into slurmdbd.conf and slurmdbd runs before
    slurmctld, the cluster registered with it."""
    env = program_env(plan, context)
    runtime = slurm_runtime(plan, hostname, address, include_file)
    conf = aws_slurm_conf(plan, runtime)
    accounting_files, accounting_services = _accounting(plan, runtime, database_password)
    facts = storage or StorageFacts(ids=dict(storage_ids or {}))
    mounts, skipped = storage_steps(plan, context.region, facts, head=True, head_address=address)
    config = plan.config
    guard = [imds_guard()] if config is None or config.head_node.imds.secured else []
    log_files, shipping = log_shipping(plan, context)
    files = (
        (SLURM_CONF, conf, 0o644),
        (
            f"{LIBEXEC}/resume",
            wrapper("resume", "corral.daemons.resume", env, 'SLURM_RESUME_FILE="$SLURM_RESUME_FILE"'),
            0o755,
        ),
        (f"{LIBEXEC}/suspend", wrapper("suspend", "corral.daemons.suspend", env), 0o755),
        (
            f"{LIBEXEC}/prolog",
            wrapper(
                "prolog",
                "corral.providers.aws.prolog",
                env,
                'SLURM_JOB_ID="$SLURM_JOB_ID" SLURM_JOB_NODELIST="$SLURM_JOB_NODELIST"',
            ),
            0o755,
        ),
        *log_files,
        *accounting_files,
        corral_command(plan, context),
    )
    return NodeSetup(
        directories=_directories(plan, "slurmctld"),
        files=files,
        services=(
            *shipping,
            *guard,
            *search_domain(plan),
            *mounts,
            REQUESTS_DIR_STEP,
            _munged(),
            *accounting_services,
            ("slurmctld",),
            _reconciler(plan),
        ),
        service_pidfiles=(
            "/run/munge/munged.pid",
            *([SLURMDBD_PID] if accounting_services else []),
            f"{RUN_DIR}/slurmctld.pid",
            f"{RUN_DIR}/reconciler.pid",
        ),
        env=tuple(env.items()),
        skipped=tuple(skipped),
    )


SLURMDBD_CONF = "/etc/slurm/slurmdbd.conf"
SLURMDBD_PID = f"{RUN_DIR}/slurmdbd.pid"
#: slurmdbd answers, then the cluster is registered (before slurmctld starts, as locally)
_REGISTER = (
    "for i in $(seq 120); do sacctmgr -n show cluster >/dev/null 2>&1 && break; sleep 1; done;"
    ' sacctmgr -n -P show cluster format=cluster | grep -qx "$1" || sacctmgr -i add cluster "$1"'
)


def _accounting(
    plan: ClusterPlan, runtime: SlurmRuntime, password: str | None
) -> tuple[tuple[tuple[str, str, int], ...], tuple[tuple[str, ...], ...]]:
    """slurmdbd.conf (root only: it holds the password) and the services for ``Database``; nothing
    without it (``ExternalSlurmdbd`` only points slurm.conf at that slurmdbd)."""
    if not plan.slurm.database_uri:
        return (), ()
    if not password:
        raise ValueError("a cluster with Database needs the password of Database/PasswordSecretArn")
    host, port = plan.slurm.database_endpoint()
    dbd = SlurmdbdSettings(host, port, password, SLURMDBD_PID, f"{LOG_DIR}/slurmdbd.log")
    files = ((SLURMDBD_CONF, render_slurmdbd_conf(plan, runtime, dbd), 0o600),)
    return files, (("slurmdbd",), ("/bin/sh", "-c", _REGISTER, "register", plan.cluster_name))


def compute_setup(
    plan: ClusterPlan, context: NodeContext, *, node_name: str, storage: StorageFacts | None = None
) -> NodeSetup:
    """A compute node's directories and services: mounts (the head's exports, file systems from
    ``storage``), munged, configless slurmd as ``node_name``."""
    env = program_env(plan, context)
    mounts, skipped = storage_steps(
        plan, context.region, storage or StorageFacts(), head=False, head_address=context.head_private_ip
    )
    slurmd = ("slurmd", "-N", node_name, "--conf-server", f"{context.head_private_ip}:{SLURMCTLD_PORT}")
    log_files, shipping = log_shipping(plan, context)
    head = context.head_private_ip
    client = aws_slurm_conf(plan, slurm_runtime(plan, head_label(head), head))
    return NodeSetup(
        directories=_directories(plan, "slurmd"),
        files=(*log_files, (CLIENT_CONF, client, 0o644), corral_command(plan, context)),
        on_failure=failure_command(node_name, _munged()),
        services=(*shipping, *smt_off(plan, context), *search_domain(plan), *mounts, _munged(), slurmd),
        service_pidfiles=("/run/munge/munged.pid", f"{RUN_DIR}/slurmd-{node_name}.pid"),
        env=tuple((k, v) for k, v in env.items() if k != "SLURM_CONF"),  # configless: no local file
        skipped=tuple(skipped),
    )


def _directories(plan: ClusterPlan, daemon: str) -> tuple[str, ...]:
    found = [RUN_DIR, LOG_DIR, f"{SPOOL_DIR}/{daemon}", "/run/munge", "/etc/munge", "/etc/slurm", LIBEXEC]
    return tuple(found + [s.mount_dir for s in plan.storage if s.storage_type != "Home"])


def apply_setup(base: BootstrapSpec, setup: NodeSetup) -> BootstrapSpec:
    """``base`` with the setup's services (after any it has), pid files and environment (the
    setup's values win over the base's)."""
    env = {**dict(base.env), **dict(setup.env)}
    return replace(
        base,
        services=base.services + setup.services,
        service_pidfiles=base.service_pidfiles + setup.service_pidfiles,
        env=tuple(env.items()),
        on_failure=setup.on_failure or base.on_failure,
    )


__all__ = [
    "CORRAL_COMMAND",
    "REQUESTS_DIR",
    "NodeContext",
    "NodeSetup",
    "StorageFacts",
    "apply_setup",
    "aws_slurm_conf",
    "compute_setup",
    "corral_command",
    "head_setup",
    "program_env",
    "slurm_runtime",
    "wrapper",
]

"""What an AWS login node runs between OnNodeStart and OnNodeConfigured (pure, like ``_node_setup``).

A login node (``node_role`` ``LoginNode`` in ``/etc/corral/cluster.json``, its pool in
``login_pool``) is where users work: Slurm's client commands against the head node, with the
cluster's munge key, and the cluster's shared storage and ``/home``; it runs no slurmd and no
slurmctld. Its services, in order:

1. the CloudWatch agent (as a compute node's), the ``<cluster>.pcluster`` search domain;
2. the storage steps, as a compute node's (``/home`` and ``SharedStorage`` from the head's NFS
   exports or the file systems themselves);
3. ``munged`` with the cluster's key (``sbatch``, ``srun``, ``squeue``, ``sacct`` authenticate
   with it);
4. sshd with keys only (a drop-in ``/etc/ssh/sshd_config.d/corral-login.conf``: no passwords, no
   keyboard-interactive; sshd reloaded);
5. the scale-in watcher: when the Auto Scaling group starts terminating the node (IMDS
   ``autoscaling/target-lifecycle-state`` says ``Terminated``; the group's lifecycle hook holds it
   ``GracetimePeriod`` minutes), logged-in users get a ``wall`` message saying when it stops, as
   pcluster's login nodes do.

``/etc/slurm/slurm.conf`` is the cluster's, rendered for a client (the head's address), and
``/etc/parallelcluster/cfnconfig`` gives custom actions pcluster's login-node view
(``cfn_node_type=LoginNode``); the actions' environment adds ``CORRAL_NODE_TYPE=LoginNode`` and
``CORRAL_LOGIN_POOL``.
"""

from __future__ import annotations

from typing import Any

from corral.plan import ClusterPlan, CustomActionSpec
from corral.providers.aws._node_failure import head_label
from corral.providers.aws._node_setup import (
    CLUSTER_FILE,
    LOG_DIR,
    RUN_DIR,
    SLURM_CONF,
    NodeContext,
    NodeSetup,
    StorageFacts,
    aws_slurm_conf,
    corral_command,
    log_shipping,
    munged_service,
    program_env,
    search_domain,
    slurm_runtime,
)
from corral.providers.aws._storage_setup import storage_steps

SSHD_DROP_IN = "/etc/ssh/sshd_config.d/corral-login.conf"
CFNCONFIG = "/etc/parallelcluster/cfnconfig"
LOGIN_NODE_TYPE = "LoginNode"
#: Keys only, as pcluster's login nodes.
SSHD_SETTINGS = "PasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\n"
#: sshd takes the drop-in (Debian/Ubuntu name it ssh, RHEL/Amazon Linux sshd); the include line is
#: added where an older sshd_config lacks it.
SSHD_RELOAD = (
    "/bin/sh",
    "-c",
    "grep -q '^Include /etc/ssh/sshd_config.d/' /etc/ssh/sshd_config 2>/dev/null"
    " || sed -i '1i Include /etc/ssh/sshd_config.d/*.conf' /etc/ssh/sshd_config;"
    " systemctl reload ssh 2>/dev/null || systemctl reload sshd 2>/dev/null"
    " || systemctl restart sshd 2>/dev/null || { echo 'corral: sshd is not running' >&2; exit 1; }",
)
_EVENTS = (("OnNodeStart", "on_node_start"), ("OnNodeConfigured", "on_node_configured"))


def pool_of(plan: ClusterPlan, pool_name: str) -> Any:
    config = plan.config
    if config is None or config.login_nodes is None:
        return None
    return next((p for p in config.login_nodes.pools if p.name == pool_name), None)


def login_actions(plan: ClusterPlan, pool_name: str) -> tuple[CustomActionSpec, ...]:
    """The pool's OnNodeStart and OnNodeConfigured scripts, in run order."""
    pool = pool_of(plan, pool_name)
    if pool is None:
        return ()
    actions = pool.custom_actions
    specs = [
        CustomActionSpec(event=event, script=s.script, args=tuple(s.args), sequence_index=i)
        for event, attribute in _EVENTS
        for i, s in enumerate(getattr(actions, attribute))
    ]
    return tuple(sorted(specs, key=lambda a: a.run_order))


def scale_in_watcher(grace_minutes: int) -> tuple[str, ...]:
    """The detached loop that warns logged-in users once the node's scale-in begins."""
    script = (
        "IMDS=http://169.254.169.254/latest\n"
        "while sleep 15; do\n"
        "  T=$(curl -sf -X PUT $IMDS/api/token -H 'X-aws-ec2-metadata-token-ttl-seconds: 60') || continue\n"
        '  S=$(curl -sf -H "X-aws-ec2-metadata-token: $T" '
        "$IMDS/meta-data/autoscaling/target-lifecycle-state) || continue\n"
        '  if [ "$S" = Terminated ]; then\n'
        f"    wall 'This login node is being removed from its pool: it stops in {grace_minutes} minute(s)."
        " Save your work and log in again through the pool address.'\n"
        "    exit 0\n"
        "  fi\n"
        "done\n"
    )
    command = f"exec /bin/sh -c {_quote(script)} </dev/null >>{LOG_DIR}/login-scale-in.log 2>&1"
    return ("setsid", "-f", "/bin/sh", "-c", command)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


def cfnconfig(plan: ClusterPlan, context: NodeContext) -> str:
    """pcluster's ``/etc/parallelcluster/cfnconfig`` seen from a login node."""
    shared = [s.mount_dir for s in plan.storage if s.storage_type != "Home"]
    values = {
        "stack_name": context.stack_name or plan.cluster_name,
        "cfn_region": context.region,
        "cfn_scheduler": "slurm",
        "cfn_node_type": LOGIN_NODE_TYPE,
        "cfn_head_node_private_ip": context.head_private_ip,
        "cfn_base_os": plan.os,
        "cfn_shared_dirs": ",".join(shared) or "NONE",
        "cfn_login_pool_name": context.login_pool,
    }
    return "".join(f"{k}={v}\n" for k, v in values.items())


def login_setup(plan: ClusterPlan, context: NodeContext, *, storage: StorageFacts | None = None) -> NodeSetup:
    """A login node's directories, files and services (no slurmd, no slurmctld)."""
    env = program_env(plan, context)
    env.update(
        {
            "CORRAL_NODE_TYPE": LOGIN_NODE_TYPE,
            "CORRAL_LOGIN_POOL": context.login_pool,
            "CORRAL_CLUSTER_CONFIG": CLUSTER_FILE,
        }
    )
    head = context.head_private_ip
    mounts, skipped = storage_steps(
        plan, context.region, storage or StorageFacts(), head=False, head_address=head
    )
    log_files, shipping = log_shipping(plan, context)
    conf = aws_slurm_conf(plan, slurm_runtime(plan, head_label(head), head))
    pool = pool_of(plan, context.login_pool)
    grace = int(getattr(pool, "gracetime_period", 10))
    return NodeSetup(
        directories=(
            RUN_DIR,
            LOG_DIR,
            "/run/munge",
            "/etc/munge",
            "/etc/slurm",
            "/etc/ssh/sshd_config.d",
            *(s.mount_dir for s in plan.storage if s.storage_type != "Home"),
        ),
        files=(
            *log_files,
            (SLURM_CONF, conf, 0o644),
            (SSHD_DROP_IN, SSHD_SETTINGS, 0o644),
            (CFNCONFIG, cfnconfig(plan, context), 0o644),
            corral_command(plan, context),
        ),
        services=(
            *shipping,
            *search_domain(plan),
            *mounts,
            munged_service(),
            SSHD_RELOAD,
            scale_in_watcher(grace),
        ),
        service_pidfiles=("/run/munge/munged.pid",),
        env=tuple(env.items()),
        skipped=tuple(skipped),
    )


__all__ = ["LOGIN_NODE_TYPE", "cfnconfig", "login_actions", "login_setup", "scale_in_watcher"]

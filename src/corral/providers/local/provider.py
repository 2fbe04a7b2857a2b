"""``LocalProvider``: a real multi-node Slurm cluster on this machine, one Linux namespace set per
node (see ``notes/local-slurm-findings.md`` for the measured recipe and the Slurm 22.05 quirks)."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from corral.config.findings import Finding
from corral.errors import ConflictError, NotFoundError, PrerequisiteError, ProviderError
from corral.images import os_findings
from corral.plan import ClusterPlan
from corral.providers.base import (
    CommandResult,
    DatabaseStandin,
    DcvTarget,
    EventSink,
    Instance,
    InstanceState,
    LaunchResult,
    LoginPoolStatus,
    LogSource,
    NodeRole,
    ProviderBase,
    ProviderTraits,
    RecoveredCluster,
)
from corral.providers.local import (
    _accounting,
    _capacity,
    _cgroups,
    _cluster,
    _daemons,
    _disks,
    _extdbd,
    _imageroot,
    _launch,
    _login,
    _logs,
    _mungekey,
    _net,
    _nodes,
    _owner,
    _proc,
    _reshape,
    _restore,
    _rootfs,
    _sshd,
)
from corral.providers.local._image_verbs import LocalImageVerbs
from corral.providers.local._layout import ClusterDescriptor, ClusterLayout
from corral.providers.local._settings import LocalSettings

REQUIRED_PROGRAMS = ("munged", "slurmctld", "slurmd", "scontrol", "ip", "nsenter", "unshare", "sshd", "socat")
INSTALL_HINT = "run `bash scripts/setup.sh` (as root; it installs munge, Slurm, openssh-server and socat)"
LAUNCH_WORKERS = 8


@dataclass(frozen=True)
class NodeFailure:
    """A node whose bootstrap (OnNodeStart/OnNodeConfigured, slurmd) failed."""

    node_name: str
    message: str


def _missing_programs() -> list[str]:
    return [p for p in REQUIRED_PROGRAMS if shutil.which(p, path=_proc.SAFE_PATH) is None]


def _os_failure(verb: str, name: str, exc: BaseException) -> ProviderError:
    """A create/update/restore that failed on an OS error; a full disk says so plainly (a node's
    writable layer, logs and storage live in the state directory)."""
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        where = f" ({exc.filename})" if exc.filename else ""
        return ProviderError(
            f"{verb} local cluster {name!r} failed: the file system holding the state directory is"
            f" full{where}",
            hint="free some space there (`df` on the state directory) and retry",
        )
    return ProviderError(f"{verb} local cluster {name!r} failed: {exc}")


class LocalProvider(LocalImageVerbs, ProviderBase):
    """Clusters as Linux namespaces on this machine; state lives under ``state_dir``."""

    name = "local"
    traits = ProviderTraits(
        enforces_expiry=True,
        update_not_implemented=(
            (
                r"^Scheduling/SlurmSettings/ExternalSlurmdbd(/|$)",
                "the local provider cannot switch a running cluster's external slurmdbd yet",
            ),
        ),
    )

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = Path(state_dir).absolute()

    # -- helpers -------------------------------------------------------------------------------
    def layout(self, cluster_name: str) -> ClusterLayout:
        return ClusterLayout(self.state_dir, cluster_name)

    def _descriptor(self, cluster_name: str) -> ClusterDescriptor:
        layout = self.layout(cluster_name)
        try:
            return ClusterDescriptor.load(layout.descriptor)
        except (OSError, ValueError, KeyError) as exc:
            raise ProviderError(
                f"local cluster {cluster_name!r} has no readable descriptor at {layout.descriptor}",
                hint="the cluster does not exist here (check CORRAL_STATE_DIR) or is being deleted",
            ) from exc

    def _head_holder(self, cluster_name: str) -> int:
        pid = _nodes.holder_pid(self.layout(cluster_name).head_dir)
        if pid is None:
            raise ProviderError(
                f"the head node of cluster {cluster_name!r} is not running",
                hint="after a restart of this machine any corral command (or `corral restore-clusters`)"
                f" brings it back; `corral describe-cluster -n {cluster_name}` shows its head node's state",
            )
        return pid

    # -- Provider protocol ---------------------------------------------------------------------
    def check_prerequisites(self) -> None:
        """Raise ``PrerequisiteError`` for: not root, missing Slurm/munge/iproute2/util-linux
        programs, or a kernel/container that forbids namespaces."""
        if os.geteuid() != 0:
            raise PrerequisiteError(
                "the local provider needs root (it creates network namespaces and mounts)",
                hint="run the command as root, e.g. with sudo",
            )
        missing = _missing_programs()
        if missing:
            raise PrerequisiteError(f"missing programs: {', '.join(missing)}", hint=INSTALL_HINT)
        probe = _proc.run(["unshare", "--net", "--uts", "--mount", "true"], check=False)
        if probe.returncode != 0:
            raise PrerequisiteError(
                f"Linux namespaces are not permitted here: {probe.stderr.strip()}",
                hint="run on a host or VM as root, or in a container started with --privileged",
            )

    def create(self, plan: ClusterPlan, *, on_event: EventSink) -> Instance:
        return self.create_owned(plan, on_event=on_event, cluster_id="")

    def live_update_kinds(self) -> frozenset[str]:
        """Every kind of change ``corral.plan.live`` names is applied with the fleet running."""
        from corral.plan.live import LIVE_KINDS

        return LIVE_KINDS

    def update(
        self, old: ClusterPlan, new: ClusterPlan, *, on_event: EventSink, rollback: bool = False
    ) -> None:
        """Converge the running cluster on ``new`` (``_update``); the running cluster's own files,
        not ``old``, say where it starts from."""
        from corral.providers.local import _update

        self.check_prerequisites()
        try:
            _update.update(self.layout(new.cluster_name), new, on_event, rollback=rollback, old=old)
        except (OSError, subprocess.SubprocessError) as exc:
            raise _os_failure("updating", new.cluster_name, exc) from exc

    def delete(self, cluster_name: str, *, retain_storage: bool = True) -> None:
        self.delete_owned(cluster_name, cluster_id="", retain_storage=retain_storage)

    def exists(self, cluster_name: str) -> bool:
        layout = self.layout(cluster_name)
        return layout.root.exists() or _net.head_netns(cluster_name) in _net.list_netns()

    # -- IdentityOwner: what a create makes carries its cluster id ---------------------------------
    def create_owned(self, plan: ClusterPlan, *, on_event: EventSink, cluster_id: str) -> Instance:
        """Build the cluster. ``cluster_id`` identifies this create (a fresh one when empty): the
        cluster directory, cgroups and namespaces it makes carry it, and ``delete`` with the same
        id removes only those. A name in use fails with ``ConflictError``, touching nothing."""
        self.check_prerequisites()
        layout = self.layout(plan.cluster_name)
        if _net.head_netns(plan.cluster_name) in _net.list_netns() and not layout.root.exists():
            raise ConflictError(
                f"local cluster name {plan.cluster_name!r} is in use on this machine",
                hint="a cluster of that name runs from another state directory (CORRAL_STATE_DIR); "
                "choose another name",
            )
        knobs = LocalSettings.from_env()  # the one read of the settings: a bad one fails here
        _capacity.validate_environment()  # a bad CORRAL_LOCAL_CAPACITY fails before anything exists
        cluster_id = cluster_id or _owner.new_cluster_id()
        _owner.claim(layout.root, cluster_id)
        try:
            _cgroups.create_cluster(layout.root, f"{plan.cluster_name}-{cluster_id}")
            descriptor = _cluster.prepare(plan, layout, knobs)
            _daemons.write_first_heartbeat(layout)
            _mungekey.write_cluster_key(plan, layout.munge_key, self.state_dir, on_event)
            if plan.slurm.database_uri:
                key = _accounting.prepare(plan, layout, descriptor, on_event)
                descriptor = _daemons.record_extra(layout, descriptor, {_accounting.DATABASE_KEY: key})
            elif plan.slurm.external_slurmdbd_host:
                key = _extdbd.prepare(plan, layout, descriptor, on_event)
                descriptor = _daemons.record_extra(layout, descriptor, {_extdbd.EXTERNAL_KEY: key})
            _capacity.record_limits(layout)
            on_event("Cluster", f"directory {layout.root}, subnet {descriptor.subnet}, id {cluster_id}")
            for line in _disks.summary(layout, descriptor):
                on_event("SharedStorage", line)
            holder = _cluster.start_head(layout, descriptor, on_event)
            _cluster.bring_up_static(plan, layout, on_event)
            _login.start_with_cluster(layout, descriptor, on_event)
            _cluster.run_head_agent(layout, descriptor, holder, "configured")
            _daemons.start_supervisor(layout, holder, descriptor)
        except (OSError, subprocess.SubprocessError) as exc:
            raise _os_failure("creating", plan.cluster_name, exc) from exc
        on_event("HeadNode", "bootstrap complete")
        return self._head_instance(layout, descriptor)

    def delete_owned(self, cluster_name: str, *, cluster_id: str, retain_storage: bool = True) -> None:
        """Remove the cluster; with ``cluster_id``, only if its directory is that create's."""
        _cluster.teardown(self.layout(cluster_name), retain_storage=retain_storage, cluster_id=cluster_id)

    def exists_owned(self, cluster_name: str, cluster_id: str) -> bool:
        """Whether that create's cluster is still here."""
        return _owner.owned_by(self.layout(cluster_name).root, cluster_id)

    def restore(self, plan: ClusterPlan, *, cluster_id: str) -> bool:
        """Bring the cluster back if the host restarted since it was made (``_restore``)."""
        try:
            return _restore.restore(self.layout(plan.cluster_name), plan, cluster_id)
        except (OSError, subprocess.SubprocessError) as exc:
            raise _os_failure("restoring", plan.cluster_name, exc) from exc

    def recoverable_clusters(self) -> list[RecoveredCluster]:
        """Every cluster directory of this state dir that has a descriptor."""
        found = []
        for path in sorted((self.state_dir / "clusters").glob("*/cluster.json")):
            layout = self.layout(path.parent.name)
            try:
                descriptor = ClusterDescriptor.load(path)
                created = datetime.fromtimestamp(path.stat().st_mtime, UTC)
            except (OSError, ValueError, KeyError, TypeError):
                continue
            found.append(
                RecoveredCluster(
                    name=layout.name,
                    cluster_id=_owner.cluster_id(layout.root) or "",
                    config_text=descriptor.cluster_config,
                    created_at=created,
                    location=str(layout.root),
                    head_running=_nodes.holder_pid(layout.head_dir) is not None,
                )
            )
        return found

    def cloud_findings(self, config: Any) -> list[Finding]:
        """What this machine makes of the config's images: an INFO naming the image its Os maps to,
        an ERROR at each CustomAmi it cannot boot, and one for images of different Slurm majors; what
        it cannot do with its login pools (``_login.config_findings``)."""
        try:
            boots = _imageroot.requested()
        except ProviderError:
            boots = False  # the create reports the bad value
        from corral.providers.local.images import custom_ami_findings

        return [
            *os_findings(config, nodes_boot_from_images=boots),
            *custom_ami_findings(config, self.state_dir),
            *_login.config_findings(config, nodes_boot_from_images=boots),
        ]

    def launch(self, cluster_name: str, node_names: Sequence[str]) -> list[Instance]:
        """All of these nodes or none: ``InsufficientCapacityError`` when the cluster's capacity
        limits (``_capacity``) refuse any of them, ``ProviderError`` for an unknown node."""
        result = self.launch_batch(cluster_name, node_names, all_or_nothing=True)
        return _launch.instances_or_raise(result, self._descriptor(cluster_name))

    def launch_batch(
        self, cluster_name: str, node_names: Sequence[str], *, all_or_nothing: bool = False
    ) -> LaunchResult:
        """``Provider.launch_batch``: per-node outcomes under the capacity limits."""
        descriptor = self._descriptor(cluster_name)
        return _launch.launch_batch(
            self.layout(cluster_name), descriptor, node_names, all_or_nothing=all_or_nothing
        )

    def terminate(self, cluster_name: str, node_names: Sequence[str]) -> None:
        descriptor = self._descriptor(cluster_name)
        layout = self.layout(cluster_name)
        _nodes.terminate_nodes(layout, descriptor, list(node_names))
        _reshape.finish(layout, list(node_names))  # a drained node takes its new instance type

    def instances(self, cluster_name: str) -> list[Instance]:
        layout = self.layout(cluster_name)
        if not layout.descriptor.exists():
            return []
        descriptor = self._descriptor(cluster_name)
        found: list[Instance] = []
        head = self._head_instance(layout, descriptor)
        # A head whose holder is gone (the host restarted, or it died) is a stopped instance.
        found.append(
            head if _nodes.holder_pid(layout.head_dir) else replace(head, state=InstanceState.STOPPED)
        )
        for node in descriptor.nodes:
            instance = _nodes.node_instance(layout, descriptor, node)
            if instance is not None:
                found.append(instance)
        return [*found, *_login.instances(layout, descriptor)]

    def login_pools(self, cluster_name: str) -> list[LoginPoolStatus]:
        """Each pool's status, the address of the node ``ssh --login-pool`` picks next, and its
        healthy and unhealthy node counts (``_login``)."""
        layout = self.layout(cluster_name)
        if not layout.descriptor.exists():
            return []
        return _login.pool_statuses(layout, self._descriptor(cluster_name))

    def heal_login_nodes(self, cluster_name: str) -> list[str]:
        """Replace dead login nodes, launch missing ones, retire those past Count (``_login``)."""
        layout = self.layout(cluster_name)
        if not layout.descriptor.exists():
            return []
        return _login.converge(layout)  # its descriptor read under the login lock; skipped during an update

    def login_shell_argv(
        self, cluster_name: str, pool: str, argv: Sequence[str], *, user: str | None = None
    ) -> list[str]:
        """``ssh USER@NODE ARGS`` to the pool's node whose turn it is (round robin)."""
        descriptor = self._descriptor(cluster_name)
        layout = self.layout(cluster_name)
        if descriptor.login_pool(pool) is None:
            known = ", ".join(p.name for p in descriptor.login_pools) or "none"
            raise NotFoundError(
                f"cluster {cluster_name!r} has no login node pool {pool!r}",
                hint=f"its pools: {known} (LoginNodes/Pools in its config)",
            )
        node = _login.next_node(layout, pool)
        if node is None:
            raise ConflictError(
                f"login node pool {pool!r} of cluster {cluster_name!r} has no node serving yet",
                hint=f"`corral describe-cluster -n {cluster_name}` shows its loginNodes status",
            )
        known_hosts = _login.known_hosts(layout, node)
        return _sshd.client_argv(layout, node.address, list(argv), user=user, known_hosts=known_hosts)

    def databases(self) -> list[DatabaseStandin]:
        return _accounting.standins(self.state_dir)

    def dcv_url(self, cluster_name: str, target: DcvTarget, *, key_path: str | None = None) -> str:
        raise ProviderError(
            "dcv-connect: NICE DCV is not available on the local provider (create-cluster reported"
            f" {target.node_type}/Dcv as not applicable here)",
            hint=f"open a shell with `corral ssh -n {cluster_name}`",
        )

    def delete_database(self, uri: str, *, force: bool = False) -> DatabaseStandin:
        if uri.startswith(_extdbd.URI_SCHEME):  # the slurmdbd first: it runs in its database's namespace
            used = [d for d in _accounting.standins(self.state_dir) if d.uri == uri and d.used_by]
            if not used or force:
                _extdbd.remove(self.state_dir, uri)
        return _accounting.delete_standin(self.state_dir, uri, force=force)

    def expire(self, cluster_name: str) -> None:
        """Start ``corral delete-cluster --wait`` detached, outside the cluster's cgroups (it must
        outlive the head's processes it stops), logging to ``<state>/log/expire-<name>.log``."""
        descriptor = self._descriptor(cluster_name)
        log = self.state_dir / "log" / f"expire-{cluster_name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        leave_cgroups = (
            "for f in /sys/fs/cgroup/cgroup.procs /sys/fs/cgroup/*/cgroup.procs;"
            ' do echo $$ > "$f" 2>/dev/null; done; cd /; exec "$@"'
        )
        argv = ["sh", "-c", leave_cgroups, "expire", descriptor.python, "-m", "corral.cli.main"]
        argv += ["delete-cluster", "-n", cluster_name, "--wait"]
        env = {"PATH": _proc.SAFE_PATH, "CORRAL_STATE_DIR": str(self.state_dir), "CORRAL_PROVIDER": self.name}
        _proc.spawn_detached(argv, env=env, log_path=log)

    def run_on_head(
        self,
        cluster_name: str,
        argv: Sequence[str],
        *,
        user: str | None = None,
        stdin: str | None = None,
        timeout: float | None = 60.0,
    ) -> CommandResult:
        command = self._head_argv(cluster_name, argv, user=user)
        try:
            result = subprocess.run(
                command,
                input=stdin,
                stdin=None if stdin is not None else subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
                env=self._head_env(cluster_name),
            )
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else exc.stdout or ""
            return CommandResult(124, out, f"timed out after {timeout} s: {' '.join(argv)}\n")
        return CommandResult(result.returncode, result.stdout, result.stderr)

    def head_shell_argv(
        self, cluster_name: str, argv: Sequence[str], *, user: str | None = None
    ) -> list[str]:
        """``ssh USER@HEAD ARGS`` to the head node's sshd (pcluster's command: ``argv`` are ssh's
        options and the remote command); ``user`` defaults to the cluster's default user."""
        descriptor = self._descriptor(cluster_name)
        layout = self.layout(cluster_name)
        if _sshd.pid(layout) is None:
            # no sshd (an image-rooted head, not yet): enter the head and run the command after `--`
            command = list(argv)[list(argv).index("--") + 1 :] if "--" in argv else list(argv)
            return self._head_argv(cluster_name, command or ["bash", "-l"], user=user)
        return _sshd.client_argv(layout, descriptor.head_address, list(argv), user=user)

    def log_sources(self, cluster_name: str) -> list[LogSource]:
        """Every file under the cluster's ``log/`` as a stream (see ``_logs``); after a delete, the
        latest copy retained by DeletionPolicy Retain."""
        layout = self.layout(cluster_name)
        if layout.descriptor.exists():
            return _logs.live_sources(layout, self._descriptor(cluster_name))
        return _logs.retained_sources(self.state_dir, cluster_name)

    # -- extras --------------------------------------------------------------------------------
    def cluster_dir(self, cluster_name: str) -> Path:
        return self.layout(cluster_name).root

    def slurm_conf_path(self, cluster_name: str) -> Path:
        return self.layout(cluster_name).slurm_conf

    def failures(self, cluster_name: str) -> list[NodeFailure]:
        """Nodes whose bootstrap failed (current nodes and terminated ones), with the reason."""
        layout = self.layout(cluster_name)
        paths = [*layout.nodes_dir.glob("*/status.json"), *layout.failures_dir.glob("*.json")]
        seen: dict[str, NodeFailure] = {}
        for path in paths:
            status = _nodes.read_status(path)
            if status.get("status") == "failed":
                node = str(status.get("node"))
                seen.setdefault(node, NodeFailure(node, str(status.get("message", ""))))
        return sorted(seen.values(), key=lambda f: f.node_name)

    def _head_env(self, cluster_name: str) -> dict[str, str]:
        env = _daemons.slurm_env(self.layout(cluster_name))
        env["TERM"] = os.environ.get("TERM", "xterm")
        return env

    def _head_argv(self, cluster_name: str, argv: Sequence[str], *, user: str | None) -> list[str]:
        """nsenter into the head's namespaces, become ``user`` if asked, cd to $HOME, run argv."""
        holder = self._head_holder(cluster_name)
        conf = str(self.layout(cluster_name).slurm_conf)
        become = ["runuser", "-u", user, "--"] if user and user != "root" else []
        login = 'cd "$HOME" 2>/dev/null || cd /; exec "$@"'
        env = ["env", f"SLURM_CONF={conf}", f"PATH={_proc.SAFE_PATH}"]
        enter = _nodes.enter_argv(holder)
        if _daemons.image_cluster(self.layout(cluster_name)):
            enter = _rootfs.enter_argv(holder, pid_namespace=False)  # the image's Slurm, in its root
        return [*enter, *become, *env, "sh", "-c", login, "sh", *argv]

    def _head_instance(self, layout: ClusterLayout, descriptor: ClusterDescriptor) -> Instance:
        identity = _nodes.read_identity(layout.head_dir)
        if identity is None:
            raise ProviderError(f"cluster {descriptor.name!r} has no head node")
        return Instance(
            instance_id=identity[0],
            role=NodeRole.HEAD,
            instance_type=descriptor.head_instance_type,
            private_ip=descriptor.head_address,
            state=InstanceState.RUNNING,
            launch_time=identity[1],
        )

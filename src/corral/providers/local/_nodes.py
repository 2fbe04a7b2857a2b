"""Compute nodes of a local cluster: launch (namespaces, holder, agent), terminate, observe.

A node is a long-lived *holder* process (``sleep infinity``) owning the node's network, UTS and
mount namespaces; everything else enters them with ``nsenter -t <holder>``. Its instance id and
launch time are files in ``nodes/<node>/`` so that ``instances()`` reads reality, not memory.
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import shutil
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from corral.errors import ConflictError, ProviderError
from corral.providers.base import Instance, InstanceState, NodeRole
from corral.providers.local import _cgroups, _disks, _imageroot, _logs, _nat, _net, _owner, _proc, _rootfs
from corral.providers.local._daemons import heartbeat_file, slurmd_after_configured, with_watchdog
from corral.providers.local._files import bootstrap_spec, node_environment
from corral.providers.local._layout import ClusterDescriptor, ClusterLayout, NodeRecord

HOLDER_READY_TIMEOUT_S = 5.0


def new_instance_id() -> str:
    return "i-" + secrets.token_hex(9)[:17]


def write_identity(directory: Path) -> tuple[str, datetime]:
    """Give a machine (head or node) a fresh instance id and launch time, on disk."""
    directory.mkdir(parents=True, exist_ok=True)
    instance_id, launched = new_instance_id(), datetime.now(UTC)
    (directory / "instance_id").write_text(instance_id + "\n")
    (directory / "launch_time").write_text(launched.isoformat() + "\n")
    return instance_id, launched


def read_identity(directory: Path) -> tuple[str, datetime] | None:
    try:
        instance_id = (directory / "instance_id").read_text().strip()
        launched = datetime.fromisoformat((directory / "launch_time").read_text().strip())
    except (OSError, ValueError):
        return None
    return instance_id, launched


def holder_pid(directory: Path) -> int | None:
    """The pid of the live holder of a machine's namespaces, if it is alive."""
    pid = _proc.read_pid(directory / "holder.pid")
    if pid is None or not _proc.alive(pid):
        return None
    if _proc.cmdline(pid)[:1] != ["sleep"] and not _rootfs.is_machine_init(pid):
        return None
    return pid


def start_holder(netns: str, directory: Path, env: dict[str, str], *, cgroup: Sequence[str] = ()) -> int:
    """Start the holder inside ``netns`` with fresh UTS and mount namespaces (mounts from the host
    propagate in, never out) and wait until it owns them. ``cgroup`` is the machine's
    ``_cgroups.enter_argv`` prefix: the holder, and all it forks, live in the machine's cgroup."""
    argv = [*cgroup, "nsenter", f"--net=/run/netns/{netns}", "--", "unshare", "--uts", "--mount"]
    argv += ["--propagation", "slave", "--", "sleep", "infinity"]
    pid = _proc.spawn_detached(argv, env=env)
    own_mnt = os.readlink("/proc/self/ns/mnt")
    deadline = time.monotonic() + HOLDER_READY_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            if _proc.cmdline(pid)[:1] == ["sleep"] and os.readlink(f"/proc/{pid}/ns/mnt") != own_mnt:
                (directory / "holder.pid").write_text(f"{pid}\n")
                return pid
        except OSError:
            break
        time.sleep(0.001)
    raise ProviderError(
        f"the namespace holder for {netns} did not start", hint="check `unshare --mount true`"
    )


def enter_argv(pid: int) -> list[str]:
    return ["nsenter", "-t", str(pid), "--net", "--uts", "--mount", "--"]


def launch_node(layout: ClusterLayout, descriptor: ClusterDescriptor, node: NodeRecord) -> Instance:
    """Start one compute node; a node that is already up is returned as it is (idempotent)."""
    directory = layout.node_dir(node.name)
    netns = _net.node_netns(descriptor.name, node.name)
    if holder_pid(directory) is not None and netns in _net.list_netns():
        existing = node_instance(layout, descriptor, node)
        if existing is not None:
            return existing
    terminate_nodes(layout, descriptor, [node.name])
    directory.mkdir(parents=True, exist_ok=True)
    instance_id, launched = write_identity(directory)
    _logs.record_instance(layout, node.name, instance_id, launched)
    subnet = ipaddress.IPv4Network(descriptor.subnet)
    create_owned_netns(
        layout, netns, lambda: _net.create_node_network(descriptor.name, node.name, node.index, subnet)
    )
    _nat.node_route(descriptor, netns)  # out through the head, when the cluster has NAT
    env = node_environment(layout, descriptor)
    _cgroups.shape(layout.root, node.name, node.instance_type)
    cgroup = _cgroups.enter_argv(layout.root, node.name)
    image = _imageroot.image_root(descriptor, node.queue)
    python, enter = descriptor.python, enter_argv
    log = layout.log / f"node-{node.name}.log"
    spec = bootstrap_spec(layout, descriptor, node)
    if image is None:
        pid = start_holder(netns, directory, env, cgroup=cgroup)
        spec = with_watchdog(layout, descriptor, spec)
    else:  # the watchdog is the machine's init, not a Python process per node
        binds = [*_imageroot.machine_binds(layout), *_disks.volume_binds(descriptor)]
        binds.append(_rootfs.Bind("/run/netns", "/run/netns", recursive=True))
        _disks.mount_root(layout, directory, descriptor.root_volume_gib(node.queue))
        timeout = descriptor.settings.watchdog_timeout_s
        watchdog = _rootfs.Watchdog(str(heartbeat_file(layout)), max(1, round(timeout)), node.name, netns)
        pid = _rootfs.start_machine(
            netns, directory, image, binds, node.name, env, cgroup=cgroup, watchdog=watchdog, log=log
        )
        python, enter, env = _imageroot.IMAGE_PYTHON, _rootfs.enter_argv, _imageroot.agent_env(env)
        spec = slurmd_after_configured(spec)
    spec_path = directory / "bootstrap.json"
    spec_path.write_text(spec.dump())
    agent = [*cgroup, *enter(pid), python, "-m", "corral.node", str(spec_path)]
    _proc.spawn_detached(agent, env=env, log_path=log)
    return _instance(node, instance_id, launched, InstanceState.PENDING)


def _instance(node: NodeRecord, instance_id: str, launched: datetime, state: InstanceState) -> Instance:
    return Instance(
        instance_id=instance_id,
        role=NodeRole.COMPUTE,
        instance_type=node.instance_type,
        private_ip=node.address,
        state=state,
        launch_time=launched,
        node_name=node.name,
        queue=node.queue,
        compute_resource=node.compute_resource,
    )


def read_status(path: Path) -> dict[str, object]:
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        return {}


def node_instance(layout: ClusterLayout, descriptor: ClusterDescriptor, node: NodeRecord) -> Instance | None:
    """The node's instance if its holder is alive: running once the agent finished, else pending."""
    directory = layout.node_dir(node.name)
    identity = read_identity(directory)
    if identity is None or holder_pid(directory) is None:
        return None
    status = read_status(directory / "status.json").get("status")
    state = InstanceState.RUNNING if status in ("ready", "failed") else InstanceState.PENDING
    return _instance(node, *identity, state)


def create_owned_netns(layout: ClusterLayout, netns: str, create: Callable[[], None]) -> None:
    """Run ``create`` (which makes ``netns``) and record the namespace as this cluster's
    (``_owner``); a namespace of that name that already exists is another cluster's: refused."""
    if netns in _net.list_netns() and not _owner.owns_netns(layout.root, netns):
        raise ConflictError(
            f"network namespace {netns} already exists and is not this cluster's",
            hint="a cluster of the same name runs from another state directory (CORRAL_STATE_DIR)",
        )
    _owner.intend_netns(layout.root, netns)
    try:
        create()
    except ProviderError as exc:
        if f"netns add {netns}`" in exc.message:  # made by someone else in the meantime
            _owner.forget_netns(layout.root, netns)
        else:
            _owner.record_netns(layout.root, netns)
        raise
    _owner.record_netns(layout.root, netns)


def owned_netns(layout: ClusterLayout, names: Sequence[str]) -> list[str]:
    """Those of ``names`` that this cluster made (all present ones for a cluster made before
    ownership was recorded)."""
    legacy = _owner.cluster_id(layout.root) is None
    present = _net.list_netns()
    return [n for n in names if n in present and (legacy or _owner.owns_netns(layout.root, n))]


def terminate_nodes(layout: ClusterLayout, descriptor: ClusterDescriptor, names: Sequence[str]) -> None:
    """Kill everything in the nodes' cgroups and namespaces, delete them and their directories.
    Idempotent. A bootstrap failure is kept in ``failures/`` so that it can still be reported."""
    _cgroups.kill(layout.root, names)
    netns = [_net.node_netns(descriptor.name, name) for name in names]
    _net.delete_netns(*owned_netns(layout, netns))
    _owner.forget_netns(layout.root, *netns)
    holders = [holder_pid(layout.node_dir(name)) for name in names]
    _proc.kill_pids(pid for pid in holders if pid is not None)
    for name in names:
        directory = layout.node_dir(name)
        _disks.release_root(directory)  # its machine is gone
        status = directory / "status.json"
        if read_status(status).get("status") == "failed":
            layout.failures_dir.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(status, layout.failures_dir / f"{name}.json")
        shutil.rmtree(directory, ignore_errors=True)

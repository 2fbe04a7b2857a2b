"""Login nodes of a local cluster (``LoginNodes/Pools``), the local stand-in for pcluster's Auto
Scaling group per pool.

A login node is a machine booted from the cluster's image (``_rootfs``: its own network, UTS,
mount and PID namespaces, its own cgroup under the cluster's) on the head's bridge, at an address
from the top of the cluster's subnet (compute nodes fill it from the bottom). Its node agent runs
the pool's OnNodeStart, mounts ``/home`` and the shared storage, starts an sshd (keys only: the
cluster's default user with the cluster's key, as on the head node) and runs OnNodeConfigured. It
has Slurm's client commands from the image and reaches slurmctld with the cluster's munge socket
(the cluster's run dir is bound in); it runs no slurmd and no slurmctld.

Slots: pool ``p`` has slots ``1..Count``; the node in slot ``i`` is ``login-<p>-<i>``, living in
``<cluster>/login/<name>/`` (instance id, launch time, ``status.json``, its sshd's host key and
config, ``retire_at`` once scale-in retired it). ``converge`` applies ``_login_rules.decide``:
empty slots are launched, dead nodes replaced, nodes past ``Count`` warned with ``wall`` and
stopped after GracetimePeriod. The create, update-cluster and every reconciler pass call it.

Image-rooted clusters only (``CORRAL_LOCAL_NODE_ROOT=image``): a host-rooted cluster's login pools
are reported, not launched.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import json
import shlex
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from corral.config.findings import Finding, Level
from corral.errors import ProviderError
from corral.node.agent import BootstrapSpec
from corral.node.fetch import fetch_all
from corral.plan import ClusterPlan
from corral.providers.local import (
    _bootfiles,
    _cgroups,
    _disks,
    _files,
    _imageroot,
    _logs,
    _nat,
    _net,
    _nodes,
    _owner,
    _proc,
    _rootfs,
    _sshd,
)
from corral.providers.local._layout import (
    LOGIN_POOL_BLOCK,
    ActionRecord,
    ClusterDescriptor,
    ClusterLayout,
    LoginNode,
    LoginPoolPlacement,
    LoginPoolRecord,
    ec2_hostname,
    login_address,
    login_node_name,
)
from corral.providers.local._login_rules import LoginActions, Seen, Want, decide
from corral.providers.local._login_view import (
    Observed,
    instances,
    login_dir,
    next_node,
    node_dir,
    observe,
    pool_statuses,
)
from corral.runtime import settings

#: Slots per pool: each pool takes a block of this many addresses (pcluster allows 10 pools).
MAX_POOL_NODES = LOGIN_POOL_BLOCK
MAX_POOLS = 10
#: GracetimePeriod in seconds instead of the config's minutes (tests), read at create and update.
GRACE_ENV = "CORRAL_LOCAL_LOGIN_GRACETIME_SECONDS"
#: The code of the local provider's own findings about login pools.
CONFIG_CODE = "LocalLoginNodesValidator"
LOGIN_NODE_TYPE = "LoginNode"
WALL_TIMEOUT_S = 10.0


# -- records (decided at create and update, before anything runs) ------------------------------


def _grace_override() -> float | None:
    if not settings.raw(GRACE_ENV):
        return None
    return settings.seconds(GRACE_ENV, 0.0, error=ProviderError)


def pool_placements(
    plan: ClusterPlan,
    layout: ClusterLayout,
    subnet: str,
    highest_node: int,
    current: tuple[LoginPoolPlacement, ...],
) -> tuple[LoginPoolPlacement, ...]:
    """Where the login pools of ``plan`` go: pools that stay keep their address block; their custom
    action scripts are fetched (from the host's network, as the head's and the queues' are)."""
    kept = {p.name: p.block for p in current}
    free = iter(b for b in range(MAX_POOLS) if b not in kept.values())
    scripts = [a.script for p in plan.login_pools for a in p.custom_actions]
    paths = fetch_all(scripts, layout.actions_dir) if scripts else {}
    override = _grace_override()
    network = ipaddress.IPv4Network(subnet)
    records = []
    for spec in plan.login_pools:
        if spec.count > MAX_POOL_NODES:
            raise ProviderError(
                f"login node pool {spec.name!r}: Count {spec.count} is more than a local pool holds",
                hint=f"use at most {MAX_POOL_NODES} nodes per pool on the local provider",
            )
        block = kept[spec.name] if spec.name in kept else next(free)
        if spec.count and login_address(network, block, spec.count) <= network.network_address + highest_node:
            raise ProviderError(
                f"login node pool {spec.name!r} does not fit in subnet {subnet} beside the compute nodes",
                hint="lower the MaxCount of the queues or the Count of the login node pools",
            )
        ordered = sorted(spec.custom_actions, key=lambda a: a.run_order)
        actions = tuple(ActionRecord(a.event, a.script, str(paths[a.script]), a.args) for a in ordered)
        grace = round(override) if override is not None else spec.gracetime_min * 60
        records.append(LoginPoolPlacement(spec.name, grace, block, actions))
    return tuple(records)


# -- one node --------------------------------------------------------------------------------


def _sshd_files(layout: ClusterLayout, node: LoginNode) -> tuple[Path, Path, Path]:
    """(host key, sshd_config, known_hosts) of a login node, in its directory."""
    directory = node_dir(layout, node.name)
    return directory / "ssh_host_ed25519_key", directory / "sshd_config", directory / "known_hosts"


def _prepare_sshd(layout: ClusterLayout, node: LoginNode) -> None:
    files = _sshd.ssh_files(layout)
    host_key, config, known_hosts = _sshd_files(layout, node)
    _sshd.keygen(host_key, f"{node.name}@{layout.name}")
    kind, key = host_key.with_suffix(".pub").read_text().split()[:2]
    known_hosts.write_text(f"{node.address} {kind} {key}\n")
    whose = f"login node {node.name}'s"
    config.write_text(_sshd.sshd_config(files, layout, node.address, host_key, "/run/sshd.pid", whose))


def sshd_script(layout: ClusterLayout, node: LoginNode) -> str:
    """What the agent runs (in the node's root) to start its sshd: the default user's key in its
    home, utmp (so that ``wall`` reaches the sessions), then sshd, which detaches."""
    files = _sshd.ssh_files(layout)
    user = files.user_file.read_text().strip()
    ids = (files.directory / "ids").read_text().strip()
    config = _sshd_files(layout, node)[1]
    log = layout.log / f"sshd-{node.name}.log"
    q = shlex.quote
    return " && ".join(
        [
            f"mkdir -p /home/{user}/.ssh && cp {q(str(files.authorized_keys))} /home/{user}/.ssh/"
            f" && chown {ids} /home/{user} /home/{user}/.ssh /home/{user}/.ssh/authorized_keys"
            f" && chmod 700 /home/{user} /home/{user}/.ssh",
            "mkdir -p /run/sshd && chmod 755 /run/sshd",
            "touch /run/utmp && chmod 664 /run/utmp",
            f"exec /usr/sbin/sshd -f {q(str(config))} -E {q(str(log))}",
        ]
    )


def bootstrap_spec(
    layout: ClusterLayout, descriptor: ClusterDescriptor, pool: LoginPoolRecord, node: LoginNode
) -> BootstrapSpec:
    """The agent's instructions for a login node: a compute node's mounts and files, the pool's
    actions with pcluster's login-node environment, sshd instead of slurmd."""
    directory = node_dir(layout, node.name)
    storage = tuple((s.data_dir, s.mount_dir) for s in descriptor.storage)
    early: tuple[tuple[str, str], ...] = ((str(layout.hosts_file), "/etc/hosts"),)
    home = _sshd.home_mount(layout)
    if home is not None and not any(m[1].rstrip("/") == "/home" for m in storage):
        early = (*early, home)
    env = {
        **_files.node_environment(layout, descriptor),
        **script_environment(descriptor, pool.name),
    }
    files = (*node_files(descriptor, pool, node), *_sshd.account_files(layout))
    return BootstrapSpec(
        node_name=node.name,
        hostname=ec2_hostname(node.address),
        status_file=str(directory / "status.json"),
        early_mounts=early,
        mounts=storage,
        actions=_files.node_actions(layout, pool.actions, node.name),
        services=(("sh", "-c", sshd_script(layout, node)),),
        env=tuple(sorted(env.items())),
        host_namespaces=_files.host_namespaces(),
        timeout_s=descriptor.compute_timeout_s,
        files=files,
        private_root=True,
    )


def script_environment(descriptor: ClusterDescriptor, pool: str) -> dict[str, str]:
    """The variables a login node's custom actions see (as the AWS login nodes' do)."""
    return {
        "CORRAL_CLUSTER_NAME": descriptor.name,
        "CORRAL_NODE_TYPE": LOGIN_NODE_TYPE,
        "CORRAL_LOGIN_POOL": pool,
        "CORRAL_CLUSTER_CONFIG": _bootfiles.CLUSTER_CONFIG,
    }


def node_files(
    descriptor: ClusterDescriptor, pool: LoginPoolRecord, node: LoginNode
) -> tuple[tuple[str, str], ...]:
    """cfnconfig and dna.json saying ``LoginNode`` and the pool, and the cluster config."""
    cfn = _bootfiles.render_cfnconfig(descriptor, None).replace(
        f"cfn_node_type={_bootfiles.HEAD_NODE_TYPE}\n", f"cfn_node_type={LOGIN_NODE_TYPE}\n"
    )
    cfn += f"cfn_login_pool_name={pool.name}\n"
    dna = json.loads(_bootfiles.render_dna(descriptor, None))
    dna["cluster"].update(node_type=LOGIN_NODE_TYPE, pool_name=pool.name, instance_type=pool.instance_type)
    return (
        (_bootfiles.CFNCONFIG, cfn),
        (_bootfiles.DNA_JSON, json.dumps(dna, indent=2) + "\n"),
        (
            _bootfiles.CLUSTER_CONFIG,
            descriptor.cluster_config or "# built from a plan without a config file\n",
        ),
    )


def launch(layout: ClusterLayout, descriptor: ClusterDescriptor, pool: LoginPoolRecord, index: int) -> None:
    """Boot the node of ``pool``'s slot ``index`` and start its agent (detached)."""
    image = _imageroot.image_root(descriptor)
    if image is None:
        raise ProviderError(
            "login nodes need machines booted from images",
            hint=f"create the cluster with {_imageroot.NODE_ROOT_ENV}=image",
        )
    if not _sshd.ssh_files(layout).user_file.exists():  # the first pool came with an update
        _sshd.prepare(layout, descriptor.head_address, descriptor.os, etc=image / "etc")
    node = descriptor.login_slot(pool, index)
    stop(layout, [node.name])
    directory = node_dir(layout, node.name)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "slot.json").write_text(
        json.dumps({"pool": pool.name, "index": index, "address": node.address, "grace_s": pool.gracetime_s})
    )
    instance_id, launched = _nodes.write_identity(directory)
    _logs.record_instance(layout, node.name, instance_id, launched)
    subnet = ipaddress.IPv4Network(descriptor.subnet)
    netns = _net.node_netns(descriptor.name, node.name)
    veth = f"l{pool.block}-{index}"
    _nodes.create_owned_netns(
        layout,
        netns,
        lambda: _net.create_machine_network(
            descriptor.name, node.name, veth, ipaddress.IPv4Address(node.address), subnet
        ),
    )
    _nat.node_route(descriptor, netns)  # out through the head, as compute nodes (NAT clusters)
    _cgroups.shape(layout.root, node.name, pool.instance_type)
    cgroup = _cgroups.enter_argv(layout.root, node.name)
    _prepare_sshd(layout, node)
    env = _files.node_environment(layout, descriptor)
    log = layout.log / f"login-{node.name.removeprefix('login-')}.log"
    binds = [*_imageroot.machine_binds(layout), *_disks.volume_binds(descriptor)]
    root = _imageroot.login_root(descriptor, pool.name) or image  # the pool's CustomAmi, if it names one
    pid = _rootfs.start_machine(
        netns, directory, root, binds, ec2_hostname(node.address), env, cgroup=cgroup, log=log
    )
    spec_path = directory / "bootstrap.json"
    spec_path.write_text(bootstrap_spec(layout, descriptor, pool, node).dump())
    agent = [*cgroup, *_rootfs.enter_argv(pid), _imageroot.IMAGE_PYTHON, "-m", "corral.node", str(spec_path)]
    _proc.spawn_detached(agent, env=_imageroot.agent_env(env), log_path=log)


def stop(layout: ClusterLayout, names: list[str]) -> None:
    """End the nodes' processes, delete their namespaces and directories. Idempotent."""
    if not names:
        return
    _cgroups.kill(layout.root, names)
    netns = [_net.node_netns(layout.name, name) for name in names]
    _net.delete_netns(*_nodes.owned_netns(layout, netns))
    _owner.forget_netns(layout.root, *netns)
    for name in names:
        shutil.rmtree(node_dir(layout, name), ignore_errors=True)


def owned_netns(layout: ClusterLayout) -> list[str]:
    """The login nodes' network namespaces this cluster made (for delete)."""
    prefix = _net.node_netns(layout.name, "login-")
    return [n for n in _owner.owned_netns(layout.root) if n.startswith(prefix)]


def known_hosts(layout: ClusterLayout, node: LoginNode) -> Path:
    return _sshd_files(layout, node)[2]


# -- converging ------------------------------------------------------------------------------


def plan_actions(layout: ClusterLayout, descriptor: ClusterDescriptor, now: float) -> LoginActions:
    wanted = {p.name: Want(p.count, p.gracetime_s) for p in descriptor.login_pools}
    seen = [
        Seen(o.node.pool, o.node.index, o.node.name, o.alive, o.status == "failed", o.retire_at, o.grace_s)
        for o in observe(layout)
    ]
    return decide(wanted, seen, now)


@contextlib.contextmanager
def exclusive(layout: ClusterLayout, *, wait: bool = True) -> Iterator[bool]:
    """The cluster's login nodes to one caller at a time (yields whether it got them; with
    ``wait``, always). The reconciler's passes and an update-cluster both converge them: an update
    holds the lock from the moment it writes the new descriptor until its own
    ``converge(..., held=True)``, and a reconciler pass meanwhile skips its login step (it does not
    wait: its heartbeat must go on), so it never acts on the new Count before the update does."""
    login_dir(layout).mkdir(parents=True, exist_ok=True)
    with (login_dir(layout) / ".lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True


def converge(
    layout: ClusterLayout, descriptor: ClusterDescriptor | None = None, *, held: bool = False
) -> list[str]:
    """Apply ``_login_rules.decide`` once; returns what was done, one line each. ``held``: the
    caller holds ``exclusive``. ``descriptor`` None (the reconciler's pass): the cluster's, read
    under the lock, and nothing is done while another caller (an update) holds it."""
    if not held:
        with exclusive(layout, wait=descriptor is not None) as mine:
            return converge(layout, descriptor, held=True) if mine else []
    if descriptor is None:
        descriptor = ClusterDescriptor.load(layout.descriptor)
    if _imageroot.image_root(descriptor) is None or not (descriptor.login_pools or observe(layout)):
        return []
    return _apply(layout, descriptor, plan_actions(layout, descriptor, time.time()))


def _apply(layout: ClusterLayout, descriptor: ClusterDescriptor, actions: LoginActions) -> list[str]:
    now = time.time()
    done: list[str] = []
    for name in actions.stop:
        stop(layout, [name])
        done.append(f"login node {name} stopped")
    for name, grace_s in actions.warn:
        retire(layout, name, grace_s, now)
        done.append(f"login node {name} leaves its pool: users warned (wall), it stops in {grace_s} s")
    for name in actions.keep:
        with contextlib.suppress(OSError):
            (node_dir(layout, name) / "retire_at").unlink()
        done.append(f"login node {name} is wanted again: kept in service")
    for name in actions.replace:
        pool_name, index = _slot_of(name)
        launched = _launch(layout, descriptor, pool_name, index)
        done += (
            [f"login node {name} was gone (its machine stopped): replaced in its slot"] if launched else []
        )
    for pool_name, index in actions.launch:
        if _launch(layout, descriptor, pool_name, index):
            done.append(f"login node {login_node_name(pool_name, index)} launched")
    return done


def _launch(layout: ClusterLayout, descriptor: ClusterDescriptor, pool_name: str, index: int) -> bool:
    pool = descriptor.login_pool(pool_name)
    if pool is not None:
        launch(layout, descriptor, pool, index)
    return pool is not None


def _slot_of(name: str) -> tuple[str, int]:
    pool, _, index = name.removeprefix("login-").rpartition("-")
    return pool, int(index)


def retire(layout: ClusterLayout, name: str, grace_s: int, now: float) -> None:
    """Warn the node's logged-in users (``wall``) and record when its grace period ends."""
    directory = node_dir(layout, name)
    (directory / "retire_at").write_text(f"{now + grace_s}\n")
    pid = _nodes.holder_pid(directory)
    if pid is None:
        return
    when = f"{grace_s // 60} minute(s)" if grace_s % 60 == 0 else f"{grace_s} seconds"
    message = (
        f"This login node ({name}) is being removed from its pool: it stops in {when}."
        " Save your work; log in again to reach another node of the pool."
    )
    _proc.run([*_rootfs.enter_argv(pid), "wall", message], check=False, timeout=WALL_TIMEOUT_S)


def config_findings(config: Any, *, nodes_boot_from_images: bool) -> list[Finding]:
    """What the local provider cannot do with a config's login pools, before anything is made: a
    WARNING when its nodes are host-rooted (no login node is launched), an ERROR for a pool larger
    than a local pool's address block."""
    pools = getattr(getattr(config, "login_nodes", None), "pools", ()) or ()
    found = []
    if pools and not nodes_boot_from_images:
        found.append(
            Finding(
                Level.WARNING,
                CONFIG_CODE,
                "LoginNodes/Pools",
                "login nodes are not implemented yet on host-rooted local nodes:"
                " no login node will be launched",
                hint=f"create the cluster with {_imageroot.NODE_ROOT_ENV}=image (nodes booted from the"
                " official image), where login pools run",
            )
        )
    for i, pool in enumerate(pools):
        if int(getattr(pool, "count", 0)) > MAX_POOL_NODES:
            found.append(
                Finding(
                    Level.ERROR,
                    CONFIG_CODE,
                    f"LoginNodes/Pools[{i}]/Count",
                    f"Count {pool.count} of login node pool {pool.name!r} is more than a local pool holds",
                    hint=f"use at most {MAX_POOL_NODES} nodes per pool on the local provider",
                )
            )
    return found


def run_updated(layout: ClusterLayout, descriptor: ClusterDescriptor) -> list[str]:
    """After update-cluster: every serving login node whose pool has OnNodeUpdated scripts runs
    them (its agent's ``updated`` phase, with the pool's current scripts). A failing script marks
    the node failed (its pool reports ``failed``), as a failed bootstrap does."""
    done = []
    for seen in observe(layout):
        pool = descriptor.login_pool(seen.node.pool)
        if pool is None or not seen.healthy or not any(a.event == "OnNodeUpdated" for a in pool.actions):
            continue
        directory = node_dir(layout, seen.node.name)
        pid = _nodes.holder_pid(directory)
        if pid is None:
            continue
        spec_path = directory / "bootstrap.json"
        spec_path.write_text(bootstrap_spec(layout, descriptor, pool, seen.node).dump())
        agent = [*_cgroups.enter_argv(layout.root, seen.node.name), *_rootfs.enter_argv(pid)]
        agent += [_imageroot.IMAGE_PYTHON, "-m", "corral.node", str(spec_path), "--phase", "updated"]
        env = _imageroot.agent_env(_files.node_environment(layout, descriptor))
        result = _proc.run(agent, env=env, check=False, timeout=descriptor.compute_timeout_s + 30.0)
        with (layout.log / f"login-{seen.node.name.removeprefix('login-')}.log").open("a") as log:
            log.write(result.stdout + result.stderr)
        status = _nodes.read_status(directory / "status.json")
        if result.returncode == 0:
            done.append(f"login node {seen.node.name}: OnNodeUpdated actions done")
        else:
            done.append(
                f"WARNING: login node {seen.node.name}: OnNodeUpdated failed: {status.get('message', '')}"
            )
    return done


def start_with_cluster(
    layout: ClusterLayout, descriptor: ClusterDescriptor, report: Callable[[str, str], None]
) -> None:
    """Launch the login pools' nodes at create (they finish booting by themselves: describe-cluster's
    ``loginNodes`` says when a pool is active). Host-rooted clusters: a warning, nothing launched."""
    if not descriptor.login_pools:
        return
    if _imageroot.image_root(descriptor) is None:
        report(
            "LoginNodes",
            "WARNING: login nodes are not implemented for host-rooted machines: none launched"
            f" (create the cluster with {_imageroot.NODE_ROOT_ENV}=image)",
        )
        return
    for line in converge(layout, descriptor):
        report("LoginNodes", line)


def stop_all(layout: ClusterLayout) -> None:
    """Stop every login node (delete)."""
    stop(layout, [o.node.name for o in observe(layout)])


__all__ = [
    "GRACE_ENV",
    "LoginNode",
    "Observed",
    "config_findings",
    "converge",
    "instances",
    "known_hosts",
    "launch",
    "next_node",
    "observe",
    "owned_netns",
    "pool_placements",
    "pool_statuses",
    "retire",
    "run_updated",
    "start_with_cluster",
    "stop",
    "stop_all",
]

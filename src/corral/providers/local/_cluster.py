"""Creating and deleting a whole local cluster (the steps behind ``LocalProvider.create/delete``)."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from corral.errors import ConflictError, NotFoundError, ProviderError
from corral.images.custom import ClusterImages, cluster_images
from corral.node import s3sync
from corral.node.fetch import FetchError, fetch, fetch_all
from corral.plan import ClusterPlan, CustomActionSpec
from corral.providers.local import (
    _accounting,
    _cgroups,
    _daemons,
    _disks,
    _ephemeral,
    _extdbd,
    _files,
    _imageroot,
    _login,
    _logs,
    _nat,
    _net,
    _nodes,
    _owner,
    _proc,
    _rootfs,
    _runfs,
    _scaling,
    _sshd,
    _storage,
    _storage_teardown,
    _volumes,
    images,
)
from corral.providers.local._layout import ActionRecord, ClusterDescriptor, ClusterLayout, StorageRecord
from corral.providers.local._settings import LocalSettings
from corral.slurm import hostlist
from corral.slurm.conf import gpu_device_count, render_gres_conf, render_slurm_conf

Report = Callable[[str, str], None]


def prepare_storage(plan: ClusterPlan, layout: ClusterLayout, cap: int) -> tuple[StorageRecord, ...]:
    """Create each storage's data dir and, where missing on the host, its mount point (``cap``:
    the EFS volume size cap, GiB)."""
    specs = _storage.storage_with_home(plan)
    # Decided before any is created: /sbo/home and /sbo/data both record /sbo as Corral's.
    created = [_ephemeral.first_missing_ancestor(Path(spec.mount_dir)) for spec in specs]
    records = []
    for spec, root in zip(specs, created, strict=True):
        Path(_storage.storage_data_dir(layout, spec)).mkdir(parents=True, exist_ok=True)
        Path(spec.mount_dir).mkdir(parents=True, exist_ok=True)
        records.append(_storage.storage_record(layout, spec, str(root) if root else "", efs_cap_gib=cap))
    return tuple(records)


def fetch_actions(plan: ClusterPlan, layout: ClusterLayout) -> dict[str | None, tuple[ActionRecord, ...]]:
    """Fetch every custom action script once, concurrently, from the host's network (nodes have no
    route out). Key None holds the head node's actions."""
    groups: dict[str | None, tuple[CustomActionSpec, ...]] = {None: plan.head_node.custom_actions}
    groups.update(plan.queue_custom_actions)
    paths = fetch_all([a.script for specs in groups.values() for a in specs], layout.actions_dir)
    fetched: dict[str | None, tuple[ActionRecord, ...]] = {}
    for queue, specs in groups.items():
        ordered = sorted(specs, key=lambda a: a.run_order)
        fetched[queue] = tuple(ActionRecord(a.event, a.script, str(paths[a.script]), a.args) for a in ordered)
    return fetched


def datasync_config(layout: ClusterLayout, descriptor: ClusterDescriptor) -> s3sync.SyncConfig:
    associations = tuple(
        s3sync.Association(
            name=f"{r.storage}-{r.name}",
            local_dir=r.local_dir,
            url=r.url,
            batch_import=r.batch_import,
            auto_import=r.auto_import,
            auto_export=r.auto_export,
        )
        for r in descriptor.data_repositories
    )
    interval = descriptor.settings.datasync_interval_s
    return s3sync.SyncConfig(associations, str(layout.datasync_dir / "state"), interval)


def start_data_repositories(layout: ClusterLayout, descriptor: ClusterDescriptor, report: Report) -> None:
    """Import what BatchImportMetaDataOnCreate asks for, then start the sync loop (if any
    association has an AutoImportPolicy or AutoExportPolicy)."""
    if not descriptor.data_repositories:
        return
    config = datasync_config(layout, descriptor)
    config_path = layout.datasync_dir / "config.json"
    s3sync.write_config(config_path, config)
    try:
        lines = s3sync.initial_import(config)
    except Exception as exc:  # botocore's errors: the provider must not import botocore itself
        names = ", ".join(a.url for a in config.associations)
        raise ProviderError(
            f"FSx data repository import failed ({names}): {type(exc).__name__}: {exc}",
            hint="check the buckets, AWS_ENDPOINT_URL and the AWS credentials",
        ) from exc
    report("SharedStorage", f"data repositories: imported {len(lines)} object(s) at create")
    if any(a.auto_import or a.auto_export for a in config.associations):
        _daemons.start_datasync(layout, descriptor.python, config_path)
        report("SharedStorage", f"data repository sync every {config.interval_s:g} s")


def write_files(plan: ClusterPlan, layout: ClusterLayout, descriptor: ClusterDescriptor) -> None:
    """hosts, slurm.conf, gres.conf and the program wrappers."""
    _runfs.mount(layout)  # before anything is written there
    for directory in (
        layout.etc,
        layout.conf_dir,
        layout.bin,
        layout.log,
        layout.slurm_state,
        layout.nodes_dir,
        layout.head_dir,
    ):
        directory.mkdir(parents=True, exist_ok=True)
    for public in (layout.run_dir.parent, layout.run_dir, layout.conf_dir):
        public.chmod(0o755)  # non-root users' Slurm clients read the config here
    layout.hosts_file.write_text(_files.render_hosts(descriptor))
    include = None
    if plan.slurm.custom_settings_include_file:
        include = str(fetch(plan.slurm.custom_settings_include_file, layout.conf_dir / "include"))
    runtime = _files.slurm_runtime(
        layout, descriptor, suspend_time_s=descriptor.settings.scaledown_s, include_file=include
    )
    layout.slurm_conf.write_text(render_slurm_conf(plan, runtime))
    layout.slurm_conf.chmod(0o644)
    (layout.conf_dir / "gres.conf").write_text(render_gres_conf(plan, str(layout.root / "dev")))
    (layout.conf_dir / "gres.conf").chmod(0o644)
    make_gpu_devices(layout.root / "dev", gpu_device_count(plan))
    image = _imageroot.image_root(descriptor) is not None
    if image:
        _imageroot.write_slurm_wrappers(layout)
        _imageroot.write_cgroup_conf(layout)
    for program in _files.PROGRAMS:
        path = layout.bin / program
        resume = program == "resume"
        extra = dict(_scaling.resume_environment(plan, layout, descriptor.settings)) if resume else {}
        leave = ""
        if image:
            extra["PATH"] = f"{_imageroot.slurm_wrappers_dir(layout)}:{_proc.SAFE_PATH}"
            leave = _imageroot.leave_head(layout)
        path.write_text(_files.render_wrapper(layout, descriptor.python, program, extra, leave=leave))
        path.chmod(0o755)


def make_gpu_devices(directory: Path, count: int) -> None:
    """Emulated GPUs: character devices with /dev/null's numbers (Slurm wants real device files)."""
    if count:
        directory.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        path = directory / f"gpu{i}"
        if not path.exists():
            os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))


def prepare(plan: ClusterPlan, layout: ClusterLayout, knobs: LocalSettings) -> ClusterDescriptor:
    """Everything on disk, before any process or namespace exists (``knobs``: the settings the
    create read, kept in the descriptor)."""
    layout.root.mkdir(parents=True, exist_ok=True)
    layout.root.chmod(0o755)
    subnet = _net.allocate_subnet(layout.state_dir, layout.clusters_dir, layout.subnet_file)
    try:
        actions = fetch_actions(plan, layout)
    except FetchError as exc:
        raise ProviderError(exc.message, exc.hint) from exc
    env = {k: os.environ[k] for k in _files.PASSED_ENV if k in os.environ}
    storage = prepare_storage(plan, layout, knobs.efs_cap_gib)
    descriptor = _files.build_descriptor(
        plan,
        subnet,
        python=sys.executable,
        storage=storage,
        actions=actions,
        env=env,
    )
    descriptor = replace(descriptor, ephemeral_created=_ephemeral.prepare_mount_points(plan), settings=knobs)
    try:
        logins = _login.pool_placements(
            plan, layout, str(subnet), _net.FIRST_NODE_OFFSET + len(plan.nodes), ()
        )
    except FetchError as exc:
        raise ProviderError(exc.message, exc.hint) from exc
    descriptor = replace(descriptor, login_placements=logins)
    chosen = cluster_images(plan.config)
    if _imageroot.requested() or chosen.located():
        descriptor = with_image(descriptor, chosen, layout.state_dir)
    if _nat.requested():
        descriptor = replace(descriptor, extra={**descriptor.extra, _nat.NAT_KEY: "1"})
    # Written before any namespace exists: delete() finds every namespace name through it.
    layout.descriptor.write_text(descriptor.dump())
    _disks.mount_storage(layout, storage)  # after the descriptor: a rollback releases them through it
    _logs.write_policy(plan, layout)
    try:
        write_files(plan, layout, descriptor)
    except FetchError as exc:
        raise ProviderError(exc.message, exc.hint) from exc
    return descriptor


def with_image(
    descriptor: ClusterDescriptor, chosen: ClusterImages | None = None, state_dir: Path | None = None
) -> ClusterDescriptor:
    """The descriptor of a cluster whose machines boot from images: the official one (built if
    needed), or the ``CustomAmi`` each part names (``images.resolve_image``: official or built)."""
    official = images.ensure_official().ami_id
    chosen = chosen or ClusterImages()
    head = _booted(chosen.head_ami(official), official, state_dir)
    queues = {q: _lowerdir(chosen.queue_ami(q, official), official, state_dir) for q in chosen.queues}
    pools = {p: _lowerdir(chosen.pool_ami(p, official), official, state_dir) for p in chosen.pools}
    extra = {
        **descriptor.extra,
        _imageroot.IMAGE_ID_KEY: head,
        _imageroot.IMAGE_ROOT_KEY: _lowerdir(head, official, state_dir),
        _imageroot.QUEUE_ROOTS_KEY: json.dumps(queues, sort_keys=True),
        _imageroot.LOGIN_ROOTS_KEY: json.dumps(pools, sort_keys=True),
    }
    return replace(descriptor, extra=extra)


def with_updated_images(
    current: ClusterDescriptor, old: ClusterImages, new: ClusterImages, state_dir: Path
) -> dict[str, str]:
    """``current.extra`` after an update, for an image-rooted cluster: a queue or login pool whose
    ``CustomAmi`` is unchanged keeps the root it boots from; a new one, or one whose ``CustomAmi``
    changed (pcluster lets it change with the queue's update strategy, or the pool stopped), gets
    its image's root now, so its next node boots from it. The head's root never changes here
    (pcluster refuses that update)."""
    if not current.extra.get(_imageroot.IMAGE_ROOT_KEY):
        return dict(current.extra)  # host-rooted machines
    head_root = current.extra[_imageroot.IMAGE_ROOT_KEY]
    queue_roots = json.loads(current.extra.get(_imageroot.QUEUE_ROOTS_KEY) or "{}")
    pool_roots = json.loads(current.extra.get(_imageroot.LOGIN_ROOTS_KEY) or "{}")
    official: list[str] = []

    def root(ami: str) -> str:
        if not official:
            official.append(images.ensure_official().ami_id)
        return _lowerdir(ami, official[0], state_dir)  # "" (no CustomAmi): the official image

    queues = {}
    for q in new.queues:
        same = q in old.queues and old.queue_ami(q, "") == new.queue_ami(q, "")
        queues[q] = queue_roots[q] if same and q in queue_roots else root(new.queue_ami(q, ""))
    pools = {}
    for p in new.pools:
        same = p in old.pools and old.pool_ami(p, "") == new.pool_ami(p, "")
        pools[p] = pool_roots.get(p, head_root) if same else root(new.pool_ami(p, ""))
    return {
        **current.extra,
        _imageroot.QUEUE_ROOTS_KEY: json.dumps(queues, sort_keys=True),
        _imageroot.LOGIN_ROOTS_KEY: json.dumps(pools, sort_keys=True),
    }


def _booted(ami: str, official: str, state_dir: Path | None) -> str:
    """The image ``ami`` boots here: itself, or the official one for an id this machine never saw
    (an AWS AMI; validation warned: LocalCustomAmiValidator)."""
    if state_dir is None or not images.known_locally(ami, state_dir):
        return official
    return ami


def _lowerdir(ami: str, official: str, state_dir: Path | None) -> str:
    """The overlay lowerdir of the image ``ami`` boots from here."""
    ami = _booted(ami, official, state_dir)
    if ami == official or state_dir is None:
        return str(images.rootfs(official))
    try:
        return images.resolve_image(ami, state_dir).lowerdir
    except (NotFoundError, ConflictError) as exc:
        raise ProviderError(f"CustomAmi {ami}: {exc.message}", hint=exc.hint) from None


def run_head_agent(layout: ClusterLayout, descriptor: ClusterDescriptor, holder: int, phase: str) -> None:
    spec = _files.bootstrap_spec(layout, descriptor, None)
    spec_path = layout.head_dir / "bootstrap.json"
    spec_path.write_text(spec.dump())
    env = _files.node_environment(layout, descriptor)
    enter, python = _nodes.enter_argv(holder), descriptor.python
    if _imageroot.image_root(descriptor) is not None:
        enter, python = _rootfs.enter_argv(holder, pid_namespace=False), _imageroot.IMAGE_PYTHON
        env = _imageroot.agent_env(env)
    argv = [
        *_cgroups.enter_argv(layout.root, _cgroups.HEAD),
        *enter,
        python,
        "-m",
        "corral.node",
        str(spec_path),
        "--phase",
        phase,
    ]
    log = layout.log / "head-agent.log"
    with log.open("a") as out:
        result = subprocess.run(argv, env=env, stdout=out, stderr=out, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        status = _nodes.read_status(Path(spec.status_file))
        raise ProviderError(
            f"head node bootstrap failed: {status.get('message') or _daemons.log_tail(log)}",
            hint=f"see {log}",
        )


def head_enter_argv(descriptor: ClusterDescriptor, holder: int) -> list[str]:
    """The prefix that runs a command in the head node (its root, when it boots from an image)."""
    if _imageroot.image_root(descriptor) is not None:
        return _rootfs.enter_argv(holder, pid_namespace=False)
    return _nodes.enter_argv(holder)


def start_head_sshd(layout: ClusterLayout, descriptor: ClusterDescriptor, holder: int) -> _sshd.SshFiles:
    """The head's sshd (the image's in an image head), once its agent placed the accounts."""
    return _sshd.start(layout, head_enter_argv(descriptor, holder), descriptor.head_address)


def start_head(layout: ClusterLayout, descriptor: ClusterDescriptor, report: Report) -> int:
    """Head netns with the bridge, the holder, mounts and OnNodeStart, munged, slurmctld."""
    for change in _net.raise_neighbour_limits(len(descriptor.nodes)):
        report("Cluster", f"raised the host's ARP table limit (shared by all namespaces): {change}")
    start_data_repositories(layout, descriptor, report)
    head, subnet = _net.head_netns(descriptor.name), ipaddress.IPv4Network(descriptor.subnet)
    _nodes.create_owned_netns(layout, head, lambda: _net.create_head_network(descriptor.name, subnet))
    _nat.connect(layout, descriptor, report)  # the cluster's NAT, when it has one
    _nodes.write_identity(layout.head_dir)
    _cgroups.shape(layout.root, _cgroups.HEAD, descriptor.head_instance_type)
    holder = start_head_machine(layout, descriptor, head)
    report("HeadNode", f"namespaces ready ({descriptor.head_hostname}, {descriptor.head_address})")
    # accounts before any agent runs: the host's, or the image's (its sshd is the image's)
    image = _imageroot.image_root(descriptor)
    etc = Path(image) / "etc" if image else Path("/etc")
    _sshd.prepare(layout, descriptor.head_address, descriptor.os, etc=etc)
    run_head_agent(layout, descriptor, holder, "start")
    _daemons.start_munged(layout, holder)
    report("HeadNode", "munged started")
    if _accounting.DATABASE_KEY in descriptor.extra:
        _accounting.connect(layout, descriptor)
        _accounting.start_slurmdbd(layout, descriptor, holder, report)
    elif _extdbd.EXTERNAL_KEY in descriptor.extra:
        _accounting.connect(layout, descriptor, descriptor.extra[_extdbd.EXTERNAL_KEY])
        _extdbd.wait_ready(layout, descriptor, report)
        report("HeadNode", "the cluster is registered with its external slurmdbd")
    _daemons.start_slurmctld(layout, holder)
    _daemons.wait_for_slurmctld(layout, 30.0)
    report("HeadNode", "slurmctld is up")
    ssh = start_head_sshd(layout, descriptor, holder)
    user = ssh.user_file.read_text().strip()
    report("HeadNode", f"sshd is up on {descriptor.head_address}:22 (user {user}, key authentication)")
    return holder


def start_head_machine(layout: ClusterLayout, descriptor: ClusterDescriptor, netns: str) -> int:
    """The head's holder (host-rooted) or machine (image-rooted, on its root volume, whose data a
    restore finds again) in its cgroup; returns its pid."""
    cgroup = _cgroups.enter_argv(layout.root, _cgroups.HEAD)
    image = _imageroot.image_root(descriptor)
    env = _daemons.slurm_env(layout)
    if image is None:
        return _nodes.start_holder(netns, layout.head_dir, env, cgroup=cgroup)
    binds = [*_imageroot.machine_binds(layout), *_disks.volume_binds(descriptor)]
    _disks.mount_root(layout, layout.head_dir, descriptor.root_volume_gib(None))
    _imageroot.start_anchor(layout, netns, cgroup)
    hostname = descriptor.head_hostname
    return _rootfs.start_machine(
        netns, layout.head_dir, image, binds, hostname, env, cgroup=cgroup, pid_namespace=False
    )


def bring_up_static(plan: ClusterPlan, layout: ClusterLayout, report: Report) -> None:
    """Power up the static nodes through Slurm (ResumeProgram) and wait until all are idle."""
    names = [n.name for n in plan.static_nodes]
    if not names:
        return
    result = _daemons.scontrol(layout, "update", f"NodeName={hostlist.compress(names)}", "State=POWER_UP")
    if result.returncode != 0:
        raise ProviderError(f"cannot power up the static nodes: {result.stderr.strip()}")
    report("ComputeFleet", f"starting {len(names)} static node(s)")
    deadline = time.monotonic() + min(plan.compute_node_bootstrap_timeout_s, 300)
    wanted = set(names)
    while True:
        failed = failed_nodes(layout, wanted)
        if failed:
            raise ProviderError(
                "static node bootstrap failed: " + "; ".join(failed), hint=f"see {layout.log}"
            )
        states = [n for n in _daemons.node_states(layout) if n.name in wanted]
        broken = [f"{n.name}: {n.reason or n.state}" for n in states if n.failed]
        if broken:
            raise ProviderError(
                "static nodes failed to register: " + "; ".join(broken), hint=f"see {layout.log}"
            )
        ready = {n.name for n in states if n.ready}
        if ready == wanted:
            report("ComputeFleet", f"{len(names)} static node(s) idle")
            return
        if time.monotonic() > deadline:
            waiting = hostlist.compress(sorted(wanted - ready))
            raise ProviderError(
                f"static nodes {waiting} did not come up in time; resume.log ends with:\n"
                + _daemons.log_tail(layout.log / "resume.log"),
                hint=f"see the node logs in {layout.log}",
            )
        time.sleep(0.1)


def failed_nodes(layout: ClusterLayout, names: set[str]) -> list[str]:
    """'node: message' for each of ``names`` whose bootstrap failed."""
    out = []
    for name in sorted(names):
        for path in (layout.node_dir(name) / "status.json", layout.failures_dir / f"{name}.json"):
            status = _nodes.read_status(path)
            if status.get("status") == "failed":
                out.append(f"{name}: {status.get('message')}")
                break
    return out


def _cluster_netns(layout: ClusterLayout, descriptor: ClusterDescriptor | None) -> list[str]:
    """The cluster's own namespaces (nodes first, then the head) that still exist."""
    names = [_net.node_netns(layout.name, n.name) for n in descriptor.nodes] if descriptor else []
    names += _login.owned_netns(layout)
    return _nodes.owned_netns(layout, [*names, _net.head_netns(layout.name)])


def _legacy_stray_pids(layout: ClusterLayout) -> list[int]:
    """For a cluster made before cgroups recorded its processes: those whose command line or cwd
    names one of the cluster's directories (as a whole path: ``clusters/lab`` is not a prefix
    match for ``clusters/lab-gpu``)."""
    markers = (str(layout.root), str(layout.run_dir))
    protected = {os.getpid(), os.getppid()}
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in protected:
            continue
        try:
            cwd = os.readlink(entry / "cwd")
        except OSError:
            cwd = ""
        tokens = [*_proc.cmdline(int(entry.name)), cwd]
        if any(_names_path(token, m) for token in tokens for m in markers):
            found.append(int(entry.name))
    return found


def _names_path(token: str, path: str) -> bool:
    """True when ``token`` is ``path``, lies under it, or ends in ``=path`` (pure)."""
    return token == path or f"{path}/" in token or token.endswith(f"={path}")


def teardown(layout: ClusterLayout, *, retain_storage: bool, cluster_id: str = "") -> None:
    """Remove every process, namespace and file of the cluster, relying only on what is on disk.
    Only what carries the cluster's identity is touched: with ``cluster_id``, a directory that
    another create claimed is left alone entirely (``_owner``); processes go by the cluster's
    cgroups, namespaces only while they are the ones it made."""
    if not layout.root.exists():
        # Nothing of a create is outside its directory but what a finished delete kept.
        _storage_teardown.remove_storage(layout, None, retain_storage=retain_storage)
        _runfs.release(layout)  # keyed by this cluster dir's path
        return
    if not _owner.owned_by(layout.root, cluster_id):
        return
    descriptor = ClusterDescriptor.load(layout.descriptor) if layout.descriptor.exists() else None
    legacy = _owner.cluster_id(layout.root) is None
    # First, so that it does not try to heal a cluster that is going away.
    _daemons.stop_reconciler(layout)
    # Its last pass exports what the cluster wrote, before the storage goes.
    _daemons.stop_datasync(layout)
    head = _net.head_netns(layout.name)
    if head in _cluster_netns(layout, descriptor):
        _daemons.stop_slurmctld(layout)
    survivors = _cgroups.kill(layout.root)
    if descriptor is None or _nat.enabled(descriptor):
        _nat.remove(_nat.cluster_tag_id(layout.root))  # its rules and its uplink veth
    _net.delete_netns(*_cluster_netns(layout, descriptor))
    _daemons.stop_munged(layout)
    if legacy:
        _proc.kill_pids(_legacy_stray_pids(layout))
    if survivors:
        raise ProviderError(
            f"processes {sorted(survivors)} of cluster {layout.name!r} would not die",
            hint="they may be stuck in the kernel (state D); retry the delete in a minute",
        )
    _disks.release_all(layout, descriptor)
    _storage_teardown.remove_storage(layout, descriptor, retain_storage=retain_storage)
    try:
        _logs.retain_or_remove(layout, retain_storage=retain_storage)  # DeletionPolicy of the logs
    except OSError as exc:  # the logs stay in the cluster directory, which stays too
        raise ProviderError(
            f"cannot keep the logs of cluster {layout.name!r} (DeletionPolicy Retain): {exc}",
            hint="its processes and namespaces are gone; free space and delete it again",
        ) from exc
    _net.release_subnet(layout.subnet_file)
    _runfs.release(layout)
    _forget_unless_unmounted(layout)
    shutil.rmtree(layout.root, ignore_errors=True)
    with contextlib.suppress(OSError):
        layout.run_dir.parent.rmdir()  # /run/corral, once no cluster uses it


def _forget_unless_unmounted(layout: ClusterLayout) -> None:
    """The cluster dir is deleted only when nothing is mounted below it (a volume's data is never
    deleted file by file through a mount that would not go)."""
    left = _volumes.mounted_under(layout.root)
    if left:
        raise ProviderError(
            f"cannot delete cluster {layout.name!r}: still mounted: {', '.join(left)}",
            hint="its processes are gone; `umount` those and delete it again",
        )

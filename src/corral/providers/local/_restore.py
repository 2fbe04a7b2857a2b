"""Bringing a local cluster back after the host restarted.

A restart leaves the cluster directory whole (``/home``, storage volumes, Slurm's StateSaveLocation
with the saved queue, instance ids, an image-rooted head's root volume) and takes everything else:
processes, namespaces, cgroups, mounts and the run dir's tmpfs. A run dir that is missing or was
written during another boot is how a restart is recognised (``_runfs``; a head node that merely
died keeps it, and is reported as stopped instead). ``restore`` then makes the cgroups and the
head's namespaces again, rewrites the run dir's files from the plan, mounts the storage (its volumes
again, data intact) and runs the head's OnNodeStart (the agent's start phase), starts munged and its
accounting (the Database's MariaDB stand-in and slurmdbd, or the ExternalSlurmdbd stand-in with its
MariaDB; each stand-in brought back if the restart took it, and the cluster registered there), then
slurmctld (which recovers its jobs from the saved state), the static nodes and the supervisor. The
head keeps its instance id, as an EC2 instance does across a reboot (an image-rooted head boots
again on its root volume). A lock makes concurrent first commands restore once.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from corral.plan import ClusterPlan
from corral.providers.local import (
    _accounting,
    _cgroups,
    _cluster,
    _daemons,
    _disks,
    _extdbd,
    _launch,
    _nat,
    _net,
    _nodes,
    _owner,
    _runfs,
    _sshd,
)
from corral.providers.local._layout import ClusterDescriptor, ClusterLayout
from corral.runtime.heartbeat import write_heartbeat

LOCK = "restore.lock"


def needs_restore(layout: ClusterLayout, cluster_id: str) -> bool:
    """True when this create's cluster is on disk, finished, but its run dir is gone (a restart)."""
    return (
        _owner.owned_by(layout.root, cluster_id)
        and layout.descriptor.exists()
        and _daemons.supervisor_spec_file(layout).exists()
        and _runfs.restarted(layout)
    )


@contextlib.contextmanager
def _locked(root: Path) -> Iterator[None]:
    fd = os.open(root / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _forget_stale(layout: ClusterLayout) -> None:
    """What a restart leaves half-there (nothing, after a real reboot): processes still in the
    cluster's cgroups and namespaces this cluster recorded."""
    _cgroups.kill(layout.root)
    _net.delete_netns(*_owner.owned_netns(layout.root))
    for path in (layout.root / _owner.NETNS_DIR).glob("*"):
        path.unlink(missing_ok=True)


def restore(layout: ClusterLayout, plan: ClusterPlan, cluster_id: str) -> bool:
    """Restore the cluster if the host restarted (see the module doc); False when it did not."""
    if not needs_restore(layout, cluster_id):
        return False
    with _locked(layout.root):
        if not needs_restore(layout, cluster_id):
            return False  # another command restored it meanwhile
        descriptor = ClusterDescriptor.load(layout.descriptor)
        _forget_stale(layout)
        _cgroups.create_cluster(layout.root, f"{layout.name}-{_owner.cluster_id(layout.root)}")
        _cluster.write_files(plan, layout, descriptor)
        _disks.mount_storage(layout, descriptor.storage)  # the volumes with their data
        holder = _start_head(plan, layout, descriptor)
        write_heartbeat(_daemons.heartbeat_file(layout), datetime.now(UTC))  # the head is back
        sync_config = layout.datasync_dir / "config.json"
        if sync_config.exists() and any(r.auto_import or r.auto_export for r in descriptor.data_repositories):
            _daemons.start_datasync(layout, descriptor.python, sync_config)
        static = [n.name for n in descriptor.nodes if n.kind == "static"]
        if static:
            _launch.launch_batch(layout, descriptor, static, all_or_nothing=False)
        _daemons.start_supervisor(layout, holder, descriptor)
    return True


def _start_head(plan: ClusterPlan, layout: ClusterLayout, descriptor: ClusterDescriptor) -> int:
    """The head's namespaces and machine (from its image, if it boots from one), mounts and
    OnNodeStart, munged, slurmdbd, slurmctld (recovering its state) and sshd."""
    import ipaddress

    head, subnet = _net.head_netns(descriptor.name), ipaddress.IPv4Network(descriptor.subnet)
    _nodes.create_owned_netns(layout, head, lambda: _net.create_head_network(descriptor.name, subnet))
    _nat.connect(layout, descriptor, lambda _where, _what: None)
    _cgroups.shape(layout.root, _cgroups.HEAD, descriptor.head_instance_type)
    holder = _cluster.start_head_machine(layout, descriptor, head)
    _cluster.run_head_agent(layout, descriptor, holder, "start")
    _daemons.start_munged(layout, holder)
    if _accounting.DATABASE_KEY in descriptor.extra:
        _accounting.restart(plan, layout, descriptor, holder)
    elif _extdbd.EXTERNAL_KEY in descriptor.extra:
        _restart_external_slurmdbd(layout, descriptor)
    _daemons.start_slurmctld(layout, holder)
    _daemons.wait_for_slurmctld(layout, 60.0)
    if _sshd.ssh_files(layout).user_file.exists():  # its files survive under <cluster>/ssh
        _cluster.start_head_sshd(layout, descriptor, holder)
    return holder


def _restart_external_slurmdbd(layout: ClusterLayout, descriptor: ClusterDescriptor) -> None:
    """The ExternalSlurmdbd stand-in (and its MariaDB) back up if the restart took it (another
    cluster's restore may have brought it back already), the head's link to it, and the cluster
    registered with it, all before slurmctld starts: slurmctld then finds its slurmdbd at once."""
    _extdbd.restart(layout, descriptor, _quiet)
    _accounting.connect(layout, descriptor, descriptor.extra[_extdbd.EXTERNAL_KEY])
    _extdbd.wait_ready(layout, descriptor, _quiet)


def _quiet(_where: str, _what: str) -> None:
    """Restore reports one event of its own, not each step's."""

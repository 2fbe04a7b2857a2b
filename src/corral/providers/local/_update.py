"""update-cluster on a local cluster: converge the running cluster on a new plan, live.

The cluster's own files say what runs now (the descriptor), so an update converges from wherever an
earlier, interrupted one stopped; a rollback is the same walk towards the old plan. In order:

1. decide everything before touching anything: the new descriptor (kept nodes keep their address;
   new nodes take free ones), new custom action scripts fetched, new storage directories, a new
   Database's stand-in up and logged in to (``_accounting_update``);
2. nodes that go (removed queues and compute resources, past a lower MaxCount, dynamic nodes that
   became static) are powered down through Slurm (``POWER_DOWN_FORCE``: the service refused the
   update when they held jobs, unless QueueUpdateStrategy is TERMINATE, which requeues them), then
   terminated;
3. the descriptor, /etc/hosts (rewritten in place: nodes bind-mount it), slurm.conf, gres.conf and
   the program wrappers are rewritten;
4. Slurm takes the new config: ``scontrol reconfigure`` when the node set is the same, else a
   slurmctld restart (so that nodes can come and go whatever the Slurm version; jobs survive in
   StateSaveLocation), with the head's supervisor paused so that it does not race the restart; a
   Database added, changed or removed moves the head's slurmdbd while slurmctld is down;
5. nodes whose instance type changed are replaced per QueueUpdateStrategy: DRAIN powers them down as
   their jobs end (``POWER_DOWN_ASAP``; until then they keep their shape in slurm.conf, since Slurm
   24.11's reconfigure requeues a job whose node's cores change: ``_reshape``), TERMINATE now
   (``POWER_DOWN_FORCE``, jobs requeued);
6. storage added or removed is mounted into, or unmounted from, every running node and the head;
7. new static nodes are powered up and waited for;
8. login pools converge on their new Count (``_login``): new nodes launch now; nodes past Count are
   warned (``wall``) and stop after GracetimePeriod, by the reconciler;
9. the serving login nodes, then the head node, run their OnNodeUpdated actions (not on a rollback).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from corral.errors import ProviderError
from corral.images.custom import cluster_images
from corral.node.fetch import FetchError
from corral.node.supervisor import revive
from corral.plan import ClusterPlan
from corral.providers.local import (
    _accounting_update,
    _cluster,
    _daemons,
    _disks,
    _ephemeral,
    _files,
    _login,
    _logs,
    _net,
    _nodes,
    _proc,
    _reshape,
    _storage,
    _storage_teardown,
)
from corral.providers.local._layout import ClusterDescriptor, ClusterLayout, NodeRecord, StorageRecord
from corral.slurm import hostlist
from corral.slurm.status import SCONTROL_PARTITIONS_ARGV, parse_partitions

Report = Callable[[str, str], None]
#: How long nodes that go may take to power down through Slurm before they are terminated directly.
POWER_DOWN_WAIT_S = 20.0


def update(
    layout: ClusterLayout, new: ClusterPlan, report: Report, *, rollback: bool, old: ClusterPlan | None = None
) -> None:
    """Converge the local cluster at ``layout`` on ``new`` (see the module docstring); ``old`` is
    the plan it runs (the shapes of nodes that DRAIN keeps, ``_reshape``)."""
    current = ClusterDescriptor.load(layout.descriptor)
    holder = _nodes.holder_pid(layout.head_dir)
    if holder is None:
        raise ProviderError(f"the head node of cluster {layout.name!r} is not running")
    _unpark_supervisor(layout)
    if rollback:  # the failed update may have left slurmctld restarting under the supervisor
        _daemons.wait_for_slurmctld(layout, 60.0)
    descriptor = new_descriptor(layout, current, new)
    # the new Database's stand-in up and logged in to, before anything of the cluster changes
    descriptor, database = _accounting_update.decide(layout, current, descriptor, report)
    reshaped = _reshaped(layout, current, descriptor)
    kept = _reshape.deferred(layout, old, new, reshaped)
    descriptor = _reshape.keep_types(descriptor, kept)
    partitions = _partition_states(layout)
    stopped = bool(partitions) and all(state == "INACTIVE" for state in partitions.values())
    going = [n.name for n in current.nodes if _gone(n, descriptor)]
    if going:
        _power_down(layout, current, going, report)
    before = _restart_settings(layout)
    # the reconciler converges login nodes too: not on the new descriptor before this update does
    with _login.exclusive(layout):
        layout.descriptor.write_text(descriptor.dump())
        _logs.write_policy(new, layout)
        try:
            _cluster.write_files(_reshape.conf_plan(new, kept), layout, descriptor)
        except FetchError as exc:
            raise ProviderError(exc.message, exc.hint) from exc
        _accounting_update.map_host(layout, descriptor, new)  # the hosts file was written afresh
        _reshape.save(layout, kept)
        # a kept node that powered down meanwhile (before its shape was saved) takes its new one now
        _reshape.finish(layout, [n for n in kept if _nodes.holder_pid(layout.node_dir(n)) is None])
        descriptor = ClusterDescriptor.load(layout.descriptor)
        if database is not None:
            # its slurmdbd moves while slurmctld is down; its spec lists slurmdbd or not
            switched = descriptor
            restart_slurmctld(
                layout,
                holder,
                between=lambda: _accounting_update.apply(layout, switched, holder, database, report),
                descriptor=switched,
            )
            report("HeadNode", "slurmctld restarted with the new accounting settings")
        elif {n.name for n in current.nodes} != {n.name for n in descriptor.nodes}:
            restart_slurmctld(layout, holder)
            report("HeadNode", "slurmctld restarted with the new node set")
        elif _restart_settings(layout) != before:
            restart_slurmctld(layout, holder)
            report("HeadNode", "slurmctld restarted: SelectType settings changed")
        _reconfigure(layout)
        _keep_partition_states(layout, new, partitions, stopped)
        report("HeadNode", "slurm.conf applied")
        _replace_reshaped(layout, reshaped, new.slurm.queue_update_strategy, report)
        _apply_storage(layout, current, descriptor, holder, report)
        if not stopped:  # a stopped fleet stays stopped: its static nodes start with the fleet
            _start_static(new, layout, current, report)
        # Count: scale out now, scale in with grace
        for line in _login.converge(layout, descriptor, held=True):
            report("LoginNodes", line)
    if not rollback:
        for line in _login.run_updated(layout, descriptor):
            report("LoginNodes", line)
        try:
            _cluster.run_head_agent(layout, descriptor, holder, "updated")
        except ProviderError as exc:
            detail = exc.message.removeprefix("head node bootstrap failed: ")
            raise ProviderError(f"OnNodeUpdated failed on the head node: {detail}", exc.hint) from exc
        if any(a.event == "OnNodeUpdated" for a in descriptor.head_actions):
            report("HeadNode", "OnNodeUpdated actions done")


#: slurm.conf keys that slurmctld reads only when it starts (Slurm 22.05's reconfigure ignores them).
RESTART_KEYS = ("SelectType=", "SelectTypeParameters=")


def _restart_settings(layout: ClusterLayout) -> list[str]:
    try:
        lines = layout.slurm_conf.read_text().splitlines()
    except OSError:
        return []
    return [line for line in lines if line.startswith(RESTART_KEYS)]


def _partition_states(layout: ClusterLayout) -> dict[str, str]:
    result = _daemons.scontrol(layout, *SCONTROL_PARTITIONS_ARGV[1:])
    if result.returncode != 0:
        raise ProviderError(f"cannot read the partitions: {result.stderr.strip()}")
    return {p.name: p.state for p in parse_partitions(result.stdout)}


def _keep_partition_states(
    layout: ClusterLayout, new: ClusterPlan, before: dict[str, str], stopped: bool
) -> None:
    """slurm.conf says State=UP; a partition that was INACTIVE/DOWN/DRAIN (a stopped fleet, an
    administrator's choice, protected mode) is put back so; a new queue of a stopped fleet is
    INACTIVE too."""
    for partition in new.partitions:
        state = before.get(partition.name, "INACTIVE" if stopped else "UP")
        if state != "UP":
            _scontrol(layout, "update", f"PartitionName={partition.name}", f"State={state}")


def _unpark_supervisor(layout: ClusterLayout) -> None:
    """An update killed during a slurmctld restart leaves the supervisor's spec parked: put it back
    and start the supervisor, before anything else."""
    spec = _daemons.supervisor_spec_file(layout)
    parked = spec.with_name(spec.name + ".update")
    if parked.exists() and not spec.exists():
        parked.replace(spec)
        revive(spec)


def _gone(node: NodeRecord, descriptor: ClusterDescriptor) -> bool:
    """A node of the running cluster that ``descriptor`` drops, or turns from dynamic to static
    (its Slurm state must start over as a static node)."""
    kept = descriptor.node(node.name)
    return kept is None or kept.kind != node.kind


def new_descriptor(layout: ClusterLayout, current: ClusterDescriptor, new: ClusterPlan) -> ClusterDescriptor:
    """The descriptor for ``new``: the running cluster's subnet, environment and settings; kept
    nodes keep their address, new ones take the lowest free index; storage that stays keeps its
    record (and the mount root Corral created)."""
    import ipaddress

    try:
        actions = _cluster.fetch_actions(new, layout)
    except FetchError as exc:
        raise ProviderError(exc.message, exc.hint) from exc
    subnet = ipaddress.IPv4Network(current.subnet)
    taken = {n.name: n.index for n in current.nodes}
    used = set(taken.values())
    nodes = []
    free = (i for i in range(10**6) if i not in used)
    for spec in new.nodes:
        index = taken[spec.name] if spec.name in taken else next(free)
        nodes.append(
            NodeRecord(
                name=spec.name,
                index=index,
                address=str(_net.node_address(subnet, index)),
                queue=spec.queue,
                compute_resource=spec.compute_resource,
                instance_type=spec.shape.instance_type,
                kind=spec.kind.value,
            )
        )
    storage = _storage_records(layout, current, new)
    fresh = _files.build_descriptor(
        new,
        subnet,
        python=current.python,
        storage=storage,
        actions=actions,
        env=dict(current.env),
    )
    highest = _net.FIRST_NODE_OFFSET + max((n.index for n in nodes), default=0) + 1
    try:
        logins = _login.pool_placements(new, layout, current.subnet, highest, current.login_placements)
    except FetchError as exc:
        raise ProviderError(exc.message, exc.hint) from exc
    # kept from the create, but for the roots of queues and login pools whose CustomAmi changed
    extra = _cluster.with_updated_images(
        current, cluster_images(current.plan.config), cluster_images(new.config), layout.state_dir
    )
    fresh = replace(fresh, extra=extra, settings=current.settings)
    return replace(fresh, nodes=tuple(nodes), login_placements=logins)


def _storage_records(
    layout: ClusterLayout, current: ClusterDescriptor, new: ClusterPlan
) -> tuple[StorageRecord, ...]:
    kept = {s.name: s for s in current.storage}
    records = []
    for spec in _storage.storage_with_home(new):
        if spec.name in kept:
            records.append(kept[spec.name])
            continue
        missing = _ephemeral.first_missing_ancestor(Path(spec.mount_dir))
        Path(_storage.storage_data_dir(layout, spec)).mkdir(parents=True, exist_ok=True)
        Path(spec.mount_dir).mkdir(parents=True, exist_ok=True)
        created = str(missing) if missing else ""
        cap = current.settings.efs_cap_gib
        records.append(_storage.storage_record(layout, spec, created, efs_cap_gib=cap))
    return tuple(records)


def _scontrol(layout: ClusterLayout, *args: str) -> None:
    result = _daemons.scontrol(layout, *args)
    if result.returncode != 0:
        raise ProviderError(f"scontrol {' '.join(args)} failed: {result.stderr.strip()}")


def _power_down(layout: ClusterLayout, current: ClusterDescriptor, names: list[str], report: Report) -> None:
    """Power the nodes down through Slurm (their jobs requeued), wait for their instances to go,
    and terminate any that remain."""
    known = {n.name for n in _daemons.node_states(layout)}
    in_slurm = [n for n in names if n in known]
    if in_slurm:
        reason = "Corral update-cluster: node removed"
        _scontrol(
            layout,
            "update",
            f"NodeName={hostlist.compress(in_slurm)}",
            "State=POWER_DOWN_FORCE",
            f"Reason={reason}",
        )
    deadline = time.monotonic() + POWER_DOWN_WAIT_S
    while time.monotonic() < deadline and _running(layout, names):
        time.sleep(0.2)
    _nodes.terminate_nodes(layout, current, names)
    report("ComputeFleet", f"removed {len(names)} node(s): {hostlist.compress(names)}")


def _running(layout: ClusterLayout, names: Sequence[str]) -> list[str]:
    return [n for n in names if _nodes.holder_pid(layout.node_dir(n)) is not None]


def restart_slurmctld(
    layout: ClusterLayout,
    holder: int,
    *,
    between: Callable[[], None] | None = None,
    descriptor: ClusterDescriptor | None = None,
) -> None:
    """Restart slurmctld on the new slurm.conf (it recovers its jobs from StateSaveLocation), with
    the head's supervisor stopped meanwhile so that it does not start a second one; the supervisor
    is started again afterwards (it adopts the new slurmctld). ``between`` runs while slurmctld is
    down; once slurmctld is back, the supervisor's spec becomes ``descriptor``'s (when given)."""
    spec = _daemons.supervisor_spec_file(layout)
    parked = spec.with_name(spec.name + ".update")
    if spec.exists():
        spec.replace(parked)  # the supervisor exits when its spec is gone
    try:
        _wait_supervisor_gone(layout)
        _daemons.stop_slurmctld(layout)
        _kill_slurmctld(layout)
        if between is not None:
            between()
        _daemons.start_slurmctld(layout, holder)
        _daemons.wait_for_slurmctld(layout, 30.0)
        if descriptor is not None and parked.exists():
            parked.write_text(_daemons.cluster_supervisor_spec(layout, holder, descriptor).dump())
    finally:
        if parked.exists():
            parked.replace(spec)
            revive(spec)


def _wait_supervisor_gone(layout: ClusterLayout) -> None:
    pid = _proc.read_pid(_daemons.supervisor_pid_file(layout))
    deadline = time.monotonic() + 3.0
    while pid and _proc.alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)


def _kill_slurmctld(layout: ClusterLayout) -> None:
    pid = _proc.read_pid(layout.run_dir / "slurmctld.pid")
    if pid and _proc.alive(pid) and "slurmctld" in " ".join(_proc.cmdline(pid)):
        _proc.kill_pids([pid])


def _reconfigure(layout: ClusterLayout) -> None:
    """slurmctld and every slurmd read slurm.conf again (retried while a restarted slurmctld settles)."""
    for attempt in range(20):
        result = _daemons.scontrol(layout, "reconfigure")
        if result.returncode == 0:
            return
        if attempt == 19:
            raise ProviderError(f"scontrol reconfigure failed: {result.stderr.strip()}")
        time.sleep(0.25)


def _reshaped(layout: ClusterLayout, current: ClusterDescriptor, new: ClusterDescriptor) -> list[str]:
    """The running nodes whose instance type changes."""
    return [
        n.name
        for n in new.nodes
        if (old := current.node(n.name)) is not None
        and old.instance_type != n.instance_type
        and _nodes.holder_pid(layout.node_dir(n.name)) is not None
    ]


def _replace_reshaped(layout: ClusterLayout, reshaped: list[str], strategy: str, report: Report) -> None:
    """Nodes whose instance type changed and that run now are replaced: after their jobs (DRAIN,
    their shape kept until then: ``_reshape``) or at once, their jobs requeued (TERMINATE)."""
    if not reshaped:
        return
    state = "POWER_DOWN_FORCE" if strategy == "TERMINATE" else "POWER_DOWN_ASAP"
    reason = "Corral update-cluster: new instance type"
    _scontrol(
        layout, "update", f"NodeName={hostlist.compress(reshaped)}", f"State={state}", f"Reason={reason}"
    )
    how = "now, jobs requeued" if state == "POWER_DOWN_FORCE" else "as their jobs end"
    report("ComputeFleet", f"replacing {hostlist.compress(reshaped)} with the new instance type {how}")


def _apply_storage(
    layout: ClusterLayout, current: ClusterDescriptor, new: ClusterDescriptor, holder: int, report: Report
) -> None:
    """Mount added storage into every running machine and unmount removed storage; removed storage
    then follows its DeletionPolicy."""
    before = {s.name: s for s in current.storage}
    after = {s.name: s for s in new.storage}
    added = [s for name, s in after.items() if name not in before]
    removed = [s for name, s in before.items() if name not in after]
    if not added and not removed:
        return
    pids = [holder, *(p for n in new.nodes if (p := _nodes.holder_pid(layout.node_dir(n.name))) is not None)]
    _disks.mount_storage(layout, added)  # their volumes, on the host (machines started later see them)
    for pid in pids:
        for record in added:
            _in_mount_ns(pid, ["mkdir", "-p", record.mount_dir])
            on_device = _disks.mount_in_machine_argv(record)
            _in_mount_ns(pid, on_device or ["mount", "--bind", record.data_dir, record.mount_dir])
        for record in removed:
            _in_mount_ns(pid, ["umount", "-l", record.mount_dir], check=False)
    if removed:
        _storage_teardown.remove_storage(
            layout, replace(current, storage=tuple(removed)), retain_storage=True
        )
    for record in added:
        report(record.name, f"mounted at {record.mount_dir} on {len(pids)} machine(s)")
    for record in removed:
        report(record.name, f"unmounted from {record.mount_dir} ({record.deletion_policy})")


def _in_mount_ns(pid: int, argv: list[str], *, check: bool = True) -> None:
    # its PID namespace too: an image node's /proc is its own, and umount reads /proc/self/mountinfo
    enter = ["nsenter", "-t", str(pid), "--mount", "--pid", "--root", "--"]
    result = subprocess.run([*enter, *argv], capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise ProviderError(f"{' '.join(argv)} failed in the machine of pid {pid}: {result.stderr.strip()}")


def _start_static(
    new: ClusterPlan, layout: ClusterLayout, current: ClusterDescriptor, report: Report
) -> None:
    """Power up the static nodes that do not run yet and wait until they are idle."""
    waiting = [n for n in new.static_nodes if _nodes.holder_pid(layout.node_dir(n.name)) is None]
    if not waiting:
        return
    _cluster.bring_up_static(replace(new, nodes=tuple(waiting)), layout, report)


__all__ = ["new_descriptor", "restart_slurmctld", "update"]

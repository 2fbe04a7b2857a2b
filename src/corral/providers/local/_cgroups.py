"""Ownership by identity: every process of a local cluster lives in a cgroup keyed by its cluster id.

A cluster id is unique to one create in one state directory (``<name>-<hex>``, written to
``<cluster dir>/cluster.id`` when the cluster directory is claimed). Its cgroups are
``corral/<cluster id>/<machine>`` in every hierarchy the host has (``head``, each node name, and
``datasync`` for the host-side sync loop); ``<cluster dir>/cgroups.json`` records the directories,
so every later caller (the Resume program, a delete in another process) finds exactly these.

Layouts handled:

- hybrid (this machine's): a v2 hierarchy without controllers (``/sys/fs/cgroup/unified``, which
  still has ``cgroup.kill``) plus v1 hierarchies for memory, cpu and pids;
- pure v2: one hierarchy with ``cgroup.kill`` and the controllers (enabled down the tree);
- pure v1: memory, cpu and pids only (killing walks ``cgroup.procs``).

V1 cgroups are made under the creating process's own cgroup of that hierarchy (so a cluster stays
inside whatever limits its creator runs under); v2 ones under the hierarchy's root (a cgroup with
processes cannot delegate controllers). Every process is placed by ``enter_argv``: a ``sh`` prefix
that writes its own pid to the cgroups and then ``exec``s the command, so nothing it forks is ever
outside. Delete and rollback kill what the cgroups hold (``cgroup.kill``), never by name.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

MOUNTINFO = Path("/proc/self/mountinfo")
PROC_CGROUP = Path("/proc/self/cgroup")
V1_CONTROLLERS = ("memory", "cpu", "pids")
V2_CONTROLLERS = ("memory", "cpu", "pids")
TOP = "corral"
RECORD = "cgroups.json"
ID_FILE = "cluster.id"
#: The pseudo-machine of the host-side processes of a cluster (data repository sync).
HOST_SIDE = "datasync"
HEAD = "head"
ENTER_SCRIPT = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@"'


@dataclass(frozen=True)
class Hierarchy:
    """One mounted cgroup hierarchy: ``key`` is ``unified`` for v2, else its v1 controller."""

    key: str
    mount: Path
    version: int


def parse_mountinfo(text: str) -> list[Hierarchy]:
    """The cgroup hierarchies worth using in a mountinfo listing (pure): every cgroup2 mount and
    each v1 mount that carries memory, cpu or pids (first mount wins)."""
    found: dict[str, Hierarchy] = {}
    for line in text.splitlines():
        left, _, right = line.partition(" - ")
        fields, rest = left.split(), right.split()
        if len(fields) < 5 or len(rest) < 3:
            continue
        mount, fstype, options = Path(fields[4]), rest[0], rest[2].split(",")
        if fstype == "cgroup2":
            found.setdefault("unified", Hierarchy("unified", mount, 2))
        elif fstype == "cgroup":
            for controller in V1_CONTROLLERS:
                if controller in options:
                    found.setdefault(controller, Hierarchy(controller, mount, 1))
    return list(found.values())


def parse_own_cgroups(text: str) -> dict[str, str]:
    """``/proc/self/cgroup`` as {hierarchy key: path} (pure); the v2 line is ``unified``."""
    own: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        if parts[0] == "0" and parts[1] == "":
            own["unified"] = parts[2]
        for controller in parts[1].split(","):
            if controller in V1_CONTROLLERS:
                own[controller] = parts[2]
    return own


def cluster_dirs(hierarchies: Iterable[Hierarchy], own: dict[str, str], cluster_id: str) -> dict[str, str]:
    """Where a cluster's cgroups go in each hierarchy (pure; see the module doc)."""
    dirs = {}
    for h in hierarchies:
        base = own.get(h.key, "/") if h.version == 1 else "/"
        dirs[h.key] = str(h.mount / base.lstrip("/") / TOP / cluster_id)
    return dirs


def host_hierarchies() -> list[Hierarchy]:
    try:
        return parse_mountinfo(MOUNTINFO.read_text())
    except OSError:
        return []


def _write(path: Path, value: str) -> bool:
    try:
        path.write_text(value)
    except OSError:
        return False
    return True


def _enable_v2_controllers(mount: Path, directory: Path) -> None:
    """Delegate memory/cpu/pids from the root down to ``directory``'s children (pure v2 hosts;
    a hybrid host's controller-less v2 tree has none to delegate, which is fine)."""
    available = set((mount / "cgroup.controllers").read_text().split()) if mount.exists() else set()
    wanted = " ".join(f"+{c}" for c in V2_CONTROLLERS if c in available)
    if not wanted:
        return
    parts = directory.relative_to(mount).parts
    for depth in range(len(parts) + 1):
        _write(mount.joinpath(*parts[:depth]) / "cgroup.subtree_control", wanted)


def create_cluster(root: Path, cluster_id: str) -> dict[str, str]:
    """Make the cluster's cgroups in every hierarchy and record them in ``root/cgroups.json``."""
    own = parse_own_cgroups(PROC_CGROUP.read_text()) if PROC_CGROUP.exists() else {}
    hierarchies = host_hierarchies()
    dirs = cluster_dirs(hierarchies, own, cluster_id)
    for h in hierarchies:
        directory = Path(dirs[h.key])
        directory.mkdir(parents=True, exist_ok=True)
        if h.version == 2:
            _enable_v2_controllers(h.mount, directory)
    (root / RECORD).write_text(json.dumps({"cluster_id": cluster_id, "dirs": dirs}, indent=1) + "\n")
    return dirs


def recorded(root: Path) -> dict[str, str]:
    """The cluster's cgroup directories by hierarchy key ({} for a cluster made without them)."""
    try:
        return dict(json.loads((root / RECORD).read_text())["dirs"])
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def machine_dirs(root: Path, machine: str) -> list[Path]:
    """The machine's cgroup in each hierarchy, created if missing (empty for a legacy cluster)."""
    found = []
    for directory in recorded(root).values():
        path = Path(directory) / machine
        with contextlib.suppress(OSError):
            path.mkdir(exist_ok=True)
            found.append(path)
    return found


def enter_argv(root: Path, machine: str) -> list[str]:
    """A prefix that puts the command (and all it forks) in the machine's cgroups before it runs."""
    dirs = machine_dirs(root, machine)
    if not dirs:
        return []
    return ["sh", "-c", ENTER_SCRIPT, "corral-cgroup", *(str(d / "cgroup.procs") for d in dirs), "--"]


def set_shape(root: Path, machine: str, *, cpus: int, memory_mib: int) -> list[str]:
    """Limit the machine to ``cpus`` CPUs and ``memory_mib`` MiB wherever a controller allows it;
    returns what was set (``key=value``), for the event log."""
    applied = []
    period = 100_000
    for key, directory in recorded(root).items():
        path = Path(directory) / machine
        path.mkdir(exist_ok=True)
        settings: list[tuple[str, str]] = []
        if key == "cpu" and cpus > 0:
            settings += [("cpu.cfs_period_us", str(period)), ("cpu.cfs_quota_us", str(cpus * period))]
        elif key == "memory" and memory_mib > 0:
            settings += [("memory.limit_in_bytes", str(memory_mib << 20))]
        elif key == "unified":
            if cpus > 0:
                settings += [("cpu.max", f"{cpus * period} {period}")]
            if memory_mib > 0:
                settings += [("memory.max", str(memory_mib << 20)), ("memory.swap.max", "0")]
        for name, value in settings:
            if (path / name).exists() and _write(path / name, value):
                applied.append(f"{name}={value}")
    return applied


def shape(root: Path, machine: str, instance_type: str) -> list[str]:
    """Give the machine its instance type's vCPUs and memory (the catalog's; Slurm is told the
    RealMemory left after SchedulableMemory, inside this), so a job that overuses memory is killed
    inside its node, never on the host. Unknown types stay unlimited."""
    from corral.config import catalog

    info = catalog.get(instance_type)
    if info is None:
        return []
    return set_shape(root, machine, cpus=info.vcpus, memory_mib=info.memory_mib)


def _tree(directory: Path) -> list[Path]:
    """``directory`` and its descendants, deepest first."""
    if not directory.is_dir():
        return []
    found = [Path(d) for d, _, _ in os.walk(directory)]
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


def _procs(directory: Path) -> set[int]:
    pids: set[int] = set()
    for level in _tree(directory):
        with contextlib.suppress(OSError, ValueError):
            pids.update(int(p) for p in (level / "cgroup.procs").read_text().split())
    return pids


def pids(root: Path, machine: str | None = None) -> set[int]:
    """Every process in the cluster's cgroups (or in one machine's), in any hierarchy."""
    found: set[int] = set()
    for directory in recorded(root).values():
        found |= _procs(Path(directory) / machine if machine else Path(directory))
    return found


def _signal(targets: Iterable[int], sig: int) -> None:
    for pid in targets:
        if pid > 1 and pid != os.getpid():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)


def kill(
    root: Path, machines: Sequence[str] | None = None, *, grace_s: float = 1.0, timeout_s: float = 10.0
) -> set[int]:
    """TERM what the cluster's cgroups (or only these machines') hold, after ``grace_s`` kill the
    rest (``cgroup.kill`` where the hierarchy has it, else KILL by ``cgroup.procs``) until they are
    empty, then remove the cgroups. Returns the pids that would not die (empty on success)."""
    tops = [Path(d) for d in recorded(root).values()]
    dirs = [t / m for t in tops for m in machines] if machines is not None else tops

    def held() -> set[int]:
        return set().union(*(_procs(d) for d in dirs)) if dirs else set()

    current = held()
    if current and grace_s > 0:
        _signal(current, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while current and time.monotonic() < deadline:
            time.sleep(0.02)
            current = held()
    deadline = time.monotonic() + timeout_s
    while current and time.monotonic() < deadline:
        for d in dirs:
            if not _write(d / "cgroup.kill", "1"):
                _signal(_procs(d), signal.SIGKILL)
        time.sleep(0.02)
        current = held()
    if not current:
        remove(dirs)
    return current


def remove(dirs: Sequence[Path]) -> None:
    """rmdir the cgroups, deepest first (the shared ``corral`` parent stays: another create may be
    making its cgroup there at this moment)."""
    for directory in dirs:
        for level in _tree(directory):
            with contextlib.suppress(OSError):
                level.rmdir()

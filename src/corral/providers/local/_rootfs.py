"""A machine booted from an image: a private writable layer over the image's read-only tree, its
own PID namespace, and the host directories it must share bind-mounted in.

``start_machine`` runs, inside the machine's network namespace, ``unshare --uts --mount --pid
--fork`` with the boot script of ``boot_script`` as the new PID namespace's init. The script mounts
an overlay (lower: the image's ``rootfs``, upper and work: ``<machine dir>/upper`` and ``work``) on
``<machine dir>/root``, fresh ``/proc``, ``/sys``, ``/dev``, ``/run`` and the binds, sets the
hostname, then ``pivot_root``s and stays as PID 1: the image's ``/bin/sh``, which reaps every
orphan. Once that init runs, ``start_machine`` ends the ``unshare`` that forked it (it would only
wait for the init, a process per node for nothing): the init is reparented, as a daemon is.

Every mount lives only in the machine's mount namespace, and killing PID 1 ends every process of
the machine: a terminated machine leaves only its directory (whose ``upper`` holds what it wrote),
which the caller deletes. Enter it with ``enter_argv(pid)``: its network, UTS, mount and PID
namespaces and its root.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from corral.errors import ProviderError
from corral.providers.local import _proc

BOOT_TIMEOUT_S = 10.0
#: The init's shell: the image's POSIX sh (dash on Debian, about 110 KiB of private memory against
#: bash's 270 KiB, on every node). Its ``wait`` collects any child (``waitpid(-1)``), so the orphans
#: a machine's daemons leave are reaped while it waits for its ``sleep``.
INIT_SHELL = "/bin/sh"
#: PID 1 of a machine: reaps orphans while it sleeps; TERM ends it, and with it every process of the
#: machine.
INIT = "trap 'exit 0' TERM; while :; do sleep 86400 & wait $!; done"
INIT_MARKER = "corral-init"
OLD_ROOT = ".corral-host-root"
DOWN_REASON = "shutting down: the head node's heartbeat is stale (its jobs are requeued)"


@dataclass(frozen=True)
class Watchdog:
    """The dead-man's switch a compute node's init runs (ParallelCluster's computemgtd, in the
    init's shell instead of a Python process per node): when ``heartbeat`` (the reconciler's, seen
    through the bound state dir) has not changed for ``timeout_s``, or never appeared that long
    after boot, the node stops every process it has, deletes its network namespace (``/run/netns``
    is bound in for this) and ends, which ends its PID namespace."""

    heartbeat: str
    timeout_s: int
    node: str
    netns: str

    @property
    def poll_s(self) -> int:
        return min(max(self.timeout_s // 10, 1), 10)


def watchdog_init(w: Watchdog) -> str:
    """The init's script with the watchdog (POSIX sh: it runs as ``INIT_SHELL``)."""
    q = shlex.quote
    say = 'echo "$(date -u +%Y-%m-%dT%H:%M:%S) watchdog[1] node ' + w.node + ': $1"'
    return "\n".join(
        [
            "trap 'exit 0' TERM",
            f"say() {{ {say}; }}",
            f"hb={q(w.heartbeat)}; limit={w.timeout_s}; start=$(date +%s)",
            # never earlier than the timeout after boot: a node launched while the create is
            # still starting the reconciler sees an old first heartbeat
            'say "watching $hb (shut down after $limit s of silence)"',
            "while :; do",
            f"  sleep {w.poll_s} & wait $!",
            '  now=$(date +%s); age=$((now - start)); m=$(stat -c %Y "$hb" 2>/dev/null) && '
            "[ $((now - m)) -lt $age ] && age=$((now - m))",
            '  if [ "$age" -gt "$limit" ]; then',
            "    say \"the head node's heartbeat is stale ($age s > $limit s): nobody can replace or"
            ' terminate this node; shutting it down"',
            # DOWN first, as the Python watchdog does: slurmctld requeues the node's batch jobs
            # instead of seeing them end by the TERM that follows
            f"    if timeout 10 scontrol update NodeName={q(w.node)} State=DOWN Reason={q(DOWN_REASON)}"
            ' >/dev/null 2>&1; then say "marked DOWN in Slurm, its jobs requeued";'
            ' else say "could not mark it DOWN in Slurm: its jobs die with it"; fi',
            "    kill -TERM -1 2>/dev/null; sleep 2; kill -KILL -1 2>/dev/null",
            f"    ip netns delete {q(w.netns)} || say 'could not delete its network namespace'",
            '    say "shut down"; exit 0',
            "  fi",
            "done",
        ]
    )


@dataclass(frozen=True)
class Bind:
    """``source`` on the host appears at ``target`` inside the machine (a directory or a file)."""

    source: str
    target: str
    read_only: bool = False
    #: with the mounts below ``source`` (``/run/netns``: each netns is a mount)
    recursive: bool = False


#: the machine's root volume (``_disks``): its writable layer, the overlay's upper and work dirs
DISK = "disk"


def machine_paths(directory: Path) -> dict[str, Path]:
    return {
        "upper": directory / DISK / "upper",
        "work": directory / DISK / "work",
        "root": directory / "root",
    }


def _bind_lines(root: str, bind: Bind) -> list[str]:
    target = shlex.quote(root + bind.target)
    source = shlex.quote(bind.source)
    make = f"[ -d {source} ] && mkdir -p {target} || {{ mkdir -p $(dirname {target}); touch {target}; }}"
    lines = [make, f"mount {'--rbind' if bind.recursive else '--bind'} {source} {target}"]
    if bind.read_only:
        lines.append(f"mount -o remount,bind,ro {target}")
    return lines


def boot_script(
    image_root: Path | str,
    directory: Path,
    binds: Sequence[Bind],
    hostname: str,
    watchdog: Watchdog | None = None,
) -> str:
    """The shell script that boots a machine (run by the host's sh inside the new namespaces).
    ``image_root`` is the image's tree, or its layers as overlayfs' ``lowerdir`` (``ResolvedImage.lowerdir``).
    Pure: tested without mounting anything."""
    paths = machine_paths(directory)
    root = str(paths["root"])
    q = shlex.quote
    overlay = f"lowerdir={image_root},upperdir={paths['upper']},workdir={paths['work']}"
    lines = [
        "set -eu",
        f"hostname {q(hostname)}",
        # nothing mounted from here on reaches the host, and the host's later mounts stay out
        "mount --make-rprivate /",
        f"mount -t overlay overlay -o {q(overlay)} {q(root)}",
        f"mount -t proc proc {q(root + '/proc')}",
        f"mount -t sysfs -o ro sysfs {q(root + '/sys')}",
        f"mount -t tmpfs -o mode=755,size=64m tmpfs {q(root + '/dev')}",
        f"for d in null zero full random urandom tty; do touch {q(root)}/dev/$d; "
        f"mount --bind /dev/$d {q(root)}/dev/$d; done",
        f"mkdir -p {q(root)}/dev/pts {q(root)}/dev/shm",
        f"mount -t devpts -o newinstance,ptmxmode=0666 devpts {q(root + '/dev/pts')}",
        f"ln -sf pts/ptmx {q(root)}/dev/ptmx",
        f"mount -t tmpfs -o mode=1777 tmpfs {q(root + '/dev/shm')}",
        f"mount -t tmpfs -o mode=755,size=64m tmpfs {q(root + '/run')}",
    ]
    for bind in binds:
        lines += _bind_lines(root, bind)
    init = watchdog_init(watchdog) if watchdog else INIT
    # pivot_root, then drop the host's tree: the machine's mount namespace holds only its own mounts
    drop_host = f"umount -l /{OLD_ROOT} && rmdir /{OLD_ROOT}"
    lines += [f"cd {q(root)}", f"mkdir -p {OLD_ROOT}", f"pivot_root . {OLD_ROOT}"]
    lines.append(f"exec {INIT_SHELL} -c {q(drop_host + chr(10) + init)} {INIT_MARKER}")
    return "\n".join(lines) + "\n"


def start_machine(
    netns: str,
    directory: Path,
    image_root: Path | str,
    binds: Sequence[Bind],
    hostname: str,
    env: Mapping[str, str],
    *,
    cgroup: Sequence[str] = (),
    pid_namespace: bool = True,
    watchdog: Watchdog | None = None,
    log: Path | None = None,
) -> int:
    """Boot the machine and return the host pid of its init (recorded in ``holder.pid``). ``cgroup``
    is the machine's ``_cgroups.enter_argv`` prefix; without ``pid_namespace`` the machine shares the
    host's PID namespace (the head: its Slurm programs leave its root through ``nsenter -t 1``)."""
    for path in machine_paths(directory).values():
        path.mkdir(parents=True, exist_ok=True)
    script = directory / "boot.sh"
    script.write_text(boot_script(image_root, directory, binds, hostname, watchdog))
    argv = [*cgroup, "nsenter", f"--net=/run/netns/{netns}", "--", "unshare", "--uts", "--mount"]
    argv += ["--pid", "--fork"] if pid_namespace else []
    argv += ["--propagation", "slave", "--", "sh", str(script)]
    log = log or directory / "boot.log"
    launcher = _proc.spawn_detached(argv, env={"PATH": _proc.SAFE_PATH, **env}, log_path=log)
    deadline = time.monotonic() + BOOT_TIMEOUT_S
    while time.monotonic() < deadline:
        pid = _init_of(launcher) if pid_namespace else (launcher if is_machine_init(launcher) else None)
        if pid is not None:
            (directory / "holder.pid").write_text(f"{pid}\n")
            if pid != launcher:
                release_init(launcher)
            return pid
        if not _proc.alive(launcher):
            break
        time.sleep(0.005)
    _proc.kill_pids([launcher])
    tail = log.read_text(errors="replace")[-800:] if log.exists() else ""
    raise ProviderError(f"the machine {hostname} did not boot from {image_root}:\n{tail}")


def release_init(launcher: int) -> None:
    """End the ``unshare --fork`` that started a machine's init. It only waits for the init, and
    forwards nothing to it: killing it (SIGKILL, which it cannot turn into a signal to its child)
    leaves the init running, reparented like any daemon, and saves a process on every node."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(launcher, signal.SIGKILL)


def _init_of(launcher: int) -> int | None:
    """The PID 1 that ``unshare --fork`` started, once it runs the image's init."""
    try:
        children = Path(f"/proc/{launcher}/task/{launcher}/children").read_text().split()
    except OSError:
        return None
    for child in children:
        if INIT_MARKER in _proc.cmdline(int(child)):
            return int(child)
    return None


def is_machine_init(pid: int) -> bool:
    return INIT_MARKER in _proc.cmdline(pid)


def enter_argv(pid: int, *, pid_namespace: bool = True) -> list[str]:
    """Run a command inside the machine: its namespaces, its root, its init's working dir."""
    own_pids = ["--pid"] if pid_namespace else []
    return ["nsenter", "-t", str(pid), "--net", "--uts", "--mount", *own_pids, "--root", "--wd", "--"]


__all__ = [
    "Bind",
    "Watchdog",
    "boot_script",
    "enter_argv",
    "is_machine_init",
    "machine_paths",
    "release_init",
    "start_machine",
    "watchdog_init",
]

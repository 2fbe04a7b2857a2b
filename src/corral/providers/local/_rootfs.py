"""A machine booted from an image: a private writable layer over the image's read-only tree, its
own PID namespace, and the host directories it must share bind-mounted in.

``start_machine`` runs, inside the machine's network namespace, ``unshare --uts --mount --pid
--fork`` with the boot script of ``boot_script`` as the new PID namespace's init. The script mounts
an overlay (lower: the image's ``rootfs``, upper and work: ``<machine dir>/upper`` and ``work``) on
``<machine dir>/root``, fresh ``/proc``, ``/sys``, ``/dev``, ``/run`` and the binds, sets the
hostname, then ``chroot``s and stays as PID 1: the image's bash, which reaps every orphan.

Every mount lives only in the machine's mount namespace, and killing PID 1 ends every process of
the machine: a terminated machine leaves only its directory (whose ``upper`` holds what it wrote),
which the caller deletes. Enter it with ``enter_argv(pid)``: its network, UTS, mount and PID
namespaces and its root.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from corral.errors import ProviderError
from corral.providers.local import _proc

BOOT_TIMEOUT_S = 10.0
#: PID 1 of a machine: the image's bash reaps orphans (its SIGCHLD handler waits for any child)
#: while it sleeps; TERM ends it, and with it every process of the machine.
INIT = "trap 'exit 0' TERM; while :; do sleep 86400 & wait $!; done"
INIT_MARKER = "corral-init"


@dataclass(frozen=True)
class Bind:
    """``source`` on the host appears at ``target`` inside the machine (a directory or a file)."""

    source: str
    target: str
    read_only: bool = False


def machine_paths(directory: Path) -> dict[str, Path]:
    return {name: directory / name for name in ("upper", "work", "root")}


def _bind_lines(root: str, bind: Bind) -> list[str]:
    target = shlex.quote(root + bind.target)
    source = shlex.quote(bind.source)
    make = f"[ -d {source} ] && mkdir -p {target} || {{ mkdir -p $(dirname {target}); touch {target}; }}"
    lines = [make, f"mount --bind {source} {target}"]
    if bind.read_only:
        lines.append(f"mount -o remount,bind,ro {target}")
    return lines


def boot_script(image_root: Path, directory: Path, binds: Sequence[Bind], hostname: str) -> str:
    """The shell script that boots a machine (run by the host's sh inside the new namespaces).
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
    lines.append(f"exec chroot {q(root)} /bin/bash -c {q(INIT)} {INIT_MARKER}")
    return "\n".join(lines) + "\n"


def start_machine(
    netns: str,
    directory: Path,
    image_root: Path,
    binds: Sequence[Bind],
    hostname: str,
    env: Mapping[str, str],
    *,
    cgroup: Sequence[str] = (),
    pid_namespace: bool = True,
) -> int:
    """Boot the machine and return the host pid of its init (recorded in ``holder.pid``). ``cgroup``
    is the machine's ``_cgroups.enter_argv`` prefix; without ``pid_namespace`` the machine shares the
    host's PID namespace (the head: its Slurm programs leave its root through ``nsenter -t 1``)."""
    for path in machine_paths(directory).values():
        path.mkdir(parents=True, exist_ok=True)
    script = directory / "boot.sh"
    script.write_text(boot_script(image_root, directory, binds, hostname))
    argv = [*cgroup, "nsenter", f"--net=/run/netns/{netns}", "--", "unshare", "--uts", "--mount"]
    argv += ["--pid", "--fork"] if pid_namespace else []
    argv += ["--propagation", "slave", "--", "sh", str(script)]
    log = directory / "boot.log"
    launcher = _proc.spawn_detached(argv, env={"PATH": _proc.SAFE_PATH, **env}, log_path=log)
    deadline = time.monotonic() + BOOT_TIMEOUT_S
    while time.monotonic() < deadline:
        pid = _init_of(launcher) if pid_namespace else (launcher if is_machine_init(launcher) else None)
        if pid is not None:
            (directory / "holder.pid").write_text(f"{pid}\n")
            return pid
        if not _proc.alive(launcher):
            break
        time.sleep(0.005)
    _proc.kill_pids([launcher])
    tail = log.read_text(errors="replace")[-800:] if log.exists() else ""
    raise ProviderError(f"the machine {hostname} did not boot from {image_root}:\n{tail}")


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


__all__ = ["Bind", "boot_script", "enter_argv", "is_machine_init", "machine_paths", "start_machine"]

"""Build and test nodes of a local image build: ``_rootfs`` machines over an image's layers, in a
network namespace of their own, recorded under ``<image dir>/nodes/<role>/`` so that whoever
cleans up (the builder, or ``delete-image`` after the builder was killed) finds them.

Each node reaches the networks the host reaches, as a cluster's node does (``_nat``): a veth from
the host, masquerade and forward rules on the host tagged ``corral:<image id>``, which stopping the
node removes (``CORRAL_LOCAL_NAT=off`` gives build nodes none).

A node's init is the image's /bin/sh as PID 1 of its own PID namespace: killing it ends every process
of the node, and with the last of them its mount namespace and overlay go. The host never holds a
mount of a node."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from corral.errors import ProviderError
from corral.providers.local import _nat, _net, _proc, _rootfs

STOP_TIMEOUT_S = 10.0
#: what a step's environment holds (the node's own root; nothing of the host's environment)
STEP_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/root",
    "LANG": "C.UTF-8",
    "DEBIAN_FRONTEND": "noninteractive",
}


@dataclass(frozen=True)
class BuildNode:
    role: str  # "build" or "test"
    directory: Path
    netns: str
    pid: int

    def argv(self, *command: str) -> list[str]:
        """Run ``command`` inside the node (its namespaces and root), with a clean environment."""
        env = [f"{k}={v}" for k, v in STEP_ENV.items()]
        return [*_rootfs.enter_argv(self.pid), "env", "-i", *env, *command]


def netns_name(image_id: str, role: str) -> str:
    digest = hashlib.sha1(image_id.encode()).hexdigest()[:10]
    return f"corral-img-{digest}-{role}"


def boot(nodes_dir: Path, image_id: str, role: str, lowerdir: str) -> BuildNode:
    """Boot a ``role`` node over ``lowerdir`` (``ResolvedImage.lowerdir``)."""
    directory = nodes_dir / role
    directory.mkdir(parents=True, exist_ok=True)
    netns = netns_name(image_id, role)
    (directory / "netns").write_text(netns + "\n")
    _net.delete_netns(netns)  # a leftover of an interrupted build of the same id
    _nat.remove(image_id)
    _net.create_netns(netns)
    if _nat.requested():  # the archive and the components' downloads, through NAT
        (directory / "nat").write_text(image_id + "\n")
        _nat.connect_build_node(image_id, netns, lambda _where, _what: None)
    hostname = f"{role}-{image_id}"[:63]
    pid = _rootfs.start_machine(netns, directory, lowerdir, [], hostname, {}, log=directory / "boot.log")
    return BuildNode(role, directory, netns, pid)


def stop(directory: Path) -> None:
    """End the node recorded in ``directory`` (its init, hence its PID namespace), wait for it to
    be gone, delete its network namespace. Idempotent; safe after the builder was killed."""
    pid = _proc.read_pid(directory / "holder.pid") if (directory / "holder.pid").exists() else None
    if pid is not None and _rootfs.is_machine_init(pid):
        _proc.kill_pids([pid], grace_s=2.0)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while _proc.alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _proc.alive(pid):
            raise ProviderError(f"the image build node {directory.name} (pid {pid}) did not stop")
    netns_file = directory / "netns"
    if netns_file.exists():
        netns = netns_file.read_text().strip()
        _nat.delete_link(_nat.build_host_if(netns))  # now, not when the kernel frees the netns
        _net.delete_netns(netns)
    nat_file = directory / "nat"
    if nat_file.exists():
        _nat.remove(nat_file.read_text().strip())  # the host's rules tagged with the build's id
        nat_file.unlink()
    _wait_unmounted(directory)


def _wait_unmounted(directory: Path) -> None:
    """The node's overlay lives only in its mount namespace; it goes with the last process. Wait
    until no mount anywhere names the node's directory (a reader of /proc/*/mountinfo would see it)."""
    deadline = time.monotonic() + STOP_TIMEOUT_S
    needle = str(directory.absolute())
    while time.monotonic() < deadline:
        if not any(needle in line for line in _all_mountinfo()):
            return
        time.sleep(0.05)
    raise ProviderError(
        f"a mount of {directory} outlived its node", hint=f"check `grep {needle} /proc/*/mountinfo`"
    )


def _all_mountinfo() -> list[str]:
    lines: list[str] = []
    seen: set[str] = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            ns = os.readlink(f"/proc/{entry}/ns/mnt")
            if ns in seen:
                continue
            seen.add(ns)
            with open(f"/proc/{entry}/mountinfo") as handle:
                lines += handle.read().splitlines()
        except OSError:
            continue
    return lines


def remove(directory: Path) -> None:
    stop(directory)
    shutil.rmtree(directory, ignore_errors=True)


def write_file(node: BuildNode, path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` inside the node (directories created)."""
    script = 'mkdir -p "$(dirname "$1")" && cat > "$1"'
    subprocess.run(node.argv("/bin/sh", "-c", script, "sh", path), input=data, check=True, timeout=120)


__all__ = ["STEP_ENV", "BuildNode", "boot", "netns_name", "remove", "stop", "write_file"]

"""Node-side storage steps of an AWS node, run by the node agent as services (see ``_storage_setup``):

    python -m corral.providers.aws.storage_node ebs --mount-dir DIR [--raid 0|1] [--name N] DEVICE...
    python -m corral.providers.aws.storage_node export DIR CIDR...
    python -m corral.providers.aws.storage_node mount TYPE SOURCE DIR [OPTIONS]

- ``ebs``: each DEVICE is ``vol-id:/dev/sdX`` (the volume id finds the NVMe device EC2 exposes,
  ``/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_volXXXX``; else ``/dev/sdX`` or ``/dev/xvdX``)
  or a block device path. With ``--raid``, the members become one md array (``mdadm``; an array
  that already exists is assembled, never re-created). The volume (or array) is formatted ext4 only
  when it holds no file system at all (``blkid``): a volume with data is never reformatted. Then
  it is mounted at DIR.
- ``export``: DIR is exported over NFS to each CIDR (``/etc/exports.d/corral.exports``,
  ``exportfs -ra``).
- ``mount``: ``mount -t TYPE [-o OPTIONS] SOURCE DIR``, retried for a minute (a new file system's
  DNS name can take that long), the directory created first.

A step that fails exits 1 and writes why (the failing command and its own error) to stderr and to
``$CORRAL_SERVICE_ERROR_FILE`` when the agent names one, so the node's bootstrap failure carries it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from corral.errors import StorageError

EXPORTS = Path("/etc/exports.d/corral.exports")
NFS_EXPORT_OPTIONS = "rw,sync,no_root_squash,no_subtree_check"
DEVICE_WAIT_S = 120.0
MOUNT_RETRY_S = 60.0


def _run(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    path = os.environ.get("PATH") or "/usr/bin:/bin"
    for system in ("/usr/sbin", "/sbin"):  # mkfs, blkid, mdadm, exportfs live there
        if system not in path.split(":"):
            path += f":{system}"
    try:
        return subprocess.run(
            list(argv), capture_output=True, text=True, check=False, env={**os.environ, "PATH": path}
        )
    except FileNotFoundError as exc:
        raise StorageError(f"`{argv[0]}` is not installed on this node ({exc.strerror})") from exc


def _must(argv: Sequence[str]) -> str:
    result = _run(argv)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip() or f"exit {result.returncode}"
        raise StorageError(f"`{' '.join(argv)}` failed: {detail}")
    return result.stdout


def candidates(spec: str) -> list[str]:
    """Where the device of ``spec`` (``vol-id:/dev/sdX`` or a path) may appear. Pure."""
    if ":" not in spec:
        return [spec]
    volume, device = spec.split(":", 1)
    letter = device.removeprefix("/dev/sd").removeprefix("/dev/xvd")
    return [
        f"/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_{volume.replace('-', '')}",
        f"/dev/sd{letter}",
        f"/dev/xvd{letter}",
    ]


def find_device(spec: str, wait_s: float = DEVICE_WAIT_S) -> str:
    """The block device of ``spec``, waiting for the attachment to show up."""
    deadline = time.monotonic() + wait_s
    while True:
        for path in candidates(spec):
            if Path(path).exists():
                return os.path.realpath(path)
        if time.monotonic() >= deadline:
            raise StorageError(f"no block device for {spec} after {wait_s:.0f} s (tried {candidates(spec)})")
        time.sleep(1.0)


def filesystem_of(device: str) -> str:
    """The file system type (or RAID/LVM signature) on ``device``, or ``""`` when it holds none."""
    result = _run(["blkid", "-p", "-o", "value", "-s", "TYPE", device])
    if result.returncode == 2:  # blkid: nothing found
        return ""
    if result.returncode != 0:
        raise StorageError(f"`blkid {device}` failed: {result.stderr.strip() or result.returncode}")
    return result.stdout.strip()


def _raid(devices: list[str], level: str, name: str) -> str:
    """The md array of ``devices``: assembled when they already carry its superblocks, else created."""
    array = f"/dev/md/{name}"
    if Path(array).exists():
        return os.path.realpath(array)
    if all(filesystem_of(d) == "linux_raid_member" for d in devices):
        _must(["mdadm", "--assemble", array, *devices])
    elif any(filesystem_of(d) for d in devices):
        raise StorageError(
            f"RAID members {devices} hold data that is not this array's: refusing to create it"
        )
    else:
        _must(
            [
                "mdadm",
                "--create",
                array,
                f"--level={level}",
                f"--raid-devices={len(devices)}",
                "--run",
                *devices,
            ]
        )
    return os.path.realpath(array)


def prepare_ebs(specs: Sequence[str], mount_dir: str, raid: str | None = None, name: str = "shared") -> str:
    """Find, (assemble,) format when blank, and mount the volume(s) at ``mount_dir``; returns what
    was done, for the log."""
    devices = [find_device(s) for s in specs]
    device = _raid(devices, raid, name) if raid is not None and len(devices) > 1 else devices[0]
    found = filesystem_of(device)
    done = f"{device}: file system {found} kept"
    if not found:
        _must(["mkfs.ext4", "-q", "-L", name[:16], device])
        done = f"{device}: formatted ext4 (it held no file system)"
    Path(mount_dir).mkdir(parents=True, exist_ok=True)
    if not _is_mounted(mount_dir):
        _must(["mount", device, mount_dir])
    return f"{done}; mounted at {mount_dir}"


def _is_mounted(directory: str) -> bool:
    target = os.path.realpath(directory)
    with open("/proc/self/mounts", encoding="utf-8") as mounts:
        return any(line.split()[1] == target for line in mounts if len(line.split()) > 1)


def export(directory: str, cidrs: Sequence[str], exports: Path = EXPORTS) -> str:
    """Export ``directory`` over NFS to ``cidrs`` (once), and reload the NFS server's exports."""
    if not cidrs:
        raise StorageError(f"no network to export {directory} to (the VPC's CIDR blocks are unknown)")
    line = f"{directory} " + " ".join(f"{cidr}({NFS_EXPORT_OPTIONS})" for cidr in cidrs)
    exports.parent.mkdir(parents=True, exist_ok=True)
    present = exports.read_text(encoding="utf-8").splitlines() if exports.exists() else []
    if line not in present:
        exports.write_text("\n".join([*present, line]) + "\n", encoding="utf-8")
    _start_nfs_server()
    _must(["exportfs", "-ra"])
    return f"{directory} exported to {', '.join(cidrs)}"


def _start_nfs_server() -> None:
    """Start the NFS server under systemd when there is one (its unit is nfs-server on Amazon
    Linux and RHEL, nfs-kernel-server on Ubuntu); ``exportfs`` says if it is not running."""
    if not Path("/run/systemd/system").is_dir():
        return
    for unit in ("nfs-server", "nfs-kernel-server"):
        if _run(["systemctl", "enable", "--now", unit]).returncode == 0:
            return


def mount(kind: str, source: str, directory: str, options: str = "", retry_s: float = MOUNT_RETRY_S) -> str:
    """``mount -t kind [-o options] source directory``, retried for ``retry_s``."""
    Path(directory).mkdir(parents=True, exist_ok=True)
    if _is_mounted(directory):
        return f"{directory} already mounted"
    argv = ["mount", "-t", kind, *(["-o", options] if options else []), source, directory]
    deadline = time.monotonic() + retry_s
    while True:
        try:
            _must(argv)
            return f"{source} mounted at {directory}"
        except StorageError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(5.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="corral.providers.aws.storage_node")
    steps = parser.add_subparsers(dest="step", required=True)
    ebs = steps.add_parser("ebs")
    ebs.add_argument("--mount-dir", required=True)
    ebs.add_argument("--raid", choices=("0", "1"))
    ebs.add_argument("--name", default="shared")
    ebs.add_argument("devices", nargs="+")
    exp = steps.add_parser("export")
    exp.add_argument("directory")
    exp.add_argument("cidrs", nargs="*")
    mnt = steps.add_parser("mount")
    mnt.add_argument("kind")
    mnt.add_argument("source")
    mnt.add_argument("directory")
    mnt.add_argument("options", nargs="?", default="")
    args = parser.parse_args(argv)
    try:
        if args.step == "ebs":
            done = prepare_ebs(args.devices, args.mount_dir, args.raid, args.name)
        elif args.step == "export":
            done = export(args.directory, args.cidrs)
        else:
            done = mount(args.kind, args.source, args.directory, args.options)
    except (StorageError, OSError) as exc:
        message = f"storage {args.step} failed: {exc}"
        print(f"corral: {message}", file=sys.stderr, flush=True)
        error_file = os.environ.get("CORRAL_SERVICE_ERROR_FILE")
        if error_file:
            Path(error_file).write_text(message, encoding="utf-8")
        return 1
    print(f"corral: {done}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

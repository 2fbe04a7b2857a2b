"""Sized volumes: a local EBS volume, FSx file system, EFS file system, the head's /home and an
image-rooted node's root layer, each an ext4 file system of its configured capacity.

A volume is a sparse file ``<mount point>.img`` next to the directory it is mounted on (so it
costs only what is written to it), formatted once (``mkfs.ext4``, labelled with the cluster id)
and mounted in the host's mount namespace through a loop device (``mount -o loop``, which frees
the device with the last unmount) on a shared anchor (see ``mount``). A job that fills it gets
ENOSPC inside the volume; the host's disk loses only what the volume holds.

Ownership: a volume's file lies in its cluster's directory (or the cluster's retained dir), which
the cluster id owns (``_owner``); release acts only on a mount whose loop device is backed by that
very file. EFS is elastic: each EFS file system is a volume of ``CORRAL_LOCAL_EFS_CAP_GIB`` (default
512 GiB) per cluster, the bound on what one cluster may write there.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from pathlib import Path

from corral.errors import ProviderError
from corral.providers.local import _proc

SUFFIX = ".img"
#: 32 MiB of journal whatever the size: ext4's default (up to 1 GiB) would be written over time
JOURNAL_MIB = 32
LOOP_CONTROL = Path("/dev/loop-control")
#: how long release waits for another mount namespace's copy of a volume to go
HELD_WAIT_S = 5.0
MOUNTINFO = Path("/proc/self/mountinfo")


def image_of(mount_point: Path | str) -> Path:
    """The sparse file holding the volume mounted on ``mount_point``."""
    path = Path(mount_point)
    return path.with_name(path.name + SUFFIX)


def check_support() -> None:
    """Loop devices and mkfs.ext4 are there (a container without /dev/loop-control has none)."""
    if not LOOP_CONTROL.exists():
        raise ProviderError(
            "this kernel offers no loop devices (/dev/loop-control is missing): sized volumes need them",
            hint="load the loop module (`modprobe loop`) or run on a host with loop device support",
        )
    if shutil.which("mkfs.ext4", path=_proc.SAFE_PATH) is None:
        raise ProviderError("mkfs.ext4 is missing: sized volumes need it", hint="apt-get install e2fsprogs")


def _unescape(field: str) -> str:
    """A mountinfo path (spaces, tabs, newlines and backslashes are octal escapes)."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field


def mounts() -> dict[str, str]:
    """Mount point -> source of every mount in this mount namespace (the last one wins)."""
    out: dict[str, str] = {}
    for line in MOUNTINFO.read_text().splitlines():
        fields = line.split(" ")
        dash = fields.index("-")
        out[_unescape(fields[4])] = _unescape(fields[dash + 2])
    return out


def backing_file(device: str) -> str | None:
    """The file a loop device reads (``/dev/loop3`` -> its backing file), None for other devices."""
    name = Path(device).name
    if not name.startswith("loop"):
        return None
    try:
        text = Path(f"/sys/block/{name}/loop/backing_file").read_text().strip()
    except OSError:
        return None
    return text.removesuffix(" (deleted)")


def loops_of(image: Path) -> list[str]:
    """Every loop device backed by ``image``."""
    wanted = str(image)
    found = []
    for entry in Path("/sys/block").glob("loop*"):
        if backing_file(entry.name) == wanted:
            found.append(f"/dev/{entry.name}")
    return found


def _run(argv: list[str]) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, env={"PATH": _proc.SAFE_PATH}, check=False)
    if result.returncode != 0:
        raise ProviderError(f"`{' '.join(argv)}` failed: {result.stderr.strip() or result.stdout.strip()}")


def make(image: Path, size_gib: int, label: str) -> bool:
    """Create the formatted sparse file unless it exists (its data is kept). True if created."""
    image.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(image, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    try:
        os.ftruncate(fd, size_gib << 30)
    finally:
        os.close(fd)
    options = "lazy_itable_init=1,lazy_journal_init=1,root_owner=0:0"
    try:
        argv = ["mkfs.ext4", "-q", "-F", "-m", "0", "-L", label[:16], "-J", f"size={JOURNAL_MIB}"]
        _run([*argv, "-E", options, str(image)])
    except ProviderError as exc:
        image.unlink(missing_ok=True)
        if "No space left" in exc.message:
            st = os.statvfs(image.parent)
            raise ProviderError(
                f"cannot make the {size_gib} GiB volume {image.name}: the file system holding "
                f"{image.parent} is full ({st.f_bavail * st.f_frsize} bytes free)",
                hint=f"free some space there (`df {image.parent}`) and retry",
            ) from exc
        raise
    return True


def is_mounted(mount_point: Path, image: Path) -> bool:
    """True when ``mount_point`` is a mount of ``image`` (through its loop device)."""
    source = mounts().get(str(mount_point))
    return source is not None and backing_file(source) == str(image)


def mount(image: Path, mount_point: Path, *, mode: int = 0o755) -> None:
    """Mount the volume on ``mount_point`` (made if missing) unless it is already.

    Mount events propagate by the parent mount: the host's ``/`` is often private, so the volume is
    mounted on a shared bind of ``mount_point`` onto itself (its anchor). Mount namespaces made
    later as the host's slaves (every node's, ``ip netns exec``) then lose their copy of the volume
    when it is unmounted here, instead of keeping its loop device (and a deleted file) alive."""
    mount_point.mkdir(parents=True, exist_ok=True)
    if is_mounted(mount_point, image):
        return
    if str(mount_point) not in mounts():
        _run(["mount", "--bind", str(mount_point), str(mount_point)])
        _run(["mount", "--make-shared", str(mount_point)])
    # noinit_itable: the kernel must not zero the inode tables (it would write them all out)
    _run(["mount", "-t", "ext4", "-o", "loop,noinit_itable", str(image), str(mount_point)])
    mount_point.chmod(mode)
    with contextlib.suppress(OSError):
        shutil.rmtree(mount_point / "lost+found")


def ensure(image: Path, mount_point: Path, size_gib: int, label: str, *, mode: int = 0o755) -> None:
    """Create (once) and mount the volume."""
    make(image, size_gib, label)
    mount(image, mount_point, mode=mode)


def _umount(mount_point: Path) -> None:
    result = subprocess.run(["umount", str(mount_point)], capture_output=True, text=True, check=False)
    if result.returncode == 0:
        return
    try:
        _run(["umount", "-l", str(mount_point)])  # busy: detach it here all the same
    except ProviderError:
        # "not mounted": something else (the machine's own end, a concurrent release) unmounted it
        # between the two calls; only a mount that is still there is a failure
        if str(mount_point) in mounts():
            raise


def release(image: Path, mount_point: Path) -> list[str]:
    """Unmount the volume (only while ``mount_point`` is a mount of ``image``) and its anchor,
    then detach the loop devices still backed by ``image``. The file stays. Returns what still
    holds the volume: 'device: pid N (command)' for each mount namespace that keeps a copy."""
    while is_mounted(mount_point, image):
        _umount(mount_point)
    source = mounts().get(str(mount_point))
    if source is not None and backing_file(source) is None and not source.startswith("/dev/loop"):
        _umount(mount_point)  # the anchor (a bind of the directory onto itself)
    for device in loops_of(image):  # autoclear: each goes when its last mount does
        subprocess.run(["losetup", "-d", device], capture_output=True, check=False)
    # a mount namespace being set up elsewhere (a machine booting) holds a copy for a moment
    deadline = time.monotonic() + HELD_WAIT_S
    while loops_of(image) and time.monotonic() < deadline:
        time.sleep(0.1)
    return [f"{device}: {holder}" for device in loops_of(image) for holder in holders(device)]


def holders(device: str) -> list[str]:
    """'pid N (command)' of one process per mount namespace that still mounts ``device``."""
    try:
        numbers = Path(f"/sys/block/{Path(device).name}/dev").read_text().strip()
    except OSError:
        return []
    seen: dict[str, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            namespace = os.readlink(entry / "ns/mnt")
            if namespace not in seen and f" {numbers} " in (entry / "mountinfo").read_text():
                seen[namespace] = f"pid {entry.name} ({' '.join(_proc.cmdline(int(entry.name)))[:60]})"
        except OSError:
            continue
    return list(seen.values())


def mounted_under(root: Path) -> list[str]:
    """Mount points at or below ``root`` (what must not be deleted as if it were a directory)."""
    prefix = str(root).rstrip("/") + "/"
    return sorted(m for m in mounts() if m == str(root) or m.startswith(prefix))


__all__ = [
    "check_support",
    "ensure",
    "image_of",
    "is_mounted",
    "loops_of",
    "make",
    "mount",
    "mounted_under",
    "release",
]

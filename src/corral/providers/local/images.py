"""The machine-wide image cache of the local provider, and the official image's build.

Images live in ``$CORRAL_IMAGE_CACHE`` (default ``/var/cache/corral/images``), one directory per
image id: ``<ami-id>/rootfs/`` (the read-only root tree nodes boot from) and ``manifest.json``.
The official image is keyed by its recipe (``corral.images.official``), so every state directory
and every test run reuses one build. A build happens in ``.build-<ami-id>-<pid>/`` under an
exclusive lock and appears by one ``rename``: an interrupted build leaves only that directory,
which the next build (or ``clean_stale_builds``) unmounts and removes.

Run ``python -m corral.providers.local.images ensure`` to build the official image (the project's
set-up does) and ``... list`` to see the cache.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from corral.config.findings import Finding, Level
from corral.errors import ConflictError, NotFoundError, PrerequisiteError, ProviderError
from corral.images import ImageManifest, OfficialRecipe, official_recipe
from corral.images import status as image_status
from corral.images.official import OFFICIAL_OS
from corral.providers.local import _proc
from corral.providers.local._image_store import ImageStore

CACHE_ENV = "CORRAL_IMAGE_CACHE"
DEFAULT_CACHE = Path("/var/cache/corral/images")
MIRROR_ENV = "CORRAL_DEBIAN_MIRROR"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
BUILD_TIMEOUT_S = 1800.0

Progress = Callable[[str], None]
#: debootstrap's steps (the first word of its ``I:`` lines), as progress shows them
PHASES = {
    "Retrieving": "downloading packages",
    "Validating": "checking packages",
    "Extracting": "extracting the base system",
    "Installing": "installing the core packages",
    "Unpacking": "unpacking packages",
    "Configuring": "configuring packages",
    "Base": "base system installed",
}


def cache_root() -> Path:
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE)


def image_dir(ami_id: str) -> Path:
    return cache_root() / ami_id


def rootfs(ami_id: str) -> Path:
    return image_dir(ami_id) / "rootfs"


def read_manifest(ami_id: str) -> ImageManifest | None:
    """The manifest of a complete image in the cache, or None."""
    try:
        manifest = ImageManifest.load((image_dir(ami_id) / "manifest.json").read_text())
    except (OSError, ValueError, KeyError):
        return None
    return manifest if rootfs(ami_id).is_dir() else None


def cached_images() -> list[ImageManifest]:
    root = cache_root()
    if not root.is_dir():
        return []
    found = (read_manifest(entry.name) for entry in sorted(root.iterdir()) if entry.name.startswith("ami-"))
    return [m for m in found if m is not None]


def _stderr_progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def ensure_official(progress: Progress | None = _stderr_progress) -> ImageManifest:
    """The official image, built once per machine (under a lock: concurrent callers wait for the
    first build and reuse it)."""
    recipe = official_recipe()
    manifest = read_manifest(recipe.ami_id)
    if manifest is not None:
        return manifest
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    with _locked(root / f".lock-{recipe.ami_id}"):
        manifest = read_manifest(recipe.ami_id)
        if manifest is not None:
            return manifest
        clean_stale_builds()
        return _build_official(recipe, progress or (lambda _line: None))


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _build_official(recipe: OfficialRecipe, progress: Progress) -> ImageManifest:
    if shutil.which("debootstrap", path=_proc.SAFE_PATH) is None:
        raise PrerequisiteError(
            "debootstrap is not installed: the local provider builds its official image with it",
            hint="run `bash scripts/setup.sh` (or `apt-get install -y debootstrap`) as root",
        )
    work = cache_root() / f".build-{recipe.ami_id}-{os.getpid()}"
    started = time.monotonic()
    progress(f"image: building the official image {recipe.ami_id} ({recipe.name}), once for this machine")
    try:
        _bootstrap(recipe, work / "rootfs", work / "build.log", progress, started)
        _finish_tree(work / "rootfs")
        manifest = ImageManifest(
            ami_id=recipe.ami_id,
            name=recipe.name,
            os=OFFICIAL_OS,
            architecture=recipe.architecture,
            build_time=datetime.now(UTC).isoformat(timespec="seconds"),
            packages=installed_packages(work / "rootfs"),
            tags=(("corral:official", "true"), ("corral:suite", recipe.suite)),
            recipe_key=recipe.key,
            description="Debian 13 with Slurm 24.11, munge, OpenSSH and Python 3 (Corral's official image)",
        )
        (work / "manifest.json").write_text(manifest.dump())
        os.rename(work, image_dir(recipe.ami_id))
    except BaseException:
        remove_tree(work)
        raise
    progress(f"image: {recipe.ami_id} ready in {time.monotonic() - started:.0f} s")
    return manifest


def _bootstrap(recipe: OfficialRecipe, target: Path, log: Path, progress: Progress, started: float) -> None:
    target.mkdir(parents=True)
    mirror = os.environ.get(MIRROR_ENV) or DEFAULT_MIRROR
    argv = ["debootstrap", f"--variant={recipe.variant}", f"--arch={recipe.dpkg_arch}"]
    argv += [f"--include={','.join(recipe.packages)}", recipe.suite, str(target), mirror]
    env = {"PATH": _proc.SAFE_PATH, "LANG": "C.UTF-8", "DEBIAN_FRONTEND": "noninteractive"}
    with open(log, "w") as out:
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert proc.stdout is not None
        phase = ""
        for line in proc.stdout:
            out.write(line)
            if line.startswith(("E: ", "W: ")):
                progress(f"image: {line.strip()}")
                continue
            words = line[3:].split() if line.startswith("I: ") else []
            if words and words[0] != phase and words[0] in PHASES:
                phase = words[0]
                progress(f"image: [{time.monotonic() - started:4.0f} s] {PHASES[phase]}")
        code = proc.wait(timeout=BUILD_TIMEOUT_S)
    if code != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        raise ProviderError(
            f"debootstrap of Debian {recipe.suite} failed (exit {code}); its log ends with:\n{tail}",
            hint=f"check that {mirror} is reachable (set {MIRROR_ENV} to use another Debian mirror)",
        )


#: Package scripts run inside a node (apt-get install in a component) must never start daemons.
POLICY_RC_D = "#!/bin/sh\n# Corral: a node's agent starts its daemons, never package scripts\nexit 101\n"


def _finish_tree(tree: Path) -> None:
    """Make the tree an image: no daemons started by package scripts, no package cache, no
    machine identity, the mount points nodes need."""
    policy = tree / "usr/sbin/policy-rc.d"
    policy.write_text(POLICY_RC_D)
    policy.chmod(0o755)
    for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for entry in (tree / cache).glob("*"):
            if entry.is_file():
                entry.unlink()
    (tree / "etc/machine-id").write_text("")
    for key in (tree / "etc/ssh").glob("ssh_host_*"):
        key.unlink()  # each node generates its own host keys
    for mount_point in ("opt/parallelcluster", "opt/corral", "run/corral"):
        (tree / mount_point).mkdir(parents=True, exist_ok=True)


def installed_packages(tree: Path) -> dict[str, str]:
    """``{package: version}`` of every package installed in ``tree``."""
    query = "-f=${Package}\t${Version}\t${Status}\n"
    argv = ["dpkg-query", f"--admindir={tree / 'var/lib/dpkg'}", "-W", query]
    out = _proc.run(argv, env={"PATH": _proc.SAFE_PATH}, timeout=60).stdout
    packages: dict[str, str] = {}
    for line in out.splitlines():
        name, version, status = [*line.split("\t"), "", ""][:3]
        if status.endswith(" installed"):
            packages[name] = version
    return packages


def _mounts_under(path: Path) -> list[str]:
    prefix = str(path.absolute()) + "/"
    try:
        lines = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return []
    points = [line.split()[1].replace("\\040", " ") for line in lines if len(line.split()) > 1]
    return sorted({p for p in points if p.startswith(prefix) or p + "/" == prefix}, key=len, reverse=True)


def remove_tree(path: Path) -> None:
    """Unmount whatever an interrupted build left mounted inside ``path`` (debootstrap mounts
    /proc and /sys in the target), then delete it. Never follows a mount out of the tree."""
    for point in _mounts_under(path):
        _proc.run(["umount", "-l", point], check=False, timeout=30)
    if _mounts_under(path):
        raise ProviderError(f"could not unmount everything under {path}", hint=f"check `findmnt -R {path}`")
    shutil.rmtree(path, ignore_errors=True)


def clean_stale_builds() -> list[Path]:
    """Remove the work directories of builds whose process is gone (a killed build)."""
    removed = []
    root = cache_root()
    for work in root.glob(".build-*") if root.is_dir() else ():
        pid = work.name.rsplit("-", 1)[-1]
        if pid.isdigit() and _proc.alive(int(pid)) and int(pid) != os.getpid():
            continue
        remove_tree(work)
        removed.append(work)
    return removed


@dataclass(frozen=True)
class ResolvedImage:
    """An image a machine can boot from: its manifest and its read-only layers, top first (the
    official image is one layer, its ``rootfs``; a built image is its own layer over its parent's)."""

    manifest: ImageManifest
    layers: tuple[Path, ...]

    @property
    def lowerdir(self) -> str:
        """The layers as overlayfs' ``lowerdir=`` takes them (top first, ``:``-separated)."""
        return ":".join(str(layer) for layer in self.layers)


#: overlayfs accepts at most 500 lower layers; a chain of images is far shorter in practice
MAX_LAYERS = 64


def resolve_image(ami_id: str, state_dir: Path) -> ResolvedImage:
    """The image ``ami_id`` names: the official image (machine-wide cache) or an image built into
    ``state_dir``'s store. ``NotFoundError`` for an unknown id, ``ConflictError`` for an image that
    is not ``BUILD_COMPLETE`` or whose parent is gone."""
    return _resolve(ami_id, ImageStore(state_dir), depth=0)


def _resolve(ami_id: str, store: ImageStore, *, depth: int) -> ResolvedImage:
    official = read_manifest(ami_id)
    if official is not None:
        return ResolvedImage(official, (rootfs(ami_id),))
    if official_recipe().ami_id == ami_id:
        raise NotFoundError(
            f"the official image {ami_id} is not built on this machine yet",
            hint="run `python -m corral.providers.local.images ensure` (or `bash scripts/setup.sh`)",
        )
    record = store.by_ami(ami_id)
    if record is None:
        raise NotFoundError(
            f"no local image has the id {ami_id}",
            hint="`corral list-images --image-status AVAILABLE` lists the built images "
            "(`corral list-official-images` the official one)",
        )
    manifest = store.manifest(record.image_id)
    if record.status != image_status.BUILD_COMPLETE or manifest is None:
        raise ConflictError(
            f"the image {ami_id} ({record.image_id}) is {record.status}, not BUILD_COMPLETE",
            hint=f"`corral describe-image -i {record.image_id}` says why",
        )
    if depth >= MAX_LAYERS:
        raise ConflictError(f"the image {ami_id} stacks more than {MAX_LAYERS} images")
    try:
        parent = _resolve(manifest.parent, store, depth=depth + 1)
    except (NotFoundError, ConflictError) as exc:
        raise ConflictError(
            f"the image {ami_id} ({record.image_id}) cannot be used: its parent image {manifest.parent} "
            f"is not available ({exc.message})",
            hint="rebuild the image from an available parent",
        ) from None
    return ResolvedImage(manifest, (store.layer(record.image_id), *parent.layers))


CUSTOM_AMI_CODE = "LocalCustomAmiValidator"
SLURM_VERSION_CODE = "LocalImageSlurmVersionValidator"


def known_locally(ami_id: str, state_dir: Path) -> bool:
    """Whether ``ami_id`` names an image of this machine: the official one (built or not) or one
    in ``state_dir``'s store (in any status). Any other id is an AWS AMI the machine never saw."""
    if ami_id == official_recipe().ami_id or read_manifest(ami_id) is not None:
        return True
    return ImageStore(state_dir).by_ami(ami_id) is not None


def custom_ami_findings(config: Any, state_dir: Path) -> list[Finding]:
    """A WARNING at each ``CustomAmi`` this machine has never heard of (an AWS AMI: its nodes boot
    from the official image instead, so a production config still runs here), an ERROR at each local
    image it cannot boot (unfinished, parent gone), and one when the cluster's images carry
    different Slurm major versions."""
    from corral.images.custom import cluster_images

    findings: list[Finding] = []
    majors: dict[str, list[str]] = {}
    official = read_manifest(official_recipe().ami_id)
    if official is not None:
        name = f"the official image {official.ami_id}"
        majors.setdefault(official.slurm_major or "unknown", []).append(name)
    for path, ami in cluster_images(config).located():
        if not known_locally(ami, state_dir):
            findings.append(
                Finding(
                    Level.WARNING,
                    CUSTOM_AMI_CODE,
                    path,
                    f"{ami}: no local image has this id (an AWS AMI?): these nodes boot from the official "
                    f"image {official_recipe().ami_id} instead, so software the AMI carries is missing here",
                    "to test the image itself, build it locally (`corral build-image`) and name the id "
                    "`corral describe-image` gives; `corral list-images` lists the built ones",
                )
            )
            continue
        try:
            manifest = resolve_image(ami, state_dir).manifest
        except (NotFoundError, ConflictError) as exc:
            findings.append(Finding(Level.ERROR, CUSTOM_AMI_CODE, path, f"{ami}: {exc.message}", exc.hint))
            continue
        majors.setdefault(manifest.slurm_major or "unknown", []).append(f"{ami} ({path})")
    if len(majors) > 1:
        described = "; ".join(f"Slurm {major}: {', '.join(names)}" for major, names in sorted(majors.items()))
        path = cluster_images(config).located()[0][0]
        findings.append(
            Finding(
                Level.ERROR,
                SLURM_VERSION_CODE,
                path,
                f"the cluster's images carry different Slurm major versions ({described})",
                "build every image of a cluster from parents with the same Slurm release",
            )
        )
    return findings


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "ensure"
    if command == "ensure":
        manifest = ensure_official()
        where = rootfs(manifest.ami_id)
        print(f"{manifest.ami_id} {manifest.name} slurm {manifest.slurm_version} in {where}")
        return 0
    if command == "list":
        for manifest in cached_images():
            print(f"{manifest.ami_id}\t{manifest.name}\t{manifest.os}\t{manifest.slurm_version}")
        return 0
    print("usage: python -m corral.providers.local.images [ensure|list]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

__all__ = [
    "CACHE_ENV",
    "CUSTOM_AMI_CODE",
    "MAX_LAYERS",
    "SLURM_VERSION_CODE",
    "ResolvedImage",
    "cache_root",
    "cached_images",
    "clean_stale_builds",
    "custom_ami_findings",
    "ensure_official",
    "image_dir",
    "installed_packages",
    "known_locally",
    "read_manifest",
    "remove_tree",
    "resolve_image",
    "rootfs",
]

"""The official local image, really built from Debian 13 packages (once per machine: the project's
set-up builds it, and this fixture reuses the machine-wide cache)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from corral.images import ImageManifest, official_recipe
from corral.providers.local import images


@pytest.fixture(scope="session")
def official(prerequisites: None) -> ImageManifest:
    return images.ensure_official()


def _in_image(manifest: ImageManifest, *argv: str) -> str:
    root = images.rootfs(manifest.ami_id)
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
    done = subprocess.run(["chroot", str(root), *argv], env=env, capture_output=True, text=True, check=True)
    return done.stdout


def test_the_official_image_carries_slurm_24_11_munge_sshd_and_python(official: ImageManifest) -> None:
    assert official.ami_id == official_recipe().ami_id
    assert official.slurm_major == "24.11"
    for package in ("slurmctld", "slurmd", "slurm-client", "slurmdbd", "munge", "openssh-server", "python3"):
        assert package in official.packages, package
    assert _in_image(official, "slurmctld", "-V").startswith("slurm-wlm 24.11")
    assert _in_image(official, "slurmd", "-V").startswith("slurm-wlm 24.11")
    assert official.packages["slurm-client"].startswith("24.11.")
    version = _in_image(official, "python3", "-c", "import sys; print(sys.version_info[:2])")
    assert version.strip() == "(3, 13)"
    assert Path(_in_image(official, "sh", "-c", "command -v sshd munged").split()[0]).name == "sshd"


def test_the_official_image_starts_no_daemon_from_package_scripts_and_has_no_machine_identity(
    official: ImageManifest,
) -> None:
    root = images.rootfs(official.ami_id)
    policy = root / "usr/sbin/policy-rc.d"
    assert os.access(policy, os.X_OK) and "exit 101" in policy.read_text()
    assert not list((root / "etc/ssh").glob("ssh_host_*"))
    assert (root / "etc/machine-id").read_text() == ""
    assert not list((root / "var/cache/apt/archives").glob("*.deb"))


def test_list_official_images_names_the_cached_image(official: ImageManifest, tmp_path: Path) -> None:
    env = {**os.environ, "CORRAL_STATE_DIR": str(tmp_path)}
    argv = ["corral", "list-official-images"]
    out = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
    listed = json.loads(out.stdout)["images"]
    assert {image["amiId"] for image in listed} == {official.ami_id}
    assert any(m.ami_id == official.ami_id for m in images.cached_images())

"""The machine-wide image cache: a cached image is reused without a build, and what a killed build
left (its work directory, with mounts inside) is removed without touching anything outside it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from corral.images import ImageManifest, official_recipe
from corral.providers.local import images


def _fake_official(cache: Path) -> ImageManifest:
    recipe = official_recipe()
    manifest = ImageManifest(
        ami_id=recipe.ami_id, name=recipe.name, os="debian13", architecture=recipe.architecture
    )
    (cache / recipe.ami_id / "rootfs").mkdir(parents=True)
    (cache / recipe.ami_id / "manifest.json").write_text(manifest.dump())
    return manifest


def test_a_cached_official_image_is_reused_without_building(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(images.CACHE_ENV, str(tmp_path))
    expected = _fake_official(tmp_path)

    def no_build(*_args: object) -> ImageManifest:
        raise AssertionError("a cached image must not be built again")

    monkeypatch.setattr(images, "_build_official", no_build)
    assert images.ensure_official(progress=None) == expected
    assert [m.ami_id for m in images.cached_images()] == [expected.ami_id]


def test_a_half_written_image_is_not_taken_for_a_cached_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(images.CACHE_ENV, str(tmp_path))
    recipe = official_recipe()
    (tmp_path / recipe.ami_id).mkdir()
    (tmp_path / recipe.ami_id / "manifest.json").write_text("{not json")
    assert images.read_manifest(recipe.ami_id) is None
    assert images.cached_images() == []


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting needs root")
def test_a_killed_builds_directory_is_unmounted_and_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(images.CACHE_ENV, str(tmp_path))
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("x")
    dead_pid = 2**22 + 1  # above pid_max's default: never a live process
    work = tmp_path / f".build-ami-0123456789abcdef0-{dead_pid}"
    (work / "rootfs/proc").mkdir(parents=True)
    (work / "rootfs/mnt").mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(work / "rootfs/proc")], check=True)
    subprocess.run(["mount", "--bind", str(outside), str(work / "rootfs/mnt")], check=True)
    live = tmp_path / f".build-ami-0123456789abcdef0-{os.getppid()}"
    live.mkdir()
    try:
        assert images.clean_stale_builds() == [work]
    finally:
        for point in (work / "rootfs/mnt", work / "rootfs/proc"):
            subprocess.run(["umount", "-l", str(point)], check=False, capture_output=True)
    assert not work.exists()
    assert (outside / "keep").read_text() == "x"  # a bind mount out of the tree is never followed
    assert live.exists()  # a build whose process is alive is left alone
    assert str(tmp_path) not in Path("/proc/self/mounts").read_text()

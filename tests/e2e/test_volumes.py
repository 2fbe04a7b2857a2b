"""Sized volumes (issue #19, point 6): shared storage, /home and an image-rooted node's root are
each an ext4 volume of the configured size on a loop device, so a job that fills one gets ENOSPC
and the host loses only what the volume holds; delete leaves no loop device or mount; a Retain
volume keeps its data for a later cluster that names its id."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import pytest

from corral.errors import ProviderError
from corral.plan import ClusterPlan, CustomActionSpec, StorageSpec
from corral.providers.local import LocalProvider, _storage, _volumes, images
from support import plans

from .conftest import delete_and_check, leftovers, unique_name, wait_until

pytestmark = pytest.mark.e2e

GIB = 1 << 30


def _sized_plan(name: str, storage: tuple[StorageSpec, ...], *, root_gib: int = 0) -> ClusterPlan:
    plan = plans.plan(name, queues=(("q1", "c1", 1, 0),), storage=storage)
    head = replace(plan.head_node, root_volume_gib=root_gib)
    return replace(plan, head_node=head, queue_root_volume_gib=(("q1", root_gib),))


def _loops_under(*roots: Path) -> list[str]:
    found = []
    for entry in Path("/sys/block").glob("loop*"):
        backing = _volumes.backing_file(entry.name) or ""
        if any(backing.startswith(f"{root}/") for root in roots):
            found.append(f"/dev/{entry.name} -> {backing}")
    return found


def _on_node(provider: LocalProvider, name: str, script: str) -> str:
    result = provider.run_on_head(name, ["srun", "-N1", "-p", "q1", "sh", "-c", script], timeout=240)
    assert result.returncode == 0 or "dd-exit" in result.stdout, result.stdout + result.stderr
    return result.stdout + result.stderr


def _size_kib(provider: LocalProvider, name: str, path: str) -> int:
    """df's size of the file system holding ``path`` on a compute node, KiB."""
    argv = ["srun", "-N1", "-p", "q1", "sh", "-c", f"df -k --output=size {path} | tail -1"]
    result = provider.run_on_head(name, argv, timeout=240)  # srun's own notes go to stderr
    assert result.returncode == 0, result.stdout + result.stderr
    return int(result.stdout.split()[-1])


def _free(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


@pytest.mark.parametrize("root", ["host", "image"])
def test_a_job_that_fills_a_sized_volume_gets_enospc_and_the_host_keeps_its_space(
    prerequisites: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, root: str
) -> None:
    """The host's disk is a 3 GiB tmpfs holding the state dir (nobody else writes there): the job
    fills its 1 GiB volume (and, image-rooted, its node's 1 GiB root) and that disk loses no more."""
    monkeypatch.setenv("CORRAL_LOCAL_NODE_ROOT", root)
    if root == "image":
        images.ensure_official()
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3g", "tmpfs", str(disk)], check=True)
    provider = LocalProvider(disk / "state")
    name = unique_name("rlvol")
    mount_dir = f"/{name}-data"
    plan = _sized_plan(name, (StorageSpec("data", "Ebs", mount_dir, "Delete", size_gib=1),), root_gib=1)
    layout = provider.layout(name)
    try:
        provider.create(plan, on_event=lambda r, m: None)
        before = _free(disk)
        assert 900_000 < _size_kib(provider, name, mount_dir) <= GIB >> 10
        out = _on_node(provider, name, f"dd if=/dev/zero of={mount_dir}/fill bs=1M; echo dd-exit=$?")
        assert "No space left on device" in out, out
        assert "dd-exit=1" in out, out
        volumes = GIB
        if root == "image":  # the node's root is a 1 GiB volume too
            assert 900_000 < _size_kib(provider, name, "/") <= GIB >> 10
            out = _on_node(provider, name, "dd if=/dev/zero of=/var/tmp/fill bs=1M; echo dd-exit=$?")
            assert "No space left on device" in out and "dd-exit=1" in out, out
            volumes += GIB
        data = layout.root / "shared" / "data"
        assert (data / "fill").stat().st_size <= GIB
        assert _volumes.image_of(data).stat().st_blocks * 512 <= GIB + (64 << 20)
        lost = before - _free(disk)
        print(f"the host's disk lost {lost >> 20} MiB for {volumes >> 30} GiB of volumes filled")
        assert lost <= volumes + (64 << 20) and _free(disk) > 0
    finally:
        delete_and_check(provider, name)
        assert _loops_under(layout.root, layout.retained_dir) == []
        subprocess.run(["umount", str(disk)], check=True)
    assert not Path(mount_dir).exists()


def test_a_retained_volume_keeps_its_data_for_a_cluster_that_names_its_id(provider: LocalProvider) -> None:
    first, second = unique_name("rlkeep"), unique_name("rlkeep")
    keep = StorageSpec("keep", "Ebs", f"/{first}-keep", "Retain", size_gib=1)
    layout = provider.layout(first)
    try:
        provider.create(_sized_plan(first, (keep,)), on_event=lambda r, m: None)
        _on_node(provider, first, f"echo kept > /{first}-keep/file")
        assert 900_000 < _size_kib(provider, first, f"/{first}-keep") <= GIB >> 10
        provider.delete(first)
        assert leftovers(provider, first) == []
        assert _loops_under(layout.root, layout.retained_dir) == []
        assert _volumes.image_of(layout.retained_dir / "keep").exists()
        volume_id = _storage.storage_id(first, keep)
        again = f"/{second}-again"
        named = StorageSpec("again", "Ebs", again, "Retain", existing=True, existing_id=volume_id)
        provider.create(_sized_plan(second, (named,)), on_event=lambda r, m: None)
        assert "kept" in _on_node(provider, second, f"cat /{second}-again/file")
    finally:
        delete_and_check(provider, second)
        provider.delete(first, retain_storage=False)  # what the first delete kept goes now
    assert _loops_under(layout.retained_dir) == []
    assert not layout.retained_dir.exists()
    assert not [m for m in _volumes.mounts() if m.startswith(str(layout.state_dir) + "/")]


def test_an_image_rooted_cluster_comes_back_after_a_restart_with_its_volumes_and_root(
    provider: LocalProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    from .test_reboot import _simulate_restart

    monkeypatch.setenv("CORRAL_LOCAL_NODE_ROOT", "image")
    images.ensure_official()
    name = unique_name("rlboot")
    data = f"/{name}-data"
    plan = _sized_plan(name, (StorageSpec("data", "Ebs", data, "Delete", size_gib=1),), root_gib=1)
    layout = provider.layout(name)
    try:
        provider.create(plan, on_event=lambda r, m: None)
        script = f"echo home > /home/kept; echo data > {data}/kept; echo root > /var/tmp/kept"
        assert provider.run_on_head(name, ["sh", "-c", script]).returncode == 0
        submitted = time.time()
        job = provider.run_on_head(name, ["sbatch", "--parsable", "--hold", "--wrap", "true"])
        assert job.returncode == 0, job.stderr
        saved = layout.slurm_state / "job_state"  # slurmctld's own save of the job, before the power cut
        wait_until(lambda: saved.exists() and saved.stat().st_mtime > submitted, 60, "the save of the job")
        _simulate_restart(provider, name)
        cluster_id = (layout.root / "cluster.id").read_text().strip()
        assert provider.restore(plan, cluster_id=cluster_id)
        read = provider.run_on_head(name, ["sh", "-c", f"cat /home/kept {data}/kept /var/tmp/kept"])
        assert read.stdout.split() == ["home", "data", "root"], read.stdout + read.stderr
        queue = provider.run_on_head(name, ["squeue", "-h", "-o", "%i %r"]).stdout.split()
        assert queue == [job.stdout.strip(), "JobHeldUser"]
        assert "dd-exit=1" in _on_node(provider, name, f"dd if=/dev/zero of={data}/f bs=1M; echo dd-exit=$?")
    finally:
        delete_and_check(provider, name)
    assert _loops_under(layout.root, layout.retained_dir) == []


def test_a_failed_create_rolls_its_volumes_back(provider: LocalProvider, tmp_path: Path) -> None:
    failing = tmp_path / "fail.sh"
    failing.write_text("#!/bin/sh\necho no >&2\nexit 3\n")
    failing.chmod(0o755)
    name = unique_name("rlroll")
    storage = (StorageSpec("data", "Ebs", f"/{name}-data", "Delete", size_gib=1),)
    plan = _sized_plan(name, storage, root_gib=1)
    actions = (CustomActionSpec("OnNodeStart", str(failing)),)
    plan = replace(plan, head_node=replace(plan.head_node, custom_actions=actions))
    layout = provider.layout(name)
    with pytest.raises(ProviderError, match="head node bootstrap failed"):
        provider.create(plan, on_event=lambda r, m: None)
    assert _volumes.mounted_under(layout.root)  # the volumes were there when OnNodeStart ran
    delete_and_check(provider, name)  # what the service's rollback does
    assert _loops_under(layout.root, layout.retained_dir) == []

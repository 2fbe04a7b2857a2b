"""A local cluster's run dir tells a restart by the boot id written there (issue #19, points 3/9);
mounting its tmpfs is tested end to end (tests/e2e/test_shapes_and_disks.py, test_reboot.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from corral.providers.local import _layout, _runfs
from corral.providers.local._layout import ClusterLayout


def test_a_run_dir_from_another_boot_or_none_means_the_host_restarted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_layout, "RUN_ROOT", tmp_path / "run")
    boot = tmp_path / "boot_id"
    boot.write_text("aaaa\n")
    monkeypatch.setattr(_runfs, "BOOT_ID", boot)
    layout = ClusterLayout(tmp_path / "state", "c1")
    assert layout.run_dir.parent == tmp_path / "run"
    assert _runfs.restarted(layout)  # no run dir at all
    layout.run_dir.mkdir(parents=True)
    assert _runfs.restarted(layout)  # a run dir left on a disk-backed /run, without its tmpfs
    (layout.run_dir / _runfs.BOOT_ID_FILE).write_text("aaaa\n")
    assert not _runfs.restarted(layout)  # this boot's: a head that died is no restart
    boot.write_text("bbbb\n")
    assert _runfs.restarted(layout)


def test_the_tmpfs_carries_the_cluster_id(tmp_path: Path) -> None:
    layout = ClusterLayout(tmp_path / "state", "c1")
    layout.root.mkdir(parents=True)
    (layout.root / "cluster.id").write_text("0123abcd\n")
    assert _runfs.source(layout) == "corral-0123abcd"

"""Data repository sync against a real moto S3 server on loopback: batch import, baseline, auto
import and export, state on disk, and the loop's final pass on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from corral.node import s3sync
from corral.node.s3sync import Association, SyncConfig
from support.servers import s3_server


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with s3_server(monkeypatch, "images") as client:
        client.create_bucket(Bucket="results")
        client.put_object(Bucket="images", Key="containers/a.sif", Body=b"a")
        client.put_object(Bucket="images", Key="containers/sub/b.sif", Body=b"bb")
        client.put_object(Bucket="images", Key="elsewhere.txt", Body=b"no")
        yield client


def _config(tmp_path: Path, *associations: Association) -> SyncConfig:
    return SyncConfig(associations, str(tmp_path / "state"), interval_s=0.2)


def test_batch_import_then_auto_import_and_export(s3: Any, tmp_path: Path) -> None:
    images = Association(
        "images", str(tmp_path / "data/images"), "s3://images/containers", True, ("NEW", "CHANGED", "DELETED")
    )
    results = Association(
        "results",
        str(tmp_path / "data/results"),
        "s3://results/runs/",
        auto_export=("NEW", "CHANGED", "DELETED"),
    )
    config = _config(tmp_path, images, results)
    lines = s3sync.initial_import(config)
    assert len(lines) == 2
    assert (tmp_path / "data/images/a.sif").read_bytes() == b"a"
    assert (tmp_path / "data/images/sub/b.sif").read_bytes() == b"bb"
    assert not (tmp_path / "data/images/elsewhere.txt").exists()
    assert s3sync.sync_once(config) == []  # nothing echoes back

    s3.put_object(Bucket="images", Key="containers/new.sif", Body=b"n")
    s3.put_object(Bucket="images", Key="containers/a.sif", Body=b"a2")
    s3.delete_object(Bucket="images", Key="containers/sub/b.sif")
    (tmp_path / "data/results/run1").mkdir(parents=True)
    (tmp_path / "data/results/run1/out.txt").write_text("result")
    s3sync.sync_once(config)
    assert (tmp_path / "data/images/new.sif").read_bytes() == b"n"
    assert (tmp_path / "data/images/a.sif").read_bytes() == b"a2"
    assert not (tmp_path / "data/images/sub/b.sif").exists()
    assert s3.get_object(Bucket="results", Key="runs/run1/out.txt")["Body"].read() == b"result"
    assert s3sync.sync_once(config) == []

    (tmp_path / "data/results/run1/out.txt").unlink()
    s3sync.sync_once(config)
    assert s3.list_objects_v2(Bucket="results").get("KeyCount") == 0


def test_without_batch_import_existing_objects_are_the_baseline(s3: Any, tmp_path: Path) -> None:
    lazy = Association("lazy", str(tmp_path / "lazy"), "s3://images/containers", False, ("NEW",))
    config = _config(tmp_path, lazy)
    assert s3sync.initial_import(config) == []
    s3sync.sync_once(config)
    assert list((tmp_path / "lazy").iterdir()) == []
    s3.put_object(Bucket="images", Key="containers/later.sif", Body=b"l")
    s3sync.sync_once(config)
    assert [p.name for p in (tmp_path / "lazy").iterdir()] == ["later.sif"]


def test_the_loop_exports_on_its_last_pass_at_sigterm(s3: Any, tmp_path: Path) -> None:
    out = Association("out", str(tmp_path / "out"), "s3://results/x", auto_export=("NEW",))
    config = _config(tmp_path, out)
    config = SyncConfig(config.associations, config.state_dir, interval_s=60)
    s3sync.write_config(tmp_path / "config.json", config)
    assert s3sync.read_config(tmp_path / "config.json") == config
    s3sync.initial_import(config)
    pid_file = tmp_path / "pid"
    loop = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "corral.node.s3sync",
            str(tmp_path / "config.json"),
            "--pid-file",
            str(pid_file),
        ],
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 10
        while not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # its first pass, with nothing to do
        (tmp_path / "out" / "late.txt").write_text("late")
        loop.send_signal(signal.SIGTERM)
        stdout, _ = loop.communicate(timeout=20)
    finally:
        loop.kill()
    assert "upload late.txt" in stdout and "final pass" in stdout
    assert s3.get_object(Bucket="results", Key="x/late.txt")["Body"].read() == b"late"

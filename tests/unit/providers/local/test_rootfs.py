"""The boot script of an image-rooted machine (pure: nothing is mounted here)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from corral.node.procfs import alive
from corral.providers.local import _proc
from corral.providers.local._rootfs import (
    INIT_MARKER,
    Bind,
    Watchdog,
    boot_script,
    enter_argv,
    is_machine_init,
    start_machine,
    watchdog_init,
)


def test_the_boot_script_layers_the_machine_over_its_image_then_becomes_its_init() -> None:
    script = boot_script(
        Path("/cache/ami-1/rootfs"),
        Path("/state/nodes/n1"),
        [Bind("/state/shared/home", "/home"), Bind("/src/corral", "/opt/corral/lib", read_only=True)],
        "q1-dy-1",
    )
    lines = script.splitlines()
    assert lines[0] == "set -eu" and lines[1] == "hostname q1-dy-1"
    overlay = next(i for i, line in enumerate(lines) if line.startswith("mount -t overlay"))
    assert (
        "lowerdir=/cache/ami-1/rootfs,upperdir=/state/nodes/n1/disk/upper,workdir=/state/nodes/n1/disk/work"
        in lines[overlay]
    )
    assert lines.index("mount --make-rprivate /") < overlay
    home = lines.index("mount --bind /state/shared/home /state/nodes/n1/root/home")
    assert home > overlay
    assert "mount -o remount,bind,ro /state/nodes/n1/root/opt/corral/lib" in lines
    pivot = lines.index("cd /state/nodes/n1/root")
    assert lines[pivot + 1 : pivot + 3] == ["mkdir -p .corral-host-root", "pivot_root . .corral-host-root"]
    assert lines[pivot + 3].startswith("exec /bin/sh -c ")
    assert lines[-1].endswith(INIT_MARKER)


def test_entering_a_machine_takes_its_pid_namespace_and_root() -> None:
    argv = enter_argv(42)
    assert argv[:3] == ["nsenter", "-t", "42"]
    assert {"--net", "--uts", "--mount", "--pid", "--root"} <= set(argv)
    assert "--pid" not in enter_argv(42, pid_namespace=False)


def test_the_watchdog_runs_under_a_posix_sh(tmp_path: Path) -> None:
    """The init is the image's /bin/sh (dash on Debian): the watchdog must not need bash."""
    dash = shutil.which("dash")
    if dash is None:
        pytest.skip("no dash on this host")
    heartbeat = tmp_path / "heartbeat"
    heartbeat.touch()
    script = watchdog_init(Watchdog(str(heartbeat), 10, "q1-dy-1", "corral-x-q1-dy-1"))
    process = subprocess.Popen(
        [dash, "-c", script, INIT_MARKER], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        time.sleep(2.5)  # two polls of 1 s: the heartbeat is fresh, so it keeps watching
        assert process.poll() is None
    finally:
        process.terminate()  # its TERM trap: exit 0
        out, err = process.communicate(timeout=5)
    assert process.returncode == 0 and err == ""
    assert "watchdog[1] node q1-dy-1: watching" in out


def test_a_booted_machine_keeps_no_launcher_beside_its_init(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``unshare --fork`` would stay, waiting for the init, a process on every node: once the init
    runs, only the init is left."""
    spawn = _proc.spawn_detached
    launched: list[int] = []

    def fake_launcher(argv: list[str], *, env: dict[str, str], log_path: Path | None = None) -> int:
        # stands for unshare --fork: a parent that waits for the child that becomes the init
        pid = spawn(["sh", "-c", f"sh -c 'sleep 30; :' {INIT_MARKER} & wait"], env=env, log_path=log_path)
        launched.append(pid)
        return pid

    monkeypatch.setattr(_proc, "spawn_detached", fake_launcher)
    init = start_machine("corral-x-n1", tmp_path / "n1", "/img/rootfs", [], "n1", {})
    try:
        assert is_machine_init(init) and init not in launched
        deadline = time.monotonic() + 5
        while alive(launched[0]) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not alive(launched[0]), "the launcher outlived the boot"
        assert alive(init)
        assert (tmp_path / "n1" / "holder.pid").read_text() == f"{init}\n"
    finally:
        os.kill(init, signal.SIGKILL)

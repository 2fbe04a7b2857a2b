"""The boot script of an image-rooted machine (pure: nothing is mounted here)."""

from __future__ import annotations

from pathlib import Path

from corral.providers.local._rootfs import INIT_MARKER, Bind, boot_script, enter_argv


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
    assert lines[pivot + 3].startswith("exec /bin/bash -c ")
    assert lines[-1].endswith(INIT_MARKER)


def test_entering_a_machine_takes_its_pid_namespace_and_root() -> None:
    argv = enter_argv(42)
    assert argv[:3] == ["nsenter", "-t", "42"]
    assert {"--net", "--uts", "--mount", "--pid", "--root"} <= set(argv)
    assert "--pid" not in enter_argv(42, pid_namespace=False)

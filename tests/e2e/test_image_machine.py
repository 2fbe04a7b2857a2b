"""A machine booted from the official image (the building block every image-rooted node will use):
what it writes stays in its private layer, it sees and signals only its own processes, and
killing its PID 1 leaves no process and no mount behind."""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from corral.images import ImageManifest
from corral.providers.local import _proc, _rootfs, images


@pytest.fixture(scope="module")
def official(prerequisites: None) -> ImageManifest:
    return images.ensure_official()


@pytest.fixture
def machine(official: ImageManifest, tmp_path: Path) -> Iterator[tuple[int, Path]]:
    netns = f"imt-{secrets.token_hex(3)}"
    shared = tmp_path / "shared"
    shared.mkdir()
    subprocess.run(["ip", "netns", "add", netns], check=True)
    directory = tmp_path / "machine"
    pid = 0
    try:
        binds = [_rootfs.Bind(str(shared), "/home")]
        pid = _rootfs.start_machine(netns, directory, images.rootfs(official.ami_id), binds, "imnode", {})
        yield pid, shared
    finally:
        if pid:
            _proc.kill_pids([pid])
        subprocess.run(["ip", "netns", "del", netns], check=False)
    assert not _proc.alive(pid)
    assert str(tmp_path) not in Path("/proc/self/mounts").read_text()


def _on(pid: int, script: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    argv = [*_rootfs.enter_argv(pid), "/bin/sh", "-c", script]
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
    return subprocess.run(argv, env=env, capture_output=True, text=True, check=check, timeout=60)


def test_a_machine_runs_the_images_slurm_under_its_own_hostname(machine: tuple[int, Path]) -> None:
    pid, _shared = machine
    assert _on(pid, "hostname").stdout.strip() == "imnode"
    assert _on(pid, "slurmd -V").stdout.startswith("slurm-wlm 24.11")
    assert _on(pid, "cat /etc/debian_version").stdout.startswith("13")


def test_writes_and_package_installs_on_a_machine_never_reach_the_host(machine: tuple[int, Path]) -> None:
    pid, shared = machine
    tag = secrets.token_hex(4)
    probes = [f"/usr/local/bin/im-{tag}", f"/var/tmp/im-{tag}", f"/root/im-{tag}", f"/tmp/im-{tag}"]
    _on(pid, " && ".join(f"echo x > {p}" for p in probes))
    package = f"corral-im-probe-{tag}"
    build = (
        f"mkdir -p /tmp/p/DEBIAN /tmp/p/usr/share/{package} && echo hi > /tmp/p/usr/share/{package}/f && "
        f"printf 'Package: {package}\\nVersion: 1.0\\nArchitecture: all\\nMaintainer: t <t@t>\\n"
        f"Description: probe\\n' > /tmp/p/DEBIAN/control && dpkg-deb -b /tmp/p /tmp/p.deb >/dev/null && "
        "dpkg -i /tmp/p.deb >/dev/null && "
        f"dpkg-query -W -f='${{Status}}' {package}"
    )
    assert _on(pid, build).stdout == "install ok installed"
    _on(pid, "echo shared > /home/from-node")
    for probe in probes:
        assert not Path(probe).exists(), probe
    host = subprocess.run(["dpkg-query", "-W", package], capture_output=True, text=True, check=False)
    assert host.returncode != 0  # not in the host's dpkg database
    assert not Path(f"/usr/share/{package}").exists()
    assert (shared / "from-node").read_text() == "shared\n"  # what is shared is meant to be


def test_a_machine_sees_and_signals_only_its_own_processes(machine: tuple[int, Path]) -> None:
    pid, _shared = machine
    host_pid = os.getpid()
    listed = _on(pid, "ps -e -o pid=").stdout.split()
    assert "1" in listed and len(listed) < 10  # init, its sleep, the shell and ps
    refused = _on(pid, f"kill -0 {host_pid}", check=False)
    assert refused.returncode != 0 and _proc.alive(host_pid)

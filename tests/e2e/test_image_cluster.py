"""A cluster whose head and compute nodes boot from the official image (CORRAL_LOCAL_NODE_ROOT=image):
Slurm 24.11 everywhere, jobs on static and powered-down dynamic nodes, nothing a job writes or
installs reaches the host, a job sees only its node's processes, and delete leaves nothing."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from corral.providers.local import LocalProvider, images
from support.plans import plan

from .conftest import delete_and_check, unique_name

pytestmark = pytest.mark.e2e


class ImageCluster:
    def __init__(self, provider: LocalProvider, name: str) -> None:
        self.provider, self.name = provider, name

    def run(self, *argv: str, check: bool = True) -> str:
        result = self.provider.run_on_head(self.name, list(argv), timeout=90)
        if check:
            assert result.returncode == 0, f"{argv}: {result.stdout}{result.stderr}"
        return result.stdout


@pytest.fixture(scope="module")
def cluster(provider: LocalProvider) -> Iterator[ImageCluster]:
    images.ensure_official()
    name = unique_name("img")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CORRAL_LOCAL_NODE_ROOT", "image")
        started = time.monotonic()
        try:
            provider.create(plan(name, queues=(("q1", "c1", 1, 2),)), on_event=lambda r, m: None)
            print(f"create on the cached image took {time.monotonic() - started:.2f} s")
            yield ImageCluster(provider, name)
        finally:
            delete_and_check(provider, name)


def test_every_node_runs_slurm_24_11_from_the_image(cluster: ImageCluster) -> None:
    assert cluster.run("sinfo", "--version").startswith("slurm-wlm 24.11")
    assert cluster.run("cat", "/etc/debian_version").startswith("13")
    out = cluster.run(
        "srun", "-N1", "-w", "q1-st-c1-1", "sh", "-c", "sinfo --version; cat /etc/debian_version"
    )
    assert out.splitlines()[0].startswith("slurm-wlm 24.11") and out.splitlines()[1].startswith("13")


def test_a_job_on_a_powered_down_dynamic_node_runs_in_its_own_root(cluster: ImageCluster) -> None:
    tag = secrets.token_hex(4)
    script = (
        f"echo x > /usr/local/bin/im-{tag}; echo x > /root/im-{tag}; echo x > /var/tmp/im-{tag}; "
        f"echo x > /tmp/im-{tag}; hostname; ps -e -o pid= | wc -l; kill -0 {os.getpid()} 2>/dev/null "
        "&& echo host-visible || echo host-invisible"
    )
    submitted = time.monotonic()
    out = cluster.run("srun", "-N1", "-w", "q1-dy-c1-1", "sh", "-c", script)
    print(f"srun on a powered-down dynamic image node: {time.monotonic() - submitted:.2f} s")
    lines = out.split()
    assert lines[0] == "q1-dy-c1-1"
    assert int(lines[1]) < 30  # the node's own processes only
    assert lines[2] == "host-invisible"
    for path in (f"/usr/local/bin/im-{tag}", f"/root/im-{tag}", f"/var/tmp/im-{tag}", f"/tmp/im-{tag}"):
        assert not Path(path).exists(), path


def test_a_package_installed_by_a_job_stays_on_its_node(cluster: ImageCluster) -> None:
    package = f"corral-im-job-{secrets.token_hex(3)}"
    build = (
        f"mkdir -p /tmp/p/DEBIAN && printf 'Package: {package}\\nVersion: 1\\nArchitecture: all\\n"
        "Maintainer: t <t@t>\\nDescription: p\\n' > /tmp/p/DEBIAN/control && dpkg-deb -b /tmp/p /tmp/p.deb "
        f">/dev/null && dpkg -i /tmp/p.deb >/dev/null && dpkg-query -W -f='${{Status}}' {package}"
    )
    assert cluster.run("srun", "-N1", "-w", "q1-st-c1-1", "sh", "-c", build) == "install ok installed"
    assert not Path(f"/var/lib/dpkg/info/{package}.list").exists()

"""The pcluster way of ending an ephemeral cluster: its own workload runs ``corral delete-cluster``
on one of the cluster's nodes (``corral.node.selfdelete``), the head node's reconciler takes the
request and the cluster is deleted from the outside, leaving nothing. A node can name only its
own cluster."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from corral.providers.local import LocalProvider, images
from e2e.conftest import SCALEDOWN_SECONDS, leftovers, unique_name, wait_until

pytestmark = pytest.mark.e2e

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo.yaml"


@pytest.fixture
def state(prerequisites: None, tmp_path: Path) -> Iterator[Path]:
    directory = tmp_path / "state"
    yield directory
    provider = LocalProvider(directory)
    for cluster in (directory / "clusters").glob("*") if (directory / "clusters").exists() else []:
        provider.delete(cluster.name)  # a failed test must not leave a cluster running


def corral(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "CORRAL_STATE_DIR": str(state),
        "CORRAL_LOCAL_SCALEDOWN_SECONDS": SCALEDOWN_SECONDS,
        "CORRAL_LOCAL_NODE_ROOT": "image",
    }
    argv = [sys.executable, "-m", "corral.cli.main", *args]
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)


def test_a_job_deletes_its_own_cluster_from_inside(state: Path) -> None:
    images.ensure_official()
    name = unique_name("sdel")
    created = corral(state, "create-cluster", "-n", name, "-c", str(DEMO), "--wait")
    assert created.returncode == 0, created.stdout + created.stderr
    provider = LocalProvider(state)

    other = provider.run_on_head(name, ["srun", "-N1", "corral", "delete-cluster", "-n", "elsewhere"])
    assert other.returncode != 0
    assert "cannot be deleted from here" in other.stdout and f"belongs to cluster {name}" in other.stdout
    assert provider.exists(name)

    # a batch job ends its own cluster, as a user who is not root (made on the node for the test)
    delete = f"runuser -u sduser -- corral delete-cluster -n {name}"
    script = f"#!/bin/sh\nuseradd -M sduser\n{delete}\nsleep 600\n"
    submitted = provider.run_on_head(name, ["sbatch", "--parsable", "-o", "/tmp/sd.out"], stdin=script)
    assert submitted.returncode == 0, submitted.stderr
    wait_until(lambda: not provider.exists(name), 180, "the cluster to delete itself")
    wait_until(lambda: leftovers(provider, name) == [], 30, "nothing of the cluster left")
    listed = corral(state, "list-clusters")
    assert json.loads(listed.stdout) == {"clusters": []}

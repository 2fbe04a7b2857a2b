"""The pcluster way of ending an ephemeral cluster: its own workload runs ``corral delete-cluster``
on one of the cluster's nodes (``corral.node.selfdelete``), the head node's reconciler takes the
request and the cluster is deleted from the outside, leaving nothing. A node can name only its
own cluster."""

from __future__ import annotations

from pathlib import Path

import pytest

from corral.providers.local import images
from e2e.conftest import Corral, leftovers, unique_name, wait_until

pytestmark = pytest.mark.e2e

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo.yaml"


def test_a_job_deletes_its_own_cluster_from_inside(own_corral: Corral) -> None:
    images.ensure_official()
    corral = own_corral.with_env(CORRAL_LOCAL_NODE_ROOT="image")
    name = unique_name("sdel")
    corral.create(name, DEMO)
    provider = corral.provider

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
    assert corral.json("list-clusters") == {"clusters": []}

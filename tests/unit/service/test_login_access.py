"""Login pools through the service: describe-cluster's ``loginNodes`` (pcluster's LoginNodesPool)
comes from the provider only when it reports pools; ``ssh --login-pool`` asks the provider, whose
default says it is not implemented yet; the CLI parses the flag before or after ssh's options."""

from __future__ import annotations

from pathlib import Path

import pytest

from corral.cli._commands import split_ssh_args
from corral.errors import BadRequestError
from corral.providers.base import LoginPoolStatus
from corral.providers.fake import FakeProvider
from corral.service import ClusterService
from corral.state import StateStore
from support.plans import small_plan


class PooledFake(FakeProvider):
    def login_pools(self, cluster_name: str) -> list[LoginPoolStatus]:
        return [LoginPoolStatus("users", "active", "10.0.0.9", healthy=2), LoginPoolStatus("ops", "pending")]


def _service(tmp_path: Path, provider: FakeProvider) -> ClusterService:
    service = ClusterService(StateStore(tmp_path), lambda _n: provider)
    service.create_planned(small_plan("demo"), provider="fake", config_text="")
    service.run_create("demo")
    return service


def test_describe_cluster_has_login_nodes_only_when_the_provider_reports_pools(tmp_path: Path) -> None:
    plain = _service(tmp_path / "a", FakeProvider(persist_dir=tmp_path / "fa")).describe("demo").to_json()
    assert "loginNodes" not in plain
    pooled = _service(tmp_path / "b", PooledFake(persist_dir=tmp_path / "fb")).describe("demo").to_json()
    assert pooled["loginNodes"] == [
        {
            "poolName": "users",
            "status": "active",
            "address": "10.0.0.9",
            "healthyNodes": 2,
            "unhealthyNodes": 0,
        },
        {"poolName": "ops", "status": "pending", "healthyNodes": 0, "unhealthyNodes": 0},
    ]


def test_ssh_to_a_login_pool_is_the_providers_and_says_when_it_is_not_implemented(tmp_path: Path) -> None:
    service = _service(tmp_path, FakeProvider(persist_dir=tmp_path / "f"))
    with pytest.raises(
        BadRequestError, match="ssh --login-pool is not implemented yet for the fake provider"
    ):
        service.ssh_argv("demo", ["--", "true"], login_pool="users")
    assert service.ssh_argv("demo", ["--", "true"])  # the head node, as before


def test_the_login_pool_flag_is_corrals_wherever_it_stands() -> None:
    own, rest = split_ssh_args(["-i", "k.pem", "--login-pool", "users", "--", "sinfo", "--login-pool", "x"])
    assert own == {"login_pool": "users"}
    assert rest == ["-i", "k.pem", "--", "sinfo", "--login-pool", "x"]

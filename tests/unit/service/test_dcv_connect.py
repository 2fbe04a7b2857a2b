"""``dcv-connect``: refused as pcluster refuses it when the node's Dcv is off, and otherwise asked of
the provider, whose nodes may run no DCV server (local: not applicable; fake and aws: not yet)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from corral.config.loader import load_cluster_config_text
from corral.errors import BadRequestError, ProviderError
from corral.providers.base import DcvTarget
from corral.providers.fake import FakeProvider
from corral.providers.local.provider import LocalProvider
from corral.service import ClusterService
from corral.service._access_verbs import dcv_target
from corral.state import StateStore
from support.plans import small_plan

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "demo.yaml"

DCV_HEAD = "  Dcv:\n    Enabled: true\n    Port: 8444\n"
LOGIN = """LoginNodes:
  Pools:
    - Name: login
      InstanceType: c5.large
      Count: 1
      Networking:
        SubnetIds:
          - subnet-0123456789abcdef0
{dcv}"""


def config_text(*, head_dcv: bool = False, login_dcv: bool | None = None) -> str:
    text = EXAMPLE.read_text()
    if head_dcv:
        text = text.replace("HeadNode:\n", "HeadNode:\n" + DCV_HEAD, 1)
    if login_dcv is not None:
        dcv = "      Dcv:\n        Enabled: true\n" if login_dcv else ""
        text += LOGIN.format(dcv=dcv)
    return text


def target(text: str, login_ip: str | None = None) -> DcvTarget:
    return dcv_target("demo", load_cluster_config_text(text).config, login_ip)


def test_the_head_node_must_have_dcv_enabled() -> None:
    with pytest.raises(BadRequestError, match="DCV is not enabled on the head node of cluster demo"):
        target(config_text())
    assert target(config_text(head_dcv=True)) == DcvTarget("HeadNode", None, 8444)


def test_a_login_node_needs_a_pool_with_dcv_enabled() -> None:
    with pytest.raises(BadRequestError, match="not enabled on any login node pool"):
        target(config_text(login_dcv=False), "10.0.0.9")
    assert target(config_text(login_dcv=True), "10.0.0.9") == DcvTarget("LoginNode", "10.0.0.9", 8443)


def test_providers_without_a_dcv_server_say_so(tmp_path: Path) -> None:
    provider = FakeProvider(persist_dir=tmp_path / "fake-provider")
    service = ClusterService(StateStore(tmp_path), lambda _n: provider)
    service.create_planned(small_plan("demo"), provider="fake", config_text=config_text(head_dcv=True))
    service.run_create("demo")
    with pytest.raises(ProviderError, match="fake provider's nodes run no NICE DCV server yet"):
        service.dcv_url("demo")
    local = LocalProvider(state_dir=tmp_path / "local")
    with pytest.raises(ProviderError, match="not available on the local provider") as raised:
        local.dcv_url("demo", DcvTarget("HeadNode", None, 8443))
    assert "corral ssh -n demo" in (raised.value.hint or "")


def test_the_cli_has_pclusters_flags_and_a_clear_error(tmp_path: Path) -> None:
    provider = FakeProvider(persist_dir=tmp_path / "fake-provider")
    service = ClusterService(StateStore(tmp_path), lambda _n: provider)
    service.create_planned(small_plan("demo"), provider="fake", config_text=config_text())
    service.run_create("demo")
    env = {**os.environ, "CORRAL_STATE_DIR": str(tmp_path)}
    corral = [sys.executable, "-m", "corral.cli.main"]
    shown = subprocess.run([*corral, "dcv-connect", "--help"], capture_output=True, text=True, env=env)
    for flag in ("-n, --cluster-name", "--key-path", "--login-node-ip", "--show-url", "-r, --region"):
        assert flag in shown.stdout
    ran = subprocess.run(
        [*corral, "dcv-connect", "-n", "demo", "--show-url"], capture_output=True, text=True, env=env
    )
    assert ran.returncode == 1
    assert "DCV is not enabled on the head node of cluster demo" in ran.stdout + ran.stderr
    assert "Traceback" not in ran.stderr

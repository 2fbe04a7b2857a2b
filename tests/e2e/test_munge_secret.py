"""``MungeKeySecretArn`` on a real local cluster: munged runs with the secret's key (here the key
Corral keeps for the ARN, as no AWS endpoint is set), and Slurm works with it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from corral.config import load_cluster_config_text
from corral.plan import build_plan
from corral.providers.local import LocalProvider, _mungekey

from .conftest import delete_and_check, unique_name

pytestmark = pytest.mark.e2e

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo.yaml"
ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:e2e-munge"


def test_a_cluster_runs_munge_with_the_secrets_key(
    provider: LocalProvider, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for var in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    text = DEMO.read_text().replace(
        "    ScaledownIdletime: 5\n", f"    ScaledownIdletime: 5\n    MungeKeySecretArn: {ARN}\n"
    )
    name = unique_name("mks")
    said: list[str] = []
    plan = build_plan(load_cluster_config_text(text).config, cluster_name=name)
    try:
        provider.create(plan, on_event=lambda _where, what: said.append(what))
        key = _mungekey.kept_key(provider.state_dir, ARN).read_bytes()
        assert provider.layout(name).munge_key.read_bytes() == key
        assert any("munge key Corral keeps for that secret" in line for line in said)
        ran = provider.run_on_head(name, ["srun", "-N1", "-p", "compute", "hostname"], timeout=120)
        assert ran.returncode == 0 and ran.stdout.strip().startswith("compute-"), ran.stderr
        assert os.stat(provider.layout(name).munge_key).st_mode & 0o777 in (0o600, 0o400)
    finally:
        delete_and_check(provider, name)

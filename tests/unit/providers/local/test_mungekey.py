"""``MungeKeySecretArn`` on the local provider: the secret's base64 key (through boto3, moto here),
within pcluster's size bounds; without AWS, one key Corral keeps per ARN, shared by the clusters that
name it."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import boto3
import pytest

from corral.config import load_cluster_config_text
from corral.errors import ProviderError
from corral.plan import build_plan
from corral.providers.local import _mungekey
from support.aws import aws_endpoint

EXAMPLE = Path(__file__).resolve().parents[4] / "examples" / "demo.yaml"


def plan_with(arn: str | None):  # type: ignore[no-untyped-def]
    text = EXAMPLE.read_text()
    if arn:
        text = text.replace(
            "    ScaledownIdletime: 5\n", f"    ScaledownIdletime: 5\n    MungeKeySecretArn: {arn}\n"
        )
    return build_plan(load_cluster_config_text(text).config, cluster_name="mk")


def no_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))


def test_without_the_setting_nothing_is_written(tmp_path: Path) -> None:
    target = tmp_path / "etc" / "munge.key"
    assert _mungekey.write_cluster_key(plan_with(None), target, tmp_path, lambda *_: None) is False
    assert not target.exists()


def test_the_secrets_key_is_the_clusters(tmp_path: Path) -> None:
    key = os.urandom(128)
    with pytest.MonkeyPatch.context() as mp, aws_endpoint(mp):
        sm = boto3.client("secretsmanager", region_name="us-east-1")
        arn = sm.create_secret(Name="mk-good", SecretString=base64.b64encode(key).decode())["ARN"]
        bad = sm.create_secret(Name="mk-not-b64", SecretString="not base64 at all!")["ARN"]
        short = sm.create_secret(Name="mk-short", SecretString=base64.b64encode(b"x" * 8).decode())["ARN"]
        target = tmp_path / "munge.key"
        assert _mungekey.write_cluster_key(plan_with(arn), target, tmp_path, lambda *_: None)
        assert target.read_bytes() == key and target.stat().st_mode & 0o777 == 0o600
        with pytest.raises(ProviderError, match="is not base64"):
            _mungekey.key_for(bad, tmp_path, lambda *_: None)
        with pytest.raises(ProviderError, match="is 64 bits; munge needs 256 to 8192"):
            _mungekey.key_for(short, tmp_path, lambda *_: None)
        with pytest.raises(ProviderError, match="MungeKeySecretArn: cannot read secret"):
            _mungekey.key_for(arn + "-missing", tmp_path, lambda *_: None)


def test_without_aws_one_kept_key_per_arn_is_shared(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    no_aws(monkeypatch, tmp_path)
    said: list[str] = []
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:team-munge"
    first = _mungekey.key_for(arn, tmp_path, lambda _w, what: said.append(what))
    again = _mungekey.key_for(arn, tmp_path, lambda *_: None)
    other = _mungekey.key_for(arn + "-2", tmp_path, lambda *_: None)
    assert first == again != other and len(first) == 128
    assert said and said[0].startswith("INFO: no AWS endpoint or credentials")
    assert _mungekey.kept_key(tmp_path, arn).stat().st_mode & 0o777 == 0o600

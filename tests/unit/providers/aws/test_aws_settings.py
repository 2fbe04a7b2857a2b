"""The AWS provider's settings record: parsed once from the environment, carried by its clients."""

from __future__ import annotations

from pathlib import Path

import pytest

from corral.errors import ProviderError
from corral.providers.aws._settings import CLUSTER_FILE, DEFAULT_MAX_ATTEMPTS, DEFAULT_POLL_S, AwsSettings
from corral.providers.aws.provider import AwsProvider


def test_defaults_when_nothing_is_set() -> None:
    settings = AwsSettings.from_env({})
    assert settings == AwsSettings()
    assert (settings.max_attempts, settings.poll_s) == (DEFAULT_MAX_ATTEMPTS, DEFAULT_POLL_S)
    assert settings.cluster_config == CLUSTER_FILE
    assert settings.s3_endpoint_url() is None and settings.emulator_refuses_ssm() is None


def test_every_knob_is_parsed() -> None:
    settings = AwsSettings.from_env(
        {
            "AWS_MAX_ATTEMPTS": "3",
            "AWS_ENDPOINT_URL": "http://127.0.0.1:5000",
            "CORRAL_S3_ENDPOINT_URL": "http://127.0.0.1:6000",
            "CORRAL_AWS_SSM": "1",
            "CORRAL_AWS_POLL_S": "0.2",
            "CORRAL_CLUSTER_CONFIG": "/tmp/ctx.json",
        }
    )
    assert settings.max_attempts == 3 and settings.poll_s == 0.2
    assert settings.cluster_config == Path("/tmp/ctx.json")
    # boto3 applies AWS_ENDPOINT_URL itself; the old S3 variable only counts alone
    assert settings.s3_endpoint_url() is None
    assert settings.emulator_refuses_ssm() is None  # the endpoint says it runs SSM commands
    legacy = AwsSettings.from_env({"CORRAL_S3_ENDPOINT_URL": "http://127.0.0.1:6000"})
    assert legacy.s3_endpoint_url() == "http://127.0.0.1:6000"
    emulator = AwsSettings.from_env({"AWS_ENDPOINT_URL": "http://127.0.0.1:5000"})
    assert emulator.emulator_refuses_ssm() == "http://127.0.0.1:5000"


@pytest.mark.parametrize("value", ["lots", "-2", "2.5"])
def test_a_malformed_retry_count_means_the_default(value: str) -> None:
    assert AwsSettings.from_env({"AWS_MAX_ATTEMPTS": value}).max_attempts == DEFAULT_MAX_ATTEMPTS


def test_polling_has_a_floor_and_a_malformed_interval_means_the_default() -> None:
    assert AwsSettings.from_env({"CORRAL_AWS_POLL_S": "0.001"}).poll_s == 0.05
    assert AwsSettings.from_env({"CORRAL_AWS_POLL_S": "soon"}).poll_s == DEFAULT_POLL_S


def test_the_provider_reads_the_environment_once_and_its_clients_carry_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    provider = AwsProvider(tmp_path)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "9")  # too late for this provider
    clients = provider.clients("us-east-1")
    assert clients.settings is provider.settings and clients.settings.max_attempts == 2
    assert clients.s3.meta.config.retries["total_max_attempts"] == 2
    assert AwsProvider(tmp_path).settings.max_attempts == 9  # a new provider reads it anew


def test_an_emulator_refuses_head_commands_unless_it_runs_them(tmp_path: Path) -> None:
    context = tmp_path / "cluster.json"
    context.write_text('{"cluster_name": "awsset", "node_role": "Compute"}')
    emulator = AwsSettings(endpoint_url="http://127.0.0.1:9", cluster_config=context)
    with pytest.raises(ProviderError, match=r"127\.0\.0\.1:9, an emulator"):
        AwsProvider(tmp_path, emulator).run_on_head("awsset", ["true"])
    context.write_text('{"cluster_name": "awsset", "node_role": "HeadNode"}')
    here = AwsProvider(tmp_path, emulator).run_on_head("awsset", ["sh", "-c", "echo here"])
    assert (here.returncode, here.stdout) == (0, "here\n")

"""get_provider: lazy, by name, with clear errors for what is not there."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from corral.errors import BadRequestError
from corral.providers import get_provider
from corral.providers.fake import FakeProvider


def test_fake_persists_under_the_state_dir(tmp_path: Path) -> None:
    provider = get_provider("fake", tmp_path)
    assert isinstance(provider, FakeProvider)
    assert provider.name == "fake"


def test_local_is_the_local_provider(tmp_path: Path) -> None:
    provider = get_provider("local", tmp_path)
    assert type(provider).__name__ == "LocalProvider"
    assert provider.name == "local"


def test_aws_is_the_aws_provider(tmp_path: Path) -> None:
    provider = get_provider("aws", tmp_path)
    assert type(provider).__name__ == "AwsProvider"
    assert provider.name == "aws"


def test_unknown_provider(tmp_path: Path) -> None:
    with pytest.raises(BadRequestError, match="unknown provider"):
        get_provider("gcp", tmp_path)


def test_importing_the_factory_imports_no_provider() -> None:
    code = (
        "import sys, corral.providers\n"
        "print(sorted(m for m in sys.modules if m.startswith('corral.providers.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "local" not in out and "fake" not in out and "aws" not in out


def test_failures_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    from corral.providers.fake import FakeFailures

    monkeypatch.setenv("CORRAL_FAKE_FAIL", "create, delete")
    monkeypatch.setenv("CORRAL_FAKE_DELAY", "1.5")
    failures = FakeFailures.from_env()
    assert failures == FakeFailures(create=True, delete=True, create_delay_s=1.5)

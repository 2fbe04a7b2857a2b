"""check_prerequisites: one clear message and the fix for each missing prerequisite."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from corral.errors import PrerequisiteError
from corral.providers.local import LocalProvider, _proc, provider


def test_not_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(PrerequisiteError, match="needs root") as info:
        LocalProvider(tmp_path).check_prerequisites()
    assert "sudo" in info.value.hint


def test_missing_packages(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(_proc, "SAFE_PATH", str(tmp_path))  # a PATH without Slurm or munge
    with pytest.raises(
        PrerequisiteError, match="missing programs: munged, slurmctld, slurmd, scontrol"
    ) as info:
        LocalProvider(tmp_path).check_prerequisites()
    assert info.value.hint == provider.INSTALL_HINT
    assert "scripts/setup.sh" in info.value.hint and "openssh-server" in info.value.hint
    assert "sshd" in info.value.message and "socat" in info.value.message


@pytest.mark.skipif(os.geteuid() != 0, reason="the namespace probe needs root")
def test_namespaces_not_permitted(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    for name in provider.REQUIRED_PROGRAMS:
        target = fake_bin / name
        target.write_text("#!/bin/sh\necho 'unshare: unshare failed: Operation not permitted' >&2\nexit 1\n")
        target.chmod(0o755)
    monkeypatch.setattr(_proc, "SAFE_PATH", str(fake_bin))
    monkeypatch.setenv("PATH", str(fake_bin))
    with pytest.raises(PrerequisiteError, match="namespaces are not permitted") as info:
        LocalProvider(tmp_path).check_prerequisites()
    assert "--privileged" in info.value.hint

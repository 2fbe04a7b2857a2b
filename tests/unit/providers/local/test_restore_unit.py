"""The boot-time unit scripts/setup.sh installs where systemd runs (issue #19, point 3): the file is
valid for systemd (``systemd-analyze verify``, offline: PID 1 need not be systemd), and the command
it runs, ``corral restore-clusters``, works on a state dir with nothing to restore. Restoring real
clusters through that command is tested end to end (tests/e2e/test_reboot.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[4]
TEMPLATE = ROOT / "scripts" / "corral-restore.service.in"
CORRAL = str(Path(sys.executable).with_name("corral"))


def _render(directory: Path, corral: str) -> Path:
    """What setup.sh's sed writes to /etc/systemd/system/corral-restore.service."""
    text = TEMPLATE.read_text().replace("@CORRAL@", corral).replace("@DOCS@", str(ROOT / "docs"))
    unit = directory / "corral-restore.service"
    unit.write_text(text)
    return unit


def _verify(unit: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60, check=False
    )


needs_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed (package systemd)"
)


@needs_analyze
def test_the_unit_is_valid_for_systemd(tmp_path: Path) -> None:
    result = _verify(_render(tmp_path, CORRAL))
    # warnings (an unknown key, say) leave the exit status 0: none may appear either
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr


@needs_analyze
def test_verify_would_catch_a_missing_program(tmp_path: Path) -> None:
    result = _verify(_render(tmp_path, str(tmp_path / "no-corral")))
    assert result.returncode != 0 and "not executable" in result.stderr


def test_the_units_command_restores_nothing_on_an_empty_state_dir(tmp_path: Path) -> None:
    text = _render(tmp_path, CORRAL).read_text()
    exec_start = next(line for line in text.splitlines() if line.startswith("ExecStart="))
    argv = exec_start.removeprefix("ExecStart=").split()
    assert argv == [CORRAL, "restore-clusters"]
    env = {**os.environ, "CORRAL_STATE_DIR": str(tmp_path / "state")}
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"restoredClusters": []}

"""The suite's own rule: under CI=true a skipped test fails the run (tests/conftest.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CONFTEST = Path(__file__).resolve().parents[2] / "conftest.py"


def run_suite(tmp_path: Path, *, ci: bool) -> subprocess.CompletedProcess[str]:
    shutil.copy(CONFTEST, tmp_path / "conftest.py")
    (tmp_path / "test_sample.py").write_text(
        "import pytest\n\n"
        "def test_runs():\n    assert True\n\n"
        "@pytest.mark.skipif(True, reason='the corpus is absent')\n"
        "def test_needs_the_corpus():\n    assert True\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER")}
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_skip_fails_a_ci_run_and_is_named(tmp_path: Path) -> None:
    result = run_suite(tmp_path, ci=True)
    assert result.returncode == pytest.ExitCode.TESTS_FAILED, result.stdout + result.stderr
    assert "1 skipped under CI=true" in result.stdout
    assert "test_sample.py::test_needs_the_corpus: Skipped: the corpus is absent" in result.stdout


def test_a_skip_outside_ci_passes_with_its_reason(tmp_path: Path) -> None:
    result = run_suite(tmp_path, ci=False)
    assert result.returncode == pytest.ExitCode.OK, result.stdout + result.stderr
    assert "1 passed, 1 skipped" in result.stdout
    assert "CI runs every test" not in result.stdout

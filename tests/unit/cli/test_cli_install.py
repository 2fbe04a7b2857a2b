"""Installation a new user can trust: ranges in pyproject.toml, pins in requirements.lock that satisfy
them, troposphere installed by a plain ``pip install`` (``--provider aws`` works), and a missing
extra named in one line instead of "Unexpected error: ModuleNotFoundError"."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

from .test_cli import EXAMPLE

ROOT = Path(__file__).resolve().parents[3]


def _project() -> dict[str, object]:
    return dict(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"])


def _lock() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    return pins


def _requirements() -> list[Requirement]:
    project = _project()
    listed = list(project["dependencies"])  # type: ignore[call-overload]
    for extra in dict(project["optional-dependencies"]).values():  # type: ignore[call-overload]
        listed.extend(extra)
    return [Requirement(r) for r in listed]


def test_dependencies_are_ranges_and_the_lock_pins_versions_inside_them() -> None:
    pins = _lock()
    for req in _requirements():
        assert not any(s.operator == "==" for s in req.specifier), f"{req} is an exact pin: use a range"
        name = req.name.lower().replace("_", "-")
        assert name in pins, f"{req.name} is not pinned in requirements.lock"
        assert req.specifier.contains(pins[name], prereleases=True), f"lock pins {name}=={pins[name]}"


def test_a_plain_install_includes_what_provider_aws_needs() -> None:
    core = {Requirement(r).name for r in _project()["dependencies"]}  # type: ignore[attr-defined]
    assert {"boto3", "troposphere"} <= core


def test_a_missing_extra_is_one_line_naming_it(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['troposphere'] = None; from corral.cli.main import main; main(sys.argv[1:])"
    )
    args = ["create-cluster", "-n", "demo", "-c", str(EXAMPLE), "--dryrun", "true", "--provider", "aws"]
    result = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={"CORRAL_STATE_DIR": str(tmp_path), "PATH": "/usr/bin:/bin", "AWS_EC2_METADATA_DISABLED": "true"},
    )
    assert result.returncode == 1
    message = json.loads(result.stdout)["message"]
    assert message == "this needs Corral's 'aws' extra (no module troposphere): pip install 'corral[aws]'"
    assert result.stderr.count("\n") == 1 and "Unexpected" not in result.stderr

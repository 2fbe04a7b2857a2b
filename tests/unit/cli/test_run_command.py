"""``corral run``'s argument handling and reports, without a cluster (the end-to-end tests run it)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

from corral.cli._run import _summary, _write_junit, parse_duration
from corral.errors import BadRequestError
from corral.service._run import JobRequest, JobResult, RunReport, Stage


def corral(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "corral.cli.main", *args], capture_output=True, text=True, env=env, timeout=60
    )


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90), ("90s", 90), ("15m", 900), ("2h", 7200), ("1.5h", 5400)]
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text, "--timeout") == seconds


@pytest.mark.parametrize("text", ["", "0", "-5", "10x", "ten"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(BadRequestError, match="--timeout"):
        parse_duration(text, "--timeout")


def test_a_missing_job_script_is_refused_before_anything_is_created(tmp_path: Path) -> None:
    with pytest.raises(BadRequestError, match="not found"):
        JobRequest.from_file(str(tmp_path / "nope.sbatch"))
    with pytest.raises(BadRequestError, match="a directory"):
        JobRequest.from_file(str(tmp_path))
    (tmp_path / "empty.sh").write_text("\n")
    with pytest.raises(BadRequestError, match="empty"):
        JobRequest.from_file(str(tmp_path / "empty.sh"))


def test_a_script_without_shebang_gets_one(tmp_path: Path) -> None:
    (tmp_path / "job.sh").write_text("echo hi\n")
    assert JobRequest.from_file(str(tmp_path / "job.sh")).script.startswith("#!/bin/bash\n")


def test_stage_needs_an_existing_source_and_an_absolute_destination(tmp_path: Path) -> None:
    assert Stage.parse(f"{tmp_path}:/home/in") == Stage(tmp_path, "/home/in")
    with pytest.raises(BadRequestError, match="LOCAL_PATH"):
        Stage.parse(f"{tmp_path}:relative")
    with pytest.raises(BadRequestError, match="does not exist"):
        Stage.parse(f"{tmp_path}/nope:/home/in")


def report() -> RunReport:
    ok = JobResult("ok.sbatch", "1", "COMPLETED", 0, nodes="q-st-c-1", submitted=1.0, started=2.0, ended=4.0)
    bad = JobResult(
        "wrap-1", "2", "FAILED", 3, reason="NonZeroExitCode", submitted=1.0, started=2.0, ended=3.0
    )
    return RunReport("run-x", "local", jobs=[ok, bad], phases={"create": 2.0, "run": 3.0}, exit_code=3)


def test_junit_has_a_case_per_job_and_a_failure_for_the_failed_one(tmp_path: Path) -> None:
    path = tmp_path / "report.xml"
    _write_junit(report(), {"wrap-1": "boom <&>\n"}, str(path))
    suite = ElementTree.parse(path).getroot()
    assert suite.get("tests") == "2" and suite.get("failures") == "1"
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert cases["ok.sbatch"].find("failure") is None
    failure = cases["wrap-1"].find("failure")
    assert failure is not None and "exit code 3" in (failure.get("message") or "")
    assert cases["wrap-1"].findtext("system-out") == "boom <&>\n"


def test_summary_and_json_name_every_job() -> None:
    text = _summary(report())
    assert "ok.sbatch" in text and "wrap-1" in text and "exit 3" in text
    doc = report().to_json()
    assert [j["exitCode"] for j in doc["jobs"]] == [0, 3]  # type: ignore[index]
    assert doc["jobs"][0]["queuedSeconds"] == 1.0  # type: ignore[index]


def test_the_cli_refuses_bad_input_with_pcluster_json_and_creates_nothing(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "CORRAL_STATE_DIR": str(tmp_path / "state")}
    config = tmp_path / "c.yaml"
    config.write_text("Image: {Os: alinux2}\n")  # no HeadNode, no Scheduling
    missing = corral("run", "-c", str(config), str(tmp_path / "nope.sbatch"), env=env)
    assert missing.returncode != 0 and "not found" in json.loads(missing.stdout)["message"]
    nojob = corral("run", "-c", str(config), env=env)
    assert nojob.returncode != 0 and "no job" in json.loads(nojob.stdout)["message"]
    ttl = corral("run", "-c", str(config), "--timeout", "10m", "--ttl", "5m", "--wrap", "true", env=env)
    assert ttl.returncode != 0 and "--ttl" in json.loads(ttl.stdout)["message"]
    invalid = corral("run", "-c", str(config), "--wrap", "true", "--provider", "fake", env=env)
    assert invalid.returncode != 0
    assert json.loads(invalid.stdout)["message"] == "Invalid cluster configuration."
    listed = corral("list-clusters", env=env)
    assert json.loads(listed.stdout) == {"clusters": []}

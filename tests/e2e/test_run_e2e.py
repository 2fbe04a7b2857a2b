"""``corral run`` end to end: real local clusters created, used and deleted by one command, whatever
happens to the jobs or to the command itself."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path
from xml.etree import ElementTree

import pytest

from e2e.conftest import Corral, leftovers, unique_name, wait_until

pytestmark = pytest.mark.e2e

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo.yaml"


def corral_run(corral: Corral, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return corral("run", "-c", str(DEMO), *args, cwd=cwd, check=False, timeout=300)


def assert_gone(corral: Corral, name: str) -> None:
    corral.assert_gone(name)
    assert corral.json("list-clusters") == {"clusters": []}


def test_a_succeeding_job_exits_0_with_its_outputs_collected_and_the_cluster_gone(
    own_corral: Corral, tmp_path: Path
) -> None:
    name = unique_name("rok")
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    (inputs / "numbers.txt").write_text("1\n2\n3\n")
    job = tmp_path / "sum.sbatch"
    job.write_text(
        "#!/bin/bash\n#SBATCH --nodes=1\n"
        "awk '{s+=$1} END {print \"sum\", s}' /shared/in/numbers.txt | tee result.txt\n"
        "hostname > where.txt\n"
    )
    done = corral_run(
        own_corral, "-n", name, str(job), "--stage", f"{inputs}:/shared/in",
        "--collect", "*.txt", "--to", str(tmp_path / "out"), "--junit", str(tmp_path / "junit.xml"),
        "--json", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["exitCode"] == 0 and report["clusterDeleted"] is True
    assert [j["state"] for j in report["jobs"]] == ["COMPLETED"]
    assert set(report["phases"]) == {"create", "stage", "run", "collect", "delete"}
    assert (tmp_path / "out" / "result.txt").read_text() == "sum 6\n"
    assert (tmp_path / "out" / "where.txt").read_text().startswith("compute-")
    assert "sum 6" in done.stderr  # the job's output streamed live (stderr with --json)
    suite = ElementTree.parse(tmp_path / "junit.xml").getroot()
    assert suite.get("tests") == "1" and suite.get("failures") == "0"
    assert_gone(own_corral, name)


def test_a_failing_job_gives_its_exit_code_and_its_logs(own_corral: Corral, tmp_path: Path) -> None:
    name = unique_name("rfail")
    done = corral_run(
        own_corral, "-n", name, "--wrap", "echo fine", "--wrap", "echo oops >&2; exit 7",
        "--to", str(tmp_path / "out"), cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 7, done.stdout + done.stderr
    assert "FAILED" in done.stdout and "wrap-2" in done.stdout
    logs = list((tmp_path / "out" / "jobs").glob("wrap-2-*.out"))
    assert len(logs) == 1 and "oops" in logs[0].read_text()
    assert list((tmp_path / "out").glob(f"{name}-logs-*.tar.gz"))  # the cluster's logs too
    assert_gone(own_corral, name)


def test_a_job_over_the_timeout_is_killed_and_the_cluster_deleted(own_corral: Corral, tmp_path: Path) -> None:
    name = unique_name("rtime")
    done = corral_run(own_corral, "-n", name, "--timeout", "3", "--wrap", "sleep 600", "--json", cwd=tmp_path)
    assert done.returncode == 124, done.stderr
    report = json.loads(done.stdout)
    assert report["timedOut"] is True and report["jobs"][0]["state"] == "CANCELLED"
    assert report["clusterDeleted"] is True
    assert_gone(own_corral, name)


def test_a_job_that_can_never_start_is_reported_with_slurms_reason(
    own_corral: Corral, tmp_path: Path
) -> None:
    name = unique_name("rheld")
    job = tmp_path / "held.sbatch"
    job.write_text("#!/bin/bash\n#SBATCH --hold\ntrue\n")
    done = corral_run(own_corral, "-n", name, str(job), "--timeout", "120", cwd=tmp_path)
    assert done.returncode != 0
    assert "JobHeldUser" in done.stdout and "can never start" in done.stdout
    assert_gone(own_corral, name)


def test_a_bad_sbatch_line_shows_slurms_own_error(own_corral: Corral, tmp_path: Path) -> None:
    name = unique_name("rbad")
    job = tmp_path / "bad.sbatch"
    job.write_text("#!/bin/bash\n#SBATCH --nodes=lots\ntrue\n")
    done = corral_run(own_corral, "-n", name, str(job), cwd=tmp_path)
    assert done.returncode != 0
    assert "sbatch refused job bad.sbatch" in done.stdout and "sbatch: error" in done.stdout
    assert_gone(own_corral, name)


def start_and_wait_running(corral: Corral, tmp_path: Path, name: str, *extra: str) -> subprocess.Popen[str]:
    stderr = tmp_path / "stderr"
    argv = [corral.program, "run", "-c", str(DEMO), "-n", name, *extra]
    process = subprocess.Popen(
        [*argv, "--wrap", "sleep 600"],
        stdout=subprocess.DEVNULL,
        stderr=stderr.open("w"),
        text=True,
        env=corral.env,
        cwd=tmp_path,
    )
    wait_until(lambda: "RUNNING" in stderr.read_text() or process.poll() is not None, 120, "the job to run")
    assert process.poll() is None, stderr.read_text()
    return process


def test_sigterm_cancels_the_jobs_and_deletes_the_cluster(own_corral: Corral, tmp_path: Path) -> None:
    name = unique_name("rterm")
    process = start_and_wait_running(own_corral, tmp_path, name)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=120) == 128 + signal.SIGTERM
    assert "interrupted by SIGTERM" in (tmp_path / "stderr").read_text()
    assert_gone(own_corral, name)


def test_kill_9_of_corral_run_leaves_the_cluster_to_its_time_to_live(
    own_corral: Corral, tmp_path: Path
) -> None:
    name = unique_name("rkill")
    ttl = 25
    started = time.monotonic()
    process = start_and_wait_running(own_corral, tmp_path, name, "--ttl", str(ttl))
    process.kill()
    process.wait()
    provider = own_corral.provider
    assert provider.exists(name)  # nobody deleted it: the command died
    # the head's reconciler (a pass every 2 s) notices the time-to-live has passed and deletes it
    wait_until(lambda: not provider.exists(name), ttl + 90, "the expired cluster to delete itself")
    assert time.monotonic() - started >= ttl
    wait_until(lambda: leftovers(provider, name) == [], 30, "nothing of the cluster left")
    assert_gone(own_corral, name)

"""The corral CLI: pcluster's verbs, flags and JSON shapes; errors without tracebacks; dry runs."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from corral.cli import main as cli_main
from corral.providers.fake import FakeProvider
from corral.service import ClusterService
from corral.state import StateStore
from support.corpus import CLUSTER_FILES, CORPUS, IMAGE_FILES, REJECTIONS, needs_corpus, render_to
from support.plans import small_plan

from .openapi import validate

CLUSTER_CONFIGS = CLUSTER_FILES
IMAGE_CONFIGS = IMAGE_FILES
CORRAL = [sys.executable, "-m", "corral.cli.main"]
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]

BAD_CONFIG = """\
Image:
  Os: alinux2023
HeadNode:
  InstanceType: t3.medium
  Networking:
    SubnetId: subnet-12345678
Scheduling:
  Scheduler: slurm
  SlurmQueues:
    - Name: q1
      ComputeResources:
        - Name: cr1
          InstanceType: c5.xlarge
          MinCount: 5
          MaxCount: 2
      Networking:
        SubnetIds: [subnet-12345678]
"""


def invoke(args: list[str], env: dict[str, str] | None = None) -> Result:
    """Run the CLI in-process through ``main`` (argv rewriting and error reporting included)."""
    runner = CliRunner()

    def entry() -> None:
        cli_main.main(args)

    import click

    command = click.Command("corral", callback=entry)
    return runner.invoke(command, [], env=env, catch_exceptions=False)


def run(args: list[str], state: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **env}
    if state is not None:
        full_env["CORRAL_STATE_DIR"] = str(state)
    return subprocess.run([*CORRAL, *args], capture_output=True, text=True, env=full_env, timeout=120)


def populate(state: Path, name: str = "demo") -> None:
    """A complete fake cluster in ``state`` (what `create-cluster --provider fake --wait` leaves)."""
    provider = FakeProvider(persist_dir=state / "fake-provider")
    service = ClusterService(StateStore(state), lambda _n: provider)
    service.create_planned(small_plan(name), provider="fake", config_text="Image: {}\n")
    service.run_create(name)


# -- help and versions ---------------------------------------------------------------------------


def test_help_lists_pcluster_verbs() -> None:
    result = invoke(["--help"])
    assert result.exit_code == 0
    for verb in (
        "create-cluster",
        "delete-cluster",
        "describe-cluster",
        "list-clusters",
        "describe-cluster-instances",
        "delete-cluster-instances",
        "describe-compute-fleet",
        "update-compute-fleet",
        "get-cluster-stack-events",
        "ssh",
        "build-image",
        "version",
    ):
        assert verb in result.output
    assert "_worker" not in result.output


def test_create_cluster_help_has_pcluster_flags() -> None:
    out = invoke(["create-cluster", "--help"]).output
    for flag in (
        "-n, --cluster-name",
        "-c, --cluster-configuration",
        "--dryrun",
        "--rollback-on-failure",
        "--suppress-validators",
        "--validation-failure-level",
        "-r, --region",
        "--debug",
        "--query",
        "--provider",
        "--wait",
        "--output",
    ):
        assert flag in out, flag


def test_version_command_prints_pcluster_shape() -> None:
    result = invoke(["version"])
    doc = json.loads(result.output)
    assert doc["version"] == "3.16.1"
    assert doc["corralVersion"]


def test_dash_dash_version_imports_nothing_heavy() -> None:
    """``corral --version`` (and every command's start) stays fast because the CLI's entry module
    imports only click and Corral's own light modules: no pydantic, YAML, AWS SDK, rich or web
    framework. (Its start-up time is measured in bench/, not asserted on a loaded machine.)"""
    exe = Path(sys.executable).parent / "corral"
    argv = [str(exe)] if exe.exists() else CORRAL
    out = subprocess.run([*argv, "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("corral ")
    heavy = ("pydantic", "yaml", "boto3", "botocore", "rich", "troposphere", "fastapi", "uvicorn", "httpx")
    probe = (
        "import sys, corral.cli.main as m; "
        f"print(sorted({{n.split('.')[0] for n in sys.modules}} & set({heavy!r})))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]", loaded.stdout


def test_multi_value_flags_are_expanded() -> None:
    argv = [
        "create-cluster",
        "--suppress-validators",
        "type:A",
        "type:B",
        "-n",
        "x",
        "--",
        "--suppress-validators",
    ]
    assert cli_main.expand_multi_values(argv) == [
        "create-cluster",
        "--suppress-validators",
        "type:A",
        "--suppress-validators",
        "type:B",
        "-n",
        "x",
        "--",
        "--suppress-validators",
    ]


# -- dry runs ------------------------------------------------------------------------------------


@needs_corpus
@pytest.mark.parametrize("config", CLUSTER_CONFIGS, ids=lambda p: p.name[:60])
def test_every_corpus_cluster_config_dry_runs_as_pcluster_decides(config: Path) -> None:
    result = invoke(["create-cluster", "--dryrun", "true", "-n", "demo", "-c", str(config)])
    doc = json.loads(result.stdout)
    rejected_by = REJECTIONS.get(config.name)
    if rejected_by is None:
        assert result.exit_code == 0, result.output
        validate("DryrunOperationExceptionResponseContent", doc)
        assert doc["message"] == "Request would have succeeded, but DryRun flag is set."
    else:  # pcluster itself rejects the file (tests/support/corpus_rejections.json)
        assert result.exit_code == 1, result.output
        validate("CreateClusterBadRequestExceptionResponseContent", doc)
        errors = {e["type"] for e in doc["configurationValidationErrors"] if e["level"] == "ERROR"}
        assert errors == rejected_by


@needs_corpus
@pytest.mark.parametrize("provider", ["local", "aws"])
def test_dry_run_rejects_efa_on_a_type_without_efa_on_every_provider(provider: str) -> None:
    # An EFA-enabled compute resource whose instance type has no EFA: pcluster refuses it, so a local
    # cluster must not accept what AWS would then refuse.
    config = CORPUS / "cluster-configs" / "integ__efa__test_efa__test_efa__pcluster.config.yaml"
    result = invoke(
        ["create-cluster", "--dryrun", "true", "-n", "demo", "-c", str(config), "--provider", provider]
    )
    assert result.exit_code == 1, result.output
    errors = json.loads(result.stdout)["configurationValidationErrors"]
    assert {e["type"] for e in errors if e["level"] == "ERROR"} == {"InstancesEFAValidator"}
    assert not any("emulates" in e["message"] for e in errors)


@needs_corpus
@pytest.mark.parametrize("config", IMAGE_CONFIGS, ids=lambda p: p.name[:60])
def test_image_corpus_dry_runs(config: Path, tmp_path: Path) -> None:
    rendered = render_to(config, tmp_path)
    result = invoke(["build-image", "--dryrun", "true", "-i", "img-1", "-c", str(rendered)])
    doc = json.loads(result.stdout)
    if result.exit_code == 0:
        validate("DryrunOperationExceptionResponseContent", doc)
    else:
        # only the two files that carry deliberate mistakes may be refused
        assert "test_invalid_config" in config.name, result.output
        validate("BuildImageBadRequestExceptionResponseContent", doc)
        assert doc["configurationValidationErrors"]


@needs_corpus
def test_unrendered_image_template_is_refused_with_locations(tmp_path: Path) -> None:
    result = invoke(["build-image", "--dryrun", "true", "-i", "img-1", "-c", str(IMAGE_CONFIGS[0])])
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    validate("BuildImageBadRequestExceptionResponseContent", doc)
    assert doc["message"] == "Invalid image configuration."
    assert f"{IMAGE_CONFIGS[0]}:" in result.stderr


@needs_corpus
def test_build_image_of_an_unknown_parent_is_refused_before_anything_is_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CORRAL_STATE_DIR", str(tmp_path / "state"))
    config = tmp_path / "image.yaml"
    config.write_text("Build:\n  InstanceType: c5.xlarge\n  ParentImage: ami-0123456789abcdef0\n")
    result = invoke(["build-image", "-i", "img-1", "-c", str(config)])
    assert result.exit_code == 1
    message = json.loads(result.stdout)["message"]
    assert "Build/ParentImage ami-0123456789abcdef0 cannot be used: no local image has the id" in message
    assert not (tmp_path / "state" / "images" / "img-1").exists()


def test_bad_config_gives_pcluster_bad_request_and_located_lines(tmp_path: Path) -> None:
    config = tmp_path / "cluster.yaml"
    config.write_text(BAD_CONFIG)
    result = run(["create-cluster", "--dryrun", "true", "-n", "demo", "-c", str(config)], tmp_path / "state")
    assert result.returncode != 0
    doc = json.loads(result.stdout)
    validate("CreateClusterBadRequestExceptionResponseContent", doc)
    assert doc["message"] == "Invalid cluster configuration."
    assert any(e["level"] == "ERROR" for e in doc["configurationValidationErrors"])
    located = [line for line in result.stderr.splitlines() if f"{config}:" in line]
    assert located and any("MinCount" in line or "MaxCount" in line for line in located), result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "state").exists()  # a dry run writes nothing


@needs_corpus
def test_suppressing_and_failure_level(tmp_path: Path) -> None:
    config = tmp_path / "cluster.yaml"
    config.write_text(BAD_CONFIG)
    first = json.loads(invoke(["create-cluster", "--dryrun", "true", "-n", "demo", "-c", str(config)]).stdout)
    codes = sorted({e["type"] for e in first["configurationValidationErrors"] if e["level"] == "ERROR"})
    args = ["create-cluster", "--dryrun", "true", "-n", "demo", "-c", str(config), "--suppress-validators"]
    result = invoke([*args, *(f"type:{c}" for c in codes)])
    assert result.exit_code == 0, result.output
    strict = invoke(["create-cluster", "--dryrun", "true", "-n", "demo", "-c", str(CLUSTER_CONFIGS[0])])
    assert strict.exit_code == 0


@needs_corpus
def test_dry_run_needs_no_root_and_no_state(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to drop to nobody")
    import tempfile

    public = Path(tempfile.mkdtemp(prefix="corral-dryrun-", dir="/tmp"))
    public.chmod(0o755)
    config = public / "cluster.yaml"
    config.write_text(Path(CLUSTER_CONFIGS[0]).read_text())
    config.chmod(0o644)
    exe = Path(sys.executable).parent / "corral"
    result = subprocess.run(
        [*NOBODY, str(exe), "create-cluster", "--dryrun", "true", "-n", "demo", "-c", str(config)],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "CORRAL_STATE_DIR": "/nonexistent/state"},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["message"].startswith("Request would have succeeded")
    config.chmod(0o600)  # unreadable for nobody: a clean error, not a crash
    denied = subprocess.run(
        [*NOBODY, str(exe), "create-cluster", "--dryrun", "true", "-n", "demo", "-c", str(config)],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"},
        timeout=60,
    )
    assert denied.returncode == 1
    assert "cannot read" in json.loads(denied.stdout)["message"]
    assert "unexpected" not in denied.stderr


# -- errors --------------------------------------------------------------------------------------


def test_bad_flag_value_uses_clicks_try_help() -> None:
    result = run(["update-compute-fleet", "-n", "demo", "--status", "PAUSED"])
    assert "Try 'corral update-compute-fleet --help'" in result.stderr
    assert result.returncode == 2
    assert "PAUSED" in result.stderr


def test_bad_name_is_a_bad_request() -> None:
    result = invoke(["create-cluster", "--dryrun", "true", "-n", "9lives", "-c", str(EXAMPLE)])
    assert result.exit_code == 1
    validate("BadRequestExceptionResponseContent", json.loads(result.stdout))


def test_missing_config_file() -> None:
    result = invoke(["create-cluster", "--dryrun", "true", "-n", "demo", "-c", "/nonexistent.yaml"])
    assert result.exit_code == 1
    assert "File not found" in json.loads(result.stdout)["message"]


def test_unknown_cluster_is_not_found_with_did_you_mean(tmp_path: Path) -> None:
    populate(tmp_path, "production")
    result = run(["describe-cluster", "-n", "prodution"], tmp_path)
    assert result.returncode == 1
    doc = json.loads(result.stdout)
    validate("NotFoundExceptionResponseContent", doc)
    assert doc["message"] == "Cluster 'prodution' does not exist."
    assert "did you mean 'production'?" in result.stderr
    assert "Traceback" not in result.stderr


def test_unexpected_error_is_short_and_points_at_a_log(monkeypatch: pytest.MonkeyPatch) -> None:
    from corral.cli import _commands

    def boom() -> None:
        raise RuntimeError("kaboom")

    monkeypatch.setitem(_commands.COMMANDS, "version", boom)
    result = invoke(["version"])
    assert result.exit_code == 1
    assert "Traceback" not in result.stderr
    assert "kaboom" in result.stderr
    log = result.stderr.split("the traceback is in ")[1].split(";")[0]
    assert "RuntimeError: kaboom" in Path(log).read_text()
    debug = invoke(["version", "--debug"])
    assert "Traceback" in debug.stderr


def test_aws_provider_without_credentials_says_how_to_give_them(tmp_path: Path) -> None:
    result = run(
        ["delete-cluster-instances", "-n", "xy", "--force", "true", "--provider", "aws"],
        tmp_path,
        AWS_ACCESS_KEY_ID="",
        AWS_SECRET_ACCESS_KEY="",
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    assert result.returncode == 1
    assert "credentials" in json.loads(result.stdout)["message"]
    assert "AWS_PROFILE" in result.stderr


# -- the read verbs on a fake cluster, shapes checked against openapi.yaml -----------------------


def _json(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def test_describe_list_instances_events_fleet_shapes(tmp_path: Path) -> None:
    populate(tmp_path)
    desc = _json(run(["describe-cluster", "-n", "demo"], tmp_path))
    validate("DescribeClusterResponseContent", desc)
    assert desc["clusterStatus"] == "CREATE_COMPLETE"
    listed = _json(run(["list-clusters"], tmp_path))
    validate("ListClustersResponseContent", listed)
    assert [c["clusterName"] for c in listed["clusters"]] == ["demo"]
    filtered = _json(run(["list-clusters", "--cluster-status", "CREATE_FAILED", "DELETE_FAILED"], tmp_path))
    assert filtered == {"clusters": []}
    instances = _json(run(["describe-cluster-instances", "-n", "demo"], tmp_path))
    validate("DescribeClusterInstancesResponseContent", instances)
    assert {i["nodeType"] for i in instances["instances"]} == {"HeadNode", "ComputeNode"}
    heads = _json(run(["describe-cluster-instances", "-n", "demo", "--node-type", "HeadNode"], tmp_path))
    assert len(heads["instances"]) == 1
    events = _json(run(["get-cluster-stack-events", "-n", "demo"], tmp_path))
    validate("GetClusterStackEventsResponseContent", events)
    fleet = _json(run(["describe-compute-fleet", "-n", "demo"], tmp_path))
    validate("DescribeComputeFleetResponseContent", fleet)
    assert fleet["status"] == "RUNNING"
    stopped = _json(run(["update-compute-fleet", "-n", "demo", "--status", "STOP_REQUESTED"], tmp_path))
    validate("UpdateComputeFleetResponseContent", stopped)
    assert stopped["status"] == "STOPPED"  # the fake's Slurm powers nodes down at once
    query = run(["describe-cluster", "-n", "demo", "--query", "clusterStatus"], tmp_path)
    assert json.loads(query.stdout) == "CREATE_COMPLETE"
    table = run(["describe-cluster", "-n", "demo", "--output", "table"], tmp_path)
    assert "clusterStatus" in table.stdout and "CREATE_COMPLETE" in table.stdout


def test_ssh_dryrun_prints_the_command(tmp_path: Path) -> None:
    populate(tmp_path)
    doc = _json(run(["ssh", "-n", "demo", "--dryrun", "true", "--", "sinfo", "-N"], tmp_path))
    assert " ssh ec2-user@10.99." in doc["command"] and doc["command"].endswith(" sinfo -N")


def test_ssh_options_before_the_command_go_to_ssh(tmp_path: Path) -> None:
    """pcluster's `ssh USER@HEAD ARGS`: `-i key.pem -o X=Y` reach ssh, in order, before the command;
    Corral's own flags are found even after them, and keep pcluster's type check."""
    populate(tmp_path)
    args = [
        "ssh",
        "-n",
        "demo",
        "-i",
        "key.pem",
        "-o",
        "ConnectTimeout=5",
        "--dryrun",
        "true",
        "--",
        "ls",
        "-l",
    ]
    command = shlex.split(_json(run(args, tmp_path))["command"])
    login = next(i for i, a in enumerate(command) if a.startswith("ec2-user@10.99."))
    assert command[login + 1 :] == ["-i", "key.pem", "-o", "ConnectTimeout=5", "--", "ls", "-l"]
    user = _json(run(["ssh", "-n", "demo", "--dryrun", "true", "--user", "root"], tmp_path))["command"]
    assert " root@10.99." in user
    ran = run(["ssh", "-n", "demo", "-o", "BatchMode=yes", "-v", "--", "echo", "ok"], tmp_path)
    assert ran.stdout == "ok\n"
    bad = run(["ssh", "-n", "demo", "-i", "key.pem", "--dryrun", "yes"], tmp_path)
    assert bad.returncode == 1
    message = "Bad Request: Wrong type, expected 'boolean' for parameter 'dryrun'"
    assert json.loads(bad.stdout) == {"message": message}


def test_delete_instances_prints_nothing(tmp_path: Path) -> None:
    populate(tmp_path)
    result = run(["delete-cluster-instances", "-n", "demo"], tmp_path)
    assert result.returncode == 0 and result.stdout == ""
    heads = _json(run(["describe-cluster-instances", "-n", "demo"], tmp_path))["instances"]
    assert [i["nodeType"] for i in heads] == ["HeadNode"]


def test_delete_wait_removes_the_cluster(tmp_path: Path) -> None:
    populate(tmp_path)
    doc = _json(run(["delete-cluster", "-n", "demo", "--wait"], tmp_path))
    assert doc == {"message": "Successfully deleted cluster 'demo'."}
    assert _json(run(["list-clusters"], tmp_path)) == {"clusters": []}


def test_delete_without_wait_returns_delete_in_progress_and_a_worker_finishes(tmp_path: Path) -> None:
    populate(tmp_path)
    doc = _json(run(["delete-cluster", "-n", "demo"], tmp_path))
    validate("DeleteClusterResponseContent", doc)
    assert doc["cluster"]["clusterStatus"] == "DELETE_IN_PROGRESS"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if _json(run(["list-clusters"], tmp_path)) == {"clusters": []}:
            break
        time.sleep(0.2)
    assert _json(run(["list-clusters"], tmp_path)) == {"clusters": []}
    assert not (tmp_path / "fake-provider" / "demo.json").exists()
    assert "worker pid" in (tmp_path / "logs" / "demo.log").read_text()


EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "demo.yaml"


def test_failure_level_info_blocks_an_info_finding_until_suppressed() -> None:
    base = ["create-cluster", "--dryrun", "true", "-n", "demo", "-c", str(EXAMPLE)]
    lenient = invoke(base)
    assert lenient.exit_code == 0
    infos = json.loads(lenient.stdout).get("validationMessages", [])
    assert infos and all(m["level"] in ("INFO", "WARNING") for m in infos)
    assert any(m["level"] == "INFO" for m in infos)
    strict = invoke([*base, "--validation-failure-level", "INFO"])
    assert strict.exit_code == 1
    validate("CreateClusterBadRequestExceptionResponseContent", json.loads(strict.stdout))
    types = sorted({f"type:{m['type']}" for m in infos})
    suppressed = invoke([*base, "--validation-failure-level", "INFO", "--suppress-validators", *types])
    assert suppressed.exit_code == 0, suppressed.output
    everything = invoke([*base, "--validation-failure-level", "INFO", "--suppress-validators", "ALL"])
    assert everything.exit_code == 0
    bogus = invoke([*base, "--suppress-validators", "bogus"])
    assert bogus.exit_code == 1
    assert "suppress-validators" in json.loads(bogus.stdout)["message"]


def test_ssh_runs_the_command_on_the_head_node(tmp_path: Path) -> None:
    populate(tmp_path)
    result = run(["ssh", "-n", "demo", "--", "echo", "hello-from-head"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "hello-from-head"
    failing = run(["ssh", "-n", "demo", "--", "exit", "3"], tmp_path)
    assert failing.returncode == 3  # the remote status is the command's status


def test_update_compute_fleet_wait_shows_progress(tmp_path: Path) -> None:
    populate(tmp_path)
    result = run(["update-compute-fleet", "-n", "demo", "--status", "STOP_REQUESTED", "--wait"], tmp_path)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    validate("UpdateComputeFleetResponseContent", doc)
    assert doc["status"] == "STOPPED"
    assert "ComputeFleet" in result.stderr
    started = run(["update-compute-fleet", "-n", "demo", "--status", "START_REQUESTED", "--wait"], tmp_path)
    assert json.loads(started.stdout)["status"] == "RUNNING"
    instances = _json(
        run(["describe-cluster-instances", "-n", "demo", "--node-type", "ComputeNode"], tmp_path)
    )
    assert [i["queueName"] for i in instances["instances"]] == ["q1"]  # the static node is back

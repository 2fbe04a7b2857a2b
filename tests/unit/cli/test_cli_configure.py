"""`corral configure`: pcluster's wizard, driven through its prompts on stdin, offline for the local
provider and listing the account's key pairs and subnets with --provider aws (moto on loopback)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import boto3
import pytest
import yaml

from support.aws import aws_endpoint

from .test_cli import CORRAL


def _configure(
    path: Path, answers: list[str], *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CORRAL, "configure", "-c", str(path), *args],
        input="".join(a + "\n" for a in answers),
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {}), "CORRAL_STATE_DIR": str(path.parent / "state")},
    )


def _dry_run(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CORRAL, "create-cluster", "-n", "wizard", "-c", str(path), "--dryrun", "true"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "CORRAL_STATE_DIR": str(path.parent / "state")},
    )


def test_every_default_writes_a_config_a_dry_run_accepts(tmp_path: Path) -> None:
    path = tmp_path / "cluster.yaml"
    result = _configure(path, [""] * 14)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "AWS Region ID [us-east-1]: " in result.stdout
    assert "Operating System [alinux2023]: " in result.stdout
    config = yaml.safe_load(path.read_text())
    assert config["Region"] == "us-east-1" and config["Image"]["Os"] == "alinux2023"
    assert config["Scheduling"]["SlurmQueues"][0]["Name"] == "queue1"
    dry = _dry_run(path)
    assert dry.returncode == 0, dry.stdout + dry.stderr


def test_a_scripted_answer_file_builds_queues_efa_and_storage(tmp_path: Path) -> None:
    path = tmp_path / "cluster.yaml"
    answers = [
        "eu-west-1",  # Region
        "my-key",  # key pair (typed: offline)
        "",  # scheduler
        "ubuntu2204",  # OS
        "c5.large",  # head node
        "abc",  # a wrong number of queues: asked again
        "2",
        "cpu",
        "2",
        "c5.xlarge",
        "4",
        "c5.xlarge",  # the same type twice in a queue: refused, asked again
        "c5.2xlarge",
        "8",
        "hpc",
        "1",
        "c5n.18xlarge",
        "y",  # EFA (the catalog says c5n.18xlarge supports it)
        "16",
        "subnet-0aaaaaaaaaaaaaaaa",
        "",  # compute subnet: the head's
        "Efs",
        "/data",
    ]
    result = _configure(path, answers)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ERROR: abc is not an acceptable value for Number of queues" in result.stdout
    assert "ERROR: c5.xlarge is not an acceptable value" in result.stdout
    config = yaml.safe_load(path.read_text())
    assert config["Region"] == "eu-west-1" and config["HeadNode"]["Ssh"]["KeyName"] == "my-key"
    cpu, hpc = config["Scheduling"]["SlurmQueues"]
    assert [r["Instances"][0]["InstanceType"] for r in cpu["ComputeResources"]] == ["c5.xlarge", "c5.2xlarge"]
    assert [r["MaxCount"] for r in cpu["ComputeResources"]] == [4, 8]
    assert hpc["ComputeResources"][0]["Efa"] == {"Enabled": True}
    assert hpc["Networking"]["PlacementGroup"] == {"Enabled": True}
    assert hpc["Networking"]["SubnetIds"] == ["subnet-0aaaaaaaaaaaaaaaa"]
    assert (
        config["SharedStorage"][0]["StorageType"] == "Efs"
        and config["SharedStorage"][0]["MountDir"] == "/data"
    )
    assert _dry_run(path).returncode == 0


def test_refusals_an_existing_file_too_few_answers_a_bad_region(tmp_path: Path) -> None:
    existing = tmp_path / "taken.yaml"
    existing.write_text("keep me\n")
    taken = _configure(existing, [""] * 14)
    assert taken.returncode == 1 and existing.read_text() == "keep me\n"
    assert json.loads(taken.stdout)["message"].startswith(f"A file/folder exists at {existing}")
    short = _configure(tmp_path / "short.yaml", ["", ""])
    assert short.returncode == 1 and not (tmp_path / "short.yaml").exists()
    assert "the input ended at the question 'Scheduler'" in short.stdout
    region = _configure(tmp_path / "r.yaml", [], "-r", "mars-1")
    assert json.loads(region.stdout)["message"] == "Bad Request: invalid or unsupported region 'mars-1'"


def test_with_provider_aws_it_lists_the_accounts_key_pairs_and_subnets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with aws_endpoint(monkeypatch):
        ec2 = boto3.client("ec2", region_name="us-west-2")
        ec2.create_key_pair(KeyName="team-key")
        vpc = ec2.create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.7.1.0/24")["Subnet"]["SubnetId"]
        path = tmp_path / "cluster.yaml"
        answers = ["", "", "", "", "", "", "", "", "", subnet, subnet, ""]
        result = _configure(path, answers, "--provider", "aws", "-r", "us-west-2", env=dict(os.environ))
        assert result.returncode == 0, result.stdout + result.stderr
        assert "Allowed values for EC2 Key Pair Name:" in result.stdout and "team-key" in result.stdout
        assert "Allowed values for head node subnet ID:" in result.stdout
        config = yaml.safe_load(path.read_text())
        assert config["Region"] == "us-west-2" and config["HeadNode"]["Ssh"]["KeyName"] == "team-key"
        assert config["HeadNode"]["Networking"]["SubnetId"] == subnet

"""Slurm accounting on an AWS head node: slurmdbd.conf from the plan and the secret's value, slurmdbd
before slurmctld with the cluster registered, slurm.conf accounting; the secret read through boto3
(moto's Secrets Manager on loopback)."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from corral.config import load_cluster_config_text
from corral.errors import ProviderError
from corral.plan import ClusterPlan, build_plan
from corral.providers.aws._node_setup import SLURMDBD_CONF, NodeContext, head_setup
from corral.providers.secrets import secret_password
from support.aws import aws_endpoint

GOLDEN = Path(__file__).parent / "golden" / "small.yaml"
DATABASE = """  SlurmSettings:
    Database:
      Uri: lab-db.cluster-abc.us-east-1.rds.amazonaws.com:3306
      UserName: slurm_admin
      PasswordSecretArn: arn:aws:secretsmanager:us-east-1:123456789012:secret:slurmdb-AbCdEf
"""
EXTERNAL = """  SlurmSettings:
    ExternalSlurmdbd:
      Host: dbd.example.com
      Port: 7031
"""
CONTEXT = NodeContext.of({"cluster_name": "small", "node_role": "HeadNode", "region": "us-east-1"})


def plan_with(section: str) -> ClusterPlan:
    text = GOLDEN.read_text()
    assert "  Scheduler: slurm\n" in text
    text = text.replace("  Scheduler: slurm\n", "  Scheduler: slurm\n" + section, 1)
    return build_plan(load_cluster_config_text(text, "small.yaml").config, cluster_name="small")


def setup_of(plan: ClusterPlan, password: str | None = None) -> tuple[dict[str, tuple[str, int]], list[str]]:
    setup = head_setup(
        plan, CONTEXT, hostname="ip-10-0-0-5", address="10.0.0.5", storage_ids={}, database_password=password
    )
    files = {path: (content, mode) for path, content, mode in setup.files}
    return files, [" ".join(s) for s in setup.services]


def settings(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#"))


def test_database_runs_slurmdbd_before_slurmctld_with_the_secrets_password() -> None:
    files, services = setup_of(plan_with(DATABASE), "pa$$word")
    dbd, mode = files[SLURMDBD_CONF]
    assert mode == 0o600  # it holds the password
    conf = settings(dbd)
    assert conf["StorageHost"] == "lab-db.cluster-abc.us-east-1.rds.amazonaws.com"
    assert (conf["StoragePort"], conf["StorageUser"], conf["StoragePass"]) == (
        "3306",
        "slurm_admin",
        "pa$$word",
    )
    assert conf["StorageLoc"] == "small"  # pcluster's default DatabaseName: the cluster's name
    order = [s.split()[0] for s in services]
    assert order.index("munged") < order.index("slurmdbd") < order.index("slurmctld")
    register = services[order.index("slurmdbd") + 1]
    assert "sacctmgr -i add cluster" in register and register.endswith("register small")
    slurm = settings(files["/etc/slurm/slurm.conf"][0])
    assert slurm["AccountingStorageType"] == "accounting_storage/slurmdbd"
    assert slurm["AccountingStorageHost"] == "10.0.0.5"


def test_external_slurmdbd_points_slurm_conf_there_and_runs_no_slurmdbd() -> None:
    files, services = setup_of(plan_with(EXTERNAL))
    slurm = settings(files["/etc/slurm/slurm.conf"][0])
    assert (slurm["AccountingStorageHost"], slurm["AccountingStoragePort"]) == ("dbd.example.com", "7031")
    assert SLURMDBD_CONF not in files and not any(s.startswith("slurmdbd") for s in services)


def test_without_accounting_nothing_changes() -> None:
    files, _ = setup_of(plan_with(""))
    assert settings(files["/etc/slurm/slurm.conf"][0])["AccountingStorageType"] == "accounting_storage/none"
    assert SLURMDBD_CONF not in files


def test_database_without_its_password_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="PasswordSecretArn"):
        setup_of(plan_with(DATABASE))


def test_the_secret_is_read_through_boto3_and_bad_secrets_are_named() -> None:
    with pytest.MonkeyPatch.context() as mp, aws_endpoint(mp):
        sm = boto3.client("secretsmanager", region_name="us-east-1")
        arn = sm.create_secret(Name="acct-test-db", SecretString="s3cret")["ARN"]
        empty = sm.create_secret(Name="acct-test-empty", SecretString=" ")["ARN"]
        try:
            assert secret_password(arn) == "s3cret"
            with pytest.raises(ProviderError, match="ResourceNotFoundException"):
                secret_password(arn + "-gone")
            with pytest.raises(ProviderError, match="is empty"):
                secret_password(empty)
        finally:
            for secret in (arn, empty):
                sm.delete_secret(SecretId=secret, ForceDeleteWithoutRecovery=True)

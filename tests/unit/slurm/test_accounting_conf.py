"""Accounting in the rendered Slurm configuration: slurm.conf's accounting lines and slurmdbd.conf."""

from __future__ import annotations

import ipaddress
from dataclasses import replace
from pathlib import Path

import pytest

from corral.plan import ClusterPlan
from corral.plan._build import default_database_name
from corral.providers.local._accounting import addresses, standin_for
from corral.slurm.conf import SlurmdbdSettings, render_slurm_conf, render_slurmdbd_conf
from support.plans import two_queue_plan

from .test_conf import RUNTIME


def settings(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#"))


def with_database(plan: ClusterPlan, **extra: object) -> ClusterPlan:
    slurm = replace(
        plan.slurm,
        database_uri="db.example.com:3307",
        database_name="lab_acct",
        database_user="admin",
        database_password_secret_arn="arn:aws:secretsmanager:us-east-1:1:secret:x",
        **extra,
    )
    return replace(plan, slurm=slurm)


def test_without_accounting_slurm_conf_keeps_none() -> None:
    conf = settings(render_slurm_conf(two_queue_plan(), replace(RUNTIME, accounting=True)))
    assert conf["AccountingStorageType"] == "accounting_storage/none"
    assert conf["JobAcctGatherType"] == "jobacct_gather/none"


def test_a_provider_without_accounting_keeps_none_even_with_a_database() -> None:
    conf = settings(render_slurm_conf(with_database(two_queue_plan()), RUNTIME))
    assert conf["AccountingStorageType"] == "accounting_storage/none"


def test_database_accounts_to_the_head_nodes_slurmdbd_with_the_munge_socket() -> None:
    runtime = replace(RUNTIME, accounting=True)
    conf = settings(render_slurm_conf(with_database(two_queue_plan()), runtime))
    assert conf["AccountingStorageType"] == "accounting_storage/slurmdbd"
    assert (conf["AccountingStorageHost"], conf["AccountingStoragePort"]) == (runtime.head_addr, "6819")
    assert conf["AccountingStoragePass"] == runtime.munge_socket  # DBD connections' munge socket
    assert conf["JobAcctGatherType"] == "jobacct_gather/linux"
    assert conf["PriorityType"] == "priority/multifactor"


def test_external_slurmdbd_is_where_slurmctld_reports() -> None:
    plan = replace(
        two_queue_plan(),
        slurm=replace(
            two_queue_plan().slurm, external_slurmdbd_host="dbd.example.com", external_slurmdbd_port=7031
        ),
    )
    conf = settings(render_slurm_conf(plan, replace(RUNTIME, accounting=True)))
    assert (conf["AccountingStorageHost"], conf["AccountingStoragePort"]) == ("dbd.example.com", "7031")


def test_slurmdbd_conf_names_the_database_user_and_location() -> None:
    dbd = SlurmdbdSettings("10.240.15.254", 3307, "pw", "/run/x/slurmdbd.pid", "/log/slurmdbd.log")
    conf = settings(render_slurmdbd_conf(with_database(two_queue_plan()), RUNTIME, dbd))
    assert conf["StorageType"] == "accounting_storage/mysql"
    assert (conf["StorageHost"], conf["StoragePort"], conf["StorageUser"]) == (
        "10.240.15.254",
        "3307",
        "admin",
    )
    assert (conf["StoragePass"], conf["StorageLoc"]) == ("pw", "lab_acct")
    assert conf["DbdHost"] == RUNTIME.head_hostname and conf["AuthInfo"] == f"socket={RUNTIME.munge_socket}"
    with pytest.raises(ValueError):
        render_slurmdbd_conf(two_queue_plan(), RUNTIME, dbd)


@pytest.mark.parametrize(
    ("uri", "endpoint"),
    [("db.example.com:3307", ("db.example.com", 3307)), ("db.example.com", ("db.example.com", 3306))],
)
def test_database_endpoint(uri: str, endpoint: tuple[str, int]) -> None:
    assert replace(two_queue_plan().slurm, database_uri=uri).database_endpoint() == endpoint


def test_pclusters_default_database_name_is_the_cluster_name() -> None:
    assert default_database_name("Lab-Prod-1") == "lab_prod_1"


def test_the_database_link_sits_above_every_node_address() -> None:
    head, db = addresses(ipaddress.IPv4Network("10.240.16.0/20"))
    assert (str(head), str(db)) == ("10.240.31.253", "10.240.31.254")


def test_stand_ins_are_per_state_directory_and_uri(tmp_path: Path) -> None:
    a = standin_for(tmp_path / "a", "db:3306", 3306)
    assert a == standin_for(tmp_path / "a", "db:3306", 3306)
    assert a.key != standin_for(tmp_path / "b", "db:3306", 3306).key
    assert a.key != standin_for(tmp_path / "a", "db2:3306", 3306).key
    assert not a.netns.startswith("corral-")  # never mistaken for a cluster's namespaces

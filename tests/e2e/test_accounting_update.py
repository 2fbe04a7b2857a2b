"""update-cluster of Scheduling/SlurmSettings/Database on a real local cluster: added to a cluster
made without it (the fleet stopped, as pcluster's policy requires), moved to another DatabaseName
(allowed with the fleet running), then removed; jobs are accounted in the database of the moment
and still run once accounting is gone."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import yaml

from corral.providers.local._accounting import standin_for
from e2e.conftest import unique_name, wait_until
from e2e.test_accounting import ARN, CONFIG, URI, Cli, cli, finished_record, submit

__all__ = ["cli"]  # the fixture, shared with test_accounting


def _config(cli: Cli, name: str, database: dict[str, str] | None) -> Path:
    doc = yaml.safe_load(CONFIG.format(uri=URI, arn=ARN))
    if database is None:
        del doc["Scheduling"]["SlurmSettings"]
    else:
        doc["Scheduling"]["SlurmSettings"]["Database"] = database
    return cli.corral.config(yaml.safe_dump(doc, sort_keys=False), name)


def _fleet(cli: Cli, name: str, status: str) -> None:
    cli("update-compute-fleet", "-n", name, "--status", f"{status}_REQUESTED")
    final = "STOPPED" if status == "STOP" else "RUNNING"
    wait_until(
        lambda: json.loads(cli("describe-compute-fleet", "-n", name).stdout)["status"] == final,
        120,
        f"the compute fleet {final}",
        interval=0.5,
    )


def _update(cli: Cli, name: str, config: Path) -> float:
    started = time.monotonic()
    cli("update-cluster", "-n", name, "-c", str(config), "--wait")
    took = time.monotonic() - started
    status = json.loads(cli("describe-cluster", "-n", name).stdout)["clusterStatus"]
    assert status == "UPDATE_COMPLETE", cli("get-cluster-stack-events", "-n", name).stdout[-3000:]
    return took


def test_database_added_changed_and_removed_by_update(cli: Cli) -> None:
    name = unique_name("dbupd")
    cli.corral.create(name, _config(cli, name, None))
    slurm_conf = cli.corral.provider.slurm_conf_path(name)
    assert "AccountingStorageType=accounting_storage/none" in slurm_conf.read_text()
    database = {"Uri": URI, "UserName": "slurm_admin", "PasswordSecretArn": ARN}

    _fleet(cli, name, "STOP")
    _update(cli, name, _config(cli, name, database))
    assert "AccountingStorageType=accounting_storage/slurmdbd" in slurm_conf.read_text()
    # a user the database knows with another password: refused before the cluster is touched
    standin = standin_for(cli.state, URI, 3306)
    created = ["mariadb", "--no-defaults", f"--socket={standin.socket}", "-uroot", "-e"]
    subprocess.run([*created, "CREATE USER 'other'@'%' IDENTIFIED BY 'not-the-secret'"], check=True)
    failed = cli(
        "update-cluster",
        "-n",
        name,
        "-c",
        str(_config(cli, name, {**database, "UserName": "other"})),
        "--wait",
        check=False,
    )
    assert failed.returncode != 0 and "cannot log in to the database" in failed.stdout + failed.stderr
    described = json.loads(cli("describe-cluster", "-n", name).stdout)
    assert described["cloudFormationStackStatus"] == "UPDATE_ROLLBACK_COMPLETE", described
    _fleet(cli, name, "START")
    job = submit(cli, name, "echo accounted")
    assert finished_record(cli, name, job)["State"] == "COMPLETED"
    assert name in cli.head(name, "sacctmgr", "-n", "-P", "show", "cluster", "format=cluster")

    # DatabaseName is SUPPORTED in pcluster 3.16: moved with the fleet running, to a fresh database
    _update(cli, name, _config(cli, name, {**database, "DatabaseName": "moved_acct"}))
    second = submit(cli, name, "echo moved")
    assert finished_record(cli, name, second)["State"] == "COMPLETED"
    assert "StorageLoc=moved_acct" in (slurm_conf.parent / "slurmdbd.conf").read_text()

    _fleet(cli, name, "STOP")
    _update(cli, name, _config(cli, name, None))
    assert "AccountingStorageType=accounting_storage/none" in slurm_conf.read_text()
    assert not (slurm_conf.parent / "slurmdbd.conf").exists()
    _fleet(cli, name, "START")
    assert cli.head(name, "srun", "-p", "cpu", "echo", "still-runs").strip() == "still-runs"
    listed = json.loads(cli("list-databases").stdout)["databases"]
    assert [(d["uri"], d["usedBy"]) for d in listed] == [(URI, [])]  # the stand-in outlives its use

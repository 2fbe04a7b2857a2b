"""update-cluster of ``Scheduling/SlurmSettings/Database`` on a local cluster: add, change, remove.

pcluster's policy for these keys (COMPUTE_FLEET_STOP; DatabaseName SUPPORTED) is checked by the
service first; the local provider then converges the head's accounting on the new plan, as
``_update`` converges the rest:

1. before anything of the cluster is touched (``decide``): the new Uri's MariaDB stand-in up with its
   user, and a login as that user with the password over TCP, as slurmdbd will log in (a wrong
   password or an unreachable database fails here, and the update rolls back having changed
   nothing); the new slurmdbd.conf rendered and compared with the head's;
2. the descriptor holds the new plan, so that slurm.conf's accounting lines follow its Database
   (``AccountingStorageType=accounting_storage/slurmdbd`` to the head, or ``none``), and records the
   stand-in that serves it (``extra``);
3. while slurmctld is stopped for its restart (``_update.restart_slurmctld``, which starts it again
   without ``-c``: it recovers its jobs from StateSaveLocation), ``apply``: the head's slurmdbd
   stopped, its link to the old stand-in removed; with a Database, slurmdbd.conf written, the link
   to the new stand-in made, slurmdbd started and the cluster registered (``sacctmgr``) before
   slurmctld comes back (slurmctld then takes the ClusterID that database knows the cluster by);
   the supervisor's spec then lists slurmdbd, or no longer does.

What the head runs is read from the cluster's own files (the running descriptor's plan and stand-in,
slurmdbd.conf, slurmdbd's pid), not from the service's old plan: a rollback is the same walk
towards the old Database.
``ExternalSlurmdbd`` is not switched here (the provider refuses its changes: ``update_not_implemented``).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from corral.errors import PrerequisiteError
from corral.plan import ClusterPlan
from corral.providers.local import _accounting, _proc
from corral.providers.local._layout import ClusterDescriptor, ClusterLayout

Report = Callable[[str, str], None]
#: slurmctld's record of its cluster's name and ClusterID, in StateSaveLocation
CLUSTER_ID_FILE = "clustername"


@dataclass(frozen=True)
class DatabaseSwitch:
    """What the head's accounting becomes: ``uri``, the stand-in's ``key`` and slurmdbd.conf's text
    (``conf``); all None when the Database goes."""

    uri: str | None
    key: str | None
    conf: str | None


def with_database(extra: Mapping[str, str], key: str | None) -> dict[str, str]:
    """``extra`` recording the Database's stand-in ``key``, or none (pure; the Database's Uri is the
    descriptor's plan's)."""
    rest = {k: v for k, v in extra.items() if k != _accounting.DATABASE_KEY}
    return {**rest, _accounting.DATABASE_KEY: key} if key else rest


def needs_switch(
    running_uri: str | None,
    running_conf: str | None,
    dbd_running: bool,
    wanted_uri: str | None,
    wanted_conf: str | None,
) -> bool:
    """Whether the head's slurmdbd must change (pure): the Database goes, comes, moves to another
    Uri, or its slurmdbd.conf changes (UserName, password, DatabaseName); or slurmdbd should run
    and does not (an update or rollback interrupted half-way)."""
    if wanted_uri is None:
        return running_uri is not None or dbd_running
    return running_uri != wanted_uri or running_conf != wanted_conf or not dbd_running


def _quiet(_where: str, _what: str) -> None:
    """The stand-in of an unchanged Uri is checked without a word."""


def decide(
    layout: ClusterLayout, current: ClusterDescriptor, descriptor: ClusterDescriptor, report: Report
) -> tuple[ClusterDescriptor, DatabaseSwitch | None]:
    """``descriptor`` (the new one: the plan to converge on, with the running cluster's ``extra``)
    recording the stand-in of its plan's Database, and the switch the head needs (None: none) from
    the Database ``current`` (the running cluster's descriptor) serves. Brings the new stand-in up
    and logs in to it (see the module docstring), touching nothing of the cluster."""
    plan = descriptor.plan
    if plan.slurm.external_slurmdbd_host:
        return descriptor, None
    running_uri = current.database_uri
    dbd_running = _accounting.slurmdbd_running(layout)
    wanted_uri = plan.slurm.database_uri
    if not wanted_uri:
        if not needs_switch(running_uri, None, dbd_running, None, None):
            return descriptor, None
        gone = replace(descriptor, extra=with_database(descriptor.extra, None))
        return gone, DatabaseSwitch(None, None, None)
    _check_programs()
    say = report if wanted_uri != running_uri else _quiet
    _, port = plan.slurm.database_endpoint()
    standin = _accounting.standin_for(layout.state_dir, wanted_uri, port)
    password = _accounting.database_password(plan, standin, say)
    _accounting.ensure_standin(standin, say)
    user = plan.slurm.database_user or ""
    _accounting.ensure_user(standin, user, password)
    _accounting.check_login(standin, user, password)
    fresh = replace(descriptor, extra=with_database(descriptor.extra, standin.key))
    conf = _accounting.slurmdbd_conf_text(plan, layout, fresh, port, password)
    path = _accounting.slurmdbd_conf_path(layout)
    running_conf = path.read_text() if path.exists() else None
    if not needs_switch(running_uri, running_conf, dbd_running, wanted_uri, conf):
        return fresh, None
    return fresh, DatabaseSwitch(wanted_uri, standin.key, conf)


def _check_programs() -> None:
    missing = [p for p in _accounting.ACCOUNTING_PROGRAMS if shutil.which(p, path=_proc.SAFE_PATH) is None]
    if missing:
        raise PrerequisiteError(
            f"Scheduling/SlurmSettings/Database needs {', '.join(missing)}, not installed here",
            hint="run `bash scripts/setup.sh`, or `apt-get install -y mariadb-server slurmdbd` (as root)",
        )


def map_host(layout: ClusterLayout, descriptor: ClusterDescriptor, plan: ClusterPlan) -> None:
    """The Database's (or ExternalSlurmdbd's) host in the cluster's hosts file again, after the
    update rewrote that file."""
    if plan.slurm.database_uri and _accounting.DATABASE_KEY in descriptor.extra:
        _accounting.map_host(layout, descriptor, plan.slurm.database_endpoint()[0])
    elif plan.slurm.external_slurmdbd_host:
        _accounting.map_host(layout, descriptor, plan.slurm.external_slurmdbd_host)


def apply(
    layout: ClusterLayout, descriptor: ClusterDescriptor, holder: int, switch: DatabaseSwitch, report: Report
) -> None:
    """With slurmctld stopped: the head's slurmdbd moves to the new Database (registering the
    cluster there), or stops with the Database removed."""
    _accounting.stop_slurmdbd(layout)
    _accounting.disconnect(layout)
    if switch.conf is None or switch.key is None:
        _accounting.slurmdbd_conf_path(layout).unlink(missing_ok=True)
        report("HeadNode", "slurmdbd stopped: the cluster no longer accounts jobs (accounting_storage/none)")
        return
    _accounting.write_slurmdbd_conf(layout, switch.conf)
    _accounting.connect(layout, descriptor, switch.key)
    _accounting.start_slurmdbd(layout, descriptor, holder, report)
    # slurmctld keeps its ClusterID in StateSaveLocation and stops ("CLUSTER ID MISMATCH") when the
    # database knows the cluster by another: without the file it takes the database's (its jobs,
    # nodes and reservations are in other files and stay)
    (layout.slurm_state / CLUSTER_ID_FILE).unlink(missing_ok=True)


__all__ = ["DatabaseSwitch", "apply", "decide", "map_host", "needs_switch", "with_database"]

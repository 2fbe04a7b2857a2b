"""Slurm accounting on a local cluster: a MariaDB stand-in for the database named by ``Database/Uri``,
and slurmdbd on the head node.

A stand-in plays the RDS instance: one per distinct ``Uri`` in a state directory, created on first
use and kept when clusters are deleted (``corral databases list|delete`` removes it).

- ``<state>/databases/<key>/``: ``uri``, ``data/`` (the datadir), ``password`` (only when Corral made
  the password itself), ``mysqld.log``; sockets and pid files in ``/run/corral/db-<key>/``.
- It runs in its own network namespace ``corraldb-<key>`` and listens there on the Uri's port, nowhere
  else, under ``mysqld_safe``, which restarts the server if it dies.
- Each cluster using it gets a veth pair: ``acctdb`` in the cluster's head namespace, with the
  second-to-last address of the last /30 of the cluster's subnet, and ``c<8 hex>`` in the database's
  namespace with the one after it. The cluster's hosts file maps the Uri's host to that address, so
  the config is used unchanged. The pair goes when the head namespace does.

slurmdbd runs on the head node (its network and UTS namespaces), started before slurmctld and kept
running by the head's supervisor; its ``slurmdbd.conf`` (readable by root only: it holds the
password) sits beside slurm.conf, where Slurm looks for it.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from corral.errors import ProviderError
from corral.plan import ClusterPlan
from corral.providers.base import DatabaseStandin
from corral.providers.local import _cgroups, _net, _proc
from corral.providers.local._daemons import (
    ACCOUNTING_DATABASE_KEY,
    EXTERNAL_SLURMDBD_KEY,
    head_daemon_argv,
    image_cluster,
    log_tail,
    slurm_env,
)
from corral.providers.local._layout import RUN_ROOT, ClusterDescriptor, ClusterLayout
from corral.providers.secrets import aws_reachable, secret_password
from corral.runtime.files import write_atomic
from corral.slurm.conf import SlurmdbdSettings, render_slurmdbd_conf

#: ``ClusterDescriptor.extra`` keys: the stand-in's key, and whether the head runs slurmdbd.
DATABASE_KEY = ACCOUNTING_DATABASE_KEY
HEAD_VETH = "acctdb"
ACCOUNTING_PROGRAMS = ("mariadb-install-db", "mysqld_safe", "mariadb", "slurmdbd", "sacctmgr")
SLURMDBD_READY_TIMEOUT_S = 60.0
DATABASE_READY_TIMEOUT_S = 60.0

Report = Callable[[str, str], None]


@dataclass(frozen=True)
class Standin:
    """A database stand-in: where it lives, how to reach it."""

    key: str
    uri: str
    directory: Path
    port: int

    @property
    def netns(self) -> str:
        return f"corraldb-{self.key}"

    @property
    def run_dir(self) -> Path:
        return RUN_ROOT / f"db-{self.key}"

    @property
    def socket(self) -> Path:
        return self.run_dir / "mysqld.sock"

    @property
    def safe_pid_file(self) -> Path:
        return self.run_dir / "mysqld_safe.pid"

    @property
    def server_pid_file(self) -> Path:
        return self.run_dir / "mysqld.pid"


def databases_dir(state_dir: Path) -> Path:
    return state_dir / "databases"


def standin_for(state_dir: Path, uri: str, port: int) -> Standin:
    key = hashlib.sha1(f"{state_dir.resolve()}\0{uri}".encode()).hexdigest()[:10]
    return Standin(key, uri, databases_dir(state_dir) / key, port)


def addresses(subnet: ipaddress.IPv4Network) -> tuple[ipaddress.IPv4Address, ipaddress.IPv4Address]:
    """(head side, database side) of the cluster's link to its database: the last /30 of its subnet,
    above every node address."""
    last = subnet.broadcast_address - 3
    return last + 1, last + 2


# -- the password ------------------------------------------------------------------------------


def database_password(plan: ClusterPlan, standin: Standin, report: Report) -> str:
    """The password of ``Database/UserName``: the secret's value when Secrets Manager can be asked;
    otherwise one Corral makes for the stand-in and keeps in its directory (reported)."""
    arn = plan.slurm.database_password_secret_arn or ""
    if aws_reachable():
        return secret_password(arn)
    kept = standin.directory / "password"
    if not kept.exists():
        standin.directory.mkdir(parents=True, exist_ok=True)
        kept.write_text(secrets.token_urlsafe(24))
        kept.chmod(0o600)
    report(
        "Database",
        f"INFO: no AWS endpoint or credentials to read {arn}: the stand-in for {standin.uri} uses a"
        f" password Corral made and keeps in {kept}",
    )
    return kept.read_text().strip()


# -- the stand-in server -----------------------------------------------------------------------


def _sql(standin: Standin, statement: str) -> subprocess.CompletedProcess[str]:
    argv = ["mariadb", "--no-defaults", f"--socket={standin.socket}", "-uroot", "-N", "-e", statement]
    return _proc.run(argv, check=False, timeout=30)


def _running(standin: Standin) -> bool:
    pid = _proc.read_pid(standin.safe_pid_file)
    return bool(pid and _proc.alive(pid) and _sql(standin, "SELECT 1").returncode == 0)


def ensure_standin(standin: Standin, report: Report) -> None:
    """Create (first use) and start the stand-in; idempotent, safe against a concurrent create
    (a file lock per stand-in)."""
    import fcntl

    standin.directory.mkdir(parents=True, exist_ok=True)
    standin.run_dir.mkdir(parents=True, exist_ok=True)
    with (standin.directory / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        (standin.directory / "uri").write_text(standin.uri + "\n")
        if _running(standin):
            return
        data = standin.directory / "data"
        if not (data / "mysql").exists():
            report("Database", f"creating the MariaDB stand-in for {standin.uri} in {standin.directory}")
            _install_db(data, standin.directory / "install.log")
        if standin.netns not in _net.list_netns():
            _net.create_netns(standin.netns)
        _start_server(standin)
        report("Database", f"MariaDB stand-in for {standin.uri} is up (namespace {standin.netns})")


def _install_db(data: Path, log: Path) -> None:
    tmp = data.with_name("data.new")
    shutil.rmtree(tmp, ignore_errors=True)
    argv = ["mariadb-install-db", "--no-defaults", f"--datadir={tmp}", "--user=root"]
    argv += ["--auth-root-authentication-method=socket", "--skip-test-db"]
    result = _proc.run(argv, check=False, timeout=300)
    log.write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        raise ProviderError(f"mariadb-install-db failed: {result.stderr.strip()[-500:]}", hint=f"see {log}")
    os.replace(tmp, data)


def _start_server(standin: Standin) -> None:
    argv = ["ip", "netns", "exec", standin.netns, "mysqld_safe", "--no-defaults"]
    argv += [f"--datadir={standin.directory / 'data'}", f"--socket={standin.socket}"]
    argv += [f"--pid-file={standin.server_pid_file}", f"--port={standin.port}", "--bind-address=0.0.0.0"]
    argv += [f"--log-error={standin.directory / 'mysqld.log'}", "--user=root", "--skip-syslog"]
    argv += ["--skip-name-resolve", "--innodb-buffer-pool-size=32M", "--performance-schema=OFF"]
    pid = _proc.spawn_detached(argv, env={"PATH": _proc.SAFE_PATH}, log_path=standin.directory / "safe.log")
    standin.safe_pid_file.write_text(f"{pid}\n")
    deadline = time.monotonic() + DATABASE_READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if _sql(standin, "SELECT 1").returncode == 0:
            return
        if not _proc.alive(pid):
            break
        time.sleep(0.2)
    tail = (
        (standin.directory / "mysqld.log").read_text(errors="replace")[-800:]
        if (standin.directory / "mysqld.log").exists()
        else ""
    )
    raise ProviderError(f"the MariaDB stand-in for {standin.uri} did not start: {tail.strip()}")


def ensure_user(standin: Standin, user: str, password: str) -> None:
    """Create ``Database/UserName`` with the password on first use, as the RDS instance's admin would;
    an existing user keeps its password (a wrong one then fails the create, as on AWS)."""
    quoted_user, quoted_pw = user.replace("'", "''"), password.replace("\\", "\\\\").replace("'", "''")
    statement = (
        f"CREATE USER IF NOT EXISTS '{quoted_user}'@'%' IDENTIFIED BY '{quoted_pw}';"
        f" GRANT ALL PRIVILEGES ON *.* TO '{quoted_user}'@'%'; FLUSH PRIVILEGES;"
    )
    result = _sql(standin, statement)
    if result.returncode != 0:
        raise ProviderError(f"cannot create database user {user!r}: {result.stderr.strip()}")


def stop_standin(standin: Standin) -> None:
    """Stop the server (mysqld_safe first, so it does not restart it) and remove its namespace."""
    for pid_file, program in ((standin.safe_pid_file, "mysqld_safe"), (standin.server_pid_file, "mariadbd")):
        pid = _proc.read_pid(pid_file)
        if pid and _proc.alive(pid) and any(program in part for part in _proc.cmdline(pid)[:2]):
            _proc.kill_pids([pid], grace_s=10.0)
    _net.delete_netns(standin.netns)
    shutil.rmtree(standin.run_dir, ignore_errors=True)


# -- a cluster's side --------------------------------------------------------------------------


def _write_slurmdbd_conf(
    plan: ClusterPlan, layout: ClusterLayout, descriptor: ClusterDescriptor, port: int, password: str
) -> None:
    """The head's slurmdbd.conf (in the run dir: a restore writes it again)."""
    write_slurmdbd_conf(layout, slurmdbd_conf_text(plan, layout, descriptor, port, password))


def slurmdbd_conf_path(layout: ClusterLayout) -> Path:
    return layout.conf_dir / "slurmdbd.conf"


def write_slurmdbd_conf(layout: ClusterLayout, text: str) -> None:
    """slurmdbd.conf, readable by root only from its first byte (it holds the password)."""
    write_atomic(slurmdbd_conf_path(layout), text, mode=0o600)


def slurmdbd_pid_file(layout: ClusterLayout) -> Path:
    return layout.run_dir / "slurmdbd.pid"


def slurmdbd_conf_text(
    plan: ClusterPlan, layout: ClusterLayout, descriptor: ClusterDescriptor, port: int, password: str
) -> str:
    """The head's slurmdbd.conf for ``plan``'s Database."""
    from corral.providers.local._files import slurm_runtime

    _, db_address = addresses(ipaddress.IPv4Network(descriptor.subnet))
    settings = SlurmdbdSettings(
        storage_host=str(db_address),
        storage_port=port,
        password=password,
        pid_file=str(slurmdbd_pid_file(layout)),
        log_file=str(layout.log / "slurmdbd.log"),
    )
    runtime = slurm_runtime(layout, descriptor, suspend_time_s=None, include_file=None)
    return render_slurmdbd_conf(plan, runtime, settings)


def map_host(layout: ClusterLayout, descriptor: ClusterDescriptor, host: str) -> None:
    """The database's (or external slurmdbd's) host name in the cluster's hosts file, mapped to the
    stand-in's end of the link; once (a restore rewrites the hosts file, then maps it again)."""
    _, db_address = addresses(ipaddress.IPv4Network(descriptor.subnet))
    line = f"{db_address}\t{host}\n"
    if line not in (layout.hosts_file.read_text() if layout.hosts_file.exists() else ""):
        with layout.hosts_file.open("a") as hosts:
            hosts.write(line)


def prepare(plan: ClusterPlan, layout: ClusterLayout, descriptor: ClusterDescriptor, report: Report) -> str:
    """Before the head starts: the stand-in up with the user, slurmdbd.conf written, the Uri's host
    in the cluster's hosts file. Returns the stand-in's key (for ``descriptor.extra``)."""
    missing = [p for p in ACCOUNTING_PROGRAMS if shutil.which(p, path=_proc.SAFE_PATH) is None]
    if missing:
        from corral.errors import PrerequisiteError

        raise PrerequisiteError(
            f"Scheduling/SlurmSettings/Database needs {', '.join(missing)}, not installed here",
            hint="run `bash scripts/setup.sh`, or `apt-get install -y mariadb-server slurmdbd` (as root)",
        )
    host, port = plan.slurm.database_endpoint()
    standin = standin_for(layout.state_dir, plan.slurm.database_uri or "", port)
    password = database_password(plan, standin, report)
    ensure_standin(standin, report)
    ensure_user(standin, plan.slurm.database_user or "", password)
    _write_slurmdbd_conf(plan, layout, descriptor, port, password)
    map_host(layout, descriptor, host)
    return standin.key


def connect(layout: ClusterLayout, descriptor: ClusterDescriptor, key: str | None = None) -> None:
    """The veth pair between the cluster's head namespace and its database's (``key``: another
    stand-in's, default the cluster's ``Database``)."""
    key = key or descriptor.extra[DATABASE_KEY]
    standin_ns = f"corraldb-{key}"
    head = _net.head_netns(descriptor.name)
    peer = "c" + hashlib.sha1(str(layout.root.resolve()).encode()).hexdigest()[:8]
    head_address, db_address = addresses(ipaddress.IPv4Network(descriptor.subnet))
    _net.ip("-n", head, "link", "add", HEAD_VETH, "type", "veth", "peer", "name", peer, "netns", standin_ns)
    _net.ip("-n", head, "addr", "add", f"{head_address}/30", "dev", HEAD_VETH)
    _net.ip("-n", head, "link", "set", HEAD_VETH, "up")
    _net.ip("-n", standin_ns, "addr", "add", f"{db_address}/30", "dev", peer)
    _net.ip("-n", standin_ns, "link", "set", peer, "up")


def disconnect(layout: ClusterLayout) -> None:
    """Remove the head's link to its database, if there is one (both ends go with it)."""
    head = _net.head_netns(layout.name)
    _proc.run(["ip", "-n", head, "link", "del", HEAD_VETH], check=False)


def stop_slurmdbd(layout: ClusterLayout) -> None:
    """Stop the head's slurmdbd (by its pid file, after checking the pid is really a slurmdbd) and
    wait for it to go, so that a new one can take its port."""
    pid_file = slurmdbd_pid_file(layout)
    pid = _proc.read_pid(pid_file)
    if pid and _proc.alive(pid) and any("slurmdbd" in part for part in _proc.cmdline(pid)[:1]):
        _proc.kill_pids([pid], grace_s=10.0)
    pid_file.unlink(missing_ok=True)


def slurmdbd_running(layout: ClusterLayout) -> bool:
    pid = _proc.read_pid(slurmdbd_pid_file(layout))
    return bool(pid and _proc.alive(pid))


def check_login(standin: Standin, user: str, password: str) -> None:
    """Log in to the stand-in as ``user`` over TCP, as slurmdbd will: a wrong password fails here,
    with MariaDB's own words, before a running cluster is touched."""
    argv = ["ip", "netns", "exec", standin.netns, "mariadb", "--no-defaults", "-h127.0.0.1"]
    argv += [f"-P{standin.port}", f"-u{user}", "-N", "-e", "SELECT 1"]
    env = {"PATH": _proc.SAFE_PATH, "MYSQL_PWD": password}
    result = _proc.run(argv, env=env, check=False, timeout=30)
    if result.returncode != 0:
        raise ProviderError(
            f"cannot log in to the database {standin.uri} as {user!r}: {result.stderr.strip()}",
            hint="check Database/UserName and the password in PasswordSecretArn",
        )


def slurmdbd_argv(layout: ClusterLayout, holder: int) -> list[str]:
    """slurmdbd on the head: the image's in the head's root (an image cluster: slurmdbd must be at
    least slurmctld's version), else the host's in the head's network and UTS namespaces."""
    if image_cluster(layout):
        return head_daemon_argv(layout, holder, "slurmdbd")
    head = _net.head_netns(layout.name)
    return ["nsenter", f"--net=/run/netns/{head}", f"--uts=/proc/{holder}/ns/uts", "--", "slurmdbd"]


def start_slurmdbd(layout: ClusterLayout, descriptor: ClusterDescriptor, holder: int, report: Report) -> None:
    """slurmdbd on the head, then the cluster registered with it (before slurmctld starts, so
    slurmctld's first records have somewhere to go). Fails with slurmdbd's own words when it
    cannot reach the database (a wrong password, say)."""
    env = slurm_env(layout)
    argv = [*_cgroups.enter_argv(layout.root, _cgroups.HEAD), *slurmdbd_argv(layout, holder)]
    _proc.spawn_detached(argv, env=env, log_path=layout.log / "slurmdbd.stdout")
    deadline = time.monotonic() + SLURMDBD_READY_TIMEOUT_S
    register_cluster(
        layout, descriptor, report, deadline, layout.log / "slurmdbd.log", slurmdbd_pid_file(layout)
    )
    report("HeadNode", "slurmdbd is up; the cluster is registered for accounting")


def register_cluster(
    layout: ClusterLayout,
    descriptor: ClusterDescriptor,
    report: Report,
    deadline: float,
    dbd_log: Path,
    dbd_pid_file: Path | None = None,
    hint: str = "check Database/Uri, UserName and the password in PasswordSecretArn",
) -> None:
    """Wait until the cluster's slurmdbd answers ``sacctmgr`` from the head, then register the
    cluster with it (once). Fails with slurmdbd's log (``dbd_log``) when it never answers or its
    process (``dbd_pid_file``) dies."""
    env = slurm_env(layout)
    head = ["nsenter", f"--net=/run/netns/{_net.head_netns(layout.name)}", "--"]
    name = descriptor.name
    while True:
        listed = _proc.run(
            [*head, "sacctmgr", "-n", "-P", "show", "cluster", "format=cluster"], env=env, check=False
        )
        if listed.returncode == 0:
            break
        pid = _proc.read_pid(dbd_pid_file) if dbd_pid_file else None
        if time.monotonic() > deadline or (pid is not None and not _proc.alive(pid)):
            why = log_tail(dbd_log, 8) or listed.stderr.strip()
            raise ProviderError(f"slurmdbd did not come up: {why}", hint=hint)
        time.sleep(0.2)
    if name not in listed.stdout.split():
        added = _proc.run([*head, "sacctmgr", "-i", "add", "cluster", name], env=env, check=False)
        if added.returncode != 0 and "already exists" not in added.stdout + added.stderr:
            raise ProviderError(f"sacctmgr add cluster {name} failed: {added.stderr.strip() or added.stdout}")


def restart(plan: ClusterPlan, layout: ClusterLayout, descriptor: ClusterDescriptor, holder: int) -> None:
    """After a reboot: the cluster's stand-in up again (it may have gone with the host), the head's
    slurmdbd.conf and hosts entry again (the run dir went with the host), the link to it, and
    slurmdbd on the head."""
    standin = _load(databases_dir(layout.state_dir) / descriptor.extra[DATABASE_KEY])
    if standin is None:
        raise ProviderError(
            f"the database stand-in of cluster {descriptor.name!r} is gone",
            hint="`corral list-databases` lists the stand-ins; recreate the cluster",
        )
    quiet: Report = lambda _where, _what: None  # noqa: E731 (restore reports one event of its own)
    ensure_standin(standin, quiet)
    host, port = plan.slurm.database_endpoint()
    _write_slurmdbd_conf(plan, layout, descriptor, port, database_password(plan, standin, quiet))
    map_host(layout, descriptor, host)
    connect(layout, descriptor)
    start_slurmdbd(layout, descriptor, holder, quiet)


# -- listing and removing stand-ins ------------------------------------------------------------


def _users(state_dir: Path) -> dict[str, list[str]]:
    """stand-in key -> the clusters of this state directory that use it."""
    import json

    users: dict[str, list[str]] = {}
    for descriptor in sorted((state_dir / "clusters").glob("*/cluster.json")):
        try:
            extra = json.loads(descriptor.read_text()).get("extra", {})
            key = extra.get(DATABASE_KEY) or extra.get(EXTERNAL_SLURMDBD_KEY)
        except (OSError, ValueError):
            continue
        if key:
            users.setdefault(key, []).append(descriptor.parent.name)
    return users


def _load(directory: Path) -> Standin | None:
    try:
        uri = (directory / "uri").read_text().strip()
    except OSError:
        return None
    _, _, port = uri.rpartition(":")
    return Standin(directory.name, uri, directory, int(port) if port.isdigit() else 3306)


def standins(state_dir: Path) -> list[DatabaseStandin]:
    """Every stand-in of the state directory, with whether it runs and who uses it."""
    users = _users(state_dir)
    found = []
    for directory in sorted(databases_dir(state_dir).glob("*")):
        standin = _load(directory)
        if standin is None:
            continue
        pid = _proc.read_pid(standin.safe_pid_file)
        running = bool(pid and _proc.alive(pid))
        found.append(DatabaseStandin(standin.uri, running, str(directory), tuple(users.get(standin.key, ()))))
    return found


def delete_standin(state_dir: Path, uri: str, *, force: bool) -> DatabaseStandin:
    """Stop the stand-in for ``uri`` and remove it with its data."""
    from corral.errors import ConflictError, NotFoundError

    for listed in standins(state_dir):
        if listed.uri != uri:
            continue
        if listed.used_by and not force:
            raise ConflictError(
                f"database stand-in for {uri} is used by cluster(s) {', '.join(listed.used_by)}",
                hint="delete those clusters first, or pass --force true (their accounting stops)",
            )
        standin = _load(Path(listed.path))
        if standin is not None:
            stop_standin(standin)
        shutil.rmtree(listed.path)
        return listed
    raise NotFoundError(f"no database stand-in for {uri!r}", hint="`corral list-databases` lists them")

"""The head node's SSH server: a real sshd for ``corral ssh``, as an instance's sshd is for
``pcluster ssh``.

- One sshd per cluster, started from the host's ``/usr/sbin/sshd`` inside the head node's network,
  UTS and mount namespaces (and its cgroup, so the delete kills it with everything else). It
  listens on the head's address only: nothing listens on the host.
- Its own config, host key, client key pair and known_hosts live under ``<cluster>/ssh/``; its pid
  file under the cluster's run dir. Key authentication only (no password, no PAM).
- The cluster's default user (``ec2-user``, ``ubuntu`` or ``rocky`` from ``Image/Os``, as on AWS)
  exists in the head node only: its passwd/group/shadow lines are bind-mounted over ``/etc`` in the
  head's private mount namespace, and its home is ``/home/<user>`` there (the cluster's ``/home``
  storage when it has one, else a directory under ``<cluster>/ssh/home``).
- The client is the host's ssh; ``ProxyCommand`` carries the connection into the head's network
  namespace (``nsenter --net`` + ``socat``), so no route to the cluster is added to the host.

When nodes boot from images (Debian 13 with openssh-server), ``start_argv`` is what the image's
head node runs; only the binary's path changes.
"""

from __future__ import annotations

import contextlib
import shlex
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from corral.errors import PrerequisiteError
from corral.providers.base import ProviderError
from corral.providers.local import _cgroups, _proc
from corral.providers.local._layout import ClusterLayout

SSHD = "/usr/sbin/sshd"
#: The login user of each ``Image/Os``, as on AWS's official AMIs.
OS_USERS = {
    "alinux2": "ec2-user",
    "alinux2023": "ec2-user",
    "rhel8": "ec2-user",
    "rhel9": "ec2-user",
    "ubuntu2204": "ubuntu",
    "ubuntu2404": "ubuntu",
    "rocky8": "rocky",
    "rocky9": "rocky",
}
DEFAULT_USER = "ec2-user"
START_TIMEOUT_S = 30.0


def default_user(os_name: str) -> str:
    """The cluster's default user for ``Image/Os``."""
    return OS_USERS.get(os_name, DEFAULT_USER)


@dataclass(frozen=True)
class SshFiles:
    """Where a cluster's sshd keeps its files."""

    directory: Path
    pid_file: Path
    log: Path

    @property
    def config(self) -> Path:
        return self.directory / "sshd_config"

    @property
    def host_key(self) -> Path:
        return self.directory / "ssh_host_ed25519_key"

    @property
    def client_key(self) -> Path:
        """The private key of the cluster's default user (``corral ssh`` uses it)."""
        return self.directory / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.directory / "known_hosts"

    @property
    def authorized_keys(self) -> Path:
        return self.directory / "authorized_keys"

    @property
    def user_file(self) -> Path:
        return self.directory / "user"

    @property
    def home(self) -> Path:
        return self.directory / "home"


def ssh_files(layout: ClusterLayout) -> SshFiles:
    return SshFiles(layout.root / "ssh", layout.run_dir / "sshd.pid", layout.log / "sshd.log")


def keygen(path: Path, comment: str) -> None:
    """An ed25519 key pair at ``path`` (and ``path.pub``), unless there is one."""
    _keygen(path, comment)


def _keygen(path: Path, comment: str) -> None:
    if not path.exists():
        _proc.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)])


def _free_id(taken: set[int]) -> int:
    return next(i for i in range(1000, 60000) if i not in taken)


def _accounts(user: str, etc: Path = Path("/etc")) -> tuple[str, str, str, int, int]:
    """(passwd, group, shadow) texts of the nodes: those in ``etc`` (the host's, or the image's
    for machines booted from one), plus ``user`` when they have no such user (uid and gid the
    first free from 1000), and the user's uid and gid."""
    passwd = (etc / "passwd").read_text()
    group = (etc / "group").read_text()
    shadow = (etc / "shadow").read_text() if (etc / "shadow").exists() else ""
    for line in passwd.splitlines():
        fields = line.split(":")
        if fields[0] == user and len(fields) > 3:
            return passwd, group, shadow, int(fields[2]), int(fields[3])
    uids = {
        int(f[2]) for f in (line.split(":") for line in passwd.splitlines()) if len(f) > 2 and f[2].isdigit()
    }
    gids = {
        int(f[2]) for f in (line.split(":") for line in group.splitlines()) if len(f) > 2 and f[2].isdigit()
    }
    uid = gid = _free_id(uids | gids)
    passwd += f"{user}:x:{uid}:{gid}:Corral cluster user:/home/{user}:/bin/bash\n"
    group += f"{user}:x:{gid}:\n"
    shadow += f"{user}:*:20000:0:99999:7:::\n"  # '*': no password; keys only
    return passwd, group, shadow, uid, gid


def prepare(layout: ClusterLayout, address: str, os_name: str, *, etc: Path = Path("/etc")) -> SshFiles:
    """Write the sshd's config, keys and the nodes' accounts (idempotent); ``etc`` holds the
    accounts the nodes start from (the host's, or their image's)."""
    if not Path(SSHD).exists() or shutil.which("socat") is None:
        raise PrerequisiteError(
            "the local provider's head node needs openssh-server and socat",
            hint="run `bash scripts/setup.sh` (it installs them without starting the host's sshd)",
        )
    files = ssh_files(layout)
    files.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    user = default_user(os_name)
    files.user_file.write_text(user + "\n")
    _keygen(files.host_key, f"{layout.name}-head")
    _keygen(files.client_key, f"{user}@{layout.name}")
    host_key = files.host_key.with_suffix(".pub").read_text().split()
    files.known_hosts.write_text(f"{address} {host_key[0]} {host_key[1]}\n")
    files.authorized_keys.write_text(files.client_key.with_suffix(".pub").read_text())
    files.authorized_keys.chmod(0o644)
    passwd, group, shadow, uid, gid = _accounts(user, etc)
    for name, text, mode in (("passwd", passwd, 0o644), ("group", group, 0o644), ("shadow", shadow, 0o640)):
        target = files.directory / name
        target.write_text(text)
        target.chmod(mode)
    (files.directory / "ids").write_text(f"{uid}:{gid}\n")
    files.home.mkdir(exist_ok=True)
    files.config.write_text(_config(files, address, layout))
    return files


def _config(files: SshFiles, address: str, layout: ClusterLayout) -> str:
    return sshd_config(files, layout, address, files.host_key, files.pid_file, "the head node's")


def sshd_config(
    files: SshFiles, layout: ClusterLayout, address: str, host_key: Path, pid_file: Path | str, whose: str
) -> str:
    """An sshd_config for one of the cluster's machines (``whose``: the head node's, a login
    node's): key authentication only, the default user's keys in its home, root's Corral's."""
    return "\n".join(
        [
            f"# Corral: {whose} sshd (key authentication only), in its namespaces",
            "Port 22",
            f"ListenAddress {address}",
            f"HostKey {host_key}",
            f"PidFile {pid_file}",
            # the default user's keys are in its home (as on an instance); root's are Corral's file
            "AuthorizedKeysFile .ssh/authorized_keys",
            "AuthenticationMethods publickey",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "PermitRootLogin prohibit-password",
            # the state dir may sit under a world-writable /tmp (sticky): the key file itself is
            # root's, in a root-only directory
            "StrictModes no",
            "PrintMotd no",
            "AcceptEnv LANG LC_*",
            f"SetEnv SLURM_CONF={layout.slurm_conf}",
            "Subsystem sftp internal-sftp",
            "Match User root",
            f"    AuthorizedKeysFile {files.authorized_keys}",
            "",
        ]
    )


def account_files(layout: ClusterLayout) -> tuple[tuple[str, str], ...]:
    """The node files (``corral.node.nodefiles``) that give every node of the cluster its accounts:
    /etc/passwd, /etc/group and /etc/shadow with the default user (none before ``prepare``)."""
    files = ssh_files(layout)
    if not files.user_file.exists():
        return ()
    return tuple((f"/etc/{n}", (files.directory / n).read_text()) for n in ("passwd", "group", "shadow"))


def home_mount(layout: ClusterLayout) -> tuple[str, str] | None:
    """(source, /home): one /home for every node, as pcluster's head node exports /home to the
    compute nodes; None before ``prepare`` (the cluster's own /home storage takes precedence)."""
    files = ssh_files(layout)
    return (str(files.home), "/home") if files.user_file.exists() else None


def start_argv(files: SshFiles, layout: ClusterLayout, enter: list[str]) -> list[str]:
    """The command that starts the sshd in the head's namespaces (whose agent already placed the
    accounts and /home): the user's home with its authorized key, then sshd (which detaches and
    writes its pid file). ``enter``: the argv prefix that enters the head's namespaces."""
    user = files.user_file.read_text().strip()
    ids = (files.directory / "ids").read_text().strip()
    script = " && ".join(
        [
            f"mkdir -p /home/{user}/.ssh && cp {shlex.quote(str(files.authorized_keys))} /home/{user}/.ssh/"
            f" && chown -R {ids} /home/{user} && chmod 700 /home/{user} /home/{user}/.ssh",
            "mkdir -p /run/sshd && chmod 755 /run/sshd",
            f"exec {SSHD} -f {shlex.quote(str(files.config))} -E {shlex.quote(str(files.log))}",
        ]
    )
    cgroup = _cgroups.enter_argv(layout.root, _cgroups.HEAD)
    return [*cgroup, *enter, "sh", "-c", script]


def start(layout: ClusterLayout, enter: list[str], address: str) -> SshFiles:
    """Start the head's sshd (after ``prepare`` and the head's agent); wait until it answers on the
    head's port 22."""
    files = ssh_files(layout)
    result = _proc.run(start_argv(files, layout, enter), env={"PATH": _proc.SAFE_PATH}, check=False)
    if result.returncode != 0:
        raise ProviderError(
            f"sshd did not start on the head node: {result.stderr.strip()}", hint=f"see {files.log}"
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if files.pid_file.exists() and _listening(layout.name, address):
            return files
        time.sleep(0.1)
    raise ProviderError("sshd did not start listening on the head node", hint=f"see {files.log}")


def _listening(cluster_name: str, address: str) -> bool:
    """Whether the head's sshd answers on port 22 (``ssh-keyscan`` from inside the head's netns)."""
    from corral.providers.local import _net

    netns = f"--net=/run/netns/{_net.head_netns(cluster_name)}"
    probe = ["nsenter", netns, "ssh-keyscan", "-T", "2", "-t", "ed25519", address]
    with contextlib.suppress(subprocess.TimeoutExpired):
        done = subprocess.run(probe, capture_output=True, timeout=10, check=False)
        return b"ssh-ed25519" in done.stdout
    return False


def client_argv(
    layout: ClusterLayout,
    address: str,
    args: list[str],
    *,
    user: str | None,
    known_hosts: Path | None = None,
) -> list[str]:
    """``ssh USER@HEAD ARGS`` as pcluster builds it, plus what reaches the head from the host: the
    cluster's key and known_hosts, and a ProxyCommand into the head's network namespace (which
    reaches every machine of the cluster: ``address`` and ``known_hosts`` may be another's)."""
    from corral.providers.local import _net

    files = ssh_files(layout)
    login = user or (files.user_file.read_text().strip() if files.user_file.exists() else DEFAULT_USER)
    proxy = f"nsenter --net=/run/netns/{_net.head_netns(layout.name)} socat - TCP:%h:%p"
    return [
        "ssh",
        "-i",
        str(files.client_key),
        "-o",
        f"UserKnownHostsFile={known_hosts or files.known_hosts}",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        f"ProxyCommand={proxy}",
        f"{login}@{address}",
        *args,
    ]


def pid(layout: ClusterLayout) -> int | None:
    return _proc.read_pid(ssh_files(layout).pid_file)


__all__ = [
    "OS_USERS",
    "SshFiles",
    "account_files",
    "client_argv",
    "default_user",
    "home_mount",
    "keygen",
    "pid",
    "prepare",
    "ssh_files",
    "sshd_config",
    "start",
    "start_argv",
]

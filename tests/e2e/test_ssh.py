"""`corral ssh` as `pcluster ssh`: a real SSH session, key-authenticated, to an sshd running in the
head node's namespaces only, as the cluster's default user; ssh's own options before the command;
`--dryrun true` prints the command."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path

import pytest

from corral.providers.local import LocalProvider

from .conftest import Corral, cluster_yaml, unique_name

pytestmark = pytest.mark.e2e

CONFIG = cluster_yaml(os="ubuntu2204")


def test_ssh_is_a_real_key_authenticated_session_as_the_default_user(
    provider: LocalProvider, corral: Corral, tmp_path: Path
) -> None:
    name = unique_name("ssh")
    host_had_ubuntu = "\nubuntu:" in "\n" + Path("/etc/passwd").read_text()
    corral.create(name, CONFIG)
    layout = provider.layout(name)
    try:
        # the OS's default user (ubuntu for ubuntu2204), in its home, with the cluster's Slurm
        out = corral("ssh", "-n", name, "--", "whoami; pwd; sinfo -h -o %P").stdout
        assert out.split() == ["ubuntu", "/home/ubuntu", "q1*"]
        # ssh's options before the command reach ssh; the command keeps its own options
        verbose = corral("ssh", "-n", name, "-v", "-o", "BatchMode=yes", "--", "echo", "-n", "hi")
        assert verbose.stdout == "hi"
        assert "Authenticated to" in verbose.stderr and "publickey" in verbose.stderr
        # stdin reaches the remote command (sbatch < job.sh), and a job runs as the user
        job = "#!/bin/sh\n#SBATCH -p q1 -o out-%j.txt\nid -un\n"
        job_id = corral("ssh", "-n", name, "--", "sbatch", "--parsable", "--wait", stdin=job).stdout
        assert corral("ssh", "-n", name, "--", "cat", f"out-{job_id.strip()}.txt").stdout == "ubuntu\n"
        # --dryrun prints pcluster's {"command": "ssh USER@HEAD ARGS"} with the user's options
        dry = corral("ssh", "-n", name, "--dryrun", "true", "-i", "k.pem", "--", "ls").stdout
        argv = shlex.split(json.loads(dry)["command"])
        login = next(i for i, a in enumerate(argv) if a.startswith("ubuntu@"))
        assert argv[0] == "ssh" and argv[login + 1 :] == ["-i", "k.pem", "--", "ls"]
        address = argv[login].split("@", 1)[1]
        # key authentication only: the same connection with another key is refused
        other = tmp_path / "other"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
        assert argv[1] == "-i"
        refused = [
            "ssh",
            "-i",
            str(other),
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "BatchMode=yes",
            *argv[3 : login + 1],
        ]
        denied = subprocess.run([*refused, "true"], capture_output=True, text=True, timeout=60)
        assert denied.returncode == 255 and "Permission denied (publickey)" in denied.stderr
        # nothing listens on the host: the sshd's socket is in the head's network namespace only
        host = subprocess.run(["ss", "-Hltn"], capture_output=True, text=True, check=True).stdout
        assert f"{address}:22" not in host
        inside = subprocess.run(
            ["ip", "netns", "exec", f"corral-{name}-head", "ss", "-Hltn"], capture_output=True, text=True
        ).stdout
        assert f"{address}:22" in inside
        sshd = int((layout.run_dir / "sshd.pid").read_text())
        assert os.readlink(f"/proc/{sshd}/ns/net") != os.readlink("/proc/self/ns/net")
        # the user exists on the cluster's nodes, not on the host (unless the host has its own)
        assert host_had_ubuntu or "ubuntu:" not in Path("/etc/passwd").read_text()
    finally:
        corral.delete(name, check=True)

"""How a compute node whose bootstrap failed tells Slurm why (pure; ``_node_setup`` adds it).

The node agent stops the node's services (munged, slurmd) on a failure, then runs the spec's
``on_failure`` command with ``Reason=bootstrap failure: <message>`` appended. On an AWS compute
node that command starts munged again with the cluster's key (unless one answers already), sets
the node DOWN with that reason through ``scontrol`` on a client ``slurm.conf`` the node rendered
for itself (configless slurmd may never have fetched one: a storage step fails before slurmd
starts), and stops the munged it started. Slurm then requeues the node's job at once and shows the
reason (``scontrol show node``, ``sinfo -R``), as on the local provider, instead of waiting for
``ResumeTimeout``.
"""

from __future__ import annotations

import shlex

CLIENT_CONF = "/etc/corral/slurm-client.conf"
FAILURE_PID = "/run/munge/munged-failure.pid"


def head_label(address: str) -> str:
    """A name for the head in the client config (client commands only use its address)."""
    return "ip-" + address.replace(".", "-")


def failure_command(node_name: str, munged: tuple[str, ...]) -> tuple[str, ...]:
    """The ``on_failure`` argv; the agent appends ``Reason=...`` (``$1`` of the script)."""
    start = shlex.join([*(a for a in munged if not a.startswith("--pid-file")), f"--pid-file={FAILURE_PID}"])
    script = (
        f"started=; munge -n >/dev/null 2>&1 || {{ {start} && started=1; }}\n"
        f'SLURM_CONF={CLIENT_CONF} scontrol update NodeName={shlex.quote(node_name)} State=DOWN "$1"\n'
        "code=$?\n"
        f'[ -z "$started" ] || kill "$(cat {FAILURE_PID})" 2>/dev/null\n'
        "exit $code\n"
    )
    return ("/bin/sh", "-c", script, "corral-node-failed")


__all__ = ["CLIENT_CONF", "failure_command", "head_label"]

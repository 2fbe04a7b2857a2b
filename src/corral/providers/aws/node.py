"""The node side of an AWS cluster: complete the bootstrap spec the user data wrote, then run the agent.

The user data (``template._userdata``) writes ``/etc/corral/cluster.json`` (cluster name, region,
node role, queue) and a base ``BootstrapSpec`` (node name, status file, environment), and runs

    /opt/corral/bin/python -m corral.providers.aws.node /etc/corral/bootstrap.json

This program rebuilds the cluster's ``ClusterPlan`` from the config the provider stored in the
artefact bucket at create (``AwsProvider.plan``), fetches the node's custom action scripts
(``s3://`` / ``https://``, through ``corral.node.fetch``, the same code as on the local provider),
adds them to the spec in ParallelCluster's order (OnNodeStart, then OnNodeConfigured; the config's
``Sequence`` order within each), decides the node's Slurm files and services (``_node_setup``:
munged, slurmctld and the reconciler on the head; munged and configless slurmd on compute nodes;
EFS mounts), writes those files and the cluster's munge key (``corral/<cluster>/munge.key`` in the
artefact bucket) to the node's disk, adds the services to the spec, writes the spec back and hands
over to the node agent (``python -m corral.node SPEC --phase all``): the same agent, the same order
(OnNodeStart, services, OnNodeConfigured), on every provider.

``complete_spec`` and ``_node_setup`` decide (pure); ``prepare``/``main`` fetch and execute.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from corral.node.actions import Action
from corral.node.agent import BootstrapSpec
from corral.plan import ClusterPlan, CustomActionSpec
from corral.providers.aws._node_setup import (
    MUNGE_KEY,
    NodeContext,
    NodeSetup,
    StorageFacts,
    apply_setup,
    compute_setup,
    head_setup,
)

ACTIONS_DIR = Path("/var/lib/corral/actions")
#: The head node's logical id in the root template (``template._head.HEAD_NODE``; not imported, so
#: nodes need no troposphere).
HEAD_NODE = "HeadNode"
ACTION_LOGS = Path("/var/log/corral/actions")
#: Where the head node keeps its copy of ``CustomSlurmSettingsIncludeFile`` (slurm.conf includes it).
SLURM_INCLUDE_DIR = "/etc/slurm/include"


def node_actions(plan: ClusterPlan, role: str, queue: str, pool: str = "") -> tuple[CustomActionSpec, ...]:
    """The custom actions of the head node (``role`` HeadNode), of login pool ``pool``'s nodes
    (``role`` LoginNode) or of ``queue``'s nodes, in run order."""
    if role == "LoginNode":
        from corral.providers.aws._login_setup import login_actions

        return login_actions(plan, pool)
    found = plan.head_node.custom_actions if role == "HeadNode" else plan.custom_actions_for(queue)
    return tuple(sorted(found, key=lambda a: a.run_order))


def complete_spec(
    base: BootstrapSpec,
    actions: tuple[CustomActionSpec, ...],
    fetched: Mapping[str, str],
    *,
    log_dir: Path = ACTION_LOGS,
) -> BootstrapSpec:
    """``base`` with ``actions`` (scripts at their fetched local paths, each with its own log file
    ``<NN>-<Event>-<script name>.log``). Pure."""
    added = tuple(
        Action(
            a.event,
            fetched[a.script],
            a.args,
            a.script,
            str(log_dir / f"{i:02d}-{a.event}-{Path(a.script).name or 'script'}.log"),
        )
        for i, a in enumerate(actions, start=1)
    )
    return replace(base, actions=base.actions + added)


def own_address() -> str:
    """This machine's primary private address (the source address of its default route; a UDP
    ``connect`` sends nothing)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("169.254.169.254", 80))
        return str(probe.getsockname()[0])


def write_setup(setup: NodeSetup, munge_key: bytes, root: Path = Path("/")) -> None:
    """Create the setup's directories and files, and the munge key (mode 0400), under ``root``."""
    for directory in setup.directories:
        (root / directory.lstrip("/")).mkdir(parents=True, exist_ok=True)
    for path, content, mode in setup.files:
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
        target.chmod(mode)
    key = root / MUNGE_KEY.lstrip("/")
    key.parent.mkdir(parents=True, exist_ok=True)
    key.write_bytes(munge_key)
    key.chmod(0o400)


def prepare(
    spec_path: Path,
    context_path: Path,
    actions_dir: Path = ACTIONS_DIR,
    *,
    root: Path = Path("/"),
    address: str | None = None,
    export_cidrs: tuple[str, ...] | None = None,
) -> BootstrapSpec:
    """Read the node's context, rebuild the plan from the bucket, fetch the node's scripts into
    ``actions_dir``, learn the cluster's storage, write the node's Slurm files and munge key under
    ``root``, and write the completed spec (actions and services) back to ``spec_path``; the
    completed spec. ``address`` is the head node's own address (default: ``own_address()``),
    ``export_cidrs`` who may mount its NFS exports (default: the VPC's CIDR blocks, from IMDS)."""
    from corral.node.fetch import fetch, fetch_all
    from corral.providers.aws._program import log
    from corral.providers.aws._storage_facts import storage_details, vpc_cidrs
    from corral.providers.aws.provider import AwsProvider

    context = json.loads(context_path.read_text(encoding="utf-8"))
    if context.get("region"):
        os.environ.setdefault("AWS_REGION", context["region"])
    provider = AwsProvider(Path(os.environ.get("CORRAL_STATE_DIR", "/var/lib/corral")))
    provider.remember(context)
    node = NodeContext.of(context)
    plan = provider.plan(node.cluster_name)
    actions = node_actions(plan, node.node_role, node.queue, node.login_pool)
    fetched = fetch_all([a.script for a in actions], actions_dir)
    base = BootstrapSpec.load(spec_path.read_text(encoding="utf-8"))
    ids = provider.storage_ids(node.cluster_name)
    details, problems = storage_details(provider.clients(node.region or None), plan, ids)
    for problem in problems:
        log("node", f"storage facts: {problem}")
    if node.is_head and export_cidrs is None:
        export_cidrs = vpc_cidrs()
    storage = StorageFacts(ids=ids, details=details, export_cidrs=export_cidrs or ())
    if node.is_head:
        include = plan.slurm.custom_settings_include_file
        setup = head_setup(
            plan,
            node,
            hostname=base.hostname,
            address=address or own_address(),
            storage=storage,
            include_file=str(fetch(include, root / SLURM_INCLUDE_DIR.lstrip("/"))) if include else None,
            database_password=_database_password(plan),
        )
    elif node.is_login:
        from corral.providers.aws._login_setup import login_setup

        setup = login_setup(plan, node, storage=storage)
    else:
        setup = compute_setup(plan, node, node_name=base.node_name, storage=storage)
    for message in setup.skipped:
        log("node", f"storage not mounted: {message}")
    write_setup(setup, provider.munge_key(node.cluster_name), root)
    spec = complete_spec(base, actions, {source: str(path) for source, path in fetched.items()})
    spec = apply_setup(spec, setup)
    spec_path.write_text(spec.dump(), encoding="utf-8")
    return spec


def _database_password(plan: ClusterPlan) -> str | None:
    """``Database/PasswordSecretArn``'s value, read with the head node's role (the template grants
    it ``secretsmanager:GetSecretValue`` on that secret); None without ``Database``."""
    if not plan.slurm.database_uri:
        return None
    from corral.providers.secrets import secret_password

    return secret_password(plan.slurm.database_password_secret_arn or "")


def signal_arguments(context: NodeContext, unique_id: str, *, success: bool) -> dict[str, str]:
    """The ``SignalResource`` call that answers the head node's CreationPolicy. Pure."""
    return {
        "StackName": context.stack_name,
        "LogicalResourceId": HEAD_NODE,
        "UniqueId": unique_id,
        "Status": "SUCCESS" if success else "FAILURE",
    }


def signal_stack(context: NodeContext, *, success: bool, cfn: Any = None) -> str | None:
    """Tell the stack how the head node's bootstrap ended (it completes, or fails and rolls back, on
    it); returns why the signal could not be sent, or None."""
    from corral.errors import CorralError
    from corral.providers.aws._clients import AwsClients
    from corral.providers.aws._errors import aws_call

    try:
        client = cfn if cfn is not None else AwsClients(context.region).cfn
        aws_call(
            "SignalResource",
            client.signal_resource,
            **signal_arguments(context, socket.gethostname(), success=success),
        )
    except CorralError as exc:
        return str(exc)
    return None


def failure_message(status_file: Path) -> str:
    """The agent's failure message from its status file ("" when there is none)."""
    try:
        status = json.loads(status_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    return str(status.get("message") or "") if status.get("status") == "failed" else ""


def report_head_failure(context: NodeContext, message: str, clients: Any = None) -> None:
    """Keep why the head's bootstrap failed where ``describe-cluster`` finds it (``_head_failure``)."""
    from corral.providers.aws import _head_failure
    from corral.providers.aws._clients import AwsClients
    from corral.providers.aws._program import log

    if not context.table_name:
        return
    problem = _head_failure.record(clients or AwsClients(context.region), context.table_name, message)
    log("node", f"head bootstrap failed: {message}" + (f" (not recorded: {problem})" if problem else ""))


def main(argv: list[str]) -> int:
    """Complete the spec at ``argv[0]`` and run the node agent on it; the head node then signals its
    stack (compute nodes hand the process over to the agent)."""
    from corral.providers.aws._program import log
    from corral.providers.aws._settings import AwsSettings

    spec_path = Path(argv[0] if argv else "/etc/corral/bootstrap.json")
    context_path = AwsSettings.from_env().cluster_config
    context = NodeContext.of(json.loads(context_path.read_text(encoding="utf-8")))
    agent = [sys.executable, "-m", "corral.node", str(spec_path), "--phase", "all"]
    try:
        spec = prepare(spec_path, context_path)
    except Exception as exc:
        if context.is_head:
            report_head_failure(context, f"preparing the head node failed: {exc}")
            signal_stack(context, success=False)  # fail the stack now, not at the timeout
        raise
    log("node", f"{len(spec.actions)} custom action(s); starting the node agent")
    if not context.is_head:
        os.execv(sys.executable, agent)
    code = subprocess.run(agent, check=False).returncode
    if code != 0:
        report_head_failure(context, failure_message(Path(spec.status_file)) or f"node agent exited {code}")
    problem = signal_stack(context, success=code == 0)
    log("node", f"agent exited {code}; stack signalled" + (f" failed: {problem}" if problem else ""))
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

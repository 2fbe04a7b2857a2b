"""The node side of an AWS cluster: complete the bootstrap spec the user data wrote, then run the agent.

The user data (``template._userdata``) writes ``/etc/corral/cluster.json`` (cluster name, region,
node role, queue) and a base ``BootstrapSpec`` (node name, status file, environment), and runs

    /opt/corral/bin/python -m corral.providers.aws.node /etc/corral/bootstrap.json

This program rebuilds the cluster's ``ClusterPlan`` from the config the provider stored in the
artefact bucket at create (``AwsProvider.plan``), fetches the node's custom action scripts
(``s3://`` / ``https://``, through ``corral.node.fetch``, the same code as on the local provider),
adds them to the spec in ParallelCluster's order (OnNodeStart, then OnNodeConfigured; the config's
``Sequence`` order within each), writes the spec back and hands over to the node agent
(``python -m corral.node SPEC --phase all``): the same agent, the same order, on every provider.

``complete_spec`` decides (pure); ``main`` fetches and executes.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from corral.node.actions import Action
from corral.node.agent import BootstrapSpec
from corral.plan import ClusterPlan, CustomActionSpec

EVENT_ORDER = ("OnNodeStart", "OnNodeConfigured", "OnNodeUpdated")
ACTIONS_DIR = Path("/var/lib/corral/actions")
ACTION_LOGS = Path("/var/log/corral/actions")


def node_actions(plan: ClusterPlan, role: str, queue: str) -> tuple[CustomActionSpec, ...]:
    """The custom actions of the head node (``role`` HeadNode) or of ``queue``'s nodes, in run order."""
    found = plan.head_node.custom_actions if role == "HeadNode" else plan.custom_actions_for(queue)
    return tuple(
        sorted(
            found,
            key=lambda a: (EVENT_ORDER.index(a.event) if a.event in EVENT_ORDER else 9, a.sequence_index),
        )
    )


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


def prepare(spec_path: Path, context_path: Path, actions_dir: Path = ACTIONS_DIR) -> BootstrapSpec:
    """Read the node's context, rebuild the plan from the bucket, fetch the node's scripts into
    ``actions_dir`` and write the completed spec back to ``spec_path``; the completed spec."""
    from corral.node.fetch import fetch_all
    from corral.providers.aws.provider import AwsProvider

    context = json.loads(context_path.read_text(encoding="utf-8"))
    if context.get("region"):
        os.environ.setdefault("AWS_REGION", context["region"])
    provider = AwsProvider(Path(os.environ.get("CORRAL_STATE_DIR", "/var/lib/corral")))
    provider.remember(context)
    plan = provider.plan(context["cluster_name"])
    actions = node_actions(plan, context.get("node_role", ""), context.get("queue", ""))
    fetched = fetch_all([a.script for a in actions], actions_dir)
    base = BootstrapSpec.load(spec_path.read_text(encoding="utf-8"))
    spec = complete_spec(base, actions, {source: str(path) for source, path in fetched.items()})
    spec_path.write_text(spec.dump(), encoding="utf-8")
    return spec


def main(argv: list[str]) -> int:
    """Complete the spec at ``argv[0]`` and exec the node agent on it."""
    from corral.providers.aws._program import CLUSTER_FILE, log

    spec_path = Path(argv[0] if argv else "/etc/corral/bootstrap.json")
    context_path = Path(os.environ.get("CORRAL_CLUSTER_CONFIG", str(CLUSTER_FILE)))
    spec = prepare(spec_path, context_path)
    log("node", f"{len(spec.actions)} custom action(s); starting the node agent")
    os.execv(sys.executable, [sys.executable, "-m", "corral.node", str(spec_path), "--phase", "all"])
    return 0  # pragma: no cover - execv does not return


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

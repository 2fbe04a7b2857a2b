"""``AwsProvider``: a cluster as a CloudFormation stack plus compute instances from EC2 CreateFleet.

- ``create``: upload the templates (``corral.providers.aws.template``), the validated config and
  the cluster's munge key (``munge.key``, base64: random, or ``MungeKeySecretArn``'s value) to
  the per-account bucket, CreateStack, wait for CREATE_COMPLETE while reporting every stack event,
  return the head node. The stack is created with ``OnFailure=DO_NOTHING``: on failure the service
  decides (rollback on: it calls ``delete``, so the stack is removed and the cluster ends
  ROLLBACK_COMPLETE; rollback off: the failed stack stays for inspection, CREATE_FAILED).
- ``delete``: terminate the compute instances (CreateFleet instances are not stack resources),
  DeleteStack, wait for DELETE_COMPLETE, remove the cluster's artefacts.
- ``launch_batch``/``launch``/``terminate``: the Resume/Suspend programs' work (``_fleet``), with
  the node -> instance mapping in the cluster's DynamoDB table (``_table``) and on instance tags.
- ``run_on_head``: SSM Run Command. An emulator (``AWS_ENDPOINT_URL`` set, e.g. moto) accepts the
  command but never runs it, so there it raises ``ProviderError`` rather than report fake output.

Every botocore error is translated into a ``CorralError`` (``_errors``).
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from corral.config import targets
from corral.config.findings import Finding
from corral.errors import (
    ConflictError,
    CorralError,
    InsufficientCapacityError,
    NotFoundError,
    PrerequisiteError,
    ProviderError,
)
from corral.plan import ClusterPlan
from corral.providers.aws import _fleet, _stack, _table
from corral.providers.aws._clients import AwsClients, has_credentials, resolve_region
from corral.providers.aws._cluster import (
    ClusterSite,
    cluster_document,
    forget_site,
    load_site,
    plan_from_document,
    save_site,
)
from corral.providers.aws._errors import CAPACITY_CODES, CREDENTIALS_HINT, aws_call
from corral.providers.aws._image_verbs import AwsImageVerbs
from corral.providers.aws._instances import (
    NODE_NAME_TAG,
    cluster_instances,
    describe_ids,
    tag_nodes,
)
from corral.providers.aws._settings import AwsSettings
from corral.providers.base import (
    CommandResult,
    EventSink,
    Instance,
    LaunchFailure,
    LaunchResult,
    LoginPoolStatus,
    LogSource,
    NodeRole,
    ProviderBase,
    ProviderTraits,
)

#: Root stack Output naming the cluster's DynamoDB node table (see the template's docstring).
TABLE_OUTPUT = "NodeStateTableName"
#: The cluster's munge key (base64) in its artefact prefix, readable by the cluster's node roles.
MUNGE_KEY_OBJECT = "munge.key"
#: Root stack Output naming the cluster's CloudWatch log group (unique per stack).
LOG_GROUP_OUTPUT = "LogGroupName"
#: Root stack Output holding the internal EFS of ``HeadNode/SharedStorageType: Efs`` (``/home``).
INTERNAL_EFS_OUTPUT = "InternalSharedEfsId"
#: Its name among the storage ids (``_storage_setup``).
INTERNAL_EFS = "InternalSharedEfs"
#: Default login user per ``Image/Os`` (for ``corral ssh``).
OS_USERS = {"ubuntu2204": "ubuntu", "ubuntu2404": "ubuntu", "rocky8": "rocky", "rocky9": "rocky"}


class AwsProvider(AwsImageVerbs, ProviderBase):
    """Clusters on AWS. ``state_dir`` keeps only where each cluster lives (region, bucket)."""

    name = "aws"
    traits = ProviderTraits(
        validation_target=targets.AWS,
        enforces_expiry=True,
        update_not_implemented=(
            (
                r"^Scheduling/SlurmSettings/(Database|ExternalSlurmdbd)(/|$)",
                "the AWS head node's update does not start, move or stop slurmdbd yet",
            ),
        ),
    )

    def __init__(self, state_dir: Path, settings: AwsSettings | None = None) -> None:
        self.state_dir = Path(state_dir)
        #: the environment's knobs, read once (``_settings``); every client this provider makes has them
        self.settings = settings if settings is not None else AwsSettings.from_env()
        self._clients: dict[str, AwsClients] = {}
        self._plans: dict[str, ClusterPlan] = {}

    # -- where things are ------------------------------------------------------------------
    def clients(self, region: str | None) -> AwsClients:
        resolved = resolve_region(region)
        if resolved not in self._clients:
            self._clients[resolved] = AwsClients(resolved, self.settings)
        return self._clients[resolved]

    def site(self, cluster_name: str) -> ClusterSite:
        """Where the cluster lives: the local record, else this machine's region (on the head node
        the environment names it) and the account's bucket."""
        found = load_site(self.state_dir, cluster_name)
        if found is not None:
            return found
        self.check_prerequisites()
        clients = self.clients(None)
        return ClusterSite(
            cluster_name, clients.region, _stack.bucket_name(clients.account_id(), clients.region)
        )

    def default_region(self) -> str | None:
        """The region a config without ``Region`` deploys to (environment or profile), or None."""
        try:
            return resolve_region(None)
        except PrerequisiteError:
            return None

    def remember(self, context: dict[str, Any]) -> None:
        """Record where the cluster lives from a node's context (``/etc/corral/cluster.json``:
        ``cluster_name``, ``region`` and, when the template writes it, ``artefact_bucket``), so a
        node finds a ``CustomS3Bucket`` too."""
        bucket, region = context.get("artefact_bucket"), context.get("region")
        if bucket and region and context.get("cluster_name"):
            save_site(self.state_dir, ClusterSite(str(context["cluster_name"]), str(region), str(bucket)))

    def _clients_of(self, cluster_name: str) -> AwsClients:
        return self.clients(self.site(cluster_name).region)

    def plan(self, cluster_name: str) -> ClusterPlan:
        """The cluster's plan, rebuilt from the config stored in its bucket at create."""
        if cluster_name not in self._plans:
            site = self.site(cluster_name)
            text = _stack.read_object(self.clients(site.region), site.bucket, site.prefix + "cluster.json")
            self._plans[cluster_name] = plan_from_document(text)
        return self._plans[cluster_name]

    def munge_key(self, cluster_name: str) -> bytes:
        """The cluster's munge key (``corral/<cluster>/munge.key`` in its bucket, base64 there)."""
        site = self.site(cluster_name)
        text = _stack.read_object(self.clients(site.region), site.bucket, site.prefix + MUNGE_KEY_OBJECT)
        return base64.b64decode(text.strip())

    def storage_ids(self, cluster_name: str) -> dict[str, str]:
        """Shared storage name -> volume/file system id (``InternalSharedEfs``: the ``/home`` EFS of
        ``SharedStorageType: Efs``), from the stack's outputs (every node role may read them; an
        unreadable stack gives none)."""
        from corral.errors import CorralError
        from corral.providers.aws.template import storage_output_key, storage_resource_ids

        plan = self.plan(cluster_name)
        clients = self._clients_of(cluster_name)
        keys = {storage_output_key(s.name): s.name for s in plan.storage if s.storage_type != "Home"}
        try:
            view = _stack.describe(clients, cluster_name)
            outputs = view.outputs if view is not None else {}
            keys[INTERNAL_EFS_OUTPUT] = INTERNAL_EFS  # HeadNode/SharedStorageType: Efs, /home
            found = {name: outputs[key] for key, name in keys.items() if outputs.get(key)}
            if view is not None and len(found) < len(keys) - 1 and not outputs:
                # an emulator that returns no root Outputs (moto 5.2 with nested stacks): the
                # storage resources' own physical ids
                physical = {
                    r["LogicalResourceId"]: r.get("PhysicalResourceId", "")
                    for r in _stack.resources(clients, cluster_name)
                }
                for name, logical in storage_resource_ids(plan).items():
                    if physical.get(logical):
                        found.setdefault(name, physical[logical])
        except CorralError:
            return {}
        return found

    # -- Provider protocol -----------------------------------------------------------------
    def check_prerequisites(self) -> None:
        """Raise ``PrerequisiteError`` when boto3 finds no credentials."""
        if not has_credentials():
            raise PrerequisiteError("the aws provider needs AWS credentials", hint=CREDENTIALS_HINT)

    def create(self, plan: ClusterPlan, *, on_event: EventSink) -> Instance:
        """Upload the templates and CreateStack; wait for CREATE_COMPLETE; the head node."""
        name = plan.cluster_name
        clients = self.clients(plan.region)
        custom = plan.config.custom_s3_bucket if plan.config is not None else None
        bucket = _stack.existing_bucket(clients, custom) if custom else _stack.ensure_bucket(clients)
        site = ClusterSite(name, clients.region, bucket)
        save_site(self.state_dir, site)
        on_event("CloudFormation", f"uploading templates to s3://{bucket}/{site.prefix}")
        main_url, parameters = self._upload_templates(clients, site, plan)
        tags = {"corral:cluster-name": name, **dict(plan.tags)}
        self._ensure_deleter(clients, plan, on_event)
        _stack.create(clients, name, main_url, tags=tags, parameters=parameters, rollback=False)
        on_event("CloudFormation", f"stack {name} CREATE_IN_PROGRESS in {clients.region}")
        try:
            _stack.wait(clients, name, done=_stack.CREATE_DONE, failed=_stack.CREATE_FAILED, report=on_event)
        except ProviderError as exc:
            reason = self.head_bootstrap_failure(name)
            if reason is None:
                raise
            raise ProviderError(f"{exc}; head node bootstrap: {reason}", hint=exc.hint) from exc
        self._plans[name] = plan
        head = self._head(clients, name)
        if head is None:
            raise ProviderError(
                f"stack {name!r} is CREATE_COMPLETE but no head node instance carries its tags",
                hint="check the HeadNode resource of the stack in the CloudFormation console",
            )
        return head

    def _ensure_deleter(self, clients: AwsClients, plan: ClusterPlan, on_event: EventSink) -> None:
        """The account's stack deleter role, through which the head node deletes its own stack: for
        the time-to-live (without it the create fails) and for ``corral delete-cluster`` on the
        cluster's nodes (without it the create goes on and those requests will fail: an event)."""
        from corral.providers.aws import _expire

        try:
            role = _expire.ensure_deleter_role(clients)
        except CorralError as exc:
            if plan.expires_at:
                raise
            on_event(
                "CloudFormation",
                f"no stack deleter role ({exc.message}): `corral delete-cluster` on the cluster's nodes"
                " will not be able to delete it",
            )
            return
        if plan.expires_at:
            on_event(
                "CloudFormation",
                f"time-to-live {plan.expires_at}: the head node deletes the stack with {role}",
            )

    def _upload_templates(
        self, clients: AwsClients, site: ClusterSite, plan: ClusterPlan, *, munge_key: bool = True
    ) -> tuple[str, dict[str, str]]:
        """Upload cluster.json and the templates (and a new munge key, unless ``munge_key`` is
        False: an update keeps the cluster's); the root template's URL and its parameters."""
        from corral.providers.aws.template import build_templates

        subnets = subnet_facts(clients, plan)
        zones = {sid: zone for sid, (_, zone, _) in subnets.items()}
        public = frozenset(sid for sid, (_, _, maps_public) in subnets.items() if maps_public)
        head_subnet = plan.config.head_node.networking.subnet_id if plan.config is not None else ""
        parameters = {"VpcId": subnets[head_subnet][0]} if head_subnet in subnets else {}
        _stack.upload(clients, site.bucket, site.prefix + "cluster.json", cluster_document(plan))
        if munge_key:
            _stack.upload(
                clients, site.bucket, site.prefix + MUNGE_KEY_OBJECT, self._new_munge_key(clients, plan)
            )
        templates = build_templates(plan, subnet_availability_zones=zones, public_subnets=public)
        if templates.nested:
            urls = {
                logical: _stack.upload(
                    clients, site.bucket, f"{site.prefix}{logical}.json", templates.to_json(logical)
                )
                for logical in templates.nested
            }
            templates = build_templates(
                plan, nested_template_urls=urls, subnet_availability_zones=zones, public_subnets=public
            )
        url = _stack.upload(clients, site.bucket, site.prefix + "main.json", templates.to_json())
        return url, parameters

    @staticmethod
    def _new_munge_key(clients: AwsClients, plan: ClusterPlan) -> str:
        """The cluster's munge key, base64: ``MungeKeySecretArn``'s value (read with the caller's
        credentials, so nodes need no access to the secret), else 1024 random bits."""
        arn = plan.config.scheduling.slurm_settings.munge_key_secret_arn if plan.config is not None else None
        if arn:
            secret = aws_call(
                "GetSecretValue", clients.client("secretsmanager").get_secret_value, SecretId=arn
            )
            return str(secret["SecretString"]).strip()
        return base64.b64encode(os.urandom(128)).decode()

    def update(
        self, old: ClusterPlan, new: ClusterPlan, *, on_event: EventSink, rollback: bool = False
    ) -> None:
        """update-cluster (``_update``): new artefacts, a change set on the root stack, then the
        head node applies the config and runs OnNodeUpdated. pcluster's verdicts apply as they are
        (``live_update_kinds`` keeps the default: none)."""
        from corral.providers.aws import _update

        name = new.cluster_name
        site = load_site(self.state_dir, name) or self.site(name)
        clients = self.clients(site.region)
        on_event("CloudFormation", f"uploading the new templates to s3://{site.bucket}/{site.prefix}")
        url, parameters = self._upload_templates(clients, site, new, munge_key=False)
        self._plans[name] = new
        self._ensure_deleter(clients, new, on_event)  # a cluster made before every head could self-delete
        _update.update_stack(clients, name, url, parameters, on_event)
        _update.apply_on_head(self.run_on_head, name, new, on_event, rollback=rollback)

    def delete(self, cluster_name: str, *, retain_storage: bool = True) -> None:
        """Terminate compute instances, DeleteStack and wait; remove the artefacts. Idempotent.
        Storage with ``DeletionPolicy: Retain`` is kept by CloudFormation itself."""
        site = load_site(self.state_dir, cluster_name) or self.site(cluster_name)
        clients = self.clients(site.region)
        compute = [
            i.instance_id for i in cluster_instances(clients, cluster_name) if i.role is NodeRole.COMPUTE
        ]
        if compute:
            _fleet.terminate(clients, compute, wait_s=600.0)
        if _stack.describe(clients, cluster_name) is not None:
            _stack.delete(clients, cluster_name)
            _stack.wait(clients, cluster_name, done=_stack.DELETE_DONE, failed=_stack.DELETE_FAILED)
        _stack.delete_prefix(clients, site.bucket, site.prefix)
        forget_site(self.state_dir, cluster_name)
        self._plans.pop(cluster_name, None)

    def expire(self, cluster_name: str) -> None:
        """The time-to-live passed (the head node's reconciler calls this): terminate the compute
        instances, remove the artefacts, and DeleteStack through the account's stack deleter role
        (``_expire``); returns once the delete has started."""
        from corral.providers.aws import _expire

        site = load_site(self.state_dir, cluster_name) or self.site(cluster_name)
        clients = self.clients(site.region)
        compute = [
            i.instance_id for i in cluster_instances(clients, cluster_name) if i.role is NodeRole.COMPUTE
        ]
        if compute:
            _fleet.terminate(clients, compute)
        _stack.delete_prefix(clients, site.bucket, site.prefix)
        _expire.delete_own_stack(clients, cluster_name)

    def head_bootstrap_failure(self, cluster_name: str) -> str | None:
        """Why the head node's bootstrap failed, as its node program recorded it, or None."""
        from corral.providers.aws import _head_failure

        clients = self._clients_of(cluster_name)
        table = _stack.tree_outputs(clients, cluster_name, [TABLE_OUTPUT]).get(TABLE_OUTPUT)
        return _head_failure.read(clients, table) if table else None

    def login_pools(self, cluster_name: str) -> list[LoginPoolStatus]:
        """Each ``LoginNodes/Pools`` entry: its load balancer's state, DNS name and scheme, and its
        target group's healthy/unhealthy nodes (``_login``); none without login nodes."""
        from corral.providers.aws import _login

        plan = self.plan(cluster_name)
        if not _login.pool_names(plan):
            return []
        return _login.login_pools(self._clients_of(cluster_name), cluster_name, plan)

    def login_shell_argv(
        self, cluster_name: str, pool: str, argv: Sequence[str], *, user: str | None = None
    ) -> list[str]:
        """``ssh USER@NODE ARGS`` to one of the pool's healthy nodes, round robin (as locally), by
        its address (``_login.login_address``). Not through the load balancer's name: each node has
        its own host key, so one name that lands on different nodes fails ssh's host key check."""
        from corral.providers.aws import _login

        plan = self.plan(cluster_name)
        names = _login.pool_names(plan)
        if pool not in names:
            raise NotFoundError(
                f"cluster {cluster_name!r} has no login node pool {pool!r}",
                hint=f"its pools: {', '.join(names) or 'none'} (LoginNodes/Pools in its config)",
            )
        clients = self._clients_of(cluster_name)
        found = next(p for p in _login.pool_resources(clients, cluster_name, plan) if p.pool == pool)
        healthy = _login.healthy_targets(clients, found.target_group_arn)
        nodes = {i.instance_id: i for i in cluster_instances(clients, cluster_name) if i.pool == pool}
        serving = [nodes[i] for i in healthy if i in nodes]
        if not serving:
            raise ConflictError(
                f"login node pool {pool!r} of cluster {cluster_name!r} has no healthy node yet",
                hint=f"`corral describe-cluster -n {cluster_name}` shows its loginNodes status",
            )
        counter = Path(self.state_dir) / "aws" / "login-turns" / f"{cluster_name}.{pool}"
        chosen = serving[_login.next_turn(counter, len(serving))]
        balancer = None
        if not chosen.public_ip and found.balancer_arn:
            balancer = _login.balancers(clients, [found.balancer_arn]).get(found.balancer_arn)
        address = _login.login_address(chosen, balancer)
        if address is None:
            raise ProviderError(f"login node {chosen.instance_id} of pool {pool!r} has no address")
        login = user or OS_USERS.get(plan.os, "ec2-user")
        return ["ssh", f"{login}@{address}", *argv]

    def exists(self, cluster_name: str) -> bool:
        clients = self._clients_of(cluster_name)
        return _stack.describe(clients, cluster_name) is not None or bool(
            cluster_instances(clients, cluster_name)
        )

    def stack_status(self, cluster_name: str) -> str | None:
        """The stack's CloudFormation status now, or None when there is no stack."""
        view = _stack.describe(self._clients_of(cluster_name), cluster_name)
        return None if view is None else view.status

    def launch(self, cluster_name: str, node_names: Sequence[str]) -> list[Instance]:
        """Best-effort launch; ``InsufficientCapacityError`` (or ``ProviderError``) naming the nodes
        that did not start (those that did stay up, so a retry launches only the rest)."""
        result = self.launch_batch(cluster_name, node_names)
        if result.failed:
            first = result.failed[0]
            names = ", ".join(f.node_name for f in result.failed)
            message = f"could not launch {names}: ({first.code}) {first.message}"
            if first.code in CAPACITY_CODES:
                raise InsufficientCapacityError(
                    message, hint="retry later, or add instance types", reason_code=first.code
                )
            raise ProviderError(message)
        return list(result.launched)

    def launch_batch(
        self, cluster_name: str, node_names: Sequence[str], *, all_or_nothing: bool = False
    ) -> LaunchResult:
        """CreateFleet per compute resource (``_fleet``); nodes already backed by a live instance
        are returned as they are. With ``all_or_nothing`` a partial batch is terminated whole."""
        clients = self._clients_of(cluster_name)
        plan = self.plan(cluster_name)
        running = {i.node_name: i for i in cluster_instances(clients, cluster_name) if i.node_name}
        wanted = [n for n in dict.fromkeys(node_names) if n not in running]
        outputs = self._outputs(clients, cluster_name)
        requests, rejected = _fleet.plan_requests(
            plan, wanted, launch_templates(plan, outputs), all_or_nothing=all_or_nothing
        )
        assigned: list[tuple[str, str]] = []
        failed = [LaunchFailure(n, code, msg) for n, (code, msg) in rejected.items()]
        for request in requests:
            result = _fleet.run_request(clients, request)
            decision = _fleet.assign(request, result, all_or_nothing=all_or_nothing)
            if decision.surplus:
                _fleet.terminate(clients, decision.surplus)
            assigned.extend(decision.assigned)
            failed.extend(LaunchFailure(n, code, msg) for n, code, msg in decision.failed)
        if all_or_nothing and failed and assigned:
            _fleet.terminate(clients, [iid for _, iid in assigned])
            code = failed[0].code
            failed.extend(
                LaunchFailure(n, code, "rolled back: another part of the batch failed") for n, _ in assigned
            )
            assigned = []
        launched = self._record(clients, cluster_name, outputs, assigned, requests)
        already = [running[n] for n in dict.fromkeys(node_names) if n in running]
        return LaunchResult(launched=tuple(already + launched), failed=tuple(failed))

    def _record(
        self,
        clients: AwsClients,
        cluster_name: str,
        outputs: dict[str, str],
        assigned: list[tuple[str, str]],
        requests: Sequence[_fleet.FleetRequest],
    ) -> list[Instance]:
        """Tag each new instance with its cluster, queue, compute resource and node name, read its
        IP, write the node table."""
        if not assigned:
            return []
        place = {n: (r.queue, r.compute_resource) for r in requests for n in r.node_names}
        tag_nodes(clients, cluster_name, [(node, iid, *place[node]) for node, iid in assigned])
        by_id = {i.instance_id: i for i in describe_ids(clients, [iid for _, iid in assigned])}
        instances = [by_id[iid] for _, iid in assigned if iid in by_id]
        self._register_dns(
            clients, cluster_name, outputs, [(i.node_name or "", i.private_ip) for i in instances]
        )
        table = outputs.get(TABLE_OUTPUT)
        if table:
            _table.put(
                clients,
                table,
                [
                    _table.NodeRecord(
                        i.node_name or "",
                        i.instance_id,
                        i.private_ip,
                        i.queue or "",
                        i.compute_resource or "",
                        i.launch_time,
                    )
                    for i in instances
                ],
            )
        return instances

    def terminate(self, cluster_name: str, node_names: Sequence[str]) -> None:
        """TerminateInstances for the nodes' instances (found by tag and in the table). Idempotent."""
        clients = self._clients_of(cluster_name)
        wanted = set(node_names)
        found = [i for i in cluster_instances(clients, cluster_name) if i.node_name in wanted]
        ids = {i.instance_id for i in found}
        outputs = self._outputs(clients, cluster_name)
        table = outputs.get(TABLE_OUTPUT)
        if table:
            ids |= {r.instance_id for r in _table.get(clients, table, list(wanted)).values()}
        if ids:
            _fleet.terminate(clients, sorted(ids))
        self._register_dns(
            clients, cluster_name, outputs, [(i.node_name or "", i.private_ip) for i in found], remove=True
        )
        if table:
            _table.remove(clients, table, list(wanted))

    def instances(self, cluster_name: str) -> list[Instance]:
        return cluster_instances(self._clients_of(cluster_name), cluster_name)

    def run_on_head(
        self,
        cluster_name: str,
        argv: Sequence[str],
        *,
        user: str | None = None,
        stdin: str | None = None,
        timeout: float | None = 60.0,
    ) -> CommandResult:
        """Run ``argv`` on the head node through SSM Run Command (AWS-RunShellScript)."""
        from corral.providers.aws._ssm import run_command, run_here

        if on_head_node(cluster_name, self.settings.cluster_config):
            # the reconciler and the Slurm programs run on the head itself
            return run_here(argv, user=user, stdin=stdin, timeout=timeout)
        emulator = self.settings.emulator_refuses_ssm()
        if emulator:
            raise ProviderError(
                f"cannot run `{' '.join(argv)}` on the head node of {cluster_name!r}: AWS_ENDPOINT_URL "
                f"points at {emulator}, an emulator that accepts SSM commands but never runs them",
                hint="use a real AWS account for commands on the head node (or set CORRAL_AWS_SSM=1 if "
                "the endpoint really runs SSM commands)",
            )
        clients = self._clients_of(cluster_name)
        head = self._head(clients, cluster_name)
        if head is None:
            raise ProviderError(f"cluster {cluster_name!r} has no running head node")
        return run_command(clients, head.instance_id, argv, user=user, stdin=stdin, timeout=timeout)

    def head_shell_argv(
        self, cluster_name: str, argv: Sequence[str], *, user: str | None = None
    ) -> list[str]:
        """pcluster's ``ssh user@head ARGS`` (the public IP when there is one): ``argv`` are ssh's
        options and the remote command."""
        head = self._head(self._clients_of(cluster_name), cluster_name)
        if head is None:
            raise ProviderError(f"cluster {cluster_name!r} has no running head node")
        login = user or OS_USERS.get(self.plan(cluster_name).os, "ec2-user")
        return ["ssh", f"{login}@{head.public_ip or head.private_ip}", *argv]

    def log_sources(self, cluster_name: str) -> list[LogSource]:
        """The streams of the cluster's CloudWatch log group, each read from CloudWatch Logs
        (``_cloudwatch``); after a delete, the newest group kept (``DeletionPolicy: Retain``);
        none when there is no group."""
        from corral.providers.aws import _cloudwatch

        clients = self._clients_of(cluster_name)
        group = self.log_group_name(cluster_name) or _cloudwatch.retained_group(clients, cluster_name)
        if group is None:
            return []
        head = self._head(clients, cluster_name)
        return _cloudwatch.log_sources(clients, group, head.instance_id if head else None)

    def log_group_name(self, cluster_name: str) -> str | None:
        """The cluster's CloudWatch log group (the stack's ``LogGroupName`` output,
        ``/aws/corral/<cluster>-<8 hex digits of the stack id>``), or None when CloudWatch logs are
        off or there is no stack."""
        outputs = _stack.tree_outputs(self._clients_of(cluster_name), cluster_name, [LOG_GROUP_OUTPUT])
        return outputs.get(LOG_GROUP_OUTPUT) or None

    def configure_choices(self, region: str) -> dict[str, list[str]] | None:
        """The account's key pairs and subnets in ``region`` (EC2 DescribeKeyPairs/DescribeSubnets)."""
        from corral.providers.aws._clients import AwsClients
        from corral.providers.aws._errors import aws_call

        ec2 = AwsClients(region, self.settings).ec2
        keys = aws_call("list the key pairs", ec2.describe_key_pairs)["KeyPairs"]
        subnets = aws_call("list the subnets", ec2.describe_subnets)["Subnets"]
        return {
            "key_pairs": sorted(k["KeyName"] for k in keys),
            "subnets": sorted(s["SubnetId"] for s in subnets),
        }

    def cloud_findings(self, config: Any) -> list[Finding]:
        """The validators that need AWS APIs (``validators``), run against the configured endpoint."""
        from corral.providers.aws.validators import cloud_findings

        return cloud_findings(config)

    def dry_run_summary(self, config_path: Path, cluster_name: str) -> str | None:
        """The stacks, resources and bytes of the templates a create would deploy (built offline)."""
        from corral.providers.aws.template import dry_run_summary

        return dry_run_summary(config_path, cluster_name)

    # -- internals -------------------------------------------------------------------------
    def _outputs(self, clients: AwsClients, cluster_name: str) -> dict[str, str]:
        """The stack Outputs the provider reads: the node table and every launch template."""
        from corral.providers.aws.template import launch_template_output_key

        plan = self.plan(cluster_name)
        from corral.providers.aws import _dns

        need = {TABLE_OUTPUT, *(launch_template_output_key(n.queue, n.compute_resource) for n in plan.nodes)}
        if _dns.writes_records(plan):
            need.add(_dns.ZONE_OUTPUT)
        outputs = _stack.tree_outputs(clients, cluster_name, need)
        if not outputs and _stack.describe(clients, cluster_name) is None:
            raise ProviderError(
                f"cluster {cluster_name!r} has no stack in {clients.region}",
                hint="create it first (`corral create-cluster --provider aws ...`)",
            )
        return outputs

    def _register_dns(
        self,
        clients: AwsClients,
        cluster_name: str,
        outputs: dict[str, str],
        nodes: list[tuple[str, str]],
        *,
        remove: bool = False,
    ) -> None:
        """Write (or, with ``remove``, delete) the nodes' records in the cluster's hosted zone
        (``_dns``)."""
        from corral.providers.aws import _dns

        plan = self.plan(cluster_name)
        zone = outputs.get(_dns.ZONE_OUTPUT)
        if not nodes or not zone or not _dns.writes_records(plan):
            return
        given = plan.config is not None and plan.config.scheduling.slurm_settings.dns.hosted_zone_id
        domain = _dns.domain(plan, _dns.zone_name(clients, zone) if given else None)
        (_dns.remove if remove else _dns.upsert)(clients, zone, domain, nodes)

    def _head(self, clients: AwsClients, cluster_name: str) -> Instance | None:
        return next((i for i in cluster_instances(clients, cluster_name) if i.role is NodeRole.HEAD), None)


def on_head_node(cluster_name: str, path: Path) -> bool:
    """Whether this machine is the head node of ``cluster_name``: its user data wrote the node
    context ``path`` (``AwsSettings.cluster_config``) with role HeadNode."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(data.get("node_role") == "HeadNode" and data.get("cluster_name") == cluster_name)


def subnet_facts(clients: AwsClients, plan: ClusterPlan) -> dict[str, tuple[str, str, bool]]:
    """subnet id -> (VPC id, availability zone, whether it maps public IPs on launch) for every
    subnet the config names."""
    from corral.providers.aws.validators import subnet_refs

    if plan.config is None:
        return {}
    ids = sorted({sid for _, sid in subnet_refs(plan.config)})
    found = aws_call("DescribeSubnets", clients.ec2.describe_subnets, SubnetIds=ids)["Subnets"]
    return {
        s["SubnetId"]: (s["VpcId"], s["AvailabilityZone"], bool(s.get("MapPublicIpOnLaunch"))) for s in found
    }


def launch_templates(plan: ClusterPlan, outputs: dict[str, str]) -> dict[tuple[str, str], str]:
    """(queue, compute resource) -> launch template id, from the root stack's Outputs."""
    from corral.providers.aws.template import launch_template_output_key

    found: dict[tuple[str, str], str] = {}
    for node in plan.nodes:
        key = (node.queue, node.compute_resource)
        if key not in found:
            found[key] = outputs.get(launch_template_output_key(*key), "")
    return found


__all__ = ["NODE_NAME_TAG", "OS_USERS", "TABLE_OUTPUT", "AwsProvider", "launch_templates"]

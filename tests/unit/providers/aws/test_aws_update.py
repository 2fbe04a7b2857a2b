"""update-cluster with the aws provider against moto: new artefacts, a change set on the root stack
(executed), the head node's update program through SSM Run Command, and a refusal where pcluster
refuses. moto accepts SSM commands without running them (``CORRAL_AWS_SSM=1`` lets the provider
send them), so what runs on the head node (``node_update``) is covered by its pure parts only."""

from __future__ import annotations

from pathlib import Path

import pytest

from corral.errors import UpdateRefusedError
from corral.node.agent import BootstrapSpec
from corral.providers.aws import _update
from corral.providers.aws.node_update import base_spec, slurmctld_argv
from corral.service import ClusterService
from corral.state import StackStatus
from support.corpus import skip_module_without_shared

from .test_aws_moto import SIMPLE, Aws, aws, created, service  # noqa: F401 (fixtures)

skip_module_without_shared()


def test_update_creates_and_executes_a_change_set_then_the_head_applies(
    aws: Aws,  # noqa: F811
    service: ClusterService,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CORRAL_AWS_SSM", "1")
    name = "awsupd-1"
    provider = created(service, aws, SIMPLE, name)
    config = tmp_path / "new.yaml"
    text = aws.config(SIMPLE, name).read_text()
    config.write_text(
        text.replace("MaxCount: 2", "MaxCount: 5").replace("RetentionInDays: 14", "RetentionInDays: 30")
    )
    sent: list[list[str]] = []
    real = provider.run_on_head
    monkeypatch.setattr(
        provider, "run_on_head", lambda n, argv, **kw: sent.append(list(argv)) or real(n, argv, **kw)
    )
    accepted = service.update(name, config)
    assert [c["parameter"] for c in accepted.to_json()["changeSet"]] == [
        "Scheduling.SlurmQueues[compute].ComputeResources[res-1].MaxCount",
        "Monitoring.Logs.CloudWatch.RetentionInDays",
    ]
    done = service.run_update(name)
    assert done.stack_status is StackStatus.UPDATE_COMPLETE, done.failure_reason
    cfn = aws.client("cloudformation")
    assert cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"
    assert sent == [list(_update.HEAD_PROGRAM)]
    stored = provider.plan(name)
    assert max(n.index for n in stored.nodes if n.queue == "compute") == 5
    reasons = [e.reason for e in service.store.events(done.stack_id)]
    assert any("change set corral-update-" in r for r in reasons)
    # a change the templates do not show (MaxCount lives in the plan): the empty change set is skipped
    config.write_text(
        text.replace("MaxCount: 2", "MaxCount: 6").replace("RetentionInDays: 14", "RetentionInDays: 30")
    )
    service.update(name, config)
    again = service.run_update(name)
    assert again.stack_status is StackStatus.UPDATE_COMPLETE, again.failure_reason
    reasons = [e.reason for e in service.store.events(done.stack_id)]
    assert "change set has no changes: the stack stays as it is" in reasons
    assert max(n.index for n in provider.plan(name).nodes if n.queue == "compute") == 6
    service.delete(name)
    service.run_delete(name)


def test_a_change_pcluster_refuses_is_refused_on_aws_too(
    aws: Aws,  # noqa: F811
    service: ClusterService,  # noqa: F811
    tmp_path: Path,
) -> None:
    name = "awsupd-2"
    created(service, aws, SIMPLE, name)
    config = tmp_path / "new.yaml"
    config.write_text(aws.config(SIMPLE, name).read_text().replace("MaxCount: 2", "MaxCount: 1"))
    with pytest.raises(UpdateRefusedError) as refused:
        service.update(name, config)  # pcluster: lowering MaxCount needs the fleet stopped
    assert refused.value.update_errors[0]["parameter"].endswith("MaxCount")
    assert service.get(name).stack_status is StackStatus.CREATE_COMPLETE
    service.delete(name)
    service.run_delete(name)


def test_the_head_program_prepares_from_a_pristine_spec() -> None:
    spec = BootstrapSpec(
        node_name="HeadNode",
        hostname="head",
        status_file="/tmp/s.json",
        services=(("/usr/sbin/slurmctld", "-i"), ("munged",)),
        service_pidfiles=("/run/slurmctld.pid",),
    )
    assert slurmctld_argv(spec) == ("/usr/sbin/slurmctld", "-i")
    assert base_spec(spec).services == () and base_spec(spec).service_pidfiles == ()

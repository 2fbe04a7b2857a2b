"""AWS delete converges against a real moto server: whatever of the cluster is already gone (its
stack, its artefact bucket, its log group, its instances), ``delete-cluster`` ends with the
cluster gone, never DELETE_FAILED."""

from __future__ import annotations

import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from corral.providers import get_provider
from corral.providers.aws import AwsProvider
from corral.service import ClusterService
from corral.state import StackStatus, StateStore
from support.aws import AwsProxy, Network, aws_endpoint, make_network, rewrite_ids
from support.corpus import (
    CORPUS,
    skip_module_without_shared,
)

skip_module_without_shared()

SIMPLE = (
    CORPUS / "cluster-configs" / "integ__performance_tests__test_simple__test_simple__pcluster.config.yaml"
)
BUCKET = "corral-123456789012-us-east-1"


@dataclass(frozen=True)
class Aws:
    proxy: AwsProxy
    net: Network
    tmp: Path


@pytest.fixture(scope="module")
def aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Aws]:
    with pytest.MonkeyPatch.context() as mp, aws_endpoint(mp) as proxy:
        ec2 = boto3.client("ec2")
        ec2.delete_key_pair(KeyName="mykey")
        try:
            yield Aws(proxy, make_network(ec2), tmp_path_factory.mktemp("awsdel"))
        finally:
            urllib.request.urlopen(urllib.request.Request(f"{proxy.url}/moto-api/reset", method="POST"))


def _empty_and_remove_bucket(name: str) -> None:
    s3 = boto3.client("s3")
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for item in page.get("Contents", []):
            s3.delete_object(Bucket=BUCKET, Key=item["Key"])
    s3.delete_bucket(Bucket=BUCKET)


def _remove_stack(name: str) -> None:
    boto3.client("cloudformation").delete_stack(StackName=name)


def _remove_log_group(name: str) -> None:
    logs = boto3.client("logs")
    for group in logs.describe_log_groups(logGroupNamePrefix=f"/aws/corral/{name}-")["logGroups"]:
        logs.delete_log_group(logGroupName=group["logGroupName"])


def _terminate_instances(name: str) -> None:
    ec2 = boto3.client("ec2")
    found = ec2.describe_instances(Filters=[{"Name": "tag:corral:cluster-name", "Values": [name]}])
    ids = [i["InstanceId"] for r in found["Reservations"] for i in r["Instances"]]
    ec2.terminate_instances(InstanceIds=ids)


def _everything(name: str) -> None:
    _terminate_instances(name)
    _remove_log_group(name)
    _remove_stack(name)
    _empty_and_remove_bucket(name)


GONE: dict[str, Callable[[str], None]] = {
    "bucket": _empty_and_remove_bucket,
    "stack": _remove_stack,
    "log-group": _remove_log_group,
    "instances": _terminate_instances,
    "everything": _everything,
}


@pytest.mark.parametrize("what", list(GONE))
def test_delete_converges_when_part_of_the_cluster_is_already_gone(
    aws: Aws, tmp_path: Path, what: str
) -> None:
    name = f"awsdel-{what}"
    state = tmp_path / "state"
    service = ClusterService(StateStore(state), lambda provider: get_provider(provider, state))
    config = aws.tmp / f"{name}.yaml"
    config.write_text(rewrite_ids(SIMPLE.read_text(), aws.net))
    service.create(name, config, provider="aws")
    record = service.run_create(name)
    assert record.stack_status is StackStatus.CREATE_COMPLETE, record.failure_reason
    provider = service.provider("aws")
    assert isinstance(provider, AwsProvider)
    group = provider.log_group_name(name)
    assert group is not None
    GONE[what](name)
    service.delete(name)
    failed = service.run_delete(name)
    assert failed is None, failed.failure_reason if failed else ""
    assert service.store.find(name) is None
    assert not provider.exists(name)
    if what not in ("bucket", "everything"):
        listed: Any = boto3.client("s3").list_objects_v2(Bucket=BUCKET, Prefix=f"corral/{name}/")
        assert listed.get("KeyCount", 0) == 0

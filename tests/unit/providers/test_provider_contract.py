"""The provider contract (``support.contract``) held against the fake provider and the aws provider
(a real moto server on loopback); the local provider runs the same checks end to end
(``tests/e2e/test_provider_contract_e2e.py``)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import replace

import boto3
import pytest

from corral.providers import get_provider
from corral.providers.fake import FakeProvider
from corral.service import ClusterService
from corral.state import StackStatus, StateStore
from support import contract
from support.aws import aws_endpoint, make_network, rewrite_ids
from support.corpus import CORPUS, needs_corpus
from support.plans import plan

SIMPLE = (
    CORPUS / "cluster-configs" / "integ__performance_tests__test_simple__test_simple__pcluster.config.yaml"
)
AWS_NODES = ("compute-dy-res-1-1", "compute-dy-res-1-2")


def fake_subject(name: str) -> contract.Subject:
    provider = FakeProvider()
    provider.create(plan(name, (("q1", "c1", 0, 2),)), on_event=lambda _r, _m: None)

    @contextlib.contextmanager
    def no_capacity() -> Iterator[None]:
        before = provider.failures
        running = len(contract.compute(subject))
        provider.failures = replace(before, capacity=(("total", running),))
        try:
            yield
        finally:
            provider.failures = before

    subject = contract.Subject(provider, name, ("q1-dy-c1-1", "q1-dy-c1-2"), no_capacity)
    return subject


@pytest.mark.parametrize("check", contract.CHECKS, ids=lambda c: c.__name__)
def test_fake_provider(check: Callable[[contract.Subject], None]) -> None:
    check(fake_subject("contract"))


def test_fake_provider_delete_leaves_no_instances() -> None:
    contract.delete_leaves_no_instances(fake_subject("contract"))


@pytest.fixture(scope="module")
def aws_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], contract.Subject]]:
    """Creates aws clusters (through the service, on moto) as contract subjects; deletes them all."""
    state = tmp_path_factory.mktemp("contract-state")
    made: list[str] = []
    with pytest.MonkeyPatch.context() as mp, aws_endpoint(mp) as proxy:
        net = make_network(boto3.client("ec2"))
        service = ClusterService(StateStore(state), lambda name: get_provider(name, state))

        def create(name: str) -> contract.Subject:
            config = state / f"{name}.yaml"
            config.write_text(rewrite_ids(SIMPLE.read_text(), net))
            service.create(name, config, provider="aws")
            made.append(name)
            assert service.run_create(name).stack_status is StackStatus.CREATE_COMPLETE

            @contextlib.contextmanager
            def no_capacity() -> Iterator[None]:
                proxy.capacity(0)
                try:
                    yield
                finally:
                    proxy.capacity(None)

            return contract.Subject(service.provider("aws"), name, AWS_NODES, no_capacity)

        yield create
        for name in made:
            service.provider("aws").delete(name)


@needs_corpus
@pytest.mark.parametrize("check", contract.CHECKS, ids=lambda c: c.__name__)
def test_aws_provider(
    check: Callable[[contract.Subject], None], aws_cluster: Callable[[str], contract.Subject]
) -> None:
    check(aws_cluster(f"contract-{contract.CHECKS.index(check)}"))


@needs_corpus
def test_aws_provider_delete_leaves_no_instances(aws_cluster: Callable[[str], contract.Subject]) -> None:
    contract.delete_leaves_no_instances(aws_cluster("contract-delete"))


def test_the_suite_checks_every_provider_of_the_registry() -> None:
    """A provider added to the registry needs its subject here (or end to end)."""
    from corral.providers import PROVIDERS

    assert set(PROVIDERS) == {"fake", "aws", "local"}, "add the new provider to the contract suite"

"""The provider contract (``support.contract``) held against the local provider, end to end: real
namespaces, real Slurm, capacity refused through the cluster's own capacity file
(``CORRAL_LOCAL_CAPACITY``'s record)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import pytest

from corral.providers.local import LocalProvider, _capacity
from support import contract
from support.plans import plan

from .conftest import delete_and_check, unique_name


def local_subject(provider: LocalProvider, name: str) -> contract.Subject:
    provider.create(plan(name, (("q1", "c1", 0, 2),)), on_event=lambda _r, _m: None)
    capacity = _capacity.capacity_file(provider.layout(name))

    @contextlib.contextmanager
    def no_capacity() -> Iterator[None]:
        before = capacity.read_text() if capacity.exists() else None
        capacity.write_text(f"total={len(contract.compute(subject))}\n")
        try:
            yield
        finally:
            if before is None:
                capacity.unlink()
            else:
                capacity.write_text(before)

    subject = contract.Subject(provider, name, ("q1-dy-c1-1", "q1-dy-c1-2"), no_capacity)
    return subject


@pytest.mark.parametrize("check", contract.CHECKS, ids=lambda c: c.__name__)
def test_local_provider(
    check: Callable[[contract.Subject], None], provider: LocalProvider, cleanup: list[str]
) -> None:
    name = unique_name("contract")
    cleanup.append(name)
    check(local_subject(provider, name))


def test_local_provider_delete_leaves_no_instances(provider: LocalProvider) -> None:
    name = unique_name("contract")
    try:
        contract.delete_leaves_no_instances(local_subject(provider, name))
    finally:
        delete_and_check(provider, name)

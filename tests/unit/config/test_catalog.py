"""The offline instance-type catalog: coverage of the corpus, shapes, did-you-mean, speed."""

from __future__ import annotations

import re
import time

import pytest

from corral.config import catalog
from support.corpus import CORPUS, needs_corpus

TYPE_RE = re.compile(
    r"^\s*(?:-\s*)?(?:InstanceType|Instance)\s*:\s*([a-z0-9][a-z0-9\-]*\.[a-z0-9\-]+)\s*$", re.M
)


def corpus_instance_types() -> set[str]:
    found: set[str] = set()
    for path in CORPUS.rglob("*.yaml"):
        found.update(TYPE_RE.findall(path.read_text()))
    return found


@needs_corpus
def test_corpus_uses_instance_types() -> None:
    # Guards the test below against a regex that silently matches nothing.
    assert len(corpus_instance_types()) >= 20


@needs_corpus
@pytest.mark.parametrize("name", sorted(corpus_instance_types()))
def test_every_corpus_instance_type_is_in_the_catalog(name: str) -> None:
    info = catalog.get(name)
    assert info is not None, name
    assert info.vcpus >= 1 and info.memory_mib >= 512
    assert info.architecture in ("x86_64", "arm64")


def test_known_shapes() -> None:
    c5 = catalog.get("c5.xlarge")
    assert c5 is not None
    assert (c5.vcpus, c5.cores, c5.threads_per_core, c5.memory_mib) == (4, 2, 2, 8192)
    assert c5.architectures == ("x86_64",) and not c5.efa_supported and c5.gpu_count == 0
    graviton = catalog.get("c6gn.16xlarge")
    assert graviton is not None and graviton.architecture == "arm64" and graviton.efa_supported
    p4d = catalog.get("p4d.24xlarge")
    assert p4d is not None
    assert (p4d.gpu_count, p4d.gpu_manufacturer, p4d.network_cards) == (8, "NVIDIA", 4)
    assert p4d.gpu_memory_mib == 8 * 40960 and p4d.max_efa_interfaces == 4
    trn = catalog.get("trn1.32xlarge")
    assert trn is not None and trn.accelerator_count > 0 and trn.accelerator_manufacturer == "AWS"


def test_unknown_type_is_none_and_suggestions_are_close() -> None:
    assert catalog.get("c5.xlarg") is None
    assert not catalog.exists("nope.large")
    assert catalog.suggest("c5.xlarg")[0] == "c5.xlarge"
    assert catalog.suggest("t3.mciro")[0] == "t3.micro"
    assert "c5n.18xlarge" in catalog.suggest("c5n.18xlrge")
    assert catalog.suggest("zzzzzz") == []


def test_catalog_is_large_and_sourced() -> None:
    assert len(catalog.names()) > 800
    assert "moto" in catalog.source()


def test_lookup_is_cached_and_fast() -> None:
    catalog.get("m5.large")
    start = time.perf_counter()
    for name in catalog.names():
        catalog.get(name)
    first = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(10_000):
        catalog.get("m5.large")
    assert time.perf_counter() - start < 0.05
    assert first < 0.5

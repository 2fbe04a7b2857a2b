"""Fuzzing the loader and the model: whatever the input, the outcome is a config or a ConfigError whose
findings are located, never another exception or a hang."""

from __future__ import annotations

from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corral.config.findings import Finding
from corral.config.loader import load_cluster_config_text, load_image_config_text
from corral.config.model import ClusterConfig, ImageBuilderConfig
from corral.errors import ConfigError
from support.corpus import skip_module_without_shared

skip_module_without_shared()

CORPUS = Path(__file__).resolve().parents[4] / "shared" / "corpus" / "cluster-configs"
SEEDS = [p.read_text() for p in sorted(CORPUS.glob("*.yaml"))[::4]]

FUZZ = settings(max_examples=200, deadline=2000, suppress_health_check=[HealthCheck.too_slow])


def outcome(text: str | bytes, image: bool = False) -> object:
    """Load, and check the only allowed outcomes."""
    try:
        loaded = (load_image_config_text if image else load_cluster_config_text)(text, "fuzz.yaml")
    except ConfigError as exc:
        assert exc.findings, "a ConfigError carries its findings"
        for finding in exc.findings:
            assert isinstance(finding, Finding)
            assert finding.message
            assert finding.file == "fuzz.yaml"
            finding.location()
        return exc
    assert isinstance(loaded.config, ImageBuilderConfig if image else ClusterConfig)
    return loaded


@FUZZ
@given(st.binary(max_size=2000))
def test_random_bytes(data: bytes) -> None:
    outcome(data)


YAMLISH = st.text(
    alphabet=st.sampled_from(list(":-[]{}&*!|>'\"#?,%@` \n\t~.0123456789abcxyzNoe\\")), max_size=400
)


@FUZZ
@given(YAMLISH)
def test_random_yamlish_text(text: str) -> None:
    outcome(text)
    outcome(text, image=True)


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["slurm", "alinux2023", "subnet-12345678", "c5.large", "ONDEMAND", "gp3", "s3://b/k"]),
)


@st.composite
def mutated_corpus(draw: st.DrawFn) -> str:
    lines = draw(st.sampled_from(SEEDS)).splitlines()
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        if not lines:
            break
        index = draw(st.integers(min_value=0, max_value=len(lines) - 1))
        action = draw(st.sampled_from(["drop", "duplicate", "value", "garble", "indent"]))
        line = lines[index]
        if action == "drop":
            del lines[index]
        elif action == "duplicate":
            lines.insert(index, line)
        elif action == "value" and ":" in line:
            key = line.split(":", 1)[0]
            lines[index] = f"{key}: {yaml.safe_dump(draw(SCALARS), default_flow_style=True).splitlines()[0]}"
        elif action == "garble":
            at = draw(st.integers(min_value=0, max_value=len(line)))
            lines[index] = line[:at] + draw(st.text(max_size=5)) + line[at:]
        else:
            lines[index] = "  " + line
    return "\n".join(lines) + "\n"


@FUZZ
@given(mutated_corpus())
def test_mutated_corpus_configs(text: str) -> None:
    outcome(text)


KEYS = st.sampled_from(
    ["Image", "HeadNode", "Scheduling", "SlurmQueues", "ComputeResources", "Name", "MinCount", "MaxCount",
     "Networking", "SubnetIds", "SubnetId", "InstanceType", "Os", "Scheduler", "Build", "ParentImage",
     "CustomActions", "OnNodeStart", "Sequence", "Script", "SharedStorage", "StorageType", "MountDir",
     "EbsSettings", "CustomSlurmSettings", "Tags", "Key", "Value", "Bogus"]
)  # fmt: skip
TREES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=5),
    max_leaves=40,
)


@FUZZ
@given(st.dictionaries(KEYS, TREES, max_size=6))
def test_random_structures_through_the_model(data: dict[str, object]) -> None:
    text = yaml.safe_dump(data, allow_unicode=True)
    outcome(text)
    outcome(text, image=True)

"""check_cluster_config / check_image_config: suppression, failure levels, never raising for bad
files, the validator registry against ParallelCluster's list, and the corpus."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from corral.config.check import (
    CRASH_CODE,
    ValidationReport,
    _run,
    check_cluster_config,
    check_image_config,
    parse_failure_level,
    parse_suppressions,
)
from corral.config.findings import Finding, Level
from corral.config.validators import (
    ABSTRACT_VALIDATORS,
    AWS_ONLY_VALIDATORS,
    AWS_REMAINDER,
    CLUSTER_VALIDATORS,
    IMAGE_VALIDATORS,
)
from corral.errors import BadRequestError
from support.corpus import REJECTIONS, needs_corpus, needs_shared

from ._broken_base import BASE, sub

SHARED = Path(__file__).resolve().parents[4] / "shared"
CORPUS = SHARED / "corpus" / "cluster-configs"
VALIDATORS_LIST = SHARED / "pcluster-3.16" / "validators_list.txt"
SOURCE = Path(__file__).resolve().parents[3] / "src" / "corral" / "config" / "validators"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cluster.yaml"
    path.write_text(text)
    return path


# ------------------------------------------------------------------ suppression and levels


def test_parse_suppressions() -> None:
    assert parse_suppressions([]).suppresses("NameValidator") is False
    every = parse_suppressions(["ALL"])
    assert every.all and every.suppresses("Anything")
    some = parse_suppressions(["type:NameValidator type:UrlValidator", "type:KeyPairValidator"])
    assert some.types == {"NameValidator", "UrlValidator", "KeyPairValidator"}
    assert not some.suppresses("MaxCountValidator")


@pytest.mark.parametrize("bad", ["all", "type:", "NameValidator", "type:Bad Name!", "kind:X"])
def test_bad_suppression_is_a_bad_request(bad: str) -> None:
    with pytest.raises(BadRequestError) as info:
        parse_suppressions([bad])
    assert "type:" in info.value.hint


def test_failure_level_parsing() -> None:
    assert parse_failure_level("warning") is Level.WARNING
    assert parse_failure_level(Level.INFO) is Level.INFO
    with pytest.raises(BadRequestError):
        parse_failure_level("FATAL")


def test_bad_arguments_raise(tmp_path: Path) -> None:
    path = write(tmp_path, BASE)
    with pytest.raises(BadRequestError):
        check_cluster_config(path, cluster_name="c", failure_level="LOUD")
    with pytest.raises(BadRequestError):
        check_cluster_config(path, cluster_name="c", suppress=["everything"])
    with pytest.raises(BadRequestError):
        check_cluster_config(path, cluster_name="c", target="gcp")


def test_failure_level_decides_blocking(tmp_path: Path) -> None:
    path = write(tmp_path, sub("Os: alinux2023", "Os: ubuntu2204")(BASE).replace("g4dn.xlarge", "t3.micro"))
    assert not check_cluster_config(path, cluster_name="c").blocking
    warned = check_cluster_config(path, cluster_name="c", failure_level="WARNING")
    assert warned.blocking and warned.codes() >= {"InstanceTypeOSCompatibleValidator"}
    assert check_cluster_config(write(tmp_path, BASE), cluster_name="c", failure_level=Level.INFO).blocking


def test_suppression_by_type_and_all(tmp_path: Path) -> None:
    path = write(
        tmp_path, sub("MinCount: 0\n          MaxCount: 4", "MinCount: 5\n          MaxCount: 4")(BASE)
    )
    assert check_cluster_config(path, cluster_name="c").blocking
    by_type = check_cluster_config(path, cluster_name="c", suppress=["type:ComputeResourceSizeValidator"])
    assert not by_type.blocking and "ComputeResourceSizeValidator" not in by_type.codes()
    assert "DeletionPolicyValidator" in by_type.codes()
    assert not check_cluster_config(path, cluster_name="c", suppress=["ALL"]).findings


def test_suppression_never_hides_schema_errors(tmp_path: Path) -> None:
    path = write(tmp_path, BASE.replace("MinCount: 0", "MinCount: -1", 1))
    report = check_cluster_config(path, cluster_name="c", suppress=["ALL"])
    assert report.config is None and report.blocking
    assert any(f.path.endswith("MinCount") and f.line for f in report.findings)


# ------------------------------------------------------------------ never raises


@pytest.mark.parametrize(
    "content",
    [b"", b"just a string", b"[1, 2", b"\xff\xfe\x00bad", b"a: &x [*x]", b"Image: {Os: alinux2023}\n"],
    ids=["empty", "scalar", "unclosed", "not-utf8", "alias", "incomplete"],
)
def test_bad_files_give_findings_not_exceptions(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(content)
    report = check_cluster_config(path, cluster_name="c")
    assert report.config is None and report.loaded is None
    assert report.blocking and report.findings
    assert all(f.file for f in report.findings)


def test_missing_file_is_a_finding(tmp_path: Path) -> None:
    report = check_cluster_config(tmp_path / "nope.yaml", cluster_name="bad name")
    assert report.blocking
    assert {f.code for f in report.findings} == {"ConfigFileValidator", "ClusterNameValidator"}
    image = check_image_config(tmp_path / "nope.yaml", image_id="ok-id")
    assert [f.code for f in image.findings] == ["ConfigFileValidator"]


def test_a_crashing_validator_becomes_a_finding() -> None:
    def broken(_ctx: object) -> list[Finding]:
        raise KeyError("boom")

    [finding] = _run(broken, object())
    assert finding.code == CRASH_CODE and finding.level is Level.ERROR and "boom" in finding.message


def test_report_shape(tmp_path: Path) -> None:
    report = check_cluster_config(write(tmp_path, BASE), cluster_name="c")
    assert isinstance(report, ValidationReport)
    assert report.loaded is not None and report.config is report.loaded.config
    assert not report.blocking and report.failure_level is Level.ERROR
    with pytest.raises(AttributeError):
        report.findings = ()  # type: ignore[misc]
    lines = [f.line or 0 for f in report.findings]
    assert lines == sorted(lines)


# ------------------------------------------------------------------ registry vs ParallelCluster


def pcluster_validator_names() -> set[str]:
    names: set[str] = set()
    for line in VALIDATORS_LIST.read_text().splitlines():
        if line.startswith("   "):
            names |= {n.strip() for n in line.split(",") if n.strip()}
    return names


def implemented_codes() -> set[str]:
    text = "".join(p.read_text() for p in SOURCE.glob("*.py") if p.name != "_registry.py")
    return set(re.findall(r'"([A-Za-z0-9]+(?:Validator|Incompatibility|MungeKey|NotEncrypted))"', text))


@needs_shared
def test_every_pcluster_validator_is_offline_or_aws_only() -> None:
    names = pcluster_validator_names()
    assert len(names) == 129
    offline = implemented_codes() & names
    aws = set(AWS_ONLY_VALIDATORS)
    assert names == offline | aws | ABSTRACT_VALIDATORS, names - offline - aws - ABSTRACT_VALIDATORS
    assert not offline & aws, "a validator is either run offline or listed for the AWS provider"
    assert set(AWS_REMAINDER) <= offline
    assert len(offline) >= 80
    assert all(reason.strip() for reason in AWS_ONLY_VALIDATORS.values())


def test_validators_are_plain_functions_returning_findings(tmp_path: Path) -> None:
    from corral.config.loader import load_cluster_config
    from corral.config.validators import ClusterContext

    loaded = load_cluster_config(write(tmp_path, BASE))
    ctx = ClusterContext(loaded.config, "c", loaded.raw_keys_present)
    for validator in CLUSTER_VALIDATORS:
        assert inspect.isfunction(validator), validator
        assert validator.__module__.startswith("corral.config.validators.")
        assert all(isinstance(f, Finding) and f.level < Level.WARNING for f in validator(ctx)), validator
    assert all(inspect.isfunction(v) for v in IMAGE_VALIDATORS)
    assert len(set(CLUSTER_VALIDATORS)) == len(CLUSTER_VALIDATORS) >= 50


# ------------------------------------------------------------------ corpus

CLUSTER_FILES = sorted(CORPUS.glob("*.yaml"))


@needs_corpus
@pytest.mark.parametrize("target", ["local", "aws"])
@pytest.mark.parametrize("path", CLUSTER_FILES, ids=lambda p: p.name[:90])
def test_corpus_verdict_is_pclusters_on_every_provider(path: Path, target: str) -> None:
    report = check_cluster_config(path, cluster_name="corpus-cluster", target=target)
    assert report.config is not None  # every corpus file passes the schema
    assert CRASH_CODE not in report.codes()
    errors = {f.code for f in report.at_least(Level.ERROR)}
    assert errors == REJECTIONS.get(path.name, frozenset()), [
        f.location() for f in report.at_least(Level.ERROR)
    ]
    for finding in report.findings:
        if finding.path:
            assert finding.line is not None, finding.location()


@needs_corpus
def test_every_pinned_rejection_is_a_corpus_file() -> None:
    assert len(CLUSTER_FILES) >= 100
    assert set(REJECTIONS) <= {p.name for p in CLUSTER_FILES}
    assert 0 < len(REJECTIONS) < len(CLUSTER_FILES) / 2


def test_no_validator_is_downgraded_for_the_local_provider(tmp_path: Path) -> None:
    # 51 queues: pcluster's MaxCountValidator is an ERROR; the local provider says the same.
    gpu = BASE[BASE.index("    - Name: gpu") : BASE.index("SharedStorage:")]
    many = BASE.replace(gpu, "".join(gpu.replace("Name: gpu", f"Name: gpu{i}", 1) for i in range(50)))
    for target in ("local", "aws"):
        report = check_cluster_config(write(tmp_path, many), cluster_name="c", target=target)
        found = [f for f in report.findings if f.code == "MaxCountValidator"]
        assert found and all(f.level is Level.ERROR for f in found), target
        assert not any("emulates" in f.location() for f in found) and report.blocking

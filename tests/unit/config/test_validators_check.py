# ruff: noqa: E501 - corpus file names are long
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
    AWS_SCOPED_CODES,
    CLUSTER_VALIDATORS,
    IMAGE_VALIDATORS,
)
from corral.errors import BadRequestError

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


def test_scoped_codes_are_real_codes() -> None:
    assert implemented_codes() >= AWS_SCOPED_CODES


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

#: Corpus files that ParallelCluster itself would reject when deploying to AWS: they come from its
#: unit tests, which mock the cloud and skip these validators. Corral accepts them for the local
#: provider (the rules are AWS limits, reported as WARNINGs) and rejects them for --provider aws.
AWS_REJECTIONS = {
    "conv__test_pcluster3_config_converter__test_pcluster3_config_converter__sit_full.yaml": {
        "EfaPlacementGroupValidator",
        "EfaValidator",
    },
    "integ__efa__test_efa__test_efa__pcluster.config.yaml": {"InstancesEFAValidator"},
    "integ__networking__test_security_groups__test_overwrite_sg__pcluster.config.yaml": {
        "DuplicateNameValidator"
    },
    "integ__scaling__test_scaling__test_job_level_scaling__pcluster.config.yaml": {
        "HeadNodeMemorySizeValidator",
        "MaxCountValidator",
    },
    "integ__schedulers__test_custom_munge_key__test_custom_munge_key__pcluster.roll_back.config.yaml": {
        "ArnServiceAndResourceValidator"
    },
    "integ__schedulers__test_custom_munge_key__test_custom_munge_key__pcluster.stop_login.config.yaml": {
        "ArnServiceAndResourceValidator"
    },
    "integ__update__test_update__test_dynamic_file_systems_update_rollback__pcluster.config.update_rollback.yaml": {
        "DuplicateNameValidator"
    },
    "unit__cli__configure__test_pcluster_configure__test_efa_not_supported__pcluster.config.yaml": {
        "HeadNodeMemorySizeValidator"
    },
    "unit__cli__configure__test_pcluster_configure__test_enabled_efa_existing_placement_group__pcluster.config.yaml": {
        "HeadNodeMemorySizeValidator"
    },
    "unit__cli__configure__test_pcluster_configure__test_subnet_automation_no_awsbatch_no_errors_empty_vpc__pcluster.config.yaml": {
        "HeadNodeMemorySizeValidator"
    },
    "unit__cli__configure__test_pcluster_configure__test_with_region_arg__pcluster.config.yaml": {
        "HeadNodeMemorySizeValidator"
    },
    "unit__schemas__test_cluster_schema__test_scheduler_constraints_for_custom_actions__slurm.on_node_configured.yaml": {
        "HeadNodeMemorySizeValidator",
        "NameValidator",
    },
    "unit__schemas__test_cluster_schema__test_scheduler_constraints_for_custom_actions__slurm.on_node_updated.yaml": {
        "HeadNodeMemorySizeValidator",
        "NameValidator",
    },
    "unit__templates__test_capacity_reservation__test_capacity_reservation_id_permissions__config.yaml": {
        "NameValidator"
    },
    "unit__templates__test_cdk_builder_utils__test_iam_resource_prefix_build_in_cdk__resourcePrefix.both_path_n_role_prefix.yaml": {
        "InstanceTypeValidator",
        "NameValidator",
    },
    "unit__templates__test_cdk_builder_utils__test_iam_resource_prefix_build_in_cdk__resourcePrefix.only_path_prefix.yaml": {
        "InstanceTypeValidator",
        "NameValidator",
    },
    "unit__templates__test_cdk_builder_utils__test_iam_resource_prefix_build_in_cdk__resourcePrefix.only_role_prefix.yaml": {
        "InstanceTypeValidator",
        "NameValidator",
    },
    "unit__templates__test_cluster_stack__test_compute_launch_template_properties__cluster-using-flexible-instance-types.yaml": {
        "InstancesCPUValidator"
    },
    "unit__templates__test_cluster_stack__test_custom_munge_key_iam_policy__config.yaml": {"NameValidator"},
    "unit__templates__test_cluster_stack__test_custom_munge_key_iam_policy__config_with_login_nodes.yaml": {
        "NameValidator"
    },
    "unit__templates__test_cluster_stack__test_head_node_dna_json__default-user-local-home.yaml": {
        "HeadNodeMemorySizeValidator",
        "NameValidator",
    },
    "unit__templates__test_cluster_stack__test_head_node_dna_json__slurm-headnode-hooks-full.yaml": {
        "HeadNodeMemorySizeValidator",
        "NameValidator",
    },
    "unit__templates__test_cluster_stack__test_head_node_dna_json__slurm-imds-secured-false.yaml": {
        "HeadNodeMemorySizeValidator",
        "NameValidator",
    },
    "unit__templates__test_cluster_stack__test_head_node_security_group__config.yaml": {"NameValidator"},
    "unit__templates__test_cluster_stack__test_no_security_groups_created_from_configuration_file__config.yaml": {
        "DuplicateNameValidator",
        "EbsVolumeIopsValidator",
        "HeadNodeMemorySizeValidator",
    },
    "unit__templates__test_cluster_stack__test_security_group_with_restricted_ssh_access__config_restricted_ssh_prefix_list.yaml": {
        "NameValidator"
    },
    "unit__templates__test_cw_dashboard_builder__test_cw_dashboard_builder__ubuntu20.slurm.simple.yaml": {
        "HeadNodeMemorySizeValidator",
        "NameValidator",
    },
    "unit__templates__test_dev_settings__test_custom_cookbook__config.yaml": {"NameValidator"},
    "unit__templates__test_directory_service__test_head_node_permissions__config-ssm.yaml": {"NameValidator"},
    "unit__templates__test_directory_service__test_head_node_permissions__config.yaml": {"NameValidator"},
    "unit__templates__test_scheduling__test_head_node_base_pass_role__config.yaml": {"NameValidator"},
    "unit__templates__test_scheduling__test_head_node_custom_pass_role__config.yaml": {"NameValidator"},
    "unit__templates__test_scheduling__test_head_node_mixed_pass_role__config.yaml": {
        "HeadNodeMemorySizeValidator",
        "NameValidator",
    },
    "unit__templates__test_shared_storage__test_non_happy_storage__file_cache_config.yaml": {"NameValidator"},
    "unit__templates__test_shared_storage__test_shared_storage_ebs__config.yaml": {"NameValidator"},
    "unit__templates__test_shared_storage__test_shared_storage_fsx__config-custom-sg.yaml": {
        "NameValidator",
        "NumberOfStorageValidator",
    },
    "unit__templates__test_shared_storage__test_shared_storage_fsx__config.yaml": {
        "NameValidator",
        "NumberOfStorageValidator",
    },
    "unit__templates__test_shared_storage__test_unmanaged_shared_storage_fsx__unmanaged_config.yaml": {
        "DuplicateNameValidator",
        "NameValidator",
    },
    "unit__validators__test_all_validators__test_slurm_all_validators_are_called__slurm_2.yaml": {
        "DuplicateNameValidator",
        "HeadNodeMemorySizeValidator",
        "NameValidator",
    },
    "unit__validators__test_all_validators__test_slurm_validators_are_called_with_correct_argument__slurm.yaml": {
        "CapacityTypeValidator",
        "FsxStorageCapacityValidator",
        "NameValidator",
    },
}
CLUSTER_FILES = sorted(CORPUS.glob("*.yaml"))


@pytest.mark.parametrize("path", CLUSTER_FILES, ids=lambda p: p.name[:90])
def test_corpus_cluster_config_is_accepted(path: Path) -> None:
    report = check_cluster_config(path, cluster_name="corpus-cluster")
    assert report.config is not None
    assert not report.blocking, [f.location() for f in report.at_least(Level.ERROR)]
    assert CRASH_CODE not in report.codes()
    for finding in report.findings:
        if finding.path:
            assert finding.line is not None, finding.location()


def test_corpus_aws_rejections_are_exactly_the_known_ones() -> None:
    rejected: dict[str, set[str]] = {}
    for path in CLUSTER_FILES:
        report = check_cluster_config(path, cluster_name="corpus-cluster", target="aws")
        codes = {f.code for f in report.at_least(Level.ERROR)}
        if codes:
            rejected[path.name] = codes
    assert rejected == AWS_REJECTIONS
    # Every one of them is an AWS-only rule: NameValidator here is "_" in a compute resource name,
    # DuplicateNameValidator a storage name or id used twice; both fine for local Slurm nodes;
    # InstanceTypeValidator the placeholder head node type "String", which Slurm never sees.
    per_finding = {"NameValidator", "DuplicateNameValidator", "InstanceTypeValidator"}
    for codes in rejected.values():
        assert codes <= AWS_SCOPED_CODES | per_finding

"""Loading: located findings (file:line:col and key path), did-you-mean, duplicates, all errors at once."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from corral.config.findings import Finding, Level
from corral.config.loader import (
    load_cluster_config,
    load_cluster_config_text,
    load_image_config,
    load_image_config_text,
)
from corral.errors import ConfigError

BASE = textwrap.dedent(
    """\
    Image:
      Os: alinux2023
    HeadNode:
      InstanceType: t3.micro
      Networking:
        SubnetId: subnet-12345678
    Scheduling:
      Scheduler: slurm
      SlurmQueues:
        - Name: q0
          Networking:
            SubnetIds: [subnet-12345678]
          ComputeResources:
            - Name: cr0
              InstanceType: c5.large
        - Name: q1
          Networking:
            SubnetIds:
              - subnet-12345678
          ComputeResources:
            - Name: cr0
              InstanceType: c5.large
              MinCount: 1
              MaxCount: 4
    """
)


def errors_of(text: str | bytes, filename: str = "cluster.yaml") -> list[Finding]:
    with pytest.raises(ConfigError) as info:
        load_cluster_config_text(text, filename)
    findings = list(info.value.findings)
    assert findings, "a ConfigError always carries findings"
    assert all(isinstance(f, Finding) and f.level is Level.ERROR for f in findings)
    return findings


def only(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, [f.location() for f in findings]
    return findings[0]


def test_base_loads_with_locations() -> None:
    loaded = load_cluster_config_text(BASE, "cluster.yaml")
    assert loaded.filename == "cluster.yaml"
    assert loaded.locate("Scheduling/SlurmQueues[1]/ComputeResources[0]/MinCount") == (23, 11)
    assert loaded.locate("Scheduling/SlurmQueues[1]") == (16, 7)
    assert loaded.locate("Scheduling/SlurmQueues[1]/Networking/SubnetIds[0]") == (19, 13)
    # A key the file does not set resolves to its closest written ancestor.
    assert loaded.locate("Scheduling/SlurmQueues[0]/ComputeResources[0]/MaxCount") == (14, 11)
    assert loaded.locate("Monitoring/Logs") is None
    assert loaded.raw_keys_present("Scheduling/SlurmQueues[1]/ComputeResources[0]/MinCount")
    assert not loaded.raw_keys_present("Scheduling/SlurmQueues[0]/ComputeResources[0]/MinCount")


def test_located_range_error_matches_the_issue_format() -> None:
    f = only(errors_of(BASE.replace("MinCount: 1", "MinCount: -1")))
    assert (f.file, f.line, f.column) == ("cluster.yaml", 23, 11)
    assert f.path == "Scheduling/SlurmQueues[1]/ComputeResources[0]/MinCount"
    assert f.code == "ConfigSchemaValidator"
    assert f.location().startswith(
        "cluster.yaml:23:11 Scheduling/SlurmQueues[1]/ComputeResources[0]/MinCount: must be >= 0, got -1"
    )


def test_unknown_key_did_you_mean() -> None:
    f = only(errors_of(BASE.replace("MaxCount: 4", "MaxCout: 4")))
    assert f.code == "UnknownKeyValidator"
    assert (f.line, f.column) == (24, 11)
    assert f.path == "Scheduling/SlurmQueues[1]/ComputeResources[0]/MaxCout"
    assert "did you mean 'MaxCount'?" in f.message


def test_unknown_key_without_close_match_lists_valid_keys() -> None:
    f = only(errors_of(BASE + "Zebra: 1\n"))
    assert f.path == "Zebra"
    assert "did you mean" not in f.message
    assert "HeadNode" in f.hint and "Scheduling" in f.hint


def test_snake_case_attribute_names_are_not_yaml_keys() -> None:
    f = only(errors_of(BASE.replace("MaxCount: 4", "max_count: 4")))
    assert f.code == "UnknownKeyValidator"
    assert f.path.endswith("/max_count")
    assert "'MaxCount'" in f.message


def test_wrong_case_choice_suggests_the_right_one() -> None:
    f = only(
        errors_of(
            BASE.replace("      Os: alinux2023", "      Os: Alinux2023").replace(
                "Os: alinux2023", "Os: Alinux2023"
            )
        )
    )
    assert f.path == "Image/Os"
    assert "did you mean 'alinux2023'?" in f.message


def test_duplicate_keys_name_both_lines() -> None:
    text = BASE.replace(
        "  InstanceType: t3.micro\n", "  InstanceType: t3.micro\n  InstanceType: t3.large\n", 1
    )
    f = only(errors_of(text))
    assert f.code == "DuplicateKeyValidator"
    assert f.path == "HeadNode/InstanceType"
    assert (f.line, f.column) == (5, 3)
    assert "first set on line 4" in f.message


def test_five_mistakes_reported_at_once_each_with_its_line() -> None:
    text = (
        BASE.replace("Os: alinux2023", "Os: windows")
        .replace("SubnetId: subnet-12345678", "SubnetId: net-1")
        .replace("MinCount: 1", "MinCount: true")
        .replace("MaxCount: 4", "MaxCount: 4\n          Bogus: 1")
        .replace("    - Name: q0\n", "    - Name: q0\n      CapacityType: CHEAP\n")
    )
    findings = errors_of(text)
    where = {f.path: (f.line, f.code) for f in findings}
    assert where == {
        "Image/Os": (2, "ConfigSchemaValidator"),
        "HeadNode/Networking/SubnetId": (6, "ConfigSchemaValidator"),
        "Scheduling/SlurmQueues[0]/CapacityType": (11, "ConfigSchemaValidator"),
        "Scheduling/SlurmQueues[1]/ComputeResources[0]/MinCount": (24, "ConfigSchemaValidator"),
        "Scheduling/SlurmQueues[1]/ComputeResources[0]/Bogus": (26, "UnknownKeyValidator"),
    }
    assert [f.line for f in findings] == sorted(f.line or 0 for f in findings)


def test_missing_required_keys_point_at_their_section() -> None:
    text = BASE.replace("    SubnetId: subnet-12345678\n", "    AdditionalSecurityGroups: [sg-12345678]\n")
    f = only(errors_of(text))
    assert f.path == "HeadNode/Networking/SubnetId"
    assert f.message == "SubnetId is required"
    assert (f.line, f.column) == (5, 3)


def test_missing_top_level_sections() -> None:
    findings = errors_of("Image:\n  Os: alinux2023\n")
    assert {f.path for f in findings} == {"HeadNode", "Scheduling"}


@pytest.mark.parametrize(
    ("replace", "path", "text"),
    [
        ("MaxCount: 4", "Scheduling/SlurmQueues[1]/ComputeResources[0]/MaxCount", "MaxCount: 0"),
        ("MaxCount: 4", "Scheduling/SlurmQueues[1]/ComputeResources[0]/MaxCount", "MaxCount: four"),
        ("MaxCount: 4", "Scheduling/SlurmQueues[1]/ComputeResources[0]/MaxCount", "MaxCount: 4.5"),
        ("MaxCount: 4", "Scheduling/SlurmQueues[1]/ComputeResources[0]/MaxCount", "MaxCount: .inf"),
        ("MaxCount: 4", "Scheduling/SlurmQueues[1]/ComputeResources[0]/MaxCount", "MaxCount: false"),
        ("MaxCount: 4", "Scheduling/SlurmQueues[1]/ComputeResources[0]/MaxCount", "MaxCount:"),
        ("MaxCount: 4", "Scheduling/SlurmQueues[1]/ComputeResources[0]/SpotPrice", "SpotPrice: .nan"),
        ("InstanceType: t3.micro", "HeadNode/InstanceType", "InstanceType: 5"),
        ("InstanceType: t3.micro", "HeadNode/InstanceType", "InstanceType: [t3.micro]"),
        ("Name: q0", "Scheduling/SlurmQueues[0]/Name", "Name: {a: b}"),
        ("SubnetIds: [subnet-12345678]", "Scheduling/SlurmQueues[0]/Networking/SubnetIds", "SubnetIds: []"),
        (
            "SubnetIds: [subnet-12345678]",
            "Scheduling/SlurmQueues[0]/Networking/SubnetIds[0]",
            "SubnetIds: [x]",
        ),
        ("Scheduler: slurm", "Scheduling/Scheduler", "Scheduler: awsbatch"),
    ],
)
def test_type_and_range_errors(replace: str, path: str, text: str) -> None:
    f = only(errors_of(BASE.replace(replace, text)))
    assert f.path == path
    assert f.line is not None and f.column is not None


def test_string_integers_are_accepted_as_pcluster_does() -> None:
    loaded = load_cluster_config_text(BASE.replace("MaxCount: 4", 'MaxCount: "4"'))
    assert loaded.config.scheduling.slurm_queues[1].compute_resources[0].max_count == 4


# ---------------------------------------------------------------- hostile input


@pytest.mark.parametrize(
    ("text", "code", "fragment"),
    [
        ("", "ConfigFileValidator", "empty"),
        ("# just a comment\n", "ConfigFileValidator", "empty"),
        ("- a\n- b\n", "ConfigFileValidator", "not a mapping"),
        ("just words", "ConfigFileValidator", "not a mapping"),
        ("Image: {Os: alinux2023\nHeadNode: [a\n", "YamlSyntaxValidator", "invalid YAML"),
        ("a: 1\n---\nb: 2\n", "YamlSyntaxValidator", "invalid YAML"),
        ("Image:\n\tOs: x\n", "YamlSyntaxValidator", "invalid YAML"),
        ("Image: \x07\n", "YamlSyntaxValidator", "U+0007"),
        ("Image: !!python/object/apply:os.system ['true']\n", "YamlSyntaxValidator", "unsupported YAML tag"),
        ("Image: !custom x\n", "YamlSyntaxValidator", "unsupported YAML tag"),
        ("? [a, b]\n: c\n", "YamlSyntaxValidator", "plain word"),
        ("a: &a [*a]\n", "ConfigFileValidator", "nesting"),
        ("a: " + "[" * 3000 + "]" * 3000 + "\n", "ConfigFileValidator", "nesting"),
    ],
)
def test_hostile_text_gives_a_clean_error(text: str, code: str, fragment: str) -> None:
    findings = errors_of(text)
    assert any(f.code == code and fragment in f.message for f in findings), [f.location() for f in findings]


def test_syntax_error_is_located() -> None:
    f = errors_of("Image:\n  Os: alinux2023\nHeadNode: [a, b\n")[0]
    assert f.code == "YamlSyntaxValidator"
    assert f.line is not None and f.line >= 3


def test_non_utf8_is_located() -> None:
    f = only(errors_of(b"Image:\n  Os: \xff\xfe\n"))
    assert f.code == "ConfigFileValidator"
    assert (f.line, f.column) == (2, 7)


def test_billion_laughs_stops_quickly() -> None:
    import time

    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 9):
        prev, cur = chr(96 + i), chr(97 + i)
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    start = time.perf_counter()
    findings = errors_of("\n".join(lines) + "\n")
    # expanded, the document has 9**9 (387 million) nodes: the alias budget stops it in milliseconds;
    # the bound is loose so that a busy machine cannot fail it (timings belong in bench/)
    assert time.perf_counter() - start < 20
    assert any("more than" in f.message for f in findings)


def test_oversized_file_is_refused_before_parsing(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    head = b"Image:\n  Os: alinux2023\n"
    big.write_bytes(head + b"#" * (20 * 1024 * 1024 - len(head)))
    with pytest.raises(ConfigError) as info:
        load_cluster_config(big)
    message = info.value.findings[0].message
    assert (
        message == "the file is 20.0 MiB (20971520 bytes); a config may be at most 16.0 MiB (16777216 bytes)"
    )


def test_a_two_mib_config_is_not_too_large(tmp_path: Path) -> None:
    """Long CustomSlurmSettings and comments: real configs above the old 1 MiB cap still load."""
    example = Path(__file__).resolve().parents[3] / "examples" / "demo.yaml"
    text = example.read_bytes()
    padded = tmp_path / "padded.yaml"
    padded.write_bytes(text + b"# a long comment\n" * (2 * 1024 * 1024 // 17))
    assert load_cluster_config(padded).config is not None


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_cluster_config(tmp_path / "absent.yaml")
    with pytest.raises(ConfigError, match="directory"):
        load_cluster_config(tmp_path)


def test_load_from_path_uses_the_path_as_filename(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(BASE.replace("MinCount: 1", "MinCount: -3"))
    with pytest.raises(ConfigError) as info:
        load_cluster_config(path)
    f = only(list(info.value.findings))
    assert f.file == str(path)
    assert str(path) in str(info.value)


def test_anchors_aliases_and_merge_keys_work_within_budget() -> None:
    text = BASE.replace(
        "ComputeResources:\n        - Name: cr0\n          InstanceType: c5.large\n",
        "ComputeResources:\n        - &cr\n          Name: cr0\n          InstanceType: c5.large\n"
        "        - <<: *cr\n          Name: cr1\n",
        1,
    )
    loaded = load_cluster_config_text(text)
    crs = loaded.config.scheduling.slurm_queues[0].compute_resources
    assert [c.name for c in crs] == ["cr0", "cr1"]
    assert crs[1].instance_type == "c5.large"


def test_image_loader(tmp_path: Path) -> None:
    path = tmp_path / "image.yaml"
    path.write_text("Build:\n  InstanceType: c5.xlarge\n  ParentImage: ami-0185634c5a8a37250\n")
    assert load_image_config(path).config.build.parent_image == "ami-0185634c5a8a37250"
    with pytest.raises(ConfigError) as info:
        load_image_config_text("Build:\n  InstanceType: c5.xlarge\n  ParentImage: img-1\n  Bogus: 1\n")
    assert {f.path for f in info.value.findings} == {"Build/ParentImage", "Build/Bogus"}


def test_loaded_config_builds_located_findings() -> None:
    loaded = load_cluster_config_text(BASE, "c.yaml")
    f = loaded.finding(
        Level.WARNING, "MaxCountValidator", "Scheduling/SlurmQueues[1]/ComputeResources[0]/MaxCount", "x"
    )
    assert (f.file, f.line, f.column, f.level) == ("c.yaml", 24, 11, Level.WARNING)
    unplaced = loaded.finding(Level.INFO, "X", "Monitoring/Logs", "y")
    assert (unplaced.line, unplaced.column) == (None, None)


def test_removed_login_node_key_name_has_a_specific_message() -> None:
    text = BASE + (
        "LoginNodes:\n  Pools:\n    - Name: login\n      InstanceType: t3.micro\n      Count: 1\n"
        "      Networking: {SubnetIds: [subnet-12345678]}\n      Ssh: {KeyName: mykey}\n"
    )
    f = only(errors_of(text))
    assert f.path == "LoginNodes/Pools[0]/Ssh/KeyName"
    assert "no longer supported" in f.message


def test_explicit_null_is_rejected_like_parallelcluster() -> None:
    f = only(errors_of(BASE.replace("InstanceType: t3.micro", "InstanceType:")))
    assert f.path == "HeadNode/InstanceType"
    assert f.message == "InstanceType has no value"


def test_unquoted_values_yaml_reads_as_numbers_show_what_was_written() -> None:
    text = BASE + (
        "SharedStorage:\n  - Name: fsx\n    MountDir: /fsx\n    StorageType: FsxLustre\n"
        "    FsxLustreSettings:\n      WeeklyMaintenanceStartTime: 1:05:00\n"
    )
    f = only(errors_of(text))
    assert f.path == "SharedStorage[0]/FsxLustreSettings/WeeklyMaintenanceStartTime"
    assert "got 1:05:00" in f.message and "number 3900" in f.message
    assert f.hint == 'quote it: WeeklyMaintenanceStartTime: "1:05:00"'

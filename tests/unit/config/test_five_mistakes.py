"""One config with five different mistakes reports all five at once, each at its line."""

from __future__ import annotations

from pathlib import Path

from corral.config.check import check_cluster_config
from corral.config.findings import Level

CONFIG = """\
Image:
  Os: alinux2023
HeadNode:
  InstanceType: c5.xlarge
  Networking:
    SubnetId: subnet-12345678
  CustomActions:
    OnNodeStart:
      Script: http://example.com/setup.sh
Scheduling:
  Scheduler: slurm
  SlurmSettings:
    CustomSlurmSettings:
      - ResumeProgram: /usr/local/bin/my-resume
  SlurmQueues:
    - Name: batch
      ComputeResources:
        - Name: cpu
          InstanceType: c5.xlarge
          MinCount: 8
          MaxCount: 4
      Networking:
        SubnetIds:
          - subnet-12345678
    - Name: batch
      ComputeResources:
        - Name: arm
          InstanceType: c6g.xlarge
      Networking:
        SubnetIds:
          - subnet-12345678
SharedStorage:
  - Name: data
    StorageType: Efs
    MountDir: /usr
"""

#: (code, key path, line, column) of each mistake, in file order.
EXPECTED = [
    ("UrlValidator", "HeadNode/CustomActions/OnNodeStart/Script", 9, 7),
    ("CustomSlurmSettingsValidator", "Scheduling/SlurmSettings/CustomSlurmSettings[0]/ResumeProgram", 14, 9),
    ("ComputeResourceSizeValidator", "Scheduling/SlurmQueues[0]/ComputeResources[0]/MinCount", 20, 11),
    ("DuplicateNameValidator", "Scheduling/SlurmQueues[1]/Name", 25, 7),
    (
        "InstanceArchitectureCompatibilityValidator",
        "Scheduling/SlurmQueues[1]/ComputeResources[0]/InstanceType",
        28,
        11,
    ),
    ("SharedStorageMountDirValidator", "SharedStorage[0]/MountDir", 35, 5),
]


def test_all_mistakes_are_reported_at_once_with_their_lines(tmp_path: Path) -> None:
    path = tmp_path / "cluster.yaml"
    path.write_text(CONFIG)
    report = check_cluster_config(path, cluster_name="five-mistakes")
    assert report.blocking
    errors = report.at_least(Level.ERROR)
    got = [(f.code, f.path, f.line, f.column) for f in errors]
    assert got == EXPECTED
    assert len({code for code, *_ in got}) >= 5  # different kinds of mistakes, not one repeated
    for finding, (_code, key, line, column) in zip(errors, EXPECTED, strict=True):
        assert finding.location().startswith(f"{path}:{line}:{column} {key}: ")
        assert finding.hint, finding.location()
        # The line really holds the key the finding names.
        source_line = CONFIG.splitlines()[line - 1]
        assert key.rsplit("/", 1)[-1].split("[")[0] in source_line


def test_messages_say_what_and_how(tmp_path: Path) -> None:
    path = tmp_path / "cluster.yaml"
    path.write_text(CONFIG)
    by_code = {f.code: f for f in check_cluster_config(path, cluster_name="x").findings}
    assert "MinCount (8)" in by_code["ComputeResourceSizeValidator"].message
    assert "MaxCount (4)" in by_code["ComputeResourceSizeValidator"].message
    assert "'batch'" in by_code["DuplicateNameValidator"].message
    assert "/usr" in by_code["SharedStorageMountDirValidator"].message
    assert "http://" in by_code["UrlValidator"].message
    assert "ResumeProgram" in by_code["CustomSlurmSettingsValidator"].message
    assert "arm64" in by_code["InstanceArchitectureCompatibilityValidator"].message
    message = by_code["ComputeResourceSizeValidator"].to_validation_message()
    assert message["level"] == "ERROR" and message["type"] == "ComputeResourceSizeValidator"

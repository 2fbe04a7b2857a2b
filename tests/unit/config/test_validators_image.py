"""Image builder validators: the corpus image configs (the two ``test_invalid_config`` ones rejected,
as in ParallelCluster's own integration test) and one broken variant per image rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from corral.config.check import check_image_config
from corral.config.findings import Level
from support.corpus import CORPUS, IMAGE_FILES, needs_corpus, render_to

IMAGES = CORPUS / "image-configs"
INVALID = "integ__createami__test_createami__test_invalid_config__image.config.yaml"
INVALID_WARNINGS = "integ__createami__test_createami__test_invalid_config__warnings.image.config.yaml"

#: What test_invalid_config renders its first template with: an arm64 parent image for an x86 type.
ARM64_PARENT = "arn:aws:imagebuilder:us-east-1:aws:image/amazon-linux-2023-arm64/x.x.x"


VALID_FILES = [p for p in IMAGE_FILES if "test_invalid_config" not in p.name]


@needs_corpus
@pytest.mark.parametrize("path", VALID_FILES, ids=lambda p: p.name[:80])
def test_corpus_image_configs_are_accepted(path: Path, tmp_path: Path) -> None:
    report = check_image_config(render_to(path, tmp_path), image_id="corpus-image")
    assert report.config is not None
    assert not report.blocking, [f.location() for f in report.findings]


@needs_corpus
def test_invalid_config_is_rejected_for_its_arm64_parent(tmp_path: Path) -> None:
    report = check_image_config(
        render_to(IMAGES / INVALID, tmp_path, parent_image=ARM64_PARENT), image_id="bad-arch"
    )
    assert report.blocking
    errors = report.at_least(Level.ERROR)
    assert [f.code for f in errors] == ["InstanceTypeBaseAMICompatibleValidator"]
    assert errors[0].path == "Build/InstanceType" and errors[0].line == 7


@needs_corpus
def test_invalid_warnings_config_is_rejected_at_warning_level_unless_suppressed(tmp_path: Path) -> None:
    config = render_to(IMAGES / INVALID_WARNINGS, tmp_path)
    warned = check_image_config(config, image_id="warn", failure_level="WARNING", suppress=[*BUILD_ONLY])
    assert warned.blocking
    assert {(f.code, f.path) for f in warned.findings} == {("UrlValidator", "DevSettings/NodePackage")}
    assert not check_image_config(config, image_id="warn").blocking
    suppressed = check_image_config(
        config, image_id="warn", failure_level="WARNING", suppress=["type:UrlValidator", *BUILD_ONLY]
    )
    assert not suppressed.blocking and not suppressed.findings


#: Image configs get INFOs for the keys that do not apply locally (config/key_support); the
#: tests of the validators leave it out.
BUILD_ONLY = ("type:KeyNotApplicable", "type:KeyNotImplemented")


BASE = """\
Image:
  RootVolume:
    Size: 60
    Encrypted: true
Build:
  InstanceType: g4dn.xlarge
  ParentImage: ami-0123456789abcdef0
  Components:
    - Type: script
      Value: s3://bucket/install.sh
"""

VARIANTS = [
    ("bad-id", BASE, "1-image", "ImageIdValidator", ""),
    ("long-id", BASE, "i" * 129, "ImageIdValidator", ""),
    (
        "unknown-type",
        BASE.replace("g4dn.xlarge", "g4dn.xlarg"),
        "img",
        "InstanceTypeValidator",
        "Build/InstanceType",
    ),
    (
        "nvidia-no-gpu",
        BASE.replace("g4dn.xlarge", "c5.xlarge")
        + "  Installation:\n    NvidiaSoftware:\n      Enabled: true\n",
        "img",
        "InstanceTypeSoftwareValidator",
        "Build/InstanceType",
    ),
    (
        "arm-parent-x86-type",
        BASE.replace(
            "ami-0123456789abcdef0", "arn:aws:imagebuilder:us-east-1:aws:image/ubuntu-2204-arm64/x.x.x"
        ),
        "img",
        "InstanceTypeBaseAMICompatibleValidator",
        "Build/InstanceType",
    ),
    (
        "x86-parent-arm-type",
        BASE.replace("g4dn.xlarge", "c6g.xlarge").replace(
            "ami-0123456789abcdef0", "arn:aws:imagebuilder:us-east-1:aws:image/amazon-linux-2-x86/x.x.x"
        ),
        "img",
        "InstanceTypeBaseAMICompatibleValidator",
        "Build/InstanceType",
    ),
    (
        "16-components",
        BASE
        + "".join(
            f"    - Type: arn\n      Value: arn:aws:imagebuilder:us-east-1:aws:component/c{i}/1.0.0\n"
            for i in range(15)
        ),
        "img",
        "ComponentsValidator",
        "Build/Components",
    ),
    (
        "subnet-no-sg",
        BASE + "  SubnetId: subnet-12345678\n",
        "img",
        "SecurityGroupsAndSubnetValidator",
        "Build/SubnetId",
    ),
    (
        "root-too-big",
        BASE.replace("Size: 60", "Size: 20000"),
        "img",
        "EbsVolumeTypeSizeValidator",
        "Image/RootVolume/Size",
    ),
    (
        "kms-unencrypted",
        BASE.replace("Encrypted: true", "Encrypted: false\n    KmsKeyId: key-1"),
        "img",
        "KmsKeyIdEncryptedValidator",
        "Image/RootVolume/Encrypted",
    ),
    (
        "reserved-tag",
        BASE.replace("Image:\n", "Image:\n  Tags:\n    - Key: parallelcluster:x\n      Value: y\n"),
        "img",
        "TagKeyValidator",
        "Image/Tags[0]/Key",
    ),
    (
        "cli-overrides-not-object",
        BASE + "DevSettings:\n  CliAttributeOverrides: '[1, 2]'\n",
        "img",
        "CliAttributeOverridesValidator",
        "DevSettings/CliAttributeOverrides",
    ),
    (
        "node-package-ftp",
        BASE + "DevSettings:\n  NodePackage: ftp://x/node.tgz\n",
        "img",
        "UrlValidator",
        "DevSettings/NodePackage",
    ),
]


def test_image_base_is_clean(tmp_path: Path) -> None:
    path = tmp_path / "image.yaml"
    path.write_text(BASE)
    report = check_image_config(
        path, image_id="img", failure_level="INFO", target="aws", suppress=[*BUILD_ONLY]
    )
    assert not report.findings, [f.location() for f in report.findings]


@pytest.mark.parametrize(
    ("text", "image_id", "code", "key"), [v[1:] for v in VARIANTS], ids=[v[0] for v in VARIANTS]
)
def test_image_variant_is_rejected(tmp_path: Path, text: str, image_id: str, code: str, key: str) -> None:
    path = tmp_path / "image.yaml"
    path.write_text(text)
    report = check_image_config(path, image_id=image_id, target="aws")
    assert report.blocking
    hits = [f for f in report.findings if f.code == code and f.path == key and f.level == Level.ERROR]
    assert hits, [f.location() for f in report.findings]
    if key:
        assert hits[0].line is not None

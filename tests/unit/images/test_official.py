"""The official image's recipe, id, listing, manifest and Os findings (pure)."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

from corral.config.findings import Level
from corral.images import (
    OS_CODE,
    PCLUSTER_OSES,
    ImageManifest,
    is_official_id,
    official_images,
    official_recipe,
    os_findings,
)
from corral.images.official import AMI_ID_RE, NODE_PACKAGES


def test_the_recipe_names_the_same_image_every_time_and_a_changed_recipe_another() -> None:
    recipe = official_recipe("amd64")
    assert recipe.ami_id == official_recipe("amd64").ami_id
    assert AMI_ID_RE.match(recipe.ami_id)
    assert replace(recipe, packages=(*recipe.packages, "vim")).ami_id != recipe.ami_id
    assert replace(recipe, suite="sid").ami_id != recipe.ami_id
    assert official_recipe("arm64").ami_id != recipe.ami_id
    assert is_official_id(recipe.ami_id, "amd64") and not is_official_id("ami-0123456789abcdef0", "amd64")


def test_the_recipe_holds_what_nodes_run() -> None:
    recipe = official_recipe("amd64")
    assert recipe.suite == "trixie"  # Debian 13: Slurm 24.11
    for package in ("slurmctld", "slurmd", "slurm-client", "slurmdbd", "munge", "openssh-server", "python3"):
        assert package in NODE_PACKAGES
    assert recipe.architecture == "x86_64" and official_recipe("arm64").architecture == "arm64"


def test_list_official_images_has_one_entry_per_os_in_pclusters_shape_and_filters() -> None:
    images = official_images("1.0", dpkg_arch="amd64")
    assert [i["os"] for i in images] == list(PCLUSTER_OSES)
    assert {i["amiId"] for i in images} == {official_recipe("amd64").ami_id}
    assert all(set(i) == {"amiId", "os", "name", "version", "architecture"} for i in images)
    assert [i["os"] for i in official_images("1.0", os="rocky9", dpkg_arch="amd64")] == ["rocky9"]
    assert official_images("1.0", os="centos7", dpkg_arch="amd64") == []
    assert official_images("1.0", architecture="arm64", dpkg_arch="amd64") == []
    assert len(official_images("1.0", architecture="x86_64", dpkg_arch="amd64")) == len(PCLUSTER_OSES)


def test_a_manifest_round_trips_and_knows_its_slurm() -> None:
    manifest = ImageManifest(
        ami_id="ami-0123456789abcdef0",
        name="n",
        os="debian13",
        architecture="x86_64",
        packages={"slurmctld": "24.11.5-4+deb13u1", "munge": "0.5.16-1"},
        tags=(("a", "b"),),
        build_time="2026-12-04T15:00:00+00:00",
    )
    again = ImageManifest.load(manifest.dump())
    assert again == manifest
    assert again.slurm_version == "24.11.5" and again.slurm_major == "24.11"
    assert ImageManifest(ami_id="ami-1", name="n", os="o", architecture="x86_64").slurm_major == ""


def test_every_os_gets_one_info_finding_at_image_os() -> None:
    for os in PCLUSTER_OSES:
        config = SimpleNamespace(image=SimpleNamespace(os=os))
        for boots in (False, True):
            findings = os_findings(config, nodes_boot_from_images=boots)
            assert [(f.level, f.code, f.path) for f in findings] == [(Level.INFO, OS_CODE, "Image/Os")]
            assert os in findings[0].message and official_recipe().ami_id in findings[0].message
    assert os_findings(SimpleNamespace(image=None), nodes_boot_from_images=True) == []

"""The local store of user images and ``resolve_image``, the one lookup every boot goes through:
an official id gives the cache's rootfs, a built image its own layer stacked over its parent's."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from corral.errors import ConflictError, NotFoundError
from corral.images import ImageManifest, official_recipe
from corral.images import status as st
from corral.providers.local import images
from corral.providers.local._image_store import ImageRecord, ImageStore


def _official(cache: Path) -> str:
    recipe = official_recipe()
    manifest = ImageManifest(ami_id=recipe.ami_id, name=recipe.name, os="debian13", architecture="x86_64")
    (cache / recipe.ami_id / "rootfs").mkdir(parents=True)
    (cache / recipe.ami_id / "manifest.json").write_text(manifest.dump())
    return recipe.ami_id


def _built(store: ImageStore, image_id: str, ami: str, parent: str, status: str = st.BUILD_COMPLETE) -> None:
    store.claim(ImageRecord(image_id=image_id, ami_id=ami, status=status, parent_ami=parent))
    store.layer(image_id).mkdir()
    manifest = ImageManifest(ami_id=ami, name=image_id, os="debian13", architecture="x86_64", parent=parent)
    store.write_manifest(image_id, manifest)


@pytest.fixture
def official(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(images.CACHE_ENV, str(tmp_path / "cache"))
    return _official(tmp_path / "cache")


def test_the_official_id_resolves_to_the_cached_rootfs(tmp_path: Path, official: str) -> None:
    resolved = images.resolve_image(official, tmp_path / "state")
    assert resolved.layers == (tmp_path / "cache" / official / "rootfs",)
    assert resolved.lowerdir == str(tmp_path / "cache" / official / "rootfs")


def test_a_built_image_stacks_its_layer_over_its_parents(tmp_path: Path, official: str) -> None:
    store = ImageStore(tmp_path / "state")
    _built(store, "bi-base", "ami-00000000000000001", official)
    _built(store, "bi-child", "ami-00000000000000002", "ami-00000000000000001")
    resolved = images.resolve_image("ami-00000000000000002", tmp_path / "state")
    assert resolved.manifest.name == "bi-child"
    assert resolved.layers == (
        store.layer("bi-child"),
        store.layer("bi-base"),
        tmp_path / "cache" / official / "rootfs",
    )
    assert resolved.lowerdir.count(":") == 2


def test_unknown_unfinished_and_orphaned_images_are_refused_clearly(tmp_path: Path, official: str) -> None:
    state = tmp_path / "state"
    store = ImageStore(state)
    with pytest.raises(NotFoundError, match="no local image has the id ami-0000000000000000f"):
        images.resolve_image("ami-0000000000000000f", state)
    _built(store, "bi-busy", "ami-00000000000000003", official, status=st.BUILD_IN_PROGRESS)
    with pytest.raises(ConflictError, match="BUILD_IN_PROGRESS, not BUILD_COMPLETE"):
        images.resolve_image("ami-00000000000000003", state)
    _built(store, "bi-orphan", "ami-00000000000000004", "ami-0000000000000000e")
    with pytest.raises(ConflictError, match="its parent image ami-0000000000000000e is not available"):
        images.resolve_image("ami-00000000000000004", state)


def test_two_claims_of_one_id_race_and_exactly_one_wins(tmp_path: Path) -> None:
    store = ImageStore(tmp_path)
    outcomes: list[str] = []
    barrier = threading.Barrier(8)

    def claim(n: int) -> None:
        barrier.wait()
        try:
            store.claim(ImageRecord(image_id="bi-race", ami_id=f"ami-{n:017x}", status=st.BUILD_IN_PROGRESS))
            outcomes.append("won")
        except ConflictError as exc:
            assert "already exists" in exc.message
            outcomes.append("lost")

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["lost"] * 7 + ["won"]


def test_transitions_follow_the_table(tmp_path: Path) -> None:
    store = ImageStore(tmp_path)
    store.claim(ImageRecord(image_id="bi-t", ami_id="ami-00000000000000005", status=st.BUILD_IN_PROGRESS))
    store.transition("bi-t", st.BUILD_FAILED, reason="step failed")
    with pytest.raises(ConflictError, match="cannot become BUILD_COMPLETE"):
        store.transition("bi-t", st.BUILD_COMPLETE)
    assert store.get("bi-t").reason == "step failed"
    store.add_event("bi-t", "Build", "CREATE_FAILED", "x")
    assert [e["status"] for e in store.events("bi-t")] == ["CREATE_FAILED"]


def test_custom_amis_a_machine_cannot_boot_are_located_errors(tmp_path: Path, official: str) -> None:
    from types import SimpleNamespace

    from corral.providers.local._imageroot import QUEUE_ROOTS_KEY, image_root

    state = tmp_path / "state"
    _built(ImageStore(state), "bi-ok", "ami-00000000000000011", official)
    queue = SimpleNamespace(name="q1", image=SimpleNamespace(custom_ami="ami-00000000000000099"))
    good = SimpleNamespace(name="q2", image=SimpleNamespace(custom_ami="ami-00000000000000011"))
    config = SimpleNamespace(
        image=SimpleNamespace(custom_ami=None),
        head_node=SimpleNamespace(image=None),
        scheduling=SimpleNamespace(slurm_queues=[queue, good]),
    )
    [finding] = images.custom_ami_findings(config, state)
    assert finding.code == images.CUSTOM_AMI_CODE and finding.level.name == "WARNING"
    assert finding.path == "Scheduling/SlurmQueues[0]/Image/CustomAmi"
    assert "ami-00000000000000099: no local image has this id" in finding.message
    assert f"boot from the official image {official}" in finding.message
    ImageStore(state).claim(
        ImageRecord(image_id="bi-wip", ami_id="ami-00000000000000099", status=st.BUILD_IN_PROGRESS)
    )
    [finding] = images.custom_ami_findings(config, state)  # a local image that is not built yet
    assert finding.level.name == "ERROR" and "is BUILD_IN_PROGRESS, not BUILD_COMPLETE" in finding.message
    extra = {"image_root": "/head", QUEUE_ROOTS_KEY: '{"q2": "/a:/b"}'}
    fake = SimpleNamespace(extra=extra)
    assert str(image_root(fake, "q2")) == "/a:/b"  # type: ignore[arg-type]
    assert str(image_root(fake, "q1")) == "/head"  # type: ignore[arg-type]
    assert str(image_root(fake)) == "/head"  # type: ignore[arg-type]


def test_images_with_different_slurm_majors_are_refused(tmp_path: Path, official: str) -> None:
    from types import SimpleNamespace

    state = tmp_path / "state"
    store = ImageStore(state)
    for image_id, ami, slurm in (
        ("bi-24", "ami-00000000000000021", "24.11.5-1"),
        ("bi-25", "ami-00000000000000022", "25.05.1-1"),
    ):
        store.claim(ImageRecord(image_id=image_id, ami_id=ami, status=st.BUILD_COMPLETE, parent_ami=official))
        store.layer(image_id).mkdir()
        packages = {"slurmd": slurm, "slurmctld": slurm}
        manifest = ImageManifest(
            ami_id=ami,
            name=image_id,
            os="debian13",
            architecture="x86_64",
            parent=official,
            packages=packages,
        )
        store.write_manifest(image_id, manifest)
    queues = [
        SimpleNamespace(name=f"q{n}", image=SimpleNamespace(custom_ami=ami))
        for n, ami in enumerate(("ami-00000000000000021", "ami-00000000000000022"))
    ]
    config = SimpleNamespace(
        image=SimpleNamespace(custom_ami=None),
        head_node=None,
        scheduling=SimpleNamespace(slurm_queues=queues),
    )
    codes = [f.code for f in images.custom_ami_findings(config, state)]
    assert codes == [images.SLURM_VERSION_CODE]


def test_login_pools_boot_their_custom_ami_and_an_update_moves_only_what_changed(
    tmp_path: Path, official: str
) -> None:
    import json
    from dataclasses import dataclass, field
    from types import SimpleNamespace

    from corral.images.custom import ClusterImages, cluster_images
    from corral.providers.local._cluster import with_image, with_updated_images
    from corral.providers.local._imageroot import LOGIN_ROOTS_KEY, image_root, login_root

    @dataclass(frozen=True)
    class Placed:  # the one field of the descriptor the image roots live in
        extra: dict[str, str] = field(default_factory=dict)

    state = tmp_path / "state"
    store = ImageStore(state)
    _built(store, "bi-login", "ami-00000000000000031", official)
    _built(store, "bi-login2", "ami-00000000000000032", official)
    rootfs = str(tmp_path / "cache" / official / "rootfs")
    pools = [
        SimpleNamespace(name="users", image=SimpleNamespace(custom_ami="ami-00000000000000031")),
        SimpleNamespace(name="ops", image=None),
        SimpleNamespace(name="aws", image=SimpleNamespace(custom_ami="ami-0123456789abcdef0")),
    ]
    config = SimpleNamespace(
        image=SimpleNamespace(custom_ami=None),
        head_node=None,
        scheduling=SimpleNamespace(slurm_queues=[SimpleNamespace(name="q1", image=None)]),
        login_nodes=SimpleNamespace(pools=pools),
    )
    chosen = cluster_images(config)
    assert chosen.pool_ami("users", official) == "ami-00000000000000031"
    assert chosen.pool_ami("ops", official) == official
    # an AMI this machine never saw: a located WARNING, and the pool boots the official image
    [finding] = images.custom_ami_findings(config, state)
    assert (finding.level.name, finding.path) == ("WARNING", "LoginNodes/Pools[2]/Image/CustomAmi")

    created: Any = with_image(Placed(), chosen, state)  # type: ignore[arg-type]
    assert str(login_root(created, "users")) == store.layer("bi-login").as_posix() + ":" + rootfs
    assert str(login_root(created, "ops")) == rootfs == str(image_root(created))
    assert str(login_root(created, "aws")) == rootfs

    # update: users moves to another image, ops keeps its root, a new pool takes the official image
    moved = ClusterImages(queues={"q1": ""}, pools={"users": "ami-00000000000000032", "ops": "", "new": ""})
    created = Placed(
        {
            **created.extra,
            LOGIN_ROOTS_KEY: json.dumps({**json.loads(created.extra[LOGIN_ROOTS_KEY]), "ops": "/kept"}),
        }
    )
    extra = with_updated_images(created, chosen, moved, state)
    after: Any = Placed(extra)
    assert str(login_root(after, "users")) == store.layer("bi-login2").as_posix() + ":" + rootfs
    assert str(login_root(after, "ops")) == "/kept"  # unchanged: the root its nodes boot from stays
    assert str(login_root(after, "new")) == rootfs
    assert "aws" not in json.loads(extra[LOGIN_ROOTS_KEY])  # a removed pool's root goes
    assert image_root(after, "q1") == image_root(created, "q1")

    # a cluster from before pools had roots: an unchanged pool keeps booting the head's image
    older = Placed({k: v for k, v in created.extra.items() if k != LOGIN_ROOTS_KEY})
    kept = Placed(with_updated_images(older, chosen, chosen, state))  # type: ignore[arg-type]
    assert str(login_root(kept, "ops")) == str(image_root(older))  # type: ignore[arg-type]
    # host-rooted clusters have no roots to move
    assert with_updated_images(Placed({"x": "1"}), chosen, moved, state) == {"x": "1"}  # type: ignore[arg-type]

"""The service's image verbs over the local provider's store (no build runs here: the images are
written into the store as a finished build leaves them): pcluster's shapes, the in-use refusal of
delete-image, and images stacked over an image."""

from __future__ import annotations

from pathlib import Path

import pytest

from corral.errors import ConflictError, NotFoundError
from corral.images import ImageManifest
from corral.images import status as st
from corral.providers.fake import FakeProvider
from corral.providers.local import LocalProvider
from corral.providers.local._image_store import ImageRecord, ImageStore
from corral.service import ClusterService
from corral.state import StateStore
from support.plans import small_plan
from unit.cli.openapi import validate


class Env:
    def __init__(self, tmp_path: Path) -> None:
        self.state = tmp_path / "state"
        self.providers = {"fake": FakeProvider(), "local": LocalProvider(self.state)}
        self.service = ClusterService(StateStore(self.state), self.providers.__getitem__)  # type: ignore[arg-type]
        self.store = ImageStore(self.state)

    def built(self, image_id: str, ami: str, parent: str = "ami-0000000000000000a") -> None:
        record = ImageRecord(
            image_id=image_id, ami_id=ami, status=st.BUILD_IN_PROGRESS, version="0.1.0", parent_ami=parent
        )
        self.store.claim(record)
        self.store.layer(image_id).mkdir()
        manifest = ImageManifest(
            ami_id=ami, name=f"{image_id}-ami", os="debian13", architecture="x86_64", parent=parent
        )
        self.store.write_manifest(image_id, manifest)
        self.store.add_event(image_id, image_id, "CREATE_IN_PROGRESS", "User Initiated")
        self.store.transition(image_id, st.BUILD_COMPLETE, imagebuilder_status="AVAILABLE")
        self.store.add_event(image_id, "ImageBuilderImage", "CREATE_COMPLETE", "available")


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return Env(tmp_path)


def test_describe_list_and_events_have_pcluster_shapes(env: Env) -> None:
    env.built("bi-a", "ami-0000000000000000b")
    doc = env.service.describe_image("bi-a", provider="local")
    validate("DescribeImageResponseContent", doc)
    assert (
        doc["imageBuildStatus"] == "BUILD_COMPLETE" and doc["ec2AmiInfo"]["amiId"] == "ami-0000000000000000b"
    )
    listed = env.service.list_images("AVAILABLE", provider="local")
    validate("ListImagesResponseContent", listed)
    assert [i["imageId"] for i in listed["images"]] == ["bi-a"]
    assert env.service.list_images("FAILED", provider="local") == {"images": []}
    events = env.service.get_image_stack_events("bi-a", provider="local")
    validate("GetImageStackEventsResponseContent", events)
    assert [e["resourceStatus"] for e in events["events"]] == ["CREATE_COMPLETE", "CREATE_IN_PROGRESS"]
    with pytest.raises(NotFoundError, match="bi-nope"):
        env.service.describe_image("bi-nope", provider="local")


def test_an_image_a_cluster_names_is_deleted_only_with_force(env: Env) -> None:
    env.built("bi-used", "ami-0000000000000000c")
    config = "Image:\n  Os: alinux2023\n  CustomAmi: ami-0000000000000000c\n"
    env.service.create_planned(small_plan("c1"), provider="fake", config_text=config)
    with pytest.raises(ConflictError, match=r"used by the cluster\(s\) c1"):
        env.service.delete_image("bi-used", provider="local")
    assert env.store.find("bi-used") is not None
    doc = env.service.delete_image("bi-used", force=True, provider="local")
    validate("DeleteImageResponseContent", doc)
    assert doc["image"]["imageBuildStatus"] == "DELETE_IN_PROGRESS"
    assert not env.store.dir("bi-used").exists()


def test_an_image_another_stacks_on_cannot_be_deleted_first(env: Env) -> None:
    env.built("bi-base", "ami-0000000000000000d")
    env.built("bi-child", "ami-0000000000000000e", parent="ami-0000000000000000d")
    with pytest.raises(ConflictError, match="parent of bi-child"):
        env.service.delete_image("bi-base", force=True, provider="local")
    env.service.delete_image("bi-child", provider="local")
    env.service.delete_image("bi-base", provider="local")
    assert env.store.records() == []

"""Every real config of the corpus loads; the image configs are Jinja templates rendered first."""

from __future__ import annotations

from pathlib import Path

import pytest

from corral.config.loader import load_cluster_config, load_image_config_text
from corral.config.model import ClusterConfig, ImageBuilderConfig
from support.corpus import (
    CLUSTER_FILES,
    CORPUS,
    IMAGE_FILES,
    render_template,
    skip_module_without_shared,
)

skip_module_without_shared()


def test_corpus_is_there() -> None:
    assert len(CLUSTER_FILES) >= 100
    assert len(IMAGE_FILES) == 10


@pytest.mark.parametrize("path", CLUSTER_FILES, ids=lambda p: p.name[:90])
def test_cluster_config_loads(path: Path) -> None:
    loaded = load_cluster_config(path)
    config = loaded.config
    assert isinstance(config, ClusterConfig)
    assert config.scheduling.slurm_queues, "a cluster has queues"
    for qi, queue in enumerate(config.scheduling.slurm_queues):
        assert loaded.locate(f"Scheduling/SlurmQueues[{qi}]/Name") is not None
        for cr in queue.compute_resources:
            assert cr.instance_types or cr.capacity_reservation_target is not None
            assert cr.min_count >= 0


@pytest.mark.parametrize("path", IMAGE_FILES, ids=lambda p: p.name[:90])
def test_image_config_loads(path: Path) -> None:
    # The two `test_invalid_config` files carry mistakes only cloud validators can see (an arm64
    # parent AMI with an x86 instance type; a NodePackage URL that does not exist): their schema is fine.
    loaded = load_image_config_text(render_template(path), path.name)
    assert isinstance(loaded.config, ImageBuilderConfig)
    assert loaded.config.build.instance_type


def test_image_templates_do_not_load_unrendered() -> None:
    # `InstanceType: {{ instance }}` is a YAML mapping, not a string: rejected with a location.
    from corral.errors import ConfigError

    path = (
        CORPUS / "image-configs" / "integ__createami__test_createami__test_invalid_config__image.config.yaml"
    )
    with pytest.raises(ConfigError) as info:
        load_image_config_text(path.read_text(), path.name)
    paths = {f.path for f in info.value.findings}
    assert {"Build/InstanceType", "Build/ParentImage", "CustomS3Bucket"} <= paths

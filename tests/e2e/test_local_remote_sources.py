"""Custom actions and the Slurm include file fetched from s3:// (a real moto server on loopback,
through AWS_ENDPOINT_URL) and https-style URLs; a failing head-node action fails create."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from corral.errors import ProviderError
from corral.plan import CustomActionSpec
from corral.providers.local import LocalProvider
from support.plans import plan
from support.servers import s3_server, web_server

from .conftest import unique_name

pytestmark = pytest.mark.e2e


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    with s3_server(monkeypatch, "corral-e2e") as client:
        yield client


@pytest.fixture
def web(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "www"
    root.mkdir()
    with web_server(root) as url:
        yield url, root


def test_actions_from_s3_and_include_from_the_web(
    provider: LocalProvider, s3: object, web: tuple[str, Path], cleanup: list[str]
) -> None:
    # OnNodeStart runs before the shared storage is mounted (as in ParallelCluster): what it writes
    # under a MountDir stays node-local and is hidden by the mount; OnNodeConfigured sees the storage.
    s3.put_object(  # type: ignore[attr-defined]
        Bucket="corral-e2e",
        Key="boot/start.sh",
        Body=b"#!/bin/bash\nmkdir -p /home/s3 && echo early > /home/s3/$(hostname)-start\n",
    )
    s3.put_object(  # type: ignore[attr-defined]
        Bucket="corral-e2e",
        Key="boot/configured.sh",
        Body=b'#!/bin/bash\nmkdir -p /home/s3 && echo "$1 from s3 on $(hostname)" > /home/s3/$(hostname)\n',
    )
    url, root = web
    (root / "extra.conf").write_text("MaxArraySize=4321\n")
    name = unique_name("e2eremote")
    cleanup.append(name)
    the_plan = plan(
        name,
        queues=(("q1", "c1", 1, 1),),
        queue_actions=(
            (
                "q1",
                (
                    CustomActionSpec("OnNodeStart", "s3://corral-e2e/boot/start.sh"),
                    CustomActionSpec("OnNodeConfigured", "s3://corral-e2e/boot/configured.sh", ("hi",)),
                ),
            ),
        ),
        include_file=f"{url}/extra.conf",
    )
    provider.create(the_plan, on_event=lambda r, m: None)
    out = provider.run_on_head(name, ["cat", "/home/s3/q1-st-c1-1"]).stdout
    assert out == "hi from s3 on q1-st-c1-1\n"
    assert provider.run_on_head(name, ["ls", "/home/s3"]).stdout.split() == ["q1-st-c1-1"]
    assert not Path("/home/s3").exists(), "OnNodeStart must not write the host's /home"
    config = provider.run_on_head(name, ["scontrol", "show", "config"]).stdout
    assert "MaxArraySize            = 4321" in config


def test_missing_s3_script_and_failing_head_action_fail_create(
    provider: LocalProvider, s3: object, tmp_path: Path, cleanup: list[str]
) -> None:
    name = unique_name("e2eremote")
    cleanup.append(name)
    missing = plan(
        name, queue_actions=(("q1", (CustomActionSpec("OnNodeStart", "s3://corral-e2e/none.sh"),)),)
    )
    with pytest.raises(ProviderError, match=r"cannot download s3://corral-e2e/none\.sh"):
        provider.create(missing, on_event=lambda r, m: None)
    provider.delete(name)

    bad = tmp_path / "head.sh"
    bad.write_text("#!/bin/sh\necho no license server >&2\nexit 2\n")
    failing = plan(name, head_actions=(CustomActionSpec("OnNodeStart", str(bad)),))
    with pytest.raises(
        ProviderError, match=r"head node bootstrap failed: OnNodeStart script .* exited with 2"
    ):
        provider.create(failing, on_event=lambda r, m: None)
    provider.delete(name)

    # HeadNodeBootstrapTimeout: a head script that runs over is killed and fails the create
    slow = tmp_path / "slow.sh"
    slow.write_text("#!/bin/sh\necho waiting for the license server\nsleep 60\n")
    timed = replace(
        plan(name, head_actions=(CustomActionSpec("OnNodeConfigured", str(slow)),)),
        head_node_bootstrap_timeout_s=2,
    )
    started = time.monotonic()
    with pytest.raises(
        ProviderError,
        match=r"OnNodeConfigured script .*slow\.sh timed out after 2 s: waiting for the license server",
    ):
        provider.create(timed, on_event=lambda r, m: None)
    assert time.monotonic() - started < 20

"""Failures end to end: a failing bootstrap script fails the node and is reported; a create that
is killed half-way (kill -9) is still removed completely by delete."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from corral.errors import ProviderError
from corral.plan import CustomActionSpec, StorageSpec
from corral.providers.local import LocalProvider, _volumes
from corral.slurm import status
from support.plans import plan

from .conftest import delete_and_check, leftovers, unique_name, wait_until

pytestmark = pytest.mark.e2e


def _script(path: Path, body: str) -> str:
    path.write_text(body)
    return str(path)


def test_failing_on_node_start_of_a_static_node_fails_create(
    provider: LocalProvider, tmp_path: Path, cleanup: list[str]
) -> None:
    name = unique_name("e2efail")
    cleanup.append(name)
    bad = _script(tmp_path / "bad.sh", "#!/bin/sh\necho cannot mount scratch >&2\nexit 4\n")
    the_plan = plan(
        name,
        queues=(("q1", "c1", 1, 1),),
        queue_actions=(("q1", (CustomActionSpec("OnNodeStart", bad),)),),
    )
    with pytest.raises(ProviderError, match=r"q1-st-c1-1: OnNodeStart script .*bad\.sh exited with 4"):
        provider.create(the_plan, on_event=lambda r, m: None)
    (failure,) = provider.failures(name)
    assert failure.node_name == "q1-st-c1-1" and "cannot mount scratch" in failure.message


def test_failing_on_node_configured_of_a_dynamic_node_marks_it_down(
    provider: LocalProvider, tmp_path: Path, cleanup: list[str]
) -> None:
    name = unique_name("e2efail")
    cleanup.append(name)
    bad = _script(tmp_path / "bad.sh", "#!/bin/sh\nexit 9\n")
    the_plan = plan(
        name,
        queues=(("ok", "c1", 0, 1), ("bad", "c2", 0, 1)),
        queue_actions=(("bad", (CustomActionSpec("OnNodeConfigured", bad),)),),
    )
    provider.create(the_plan, on_event=lambda r, m: None)
    submitted = provider.run_on_head(name, ["sbatch", "-p", "bad", "--wrap", "true"])
    assert submitted.returncode == 0, submitted.stderr

    def down() -> status.NodeState | None:
        out = provider.run_on_head(name, ["scontrol", "-o", "show", "node", "bad-dy-c2-1"]).stdout
        nodes = status.parse_nodes(out)
        return nodes[0] if nodes and nodes[0].state == "DOWN" else None

    try:
        node = wait_until(down, 30, "the failed node to be marked DOWN")
    except BaseException:
        layout = provider.layout(name)
        print(provider.run_on_head(name, ["scontrol", "-o", "show", "node"]).stdout)
        for log in sorted(layout.log.glob("*")):
            print(f"== {log.name}\n{log.read_text()[-3000:]}")
        raise
    assert isinstance(node, status.NodeState)
    assert "OnNodeConfigured script" in node.reason and "exited with 9" in node.reason
    assert [f.node_name for f in provider.failures(name)] == ["bad-dy-c2-1"]


CREATE = """
import os, sys
from pathlib import Path
sys.path.insert(0, {tests!r})
os.environ["CORRAL_LOCAL_SCALEDOWN_SECONDS"] = "4"
from support.plans import plan
from corral.providers.local import LocalProvider
the_plan = plan({name!r}, queues=(("q1", "c1", 2, 2),))
LocalProvider(Path({state!r})).create(the_plan, on_event=lambda r, m: None)
"""


@pytest.mark.parametrize("kill_when", ["head netns exists", "a static node exists"])
def test_delete_after_kill_9_of_a_half_done_create(provider: LocalProvider, kill_when: str) -> None:
    name = unique_name("e2ekill")
    code = CREATE.format(tests=str(Path(__file__).parents[1]), state=str(provider.state_dir), name=name)
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)])
    target = f"corral-{name}-head" if kill_when == "head netns exists" else f"corral-{name}-q1-st-c1-1"
    try:
        wait_until(lambda: target in os.listdir("/run/netns") or child.poll() is not None, 30, target, 0.005)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert provider.exists(name)
    assert leftovers(provider, name)
    delete_and_check(provider, name)
    provider.delete(name)  # idempotent


def _kept_file(kept: Path, name: str) -> str:
    """A file of kept storage: in its directory, or inside its volume file (a sized EFS is an
    ext4 image, read here with debugfs without mounting it)."""
    if (kept / name).exists():
        return (kept / name).read_text()
    image = _volumes.image_of(kept)
    assert image.exists(), f"neither {kept}/{name} nor {image} was kept"
    read = subprocess.run(["debugfs", "-R", f"cat /{name}", str(image)], capture_output=True, text=True)
    assert read.returncode == 0, read.stderr
    return read.stdout


def test_storage_deletion_policies(provider: LocalProvider) -> None:
    name = unique_name("e2estore")
    storage = (
        StorageSpec("scratch", "Ebs", f"/corral-e2e-{name}-scratch", "Delete"),
        StorageSpec("keep", "Efs", f"/corral-e2e-{name}-keep", "Retain"),
        StorageSpec("snap", "Ebs", f"/corral-e2e-{name}-snap", "Snapshot"),
        StorageSpec("old", "Efs", f"/corral-e2e-{name}-old", "Delete", existing=True),
    )
    provider.create(plan(name, queues=(("q1", "c1", 1, 0),), storage=storage), on_event=lambda r, m: None)
    for spec in storage:
        written = provider.run_on_head(
            name, ["srun", "-w", "q1-st-c1-1", "sh", "-c", f"echo {spec.name} > {spec.mount_dir}/f"]
        )
        assert written.returncode == 0, written.stderr
    delete_and_check(provider, name)
    retained = provider.layout(name).retained_dir
    assert _kept_file(retained / "keep", "f") == "keep\n"
    assert _kept_file(retained / "old", "f") == "old\n"
    assert not (retained / "scratch").exists()
    (snapshot,) = {p.with_suffix("") for p in (provider.state_dir / "snapshots" / name).iterdir()}
    assert snapshot.name.startswith("snap-") and _kept_file(snapshot, "f") == "snap\n"
    for spec in storage:
        assert not os.path.exists(spec.mount_dir)
    provider.delete(name, retain_storage=False)
    assert not retained.exists()

"""The builder of a local image: the detached process ``build-image`` starts (``python -m
corral.providers.local._image_build STATE_DIR IMAGE_ID``).

As EC2 Image Builder does: a build node boots from the parent and runs every component's
``build`` phase (after the OS update when ``UpdateOsPackages`` is on); it is stopped and its
writable layer becomes the image's own layer, stacked over the parent's; a fresh test node boots
from the new image and runs the ``validate`` and ``test`` phases; the image is ``BUILD_COMPLETE``
only when all of them passed. Any failure gives ``BUILD_FAILED`` with the component, phase, step
and the tail of its output as the reason, in the log stream and in the stack events. With
``--rollback-on-failure true`` (the default) a failed build keeps only its record and logs;
with ``false`` the failed node's writable layer stays in ``nodes/<role>/disk/upper`` to inspect.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from corral.errors import CorralError
from corral.images import ImageManifest
from corral.images import status as st
from corral.images.actions import UPDATE_OS_STEP
from corral.images.components import ComponentDoc, parse_component
from corral.providers.local import _image_nodes, _image_steps, _rootfs, images
from corral.providers.local._image_request import load_request
from corral.providers.local._image_steps import BuildLog, StepFailure
from corral.providers.local._image_store import ImageRecord, ImageStore, log_stream_name
from corral.runtime import proclog

#: what a build node leaves that must not become part of the image
SCRUB = ("tmp", "var/tmp", "var/cache/apt/archives", "var/lib/apt/lists", "root/.bash_history", "run")


class BuildFailed(Exception):
    def __init__(self, reason: str, resource: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.resource = resource


class Builder:
    def __init__(self, state_dir: Path, image_id: str) -> None:
        self.store = ImageStore(state_dir)
        self.state_dir = Path(state_dir)
        self.image_id = image_id
        self.record = self.store.get(image_id)
        self.request = load_request(self.store.dir(image_id))
        stream = log_stream_name(self.record.version)
        self.log = BuildLog(self.store.logs_dir(image_id) / f"{stream.replace('/', '-')}.log")
        self.nodes = self.store.nodes_dir(image_id)

    # -- the phases -------------------------------------------------------------------------------
    def run(self) -> int:
        self.store.write(self._with(builder_pid=os.getpid(), imagebuilder_status="BUILDING"))
        self.event("ImageBuilderImage", "CREATE_IN_PROGRESS", "the builder started")
        try:
            components = [parse_component(text, label=label) for label, text in self.request.components]
            parent = images.resolve_image(self.request.plan.parent, self.state_dir)
            self.build_phase(parent.lowerdir, components)
            layer = self.capture()
            lowerdir = ":".join([str(layer), *(str(p) for p in parent.layers)])
            packages = self.test_phase(lowerdir, components)
            self.complete(parent.manifest, packages)
            return 0
        except BuildFailed as failure:
            self.fail(failure.reason, failure.resource)
        except CorralError as exc:
            self.fail(str(exc), "ImageBuilderImage")
        except Exception as exc:
            self.fail(f"the builder failed: {type(exc).__name__}: {exc}", "ImageBuilderImage")
        return 1

    def build_phase(self, lowerdir: str, components: list[ComponentDoc]) -> None:
        self.event("BuildInstance", "CREATE_IN_PROGRESS", "booting the build node from the parent image")
        node = _image_nodes.boot(self.nodes, self.image_id, "build", lowerdir)
        self.log.write(f"build node booted (pid {node.pid}) from {self.request.plan.parent}")
        self.event("BuildInstance", "CREATE_COMPLETE", f"build node pid {node.pid}")
        steps: list[tuple[ComponentDoc, str]] = [(c, "build") for c in components]
        if self.request.plan.update_os_packages:
            os_update = ComponentDoc(
                label="UpdateOsPackages", name="update-os", phases=(("build", (UPDATE_OS_STEP,)),)
            )
            steps.insert(0, (os_update, "build"))
        self.run_steps(node, steps, "BuildInstance")

    def run_steps(
        self, node: _image_nodes.BuildNode, steps: list[tuple[ComponentDoc, str]], resource: str
    ) -> None:
        failures: list[StepFailure] = []
        for component, phase in steps:
            if not component.steps(phase):
                continue
            self.log.write(f"{component.label}: phase {phase} of {component.name}")
            failures += _image_steps.run_phase(node, component, phase, self.log, self.download)
            if failures and any(self._aborts(f, steps) for f in failures):
                break
        if failures:
            reason = failures[0].reason()
            self.log.write(f"BUILD FAILED: {reason}")
            raise BuildFailed(reason, resource)

    @staticmethod
    def _aborts(failure: StepFailure, steps: list[tuple[ComponentDoc, str]]) -> bool:
        for component, phase in steps:
            if component.label == failure.component and phase == failure.phase:
                return any(s.name == failure.step and s.on_failure == "Abort" for s in component.steps(phase))
        return True

    def capture(self) -> Path:
        """Stop the build node; its writable layer becomes the image's layer."""
        self.store.write(self._with(imagebuilder_status="INTEGRATING"))
        build_dir = self.nodes / "build"
        _image_nodes.stop(build_dir)
        upper, layer = _rootfs.machine_paths(build_dir)["upper"], self.store.layer(self.image_id)
        for relative in SCRUB:
            _empty(upper / relative)
        os.rename(upper, layer)
        shutil.rmtree(build_dir, ignore_errors=True)
        self.log.write(f"captured the build node's layer as the image's layer ({_size(layer)} bytes)")
        self.event("BuildInstance", "DELETE_COMPLETE", "build node stopped; its layer captured")
        return layer

    def test_phase(self, lowerdir: str, components: list[ComponentDoc]) -> dict[str, str]:
        self.store.write(self._with(imagebuilder_status="TESTING"))
        self.event("TestInstance", "CREATE_IN_PROGRESS", "booting a test node from the new image")
        node = _image_nodes.boot(self.nodes, self.image_id, "test", lowerdir)
        self.log.write(f"test node booted (pid {node.pid}) from the new image")
        steps = [(c, "validate") for c in components] + [(c, "test") for c in components]
        self.run_steps(node, steps, "TestInstance")
        packages = _parse_packages(
            _image_steps.query(node, "dpkg-query", "-W", "-f=${Package}\t${Version}\t${Status}\n")
        )
        _image_nodes.remove(self.nodes / "test")
        self.event("TestInstance", "DELETE_COMPLETE", "the validate and test phases passed")
        return packages

    def complete(self, parent: ImageManifest, packages: dict[str, str]) -> None:
        plan = self.request.plan
        size = _size(self.store.layer(self.image_id))
        limit = plan.root_volume_gib
        if limit is not None and size + _parent_size(parent, self.state_dir) > limit * 2**30:
            raise BuildFailed(
                f"the image is larger than Image/RootVolume/Size ({limit} GiB)", "ImageBuilderImage"
            )
        manifest = ImageManifest(
            ami_id=self.record.ami_id,
            name=plan.ami_name,
            os=parent.os,
            architecture=parent.architecture,
            parent=plan.parent,
            build_time=datetime.now(UTC).isoformat(timespec="seconds"),
            packages=packages,
            tags=plan.tags,
            description=f"built by corral build-image -i {self.image_id} from {plan.parent}",
        )
        self.store.write_manifest(self.image_id, manifest)
        shutil.rmtree(self.nodes, ignore_errors=True)
        self.store.transition(
            self.image_id,
            st.BUILD_COMPLETE,
            reason="",
            builder_pid=0,
            imagebuilder_status="AVAILABLE",
            size_bytes=size,
        )
        self.log.write(f"BUILD COMPLETE: {self.record.ami_id} ({size} bytes of its own)")
        self.event("ImageBuilderImage", "CREATE_COMPLETE", f"{self.record.ami_id} available")

    def fail(self, reason: str, resource: str) -> None:
        self.log.write(f"build failed: {reason}")
        self.event(resource, "CREATE_FAILED", reason)
        rollback = self.request.rollback_on_failure
        for role in ("build", "test"):
            directory = self.nodes / role
            if directory.exists():
                _image_nodes.stop(directory)
                if rollback:
                    shutil.rmtree(directory, ignore_errors=True)
        if rollback:
            shutil.rmtree(self.nodes, ignore_errors=True)
            shutil.rmtree(self.store.layer(self.image_id), ignore_errors=True)
            self.event("ImageBuilderImage", "ROLLBACK_COMPLETE", "the build's nodes and layer were removed")
        current = self.store.get(self.image_id)
        if current.status == st.BUILD_IN_PROGRESS:
            self.store.transition(
                self.image_id, st.BUILD_FAILED, reason=reason, builder_pid=0, imagebuilder_status="FAILED"
            )

    # -- helpers ----------------------------------------------------------------------------------
    def download(self, action: str, source: str) -> bytes:
        from corral.providers.local._image_request import read_source

        return read_source(source)

    def event(self, resource: str, status: str, reason: str = "") -> None:
        self.store.add_event(self.image_id, resource, status, reason)

    def _with(self, **changes: Any) -> ImageRecord:
        return replace(self.store.get(self.image_id), **changes)


def _empty(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        for entry in path.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
    elif path.is_file():
        path.unlink(missing_ok=True)


def _size(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except OSError:
                continue
    return total


def _parent_size(parent: ImageManifest, state_dir: Path) -> int:
    try:
        return sum(_size(layer) for layer in images.resolve_image(parent.ami_id, state_dir).layers)
    except CorralError:
        return 0


def _parse_packages(text: str) -> dict[str, str]:
    packages = {}
    for line in text.splitlines():
        name, version, status = [*line.split("\t"), "", ""][:3]
        if status.endswith(" installed"):
            packages[name] = version
    return packages


def main(argv: list[str]) -> int:
    state_dir, image_id = Path(argv[0]), argv[1]
    proclog.emit("corral-image-build", f"building {image_id} in {state_dir}")
    builder = Builder(state_dir, image_id)

    def on_term(signum: int, _frame: FrameType | None) -> None:
        raise BuildFailed(f"the builder was stopped (signal {signum})", "ImageBuilderImage")

    signal.signal(signal.SIGTERM, on_term)
    code = builder.run()
    proclog.emit("corral-image-build", f"{image_id}: {builder.store.get(image_id).status}")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

__all__ = ["Builder", "main"]

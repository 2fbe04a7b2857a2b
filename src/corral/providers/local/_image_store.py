"""The local store of user images: ``<state>/images/<image-id>/``.

::

    image.json        ImageRecord: id, ami id, status, reason, builder pid, times (atomic writes)
    config.yaml       the image config as given to build-image
    components/       the component documents as fetched (N-<name>.yaml)
    manifest.json     ImageManifest, once the image is captured
    layer/            the image's own tree: the build node's writable layer, stacked at boot over
                      the parent's layers (overlayfs whiteouts and opaque directories included)
    parent            the parent's ami id (its layers are looked up again at every boot)
    logs/*.log        the image's log streams (build, validate, test, builder)
    events.jsonl      its stack events (pcluster's StackEvent), one JSON object a line
    nodes/<name>/     a build or test node while it runs (upper, work, root, holder.pid)

A build claims its id by an exclusive ``mkdir``: of two builds of one id one wins, the other is
refused. Records are written atomically; the store never holds an image half-described."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from corral.errors import ConflictError, NotFoundError
from corral.images import ImageManifest
from corral.images import status as st
from corral.runtime import codec
from corral.runtime.files import write_atomic

STORE_DIR = "images"


@dataclass(frozen=True)
class ImageRecord:
    """What the store knows about one user image, whatever its status."""

    image_id: str
    ami_id: str
    status: str
    region: str = ""
    version: str = ""
    #: ISO-8601 UTC
    created: str = ""
    updated: str = ""
    reason: str = ""
    #: the process building (or deleting) the image; 0 when none
    builder_pid: int = 0
    parent_ami: str = ""
    name: str = ""
    #: Image Builder's own status (PENDING, BUILDING, TESTING, AVAILABLE, FAILED, ...)
    imagebuilder_status: str = "PENDING"
    tags: tuple[tuple[str, str], ...] = ()
    rollback_on_failure: bool = True
    #: bytes on disk of the image's own layer, once built
    size_bytes: int = 0


def log_stream_name(version: str) -> str:
    """pcluster's image log stream (``<version>/1``)."""
    return f"{version}/1"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ImageStore:
    """The images of one state directory."""

    def __init__(self, state_dir: Path) -> None:
        self.root = Path(state_dir).absolute() / STORE_DIR

    def dir(self, image_id: str) -> Path:
        return self.root / image_id

    def claim(self, record: ImageRecord) -> Path:
        """Create the image's directory; ``ConflictError`` when the id exists (one build wins)."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        directory = self.dir(record.image_id)
        try:
            directory.mkdir(mode=0o700)
        except FileExistsError:
            raise self.conflict(record.image_id) from None
        self.write(record)
        return directory

    @staticmethod
    def conflict(image_id: str) -> ConflictError:
        return ConflictError(
            f"Image with id '{image_id}' already exists.",
            hint=f"choose another --image-id, or `corral delete-image -i {image_id}` first",
        )

    def write(self, record: ImageRecord) -> ImageRecord:
        record = replace(record, updated=now_iso())
        write_atomic(self.dir(record.image_id) / "image.json", codec.dumps(record, indent=1))
        return record

    def find(self, image_id: str) -> ImageRecord | None:
        try:
            return codec.loads(ImageRecord, (self.dir(image_id) / "image.json").read_text())
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def get(self, image_id: str) -> ImageRecord:
        record = self.find(image_id)
        if record is None:
            raise NotFoundError(
                f"No image or stack associated with ParallelCluster image id: {image_id}.",
                hint="`corral list-images --image-status AVAILABLE` lists the built images",
            )
        return record

    def records(self) -> list[ImageRecord]:
        if not self.root.is_dir():
            return []
        found = (self.find(entry.name) for entry in sorted(self.root.iterdir()) if entry.is_dir())
        return [r for r in found if r is not None]

    def transition(
        self, image_id: str, new_status: str, *, reason: str = "", **changes: object
    ) -> ImageRecord:
        """Move the image to ``new_status`` along an edge of ``corral.images.status``."""
        record = self.get(image_id)
        st.check_transition(image_id, record.status, new_status)
        updated = replace(record, status=new_status, reason=reason or record.reason, **changes)  # type: ignore[arg-type]
        return self.write(updated)

    def by_ami(self, ami_id: str) -> ImageRecord | None:
        for record in self.records():
            if record.ami_id == ami_id:
                return record
        return None

    # -- the parts of an image --------------------------------------------------------------------
    def layer(self, image_id: str) -> Path:
        return self.dir(image_id) / "layer"

    def manifest(self, image_id: str) -> ImageManifest | None:
        try:
            return ImageManifest.load((self.dir(image_id) / "manifest.json").read_text())
        except (OSError, ValueError, KeyError):
            return None

    def write_manifest(self, image_id: str, manifest: ImageManifest) -> None:
        write_atomic(self.dir(image_id) / "manifest.json", manifest.dump())

    def logs_dir(self, image_id: str) -> Path:
        return self.dir(image_id) / "logs"

    def nodes_dir(self, image_id: str) -> Path:
        return self.dir(image_id) / "nodes"

    def config_path(self, image_id: str) -> Path:
        return self.dir(image_id) / "config.yaml"

    def add_event(self, image_id: str, resource: str, status: str, reason: str = "") -> None:
        """Append one stack event (the image's ``get-image-stack-events``)."""
        event = {"timestamp": now_iso(), "resource": resource, "status": status, "reason": reason}
        with open(self.dir(image_id) / "events.jsonl", "a") as out:
            out.write(json.dumps(event) + "\n")
            out.flush()
            os.fsync(out.fileno())

    def events(self, image_id: str) -> list[dict[str, str]]:
        try:
            lines = (self.dir(image_id) / "events.jsonl").read_text().splitlines()
        except OSError:
            return []
        out = []
        for line in lines:
            try:
                out.append(json.loads(line))
            except ValueError:
                continue  # a line cut by a crash
        return out


__all__ = ["STORE_DIR", "ImageRecord", "ImageStore", "log_stream_name", "now_iso"]

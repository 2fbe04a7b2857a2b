"""The request half of a local ``build-image``: everything that can be refused is refused here,
before anything is built (the components fetched and checked, the parent resolved, the id
claimed); then the builder is started detached and the request returns at once with
``BUILD_IN_PROGRESS``, as pcluster's does."""

from __future__ import annotations

import os
import secrets
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from corral.errors import BadRequestError, ConflictError, CorralError, NotFoundError
from corral.images import build_plan as plans
from corral.images import status as st
from corral.images.build_plan import ImageBuildPlan
from corral.images.components import parse_component
from corral.providers.local import _proc, images
from corral.providers.local._image_store import ImageRecord, ImageStore, now_iso
from corral.runtime import codec
from corral.runtime.files import write_atomic

BUILDER_MODULE = "corral.providers.local._image_build"
MAX_COMPONENT_BYTES = 1_048_576


@dataclass(frozen=True)
class ImageRequest:
    """What the builder needs, as the request checked it (``request.json`` in the image's dir)."""

    plan: ImageBuildPlan
    #: (label, document) of each component, in order
    components: tuple[tuple[str, str], ...]
    rollback_on_failure: bool = True


def load_request(directory: Path) -> ImageRequest:
    return codec.loads(ImageRequest, (directory / "request.json").read_text())


def new_ami_id() -> str:
    return "ami-" + secrets.token_hex(9)[:17]


def read_source(source: str) -> bytes:
    """The bytes at a path, ``https://`` or ``s3://`` URL (boto3; ``AWS_ENDPOINT_URL``)."""
    if source.startswith("s3://"):
        from corral.node.fetch import s3_client, split_s3_url

        bucket, key = split_s3_url(source)
        try:
            body = s3_client().get_object(Bucket=bucket, Key=key)["Body"]
            return bytes(body.read(MAX_COMPONENT_BYTES * 512))
        except Exception as exc:
            raise BadRequestError(f"cannot download {source}: {exc}") from None
    if source.startswith(("https://", "http://")):
        try:
            with urllib.request.urlopen(source, timeout=30) as response:
                return bytes(response.read())
        except (urllib.error.URLError, OSError) as exc:
            raise BadRequestError(f"cannot download {source}: {exc}") from None
    path = Path(source.removeprefix("file://")).expanduser()
    try:
        return path.read_bytes()
    except OSError as exc:
        raise BadRequestError(f"cannot read {source}: {exc.strerror}") from None


def fetch_components(plan: ImageBuildPlan) -> tuple[tuple[str, str], ...]:
    """Each component's document, fetched and checked (a located error names the first bad one)."""
    fetched = []
    for source in plan.sources:
        try:
            raw = read_source(source.url)
        except BadRequestError as exc:
            raise BadRequestError(
                f"Bad Request: {source.label}: {exc.message.removeprefix('Bad Request: ')}",
                hint="check the URL, AWS_ENDPOINT_URL and the credentials",
            ) from None
        if len(raw) > MAX_COMPONENT_BYTES:
            raise BadRequestError(f"Bad Request: {source.label} is larger than {MAX_COMPONENT_BYTES} bytes")
        text = raw.decode("utf-8", errors="replace")
        parse_component(text, label=source.label)  # refuses a bad document before anything is built
        fetched.append((source.label, text))
    return tuple(fetched)


def check_parent(plan: ImageBuildPlan, state_dir: Path) -> None:
    try:
        images.resolve_image(plan.parent, state_dir)
    except (NotFoundError, ConflictError) as exc:
        raise BadRequestError(
            f"Bad Request: Build/ParentImage {plan.parent} cannot be used: {exc.message}", hint=exc.hint
        ) from None


def start_build(
    state_dir: Path,
    config: Any,
    image_id: str,
    *,
    config_text: str,
    region: str,
    version: str,
    rollback_on_failure: bool,
) -> ImageRecord:
    """Check everything, claim ``image_id``, start the builder; the new record."""
    plan = plans.build_plan(config, image_id)
    store = ImageStore(state_dir)
    if store.find(image_id) is not None:
        raise store.conflict(image_id)
    components = fetch_components(plan)
    check_parent(plan, state_dir)
    record = ImageRecord(
        image_id=image_id,
        ami_id=new_ami_id(),
        status=st.BUILD_IN_PROGRESS,
        region=region,
        version=version,
        created=now_iso(),
        parent_ami=plan.parent,
        name=plan.ami_name,
        tags=plan.build_tags,
        rollback_on_failure=rollback_on_failure,
    )
    directory = store.claim(record)
    try:
        write_atomic(store.config_path(image_id), config_text)
        request = ImageRequest(plan, components, rollback_on_failure)
        write_atomic(directory / "request.json", codec.dumps(request, indent=1))
        store.add_event(image_id, image_id, "CREATE_IN_PROGRESS", "User Initiated")
        pid = spawn_builder(state_dir, image_id)
    except (OSError, CorralError) as exc:
        store.write(replace(record, status=st.BUILD_FAILED, reason=str(exc)))
        raise
    return store.write(replace(record, builder_pid=pid))


def spawn_builder(state_dir: Path, image_id: str) -> int:
    log = ImageStore(state_dir).logs_dir(image_id) / "builder.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", BUILDER_MODULE, str(state_dir), image_id]
    env = {**os.environ, "PATH": os.environ.get("PATH", _proc.SAFE_PATH)}
    return _proc.spawn_detached(argv, env=env, log_path=log)


__all__ = ["ImageRequest", "fetch_components", "load_request", "new_ami_id", "read_source", "start_build"]

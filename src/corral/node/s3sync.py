"""Data repository sync: the I/O around ``datarepo``'s decisions, and the loop that runs it.

``initial_import`` runs once at create (BatchImportMetaDataOnCreate, or the baseline of what is
already in the bucket). ``run`` then polls every association each ``interval_s`` seconds: list the
prefix (ETags), scan the directory (size, mtime), apply ``datarepo.decide``, save the state. A
change on either side is therefore applied within one interval plus the transfer time after the
pass that first sees it: at most about two intervals. On SIGTERM the loop runs one last pass (so a
file written just before delete is exported) and exits.

``python -m corral.node.s3sync CONFIG.json [--pid-file PATH]`` where CONFIG.json is written by
``write_config``. S3 is reached through boto3 and ``AWS_ENDPOINT_URL`` (see ``fetch``).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from corral.node import datarepo
from corral.node.datarepo import Local, Remote, SyncState, Transfer
from corral.node.fetch import s3_client, split_s3_url
from corral.runtime.files import write_atomic

DEFAULT_INTERVAL_S = 2.0
PARTIAL_SUFFIX = ".corral-part"


@dataclass(frozen=True)
class Association:
    name: str
    local_dir: str
    url: str  # s3://bucket/prefix
    batch_import: bool = False
    auto_import: tuple[str, ...] = ()
    auto_export: tuple[str, ...] = ()

    @property
    def bucket_prefix(self) -> tuple[str, str]:
        bucket, prefix = split_s3_url(self.url)
        prefix = prefix.strip("/")
        return bucket, f"{prefix}/" if prefix else ""


@dataclass(frozen=True)
class SyncConfig:
    associations: tuple[Association, ...]
    state_dir: str
    interval_s: float = DEFAULT_INTERVAL_S
    log_file: str = ""


def write_config(path: Path, config: SyncConfig) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(config), indent=1))


def read_config(path: Path) -> SyncConfig:
    raw = json.loads(path.read_text())
    associations = tuple(
        Association(**{**a, "auto_import": tuple(a["auto_import"]), "auto_export": tuple(a["auto_export"])})
        for a in raw["associations"]
    )
    return SyncConfig(associations, raw["state_dir"], float(raw["interval_s"]), raw.get("log_file", ""))


# -- observing both sides -------------------------------------------------------------------------


def list_remote(client: Any, association: Association) -> dict[str, Remote]:
    """``{relative path: Remote}`` for every object under the prefix (directory markers skipped)."""
    bucket, prefix = association.bucket_prefix
    found = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", ()):
            relative = obj["Key"][len(prefix) :]
            if relative and not relative.endswith("/"):
                found[relative] = Remote(obj["ETag"], int(obj["Size"]))
    return found


def scan_local(directory: str) -> dict[str, Local]:
    """``{relative path: Local}`` for every regular file under ``directory``."""
    found = {}
    for root, _dirs, files in os.walk(directory):
        for name in files:
            if name.endswith(PARTIAL_SUFFIX):
                continue
            path = os.path.join(root, name)
            with contextlib.suppress(OSError):
                st = os.lstat(path)
                if os.path.isfile(path) and not os.path.islink(path):
                    found[os.path.relpath(path, directory)] = Local(st.st_size, st.st_mtime_ns)
    return found


# -- applying transfers ---------------------------------------------------------------------------


def _local_record(path: Path, etag: str) -> datarepo.Synced:
    st = path.stat()
    return datarepo.Synced(etag, st.st_size, st.st_mtime_ns)


def apply(
    client: Any, association: Association, transfers: Iterable[Transfer], state: SyncState
) -> list[str]:
    """Perform ``transfers`` and record each in ``state``; returns one log line per transfer."""
    bucket, prefix = association.bucket_prefix
    base = Path(association.local_dir)
    lines = []
    for t in transfers:
        target, key = base / t.path, prefix + t.path
        if t.kind == "download":
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(target.name + PARTIAL_SUFFIX)
            response = client.get_object(Bucket=bucket, Key=key)
            with partial.open("wb") as out:
                for chunk in response["Body"].iter_chunks(1 << 20):
                    out.write(chunk)
            partial.replace(target)
            state.synced[t.path] = _local_record(target, response["ETag"])
            state.baseline.pop(t.path, None)
        elif t.kind == "upload":
            record = _local_record(target, "")
            with target.open("rb") as body:
                etag = client.put_object(Bucket=bucket, Key=key, Body=body)["ETag"]
            state.synced[t.path] = datarepo.Synced(etag, record.size, record.mtime_ns)
        elif t.kind == "remove_file":
            target.unlink(missing_ok=True)
            state.synced.pop(t.path, None)
        elif t.kind == "delete_object":
            client.delete_object(Bucket=bucket, Key=key)
            state.synced.pop(t.path, None)
        lines.append(f"{association.name}: {t.kind} {t.path} ({t.reason}) s3://{bucket}/{key}")
    return lines


# -- state on disk --------------------------------------------------------------------------------


def _state_path(config: SyncConfig, association: Association) -> Path:
    return Path(config.state_dir) / f"{association.name}.json"


def load_state(config: SyncConfig, association: Association) -> SyncState:
    try:
        return SyncState.from_json(json.loads(_state_path(config, association).read_text()))
    except (OSError, ValueError, KeyError, AssertionError):
        return SyncState()


def save_state(config: SyncConfig, association: Association, state: SyncState) -> None:
    write_atomic(_state_path(config, association), json.dumps(state.to_json()))


# -- passes ---------------------------------------------------------------------------------------


def initial_import(config: SyncConfig) -> list[str]:
    """At create: import everything of each BatchImportMetaDataOnCreate association; record the
    objects of the others as the baseline that auto-import leaves alone."""
    client = s3_client()
    lines = []
    for association in config.associations:
        Path(association.local_dir).mkdir(parents=True, exist_ok=True)
        state = load_state(config, association)
        remote = list_remote(client, association)
        if association.batch_import:
            lines += apply(client, association, datarepo.batch_import(remote), state)
        else:
            state.baseline = {p: r.etag for p, r in remote.items() if p not in state.synced}
        save_state(config, association, state)
    return lines


def sync_once(config: SyncConfig) -> list[str]:
    """One pass over every association that has an import or export policy."""
    client = s3_client()
    lines = []
    for association in config.associations:
        if not association.auto_import and not association.auto_export:
            continue
        state = load_state(config, association)
        remote = list_remote(client, association)
        local = scan_local(association.local_dir)
        transfers = datarepo.decide(
            remote,
            local,
            state,
            import_policy=frozenset(association.auto_import),
            export_policy=frozenset(association.auto_export),
        )
        lines += apply(client, association, transfers, state)
        if transfers:  # what was just moved is not vanished: look again before forgetting
            remote, local = list_remote(client, association), scan_local(association.local_dir)
        datarepo.forget_vanished(remote, local, state)
        save_state(config, association, state)
    return lines


def run(config: SyncConfig) -> None:
    """Poll until SIGTERM, then make one final pass."""
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    while not stopping:
        _logged_pass(config)
        deadline = time.monotonic() + config.interval_s
        while not stopping and time.monotonic() < deadline:
            time.sleep(0.05)
    _logged_pass(config)
    print("[s3sync] stopped after a final pass", flush=True)


def _logged_pass(config: SyncConfig) -> None:
    try:
        for line in sync_once(config):
            print(f"[s3sync] {time.strftime('%H:%M:%S')} {line}", flush=True)
    except Exception as exc:  # a failing pass (endpoint down, say) must not end the loop
        print(f"[s3sync] pass failed: {type(exc).__name__}: {exc}", flush=True)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if "--pid-file" in args:
        i = args.index("--pid-file")
        Path(args[i + 1]).write_text(f"{os.getpid()}\n")
        del args[i : i + 2]
    run(read_config(Path(args[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What each component action runs in a build node: a bash script (pure).

Downloads (``S3Download``, ``WebDownload``) are fetched by the builder on the host (a build node
reaches the network only through NAT; the endpoints a test uses are on the host's loopback) and
written into the node; ``Reboot`` has nothing to reboot in a local build node."""

from __future__ import annotations

import base64
import shlex
from collections.abc import Callable
from typing import Any

from corral.images.components import SCRIPT_ACTION, Step

#: actions the builder performs itself instead of running a script in the node
HOST_ACTIONS = ("S3Download", "WebDownload", "Reboot")
SCRIPT_PATH = "/var/tmp/corral-component-script"
PRELUDE = "set -e\nexport DEBIAN_FRONTEND=noninteractive\n"


def _q(value: object) -> str:
    return shlex.quote(str(value))


def _bash(inputs: dict[str, Any]) -> str:
    return "\n".join(str(c) for c in inputs["commands"]) + "\n"


def _binary(inputs: dict[str, Any]) -> str:
    args = " ".join(_q(a) for a in inputs.get("arguments") or ())
    return f"{PRELUDE}exec {_q(inputs['path'])} {args}\n"


def _script(inputs: dict[str, Any]) -> str:
    text = str(inputs["script"])
    data = base64.b64encode(text.encode()).decode()
    run = SCRIPT_PATH if text.startswith("#!") else f"bash {SCRIPT_PATH}"
    return (
        f"set -e\necho {_q(data)} | base64 -d > {SCRIPT_PATH}\nchmod 700 {SCRIPT_PATH}\n"
        f"export DEBIAN_FRONTEND=noninteractive\nset +e\n{run}\ncode=$?\nrm -f {SCRIPT_PATH}\nexit $code\n"
    )


def _owner_mode(entry: dict[str, Any], path: str) -> list[str]:
    lines = []
    if "permissions" in entry:
        lines.append(f"chmod {_q(entry['permissions'])} {path}")
    if "owner" in entry:
        owner = str(entry["owner"]) + (f":{entry['group']}" if entry.get("group") else "")
        lines.append(f"chown {_q(owner)} {path}")
    return lines


def _owner(entry: dict[str, Any]) -> str:
    return str(entry["owner"]) + (f":{entry['group']}" if entry.get("group") else "")


def _create_file(entries: list[dict[str, Any]]) -> str:
    lines = [PRELUDE]
    for entry in entries:
        path = _q(entry["path"])
        data = base64.b64encode(str(entry.get("content", "")).encode()).decode()
        if entry.get("overwrite") is False:
            lines.append(f"[ -e {path} ] && {{ echo 'file exists and overwrite is false: '{path}; exit 1; }}")
        lines += [f"mkdir -p $(dirname {path})", f"echo {_q(data)} | base64 -d > {path}"]
        lines += _owner_mode(entry, path)
    return "\n".join(lines) + "\n"


def _append_file(entries: list[dict[str, Any]]) -> str:
    lines = [PRELUDE]
    for entry in entries:
        data = base64.b64encode(str(entry["content"]).encode()).decode()
        lines.append(f"echo {_q(data)} | base64 -d >> {_q(entry['path'])}")
    return "\n".join(lines) + "\n"


def _each(template: Callable[[dict[str, Any]], list[str]]) -> Callable[[list[dict[str, Any]]], str]:
    def render(entries: list[dict[str, Any]]) -> str:
        lines = [PRELUDE]
        for entry in entries:
            lines += template(entry)
        return "\n".join(lines) + "\n"

    return render


def _folder(entry: dict[str, Any]) -> list[str]:
    path = _q(entry["path"])
    return [f"mkdir -p {path}", *_owner_mode(entry, path)]


def _delete_folder(entry: dict[str, Any]) -> list[str]:
    path = _q(entry["path"])
    return [f"rm -rf {path}" if entry.get("force") else f"rmdir {path}"]


def _copy(flags: str) -> Callable[[dict[str, Any]], list[str]]:
    def lines(entry: dict[str, Any]) -> list[str]:
        source, dest = _q(entry["source"]), _q(entry["destination"])
        guard = (
            [] if entry.get("overwrite", True) else [f"[ -e {dest} ] && {{ echo exists: {dest}; exit 1; }}"]
        )
        return [*guard, f"mkdir -p $(dirname {dest})", f"cp {flags} {source} {dest}"]

    return lines


def _move(entry: dict[str, Any]) -> list[str]:
    source, dest = _q(entry["source"]), _q(entry["destination"])
    return [f"mkdir -p $(dirname {dest})", f"mv -f {source} {dest}"]


def _update_os(inputs: Any) -> str:
    exclude = (inputs or {}).get("exclude") or () if isinstance(inputs, dict) else ()
    holds = "".join(f"apt-mark hold {_q(p)}\n" for p in exclude)
    return f"{PRELUDE}{holds}apt-get update\napt-get -y -o Dpkg::Options::=--force-confold upgrade\n"


RENDER: dict[str, Callable[[Any], str]] = {
    "ExecuteBash": _bash,
    "ExecuteBinary": _binary,
    SCRIPT_ACTION: _script,
    "CreateFile": _create_file,
    "AppendFile": _append_file,
    "DeleteFile": _each(lambda e: [f"rm -f {_q(e['path'])}"]),
    "CreateFolder": _each(_folder),
    "DeleteFolder": _each(_delete_folder),
    "CopyFile": _each(_copy("-p")),
    "CopyFolder": _each(_copy("-a")),
    "MoveFile": _each(_move),
    "MoveFolder": _each(_move),
    "SetFilePermissions": _each(lambda e: [f"chmod {_q(e['permissions'])} {_q(e['path'])}"]),
    "SetFolderPermissions": _each(lambda e: [f"chmod -R {_q(e['permissions'])} {_q(e['path'])}"]),
    "SetFileOwner": _each(
        lambda e: _owner_mode({"owner": e["owner"], "group": e.get("group")}, _q(e["path"]))
    ),
    "SetFolderOwner": _each(lambda e: [f"chown -R {_q(_owner(e))} {_q(e['path'])}"]),
    "UpdateOS": _update_os,
}


def step_script(step: Step) -> str | None:
    """The bash script that performs ``step`` in the node, or None for a host action."""
    if step.action in HOST_ACTIONS:
        return None
    return RENDER[step.action](step.inputs)


#: pcluster's ``Build/UpdateOsPackages/Enabled``: the OS update before the components
UPDATE_OS_STEP = Step(name="UpdateOsPackages", action="UpdateOS", inputs=None, timeout_s=3600)


__all__ = ["HOST_ACTIONS", "RENDER", "UPDATE_OS_STEP", "step_script"]

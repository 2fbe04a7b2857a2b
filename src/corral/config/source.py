"""Where a config comes from: a file, ``-`` (standard input), ``/dev/stdin`` or a pipe
(``-c <(envsubst < tpl.yaml)``), as pcluster's ``-c`` accepts them.

``read_config_source`` reads the bytes once (a pipe cannot be read twice) within the size cap, and
turns every path that cannot be a config into its own message: no such file, a directory, a device,
a terminal, a socket, a file too large (with its real size).
"""

from __future__ import annotations

import os
import stat
import sys
from dataclasses import dataclass
from typing import BinaryIO

from corral.errors import BadRequestError

#: Largest config accepted, bytes. Real configs are KiB (the 50-queue limit config ~40 KiB, every
#: key of the schema with long CustomSlurmSettings a few hundred KiB); aliases and nesting are
#: bounded separately (``_yaml.MAX_NODES``/``MAX_DEPTH``), so the cap only stops a wrong file.
MAX_CONFIG_BYTES = 16 * 1024 * 1024

STDIN_NAMES = frozenset({"-", "/dev/stdin", "/proc/self/fd/0", "/dev/fd/0"})


@dataclass(frozen=True)
class ConfigSource:
    """The bytes of a config and the name its findings are located in (the path, or ``<stdin>``)."""

    data: bytes
    label: str
    #: True when the config came from a regular file that ``label`` names (it can be read again)
    is_file: bool


def size_text(size: int) -> str:
    """``20971520`` -> ``20.0 MiB (20971520 bytes)``."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit} ({size} bytes)"
    return f"{size} bytes"


def too_large(label: str, size: int | None) -> BadRequestError:
    """The cap's message: the real size when known (a file), else what was read (a pipe)."""
    cap = size_text(MAX_CONFIG_BYTES)
    if size is not None:
        message = f"Bad Request: '{label}' is {size_text(size)}; a config may be at most {cap}"
    else:
        message = f"Bad Request: '{label}' gave more than the {cap} a config may have"
    return BadRequestError(
        message,
        hint="check that -c names the cluster config (a YAML file of a few KiB)",
    )


def kind_problem(path: str, mode: int) -> str | None:
    """Why a path of this ``st_mode`` cannot be read as a config, or None (a file, a pipe, a FIFO)."""
    if stat.S_ISREG(mode) or stat.S_ISFIFO(mode):
        return None
    if stat.S_ISDIR(mode):
        return f"'{path}' is a directory, not a config file"
    if stat.S_ISBLK(mode):
        return f"'{path}' is a block device (a disk), not a config file"
    if stat.S_ISSOCK(mode):
        return f"'{path}' is a socket, not a config file"
    if stat.S_ISCHR(mode):
        return f"'{path}' is a character device, not a config file"
    return f"'{path}' is not a regular file"


def _hint_for(path: str) -> str:
    return "pass the path of a ParallelCluster YAML file, or '-' to read it from standard input"


def read_config_source(arg: str, stdin: BinaryIO | None = None) -> ConfigSource:
    """The config named by ``-c arg``; ``BadRequestError`` (pcluster's "Bad Request: ..." wording)
    for a path that is missing, unreadable, of the wrong kind or too large."""
    if arg in STDIN_NAMES:
        stream = stdin if stdin is not None else sys.stdin.buffer
        if stream.isatty():
            raise BadRequestError(
                f"Bad Request: '{arg}' is a terminal: nothing to read the config from",
                hint="pipe the config in: corral create-cluster -c - ... < cluster.yaml",
            )
        return _nonempty(ConfigSource(_read_capped(stream, "<stdin>"), "<stdin>", False), "standard input")
    try:
        mode = os.stat(arg).st_mode
    except FileNotFoundError:
        raise BadRequestError(f"Bad Request: File not found: '{arg}'", hint=_hint_for(arg)) from None
    except OSError as exc:
        raise BadRequestError(
            f"Bad Request: cannot read '{arg}': {exc.strerror}", hint=_hint_for(arg)
        ) from None
    problem = kind_problem(arg, mode)
    if problem is not None:
        raise BadRequestError(f"Bad Request: {problem}", hint=_hint_for(arg))
    try:
        with open(arg, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size if stat.S_ISREG(mode) else None
            if size is not None and size > MAX_CONFIG_BYTES:
                raise too_large(arg, size)
            data = _read_capped(handle, arg)
    except OSError as exc:
        raise BadRequestError(
            f"Bad Request: cannot read '{arg}': {exc.strerror}",
            hint="check the file's permissions, or run as a user who can read it",
        ) from None
    return _nonempty(ConfigSource(data, arg, stat.S_ISREG(mode)), "file" if stat.S_ISREG(mode) else "pipe")


def _nonempty(source: ConfigSource, what: str) -> ConfigSource:
    """pcluster's "configuration is required and cannot be empty", saying what was empty."""
    if source.data.strip():
        return source
    said = "is empty" if what == "file" else "gave no data"
    raise BadRequestError(
        f"Bad Request: configuration is required and cannot be empty (the {what} '{source.label}' {said})",
        hint="check the command that writes the config" if what != "file" else "write the config first",
    )


def _read_capped(stream: BinaryIO, label: str) -> bytes:
    data = stream.read(MAX_CONFIG_BYTES + 1)
    if len(data) > MAX_CONFIG_BYTES:
        raise too_large(label, None)
    return data


__all__ = ["MAX_CONFIG_BYTES", "ConfigSource", "kind_problem", "read_config_source", "size_text", "too_large"]

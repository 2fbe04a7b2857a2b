"""How the CLI reports an error: pcluster's JSON on stdout, one human line with the fix on stderr.

A ``CorralError`` is the user's to fix: its message and hint, never a traceback (not even with
``--debug``: the traceback of an expected error says nothing the message does not). Anything else is
Corral's bug: a short line and the path of a log holding the traceback (shown with ``--debug``).
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path

from corral.errors import ConfigError, CorralError, Terminated, UpdateRefusedError


def error_json(exc: CorralError) -> dict[str, object]:
    """The JSON pcluster prints for this error: ``{"message": ...}``, plus
    ``configurationValidationErrors`` for a bad config."""
    if isinstance(exc, ConfigError):
        from corral.service import config_errors_json

        return config_errors_json(exc.message, exc.findings)
    if isinstance(exc, UpdateRefusedError):
        out: dict[str, object] = {"message": exc.message}
        if exc.update_errors:
            out["updateValidationErrors"] = list(exc.update_errors)
        out["changeSet"] = list(exc.change_set)
        return out
    return {"message": exc.message}


def located_lines(exc: ConfigError) -> list[str]:
    """``cluster.yaml:42:7 Scheduling/...: message (hint)`` for every finding of a config error."""
    lines = []
    for finding in exc.findings:
        location = getattr(finding, "location", None)
        if callable(location):
            level = getattr(getattr(finding, "level", None), "name", "ERROR")
            lines.append(f"{level}: {location()}")
    return lines


#: Top-level module -> the extra of pyproject.toml that installs it.
EXTRAS = {"fastapi": "api", "uvicorn": "api", "httpx": "api", "troposphere": "aws", "cfnlint": "aws"}


def missing_extra(exc: BaseException) -> str | None:
    """The extra to install when ``exc`` is the import of a module an extra provides."""
    if not isinstance(exc, ModuleNotFoundError) or not exc.name:
        return None
    return EXTRAS.get(exc.name.partition(".")[0])


def report(exc: BaseException, *, debug: bool) -> int:
    """Print ``exc`` for a person and a script; returns the exit status."""
    if isinstance(exc, Terminated):
        print(f"corral: terminated by {exc}", file=sys.stderr)
        return 128 + exc.signum
    if isinstance(exc, KeyboardInterrupt):
        print("corral: interrupted", file=sys.stderr)
        return 130
    extra = missing_extra(exc)
    if extra is not None:
        module = getattr(exc, "name", "")
        message = f"this needs Corral's '{extra}' extra (no module {module}): pip install 'corral[{extra}]'"
        print(json.dumps({"message": message}, indent=2))
        print(f"corral: error: {message}", file=sys.stderr)
        return 1
    if isinstance(exc, CorralError):
        print(json.dumps(error_json(exc), indent=2))
        if isinstance(exc, ConfigError):
            for line in located_lines(exc):
                print(line, file=sys.stderr)
        print(f"corral: error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"  hint: {exc.hint}", file=sys.stderr)
        return exc.exit_code or 1
    log = _write_log(exc)
    print(json.dumps({"message": f"Unexpected error: {type(exc).__name__}: {exc}"}, indent=2))
    print(f"corral: unexpected error: {type(exc).__name__}: {exc}", file=sys.stderr)
    if debug or log is None:
        traceback.print_exception(exc, file=sys.stderr)
    else:
        print(f"  the traceback is in {log}; run again with --debug to see it here", file=sys.stderr)
    return 1


def _write_log(exc: BaseException) -> Path | None:
    """The traceback in the state directory's ``logs/last-error.log``; None when it cannot be
    written there (a full or read-only state disk): the caller prints it instead."""
    from corral.service import error_log_path

    path = error_log_path()
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.write_text("".join(traceback.format_exception(exc)))
    except OSError:
        return None
    return path


__all__ = ["error_json", "located_lines", "report"]

"""SIGTERM and SIGHUP stop a create or update as Ctrl-C does: the first raises
``corral.errors.Terminated`` (a ``BaseException`` carrying ``signum``, which the service rolls back
exactly as Ctrl-C, and which click does not turn into "Aborted!"); later ones are reported and
ignored, so the rollback itself is never cut short."""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from corral.errors import Terminated


@contextmanager
def rollback_on_signals(what: str) -> Iterator[None]:
    """While ``what`` runs, SIGTERM/SIGHUP interrupt it like Ctrl-C (see the module doc)."""
    received: list[int] = []

    def handle(signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if received:
            print(f"corral: {name} received; still rolling back the {what}, please wait", file=sys.stderr)
            return
        received.append(signum)
        print(f"corral: {name} received: stopping the {what} and rolling back", file=sys.stderr)
        raise Terminated(signum)

    previous: dict[int, Any] = {}
    for wanted in (signal.SIGTERM, signal.SIGHUP):
        previous[wanted] = signal.signal(wanted, handle)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


__all__ = ["Terminated", "rollback_on_signals"]

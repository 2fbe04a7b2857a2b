"""Live progress for ``--wait``: each stack event as one line on stderr, with a spinner on a TTY."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from corral.service import StackEventRecord

_STYLE = {"COMPLETE": "green", "FAILED": "bold red", "IN_PROGRESS": "cyan"}


class Progress:
    """Context manager; call ``event(ev)`` for each event (it is an ``EventCallback``)."""

    def __init__(self, title: str) -> None:
        from rich.console import Console

        self.console = Console(stderr=True, highlight=False, emoji=False)  # ":secret:" in an ARN is text
        if not self.console.is_terminal:
            self.console.soft_wrap = True  # one event per line in logs and pipes
        self.title = title
        self._status: Any = None

    def __enter__(self) -> Progress:
        if self.console.is_terminal:
            self._status = self.console.status(self.title)
            self._status.__enter__()
        else:
            self.console.print(self.title)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._status is not None:
            self._status.__exit__(exc_type, exc, tb)

    def replay(self, events: list[StackEventRecord]) -> None:
        """Show events that happened before the wait began (the request itself)."""
        for ev in events:
            self.event(ev)

    def line(self, subject: str, status: str) -> None:
        """One status line that is not a stack event (the compute fleet's progress)."""
        from datetime import datetime

        style = next((s for suffix, s in _STYLE.items() if status.endswith(suffix)), "cyan")
        self.console.print(f"[dim]{datetime.now():%H:%M:%S}[/] {subject:<24} [{style}]{status}[/]")

    def event(self, ev: StackEventRecord) -> None:
        from rich.markup import escape

        style = next((s for suffix, s in _STYLE.items() if ev.resource_status.endswith(suffix)), "white")
        when = ev.timestamp.astimezone().strftime("%H:%M:%S")
        reason = f" {escape(ev.reason)}" if ev.reason else ""
        self.console.print(
            f"[dim]{when}[/] {escape(ev.logical_resource_id):<24} [{style}]{ev.resource_status}[/]{reason}"
        )


__all__ = ["Progress"]

"""What every route needs: the service, the provider new clusters go to, and how long operations
are handed to a background worker."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import Request

if TYPE_CHECKING:
    from corral.service import ClusterService

#: starts the worker that finishes a create or delete: (service, "create"|"delete", cluster name)
Spawner = Callable[["ClusterService", str, str], object]


def spawn_worker(service: ClusterService, operation: str, cluster_name: str) -> object:
    """The CLI's own background worker (``corral _worker``), detached in its own session, so the
    server's death does not orphan the operation."""
    from corral.cli import _worker

    return _worker.spawn(service, operation, cluster_name)


@dataclass
class ApiContext:
    service: ClusterService
    provider: str
    spawn: Spawner = spawn_worker

    def hand_off(self, operation: str, cluster_name: str, owner_pid: int | None) -> None:
        """Start the worker unless another process already owns the operation."""
        if owner_pid == os.getpid():
            self.spawn(self.service, operation, cluster_name)


async def context(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.corral
    return ctx


@contextmanager
def config_file(text: str, name: str) -> Iterator[Path]:
    """``text`` in a private temporary file named after the cluster (findings then read
    ``<name>.yaml:LINE:COL``), removed afterwards."""
    safe = name if name.replace("-", "").isalnum() else "cluster"
    with tempfile.TemporaryDirectory(prefix="corral-api-") as tmp:
        path = Path(tmp) / f"{safe}.yaml"
        path.write_text(text, encoding="utf-8")
        yield path


__all__ = ["ApiContext", "Spawner", "config_file", "context", "spawn_worker"]

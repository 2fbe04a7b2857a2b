"""How an interface gets its service: ``open_service`` wires the state store to the provider
registry, so the CLI, the API and the background worker never build or name a provider."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from corral.providers import DEFAULT_PROVIDER, PROVIDERS

if TYPE_CHECKING:
    from corral.service._service import ClusterService


def open_service(state_dir: Path | None = None) -> ClusterService:
    """A service over ``state_dir`` (default: ``$CORRAL_STATE_DIR`` or the default directory) and
    every registered provider, each keeping its files in that directory."""
    from corral.providers import get_provider
    from corral.service._service import ClusterService
    from corral.state import StateStore, default_state_dir

    directory = state_dir or default_state_dir()
    return ClusterService(StateStore(directory), lambda name: get_provider(name, directory))


def error_log_path() -> Path:
    """Where the CLI keeps the traceback of its last unexpected error: inside the state directory
    (``logs/last-error.log``), like every file Corral writes."""
    from corral.state import default_state_dir

    return default_state_dir() / "logs" / "last-error.log"


def provider_names() -> tuple[str, ...]:
    """The registered providers' names, the default first (the CLI's ``--provider`` choices)."""
    return PROVIDERS


def worker_files(service: ClusterService, cluster_name: str) -> tuple[Path, Path]:
    """(state directory, log file) of a background worker for ``cluster_name``: it runs over the
    same state directory as ``service`` and writes its output to the log."""
    from corral.service._ownership import worker_log

    return service.store.state_dir, worker_log(service.store, cluster_name)


__all__ = ["DEFAULT_PROVIDER", "error_log_path", "open_service", "provider_names", "worker_files"]

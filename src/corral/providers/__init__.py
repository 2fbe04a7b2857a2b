"""Providers: where a cluster's machines come from. The registry below is the one list of them;
``get_provider`` builds one by name, ``PROVIDERS`` names them (the CLI's ``--provider`` choices).

A provider is registered as ``"module:callable"`` taking the state directory and imported on first
use, so that choosing one costs nothing until it is used (``corral --version`` must stay fast) and
nothing above this package depends on a concrete provider (not even for import-linter). A new
provider is one line here plus a class implementing ``corral.providers.base.Provider`` (inherit
``ProviderBase`` for the neutral defaults).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING

from corral.errors import BadRequestError

if TYPE_CHECKING:
    from corral.providers.base import Provider

#: name -> "module:callable(state_dir) -> Provider"; the first is the default.
REGISTRY: dict[str, str] = {
    "local": "corral.providers.local:LocalProvider",
    "fake": "corral.providers.fake:from_state_dir",
    "aws": "corral.providers.aws:AwsProvider",
}
PROVIDERS = tuple(REGISTRY)
DEFAULT_PROVIDER = PROVIDERS[0]


def get_provider(name: str, state_dir: Path) -> Provider:
    """The provider called ``name`` (one of ``PROVIDERS``), keeping its files in ``state_dir``."""
    target = REGISTRY.get(name)
    if target is None:
        raise BadRequestError(
            f"unknown provider {name!r}",
            hint="use one of: " + ", ".join(PROVIDERS) + " (or set CORRAL_PROVIDER)",
        )
    module, _, factory = target.partition(":")
    provider: Provider = getattr(importlib.import_module(module), factory)(Path(state_dir))
    return provider


__all__ = ["DEFAULT_PROVIDER", "PROVIDERS", "REGISTRY", "get_provider"]

"""Providers: where a cluster's machines come from. ``get_provider`` picks one by name.

Imports are lazy so that choosing a provider costs nothing until it is used (``corral --version``
must stay fast) and so that nothing above this package depends on a concrete provider.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from corral.errors import BadRequestError

if TYPE_CHECKING:
    from corral.providers.base import Provider

PROVIDERS = ("local", "fake", "aws")


def get_provider(name: str, state_dir: Path) -> Provider:
    """The provider called ``name`` (``local``, ``fake`` or ``aws``), keeping its files in ``state_dir``."""
    if name == "local":
        from corral.providers.local import LocalProvider

        provider: Provider = LocalProvider(state_dir)
        return provider
    if name == "fake":
        from corral.providers.fake import FakeFailures, FakeProvider

        return FakeProvider(FakeFailures.from_env(), persist_dir=Path(state_dir) / "fake-provider")
    if name == "aws":
        from corral.providers.aws import AwsProvider

        return AwsProvider(state_dir)
    raise BadRequestError(
        f"unknown provider {name!r}",
        hint="use one of: " + ", ".join(PROVIDERS) + " (or set CORRAL_PROVIDER)",
    )


__all__ = ["PROVIDERS", "get_provider"]

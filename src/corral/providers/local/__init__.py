"""The local provider: clusters as Linux namespaces on this machine."""

from corral.providers.local.provider import LocalProvider, NodeFailure

__all__ = ["LocalProvider", "NodeFailure"]

"""Validation targets: which provider's rules a config is checked against. A provider names its
target in ``ProviderTraits.validation_target``; the config layer compares only these constants."""

from __future__ import annotations

#: the providers that run on this machine (local, fake)
LOCAL = "local"
#: AWS itself
AWS = "aws"
TARGETS = (LOCAL, AWS)

__all__ = ["AWS", "LOCAL", "TARGETS"]

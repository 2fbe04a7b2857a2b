"""Golden files: the one switch that rewrites them is ``CORRAL_UPDATE_GOLDEN=1`` (every golden test,
the Slurm configs and the CloudFormation templates alike)."""

from __future__ import annotations

import os

UPDATE_VARIABLE = "CORRAL_UPDATE_GOLDEN"


def updating() -> bool:
    """Whether this run rewrites the golden files instead of comparing with them."""
    return os.environ.get(UPDATE_VARIABLE) == "1"


def hint() -> str:
    return f"regenerate with {UPDATE_VARIABLE}=1 if intended"


__all__ = ["UPDATE_VARIABLE", "hint", "updating"]

"""The stored plan, as the service uses it (the codec itself is ``corral.plan``'s, shared with the
providers)."""

from __future__ import annotations

from corral.plan._stored import plan_from_json, plan_to_json
from corral.runtime.codec import decode

__all__ = ["decode", "plan_from_json", "plan_to_json"]

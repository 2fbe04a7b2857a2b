"""``Change``: one difference between two configs. Its own module so that ``changeset`` (which finds
the changes) and ``_update_checks`` (which judges each one) both import it, not each other."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from corral.config.policies import UpdatePolicy


@dataclass(frozen=True)
class Change:
    """One difference between two configs.

    ``path`` names list items by key: ``Scheduling/SlurmQueues[q1]/ComputeResources[cr1]/MaxCount``;
    ``old_path``/``new_path`` are the same place by index in each file (for ``LoadedConfig.locate``),
    None on the side where it does not exist. ``old``/``new`` are JSON-friendly values (None when the
    value or section is absent on that side).
    """

    path: str
    old: Any
    new: Any
    policy: UpdatePolicy
    allowed: bool = True
    reason: str = ""
    remedy: str = ""
    old_path: str | None = None
    new_path: str | None = None
    #: True when a whole item of a keyed list was added or removed.
    is_list_item: bool = False

    @property
    def key(self) -> str:
        """The last key of the path, without any ``[name]`` suffix."""
        return self.path.rpartition("/")[2].split("[", 1)[0]

    @property
    def parameter(self) -> str:
        """ParallelCluster's form: ``Scheduling.SlurmQueues[q1].ComputeResources[cr1].MaxCount``."""
        return self.path.replace("/", ".")


__all__ = ["Change"]

"""The config layer: ParallelCluster 3.16 cluster and image configs, loaded with locations and
validated offline.

Public surface:

- ``load_cluster_config(path) -> LoadedConfig[ClusterConfig]`` and ``load_image_config(path)``
  (plus ``load_*_text(text, filename)``): parse and build the typed, frozen model; raise
  ``ConfigError`` whose ``findings`` carry file:line:col and the YAML key path.
- ``ClusterConfig``, ``ImageBuilderConfig``: the models (every section class is in ``corral.config.model``).
- ``UpdatePolicy``, ``policy_of(model_cls, field_name)``: the update policy of each field.
- ``check_cluster_config(...)``/``check_image_config(...)``: load plus every offline validator.
- ``diff`` lives in ``corral.plan`` (``ChangeSet``).

Importing this package is cheap: ``Finding``/``Level`` load eagerly, everything that needs pydantic
loads on first use, so ``corral --version`` never pays for the model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from corral.config.findings import Finding, Level
from corral.runtime.lazy import lazy_getattr

if TYPE_CHECKING:
    from corral.config.loader import (
        LoadedConfig,
        load_cluster_config,
        load_cluster_config_text,
        load_image_config,
        load_image_config_text,
    )
    from corral.config.model import ClusterConfig, ImageBuilderConfig
    from corral.config.policies import PolicyClass, UpdatePolicy, policy_of

# Lazily imported public names -> the module that defines them.
_LAZY = {
    "LoadedConfig": "corral.config.loader",
    "load_cluster_config": "corral.config.loader",
    "load_cluster_config_text": "corral.config.loader",
    "load_image_config": "corral.config.loader",
    "load_image_config_text": "corral.config.loader",
    "ClusterConfig": "corral.config.model",
    "ImageBuilderConfig": "corral.config.model",
    "PolicyClass": "corral.config.policies",
    "UpdatePolicy": "corral.config.policies",
    "policy_of": "corral.config.policies",
}


__getattr__ = lazy_getattr(__name__, _LAZY)


__all__ = [
    "ClusterConfig",
    "Finding",
    "ImageBuilderConfig",
    "Level",
    "LoadedConfig",
    "PolicyClass",
    "UpdatePolicy",
    "load_cluster_config",
    "load_cluster_config_text",
    "load_image_config",
    "load_image_config_text",
    "policy_of",
]

# Validation entry points (corral.config.check), lazily imported like the names above.
_CHECK_NAMES = (
    "Suppression",
    "ValidationReport",
    "check_cluster_config",
    "check_image_config",
    "parse_failure_level",
    "parse_suppressions",
)
_LAZY.update(dict.fromkeys(_CHECK_NAMES, "corral.config.check"))
__all__ += list(_CHECK_NAMES)

"""The config layer: ParallelCluster 3.16 cluster and image configs, loaded with locations and
validated offline.

Public surface (filled in by the modules below):

- ``load_cluster_config(path) -> LoadedConfig[ClusterConfig]`` and ``load_image_config(path)``:
  parse and build the typed, frozen model; raise ``ConfigError`` whose ``findings`` carry file:line:col.
- ``check_cluster_config(path, cluster_name=..., suppress=..., failure_level=...) -> ValidationReport``
  and ``check_image_config(...)``: load plus every offline validator.
- ``diff`` lives in ``corral.plan`` (``ChangeSet``); update policies live here (``UpdatePolicy``).
"""

from corral.config.findings import Finding, Level

__all__ = ["Finding", "Level"]

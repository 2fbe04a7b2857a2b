"""Corral: a ParallelCluster-format cluster file becomes a real Slurm cluster."""

__version__ = "0.1.0"
# The ParallelCluster release whose config format, CLI and API Corral follows.
PCLUSTER_COMPAT_VERSION = "3.16.1"

__all__ = ["PCLUSTER_COMPAT_VERSION", "__version__"]

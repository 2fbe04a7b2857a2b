"""Daemons on the head node: the reconciler (the role of ParallelCluster's ``clustermgtd``).

Nothing is imported here: ``python -m corral.daemons.reconcilerd`` must find the module unloaded.
"""

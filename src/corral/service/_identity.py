"""The service's side of ownership by identity (``Provider.create_owned``/``delete_owned``/
``exists_owned``): every create, rollback and delete names the create it acts for, so a provider
touches only what that create made. A record without an id (made before ids) gets the plain calls."""

from __future__ import annotations

from corral.plan import ClusterPlan
from corral.providers.base import EventSink, Instance, Provider
from corral.state import ClusterRecord


def cluster_id(record: ClusterRecord) -> str:
    """The id of the create behind ``record``: the unique tail of its stack id."""
    return record.stack_id.rsplit("/", 1)[-1] if "/" in record.stack_id else ""


def create(provider: Provider, plan: ClusterPlan, record: ClusterRecord, on_event: EventSink) -> Instance:
    return provider.create_owned(plan, on_event=on_event, cluster_id=cluster_id(record))


def delete(provider: Provider, record: ClusterRecord, *, retain_storage: bool = True) -> None:
    provider.delete_owned(record.name, cluster_id=cluster_id(record), retain_storage=retain_storage)


def exists(provider: Provider, record: ClusterRecord) -> bool:
    return provider.exists_owned(record.name, cluster_id(record))

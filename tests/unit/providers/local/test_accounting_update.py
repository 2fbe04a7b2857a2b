"""The pure decisions of a Database update on a local cluster (``_accounting_update``)."""

from __future__ import annotations

import re

from corral.providers.local._accounting import DATABASE_KEY
from corral.providers.local._accounting_update import needs_switch, with_database
from corral.providers.local.provider import LocalProvider


def test_the_descriptor_records_the_database_or_none() -> None:
    extra = {"nat": "1", DATABASE_KEY: "k1"}
    assert with_database(extra, "k2") == {"nat": "1", DATABASE_KEY: "k2"}
    assert with_database(extra, None) == {"nat": "1"}
    assert with_database({}, "k1") == {DATABASE_KEY: "k1"}


def test_slurmdbd_switches_when_the_database_comes_goes_or_changes() -> None:
    assert not needs_switch(None, None, False, None, None)  # no Database before or after
    assert needs_switch("a", "conf", True, None, None)  # removed
    assert needs_switch(None, None, True, None, None)  # removed, half-way: slurmdbd still runs
    assert needs_switch(None, None, False, "a", "conf")  # added
    assert needs_switch("a", "conf", True, "b", "conf")  # another Uri
    assert needs_switch("a", "conf", True, "a", "conf with another password")  # user, password, name
    assert needs_switch("a", "conf", False, "a", "conf")  # slurmdbd should run and does not
    assert not needs_switch("a", "conf", True, "a", "conf")  # unchanged


def test_the_local_provider_applies_database_changes_but_not_external_slurmdbd_ones() -> None:
    patterns = [p for p, _ in LocalProvider.traits.update_not_implemented]

    def refused(path: str) -> bool:
        return any(re.search(p, path) for p in patterns)

    assert not refused("Scheduling/SlurmSettings/Database")
    assert not refused("Scheduling/SlurmSettings/Database/Uri")
    assert refused("Scheduling/SlurmSettings/ExternalSlurmdbd/Host")

"""Printing results: pcluster's JSON (indent 2) by default, a rich table with ``--output table``."""

from __future__ import annotations

import json
import sys
from typing import Any

from corral.errors import BadRequestError


def emit(doc: Any, *, output: str = "json", query: str | None = None) -> None:
    """Print ``doc`` on stdout, after the JMESPath ``query`` when one is given. A query whose
    result is empty (null, [], {}, "", 0 or false) prints nothing, as pcluster prints only a
    truthy result."""
    if query:
        doc = _query(doc, query)
        if not doc:
            sys.stdout.flush()
            return
    if output == "table":
        _table(doc)
    else:
        print(json.dumps(doc, indent=2))
    sys.stdout.flush()


def emit_log_events(doc: dict[str, Any], *, output: str, query: str | None) -> None:
    """A ``get-*-log-events`` answer: in a table, only the events as rows (the tokens are for
    scripts, which read JSON)."""
    if output == "table" and not query:
        doc = {"logEvents": doc["events"]}
    emit(doc, output=output, query=query)


def _query(doc: Any, query: str) -> Any:
    import jmespath
    from jmespath.exceptions import JMESPathError

    try:
        return jmespath.search(query, doc)
    except JMESPathError:
        raise BadRequestError(f"Invalid query string: {query!r}", hint="see https://jmespath.org") from None


def flatten(doc: Any, prefix: str = "") -> list[tuple[str, str]]:
    """``{"a": {"b": 1}, "t": [{"key": "k", "value": "v"}]}`` → ``[("a.b", "1"), ("t[0].key", "k"), ...]``."""
    if isinstance(doc, dict):
        rows: list[tuple[str, str]] = []
        for key, value in doc.items():
            rows.extend(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return rows
    if isinstance(doc, list):
        rows = []
        for i, value in enumerate(doc):
            rows.extend(flatten(value, f"{prefix}[{i}]"))
        return rows
    return [(prefix, "" if doc is None else str(doc))]


#: Table width when stdout is not a terminal.
PIPE_WIDTH = 200

#: The columns worth a table for each list response (the JSON keeps every field).
TABLE_COLUMNS = {
    "clusters": ("clusterName", "clusterStatus", "cloudformationStackStatus", "region", "version"),
    "instances": (
        "instanceId",
        "nodeType",
        "queueName",
        "instanceType",
        "privateIpAddress",
        "state",
        "launchTime",
    ),
    "events": ("timestamp", "logicalResourceId", "resourceStatus", "resourceStatusReason"),
    "logStreams": ("logStreamName", "firstEventTimestamp", "lastEventTimestamp"),
}


def _table(doc: Any) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text  # cells are data: '[agent] …' is not rich markup

    # A pipe or a file has no width; rich would assume 80 columns and cut instance ids and times.
    console = Console(width=None if sys.stdout.isatty() else PIPE_WIDTH)
    rows = _single_list(doc)
    if rows is not None:
        columns: list[str] = []
        for row in rows:
            for key, _ in flatten(row):
                if key not in columns:
                    columns.append(key)
        preferred = TABLE_COLUMNS.get(next(iter(doc)) if isinstance(doc, dict) else "", ())
        if preferred:
            columns = [c for c in preferred if c in columns] or columns
        table = Table(*columns)
        for row in rows:
            cells = dict(flatten(row))
            table.add_row(*(Text(cells.get(c, "")) for c in columns))
    else:
        table = Table("key", "value")
        for key, value in flatten(doc):
            table.add_row(Text(key), Text(value))
    console.print(table)


def change_table(rows: list[tuple[str, str, str, str]], title: str = "") -> None:
    """update-cluster's change set as a readable diff: parameter, current, requested, and how the
    change is applied (or why it is refused, with the remedy)."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(width=None if sys.stdout.isatty() else PIPE_WIDTH)
    table = Table("parameter", "current", "requested", "how", title=title or None)
    for parameter, current, requested, how in rows:
        table.add_row(Text(parameter), Text(current, style="red"), Text(requested, style="green"), Text(how))
    console.print(table)
    sys.stdout.flush()


def _single_list(doc: Any) -> list[Any] | None:
    """The rows of a list response (``{"clusters": [...]}``), or None for a single object."""
    if isinstance(doc, list):
        return doc
    if isinstance(doc, dict):
        lists = [v for v in doc.values() if isinstance(v, list)]
        if len(lists) == 1 and len(doc) == 1 and all(isinstance(r, dict) for r in lists[0]):
            return lists[0]
    return None


__all__ = ["change_table", "emit", "emit_log_events", "flatten"]

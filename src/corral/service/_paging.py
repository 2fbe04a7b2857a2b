"""Pages of list answers, where pcluster pages (its AWS calls return a ``NextToken``):
list-clusters, describe-cluster-instances and get-cluster-stack-events.

A token is opaque (``encode_token``) and names the kind of list and the key of the last item served,
so a page continues after that item even when items were added in between.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from corral.errors import BadRequestError
from corral.service._logs import decode_token, encode_token

T = TypeVar("T")

#: Items per page, as the AWS call behind each pcluster verb returns them: CloudFormation's
#: DescribeStacks/DescribeStackEvents pages of 100, EC2's DescribeInstances without MaxResults 1000.
PAGE_SIZES = {"clusters": 100, "instances": 1000, "events": 100}


def page_size(kind: str) -> int:
    """The page size of ``kind``; ``CORRAL_PAGE_SIZE`` overrides them all (tests page small lists)."""
    override = os.environ.get("CORRAL_PAGE_SIZE", "")
    return int(override) if override.isdigit() and int(override) > 0 else PAGE_SIZES[kind]


def page(
    items: Sequence[T], key: Callable[[T], str], token: str | None, kind: str, size: int | None = None
) -> tuple[list[T], str | None]:
    """The page of ``items`` after ``token``'s item and the token of the next page (None at the end).
    ``BadRequestError`` for a token of another list or whose item is gone."""
    size = size or page_size(kind)
    start = 0
    if token:
        _, after = decode_token(token, (kind,))
        keys = [key(item) for item in items]
        if after not in keys:
            raise BadRequestError(
                f"invalid nextToken {token!r}: its item is no longer listed",
                hint="list again without --next-token",
            )
        start = keys.index(str(after)) + 1
    chosen = list(items[start : start + size])
    more = start + size < len(items)
    return chosen, encode_token(kind, key(chosen[-1])) if more and chosen else None


def paged_doc(doc: dict[str, Any], field: str, key: str, token: str | None, kind: str) -> dict[str, Any]:
    """``doc`` with ``doc[field]`` cut to one page and ``nextToken`` added when more remain."""
    chosen, next_token = page(doc[field], lambda item: str(item[key]), token, kind)
    out = {**doc, field: chosen}
    if next_token:
        out["nextToken"] = next_token
    return out


__all__ = ["PAGE_SIZES", "page", "page_size", "paged_doc"]

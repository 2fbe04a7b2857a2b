"""AWS Regions as pcluster 3.16 accepts them for ``-r/--region`` and ``Region``.

pcluster checks a region against its list of supported regions (``invalid or unsupported region``)
and refuses a ``--region`` that differs from the config's ``Region``; so does Corral, offline.
"""

from __future__ import annotations

import os

from corral.errors import BadRequestError

#: The regions ParallelCluster 3.16.1 supports (its published supported-regions list).
SUPPORTED_REGIONS = frozenset(
    {
        "af-south-1",
        "ap-east-1",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-south-1",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-southeast-3",
        "ap-southeast-5",
        "ap-southeast-7",
        "ca-central-1",
        "cn-north-1",
        "cn-northwest-1",
        "eu-central-1",
        "eu-north-1",
        "eu-south-1",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "il-central-1",
        "me-south-1",
        "sa-east-1",
        "us-east-1",
        "us-east-2",
        "us-iso-east-1",
        "us-iso-west-1",
        "us-isob-east-1",
        "us-gov-east-1",
        "us-gov-west-1",
        "us-west-1",
        "us-west-2",
    }
)

CONFLICT = "Bad Request: region is set in both parameter and configuration and conflicts."


def check_region(region: str) -> str:
    """``region`` when pcluster supports it; else pcluster's Bad Request."""
    if region not in SUPPORTED_REGIONS:
        raise BadRequestError(
            f"Bad Request: invalid or unsupported region '{region}'",
            hint="use the code of a Region pcluster supports, such as us-east-1 or eu-west-1",
        )
    return region


def config_region(path: str | os.PathLike[str]) -> str | None:
    """The ``Region`` a config file names, or None (no Region, or a file that does not parse: its
    validation reports that)."""
    try:
        with open(path, "rb") as handle:
            return config_region_of(handle.read())
    except OSError:
        return None


def config_region_of(source: bytes | str) -> str | None:
    """``config_region`` of a config already read."""
    import yaml

    try:
        data = yaml.load(source, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (yaml.YAMLError, ValueError):
        return None
    region = data.get("Region") if isinstance(data, dict) else None
    return region if isinstance(region, str) else None


def resolve_region(given: str | None, configured: str | None) -> str | None:
    """The region of a create: ``-r`` and the config's ``Region`` must agree; each is checked."""
    if given and configured and given != configured:
        raise BadRequestError(CONFLICT, hint=f"drop -r, or make it the config's Region ({configured})")
    region = given or configured
    return check_region(region) if region else None


__all__ = ["CONFLICT", "SUPPORTED_REGIONS", "check_region", "config_region", "resolve_region"]

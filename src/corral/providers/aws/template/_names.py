"""Names shared by every part of the template: logical ids, output keys, tags, ARNs and parameters.

Everything here is pure and deterministic: the same cluster gives the same names, so templates are
byte-identical from run to run and CloudFormation updates touch only what changed.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from troposphere import AWSHelperFn, Sub, Tags

#: The tag every resource carries; IAM conditions key on it (``aws:ResourceTag/corral:cluster-name``).
CLUSTER_TAG = "corral:cluster-name"
#: Marks which part of the cluster a resource belongs to (HeadNode, Compute, Storage, ...).
ROLE_TAG = "corral:node-role"
#: The queue and compute resource of a launch template and the instances launched from it.
QUEUE_TAG = "corral:queue-name"
COMPUTE_RESOURCE_TAG = "corral:compute-resource-name"

_WORD = re.compile(r"[A-Za-z0-9]+")


def camel(text: str) -> str:
    """``"queue-00"`` -> ``"Queue00"``: the alphanumeric words of ``text``, each capitalised."""
    return "".join(word[:1].upper() + word[1:] for word in _WORD.findall(text))


def short_hash(*parts: str) -> str:
    """Eight hex digits that tell apart names whose camel forms collide (``a-b1`` vs ``a-b-1``)."""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:8]


def logical_id(prefix: str, *parts: str) -> str:
    """A CloudFormation logical id: ``prefix`` + the camel form of ``parts`` + a collision-proof hash
    of the raw parts (logical ids must be alphanumeric and unique, names are not)."""
    return prefix + "".join(camel(p) for p in parts) + short_hash(*parts)


def launch_template_output_key(queue: str, compute_resource: str) -> str:
    """The root stack's Output holding the launch template id of ``queue``/``compute_resource``.

    Its version is in the Output ``launch_template_output_key(q, cr) + "Version"``.
    """
    return logical_id("LaunchTemplate", queue, compute_resource)


def queue_role_output_key(queue: str) -> str:
    """The Output (of the queue's nested stack) holding the ARN of the queue's compute role."""
    return logical_id("ComputeRoleArn", queue)


@dataclass(frozen=True)
class Tagging:
    """The tags of one cluster: ``corral:cluster-name`` plus the config's ``Tags`` (billing tags)."""

    cluster_name: str
    extra: tuple[tuple[str, str], ...] = ()

    def pairs(self, extra: Iterable[tuple[str, str]] = (), **more: str) -> list[tuple[str, str]]:
        """Every tag as sorted (key, value) pairs: the config's tags, then ``extra`` (later wins),
        then the ``corral:`` tags; ``more`` maps Python names to ``corral:`` keys via
        :data:`_KEYWORDS` (e.g. ``role="HeadNode"``)."""
        tags = dict(self.extra)
        tags.update(extra)
        tags[CLUSTER_TAG] = self.cluster_name
        for name, value in more.items():
            tags[_KEYWORDS[name]] = value
        return sorted(tags.items())

    def tags(self, extra: Iterable[tuple[str, str]] = (), **more: str) -> Tags:
        """Tags in CloudFormation's ``[{"Key": k, "Value": v}]`` form, sorted by key."""
        return Tags(dict(self.pairs(extra, **more)))

    def tag_map(self, extra: Iterable[tuple[str, str]] = (), **more: str) -> dict[str, str]:
        """Tags in the ``{key: value}`` form some resource types use."""
        return dict(self.pairs(extra, **more))


_KEYWORDS = {"role": ROLE_TAG, "queue": QUEUE_TAG, "compute_resource": COMPUTE_RESOURCE_TAG}


def arn(service: str, resource: str, *, region: bool = True, account: bool = True) -> AWSHelperFn:
    """``arn:${AWS::Partition}:service:${AWS::Region}:${AWS::AccountId}:resource`` as an Fn::Sub."""
    reg = "${AWS::Region}" if region else ""
    acc = "${AWS::AccountId}" if account else ""
    return Sub(f"arn:${{AWS::Partition}}:{service}:{reg}:{acc}:{resource}")


def s3_bucket_arns(bucket: str, key_prefix: str = "*") -> list[Any]:
    """The ARNs of one bucket and of the objects under ``key_prefix`` in it."""
    return [
        Sub(f"arn:${{AWS::Partition}}:s3:::{bucket}"),
        Sub(f"arn:${{AWS::Partition}}:s3:::{bucket}/{key_prefix}"),
    ]


def role_path(cluster_name: str, resource_prefix: str | None = None) -> str:
    """The IAM path of every role and profile Corral creates for a cluster; the head node may pass
    only roles under it to EC2 (``iam:PassRole`` on ``role<path>*``). The path part of
    ``Iam/ResourcePrefix`` (``/org/path/`` in ``/org/path/name-``) goes in front of it."""
    base = (
        resource_prefix[: resource_prefix.rfind("/") + 1]
        if resource_prefix and resource_prefix.startswith("/")
        else "/"
    )
    return f"{base}corral/{cluster_name}/"

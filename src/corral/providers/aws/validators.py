"""The validators that need AWS APIs, run by the aws provider against the configured endpoint.

Decide, then act: ``gather`` asks EC2 about every subnet, security group, key pair, AMI, instance
type and capacity reservation the config names (one call per kind) and returns ``CloudFacts``;
``findings_from`` (pure) turns config + facts into ``Finding``s with ParallelCluster's validator
names as codes (``SubnetsValidator``, ``SecurityGroupsValidator``, ``KeyPairValidator``,
``InstanceTypeBaseAMICompatibleValidator``, ``InstanceTypeValidator``,
``CapacityReservationValidator``), so ``--suppress-validators type:NAME`` works the same.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from corral.config.findings import Finding, Level
from corral.errors import CorralError
from corral.providers.aws._clients import AwsClients, has_credentials, resolve_region
from corral.providers.aws._errors import BOTO_ERRORS, aws_call, error_code, translate

SKIPPED_CODE = "CloudValidators"


@dataclass(frozen=True)
class Subnet:
    vpc_id: str
    availability_zone: str


@dataclass(frozen=True)
class Reservation:
    instance_type: str
    availability_zone: str


@dataclass(frozen=True)
class CloudFacts:
    """What the account has, for the ids the config names (absent ids are simply missing)."""

    subnets: dict[str, Subnet] = field(default_factory=dict)
    vpc_dns: dict[str, tuple[bool, bool]] = field(default_factory=dict)  # vpc -> (support, hostnames)
    security_groups: frozenset[str] = frozenset()
    key_pairs: dict[str, str] = field(default_factory=dict)  # name -> key type (rsa, ed25519)
    images: dict[str, str] = field(default_factory=dict)  # ami -> architecture
    offered_types: frozenset[str] = frozenset()
    type_architectures: dict[str, tuple[str, ...]] = field(default_factory=dict)
    reservations: dict[str, Reservation] = field(default_factory=dict)


# -- what the config names ------------------------------------------------------------------


def _queues(config: Any) -> tuple[Any, ...]:
    return tuple(config.scheduling.slurm_queues)


def subnet_refs(config: Any) -> list[tuple[str, str]]:
    """(config path, subnet id) of every subnet the config names."""
    refs = [("HeadNode/Networking/SubnetId", config.head_node.networking.subnet_id)]
    for qi, q in enumerate(_queues(config)):
        refs += [(f"Scheduling/SlurmQueues[{qi}]/Networking/SubnetIds", s) for s in q.networking.subnet_ids]
    for pi, pool in enumerate(_pools(config)):
        refs += [(f"LoginNodes/Pools[{pi}]/Networking/SubnetIds", s) for s in pool.networking.subnet_ids]
    return refs


def _pools(config: Any) -> tuple[Any, ...]:
    return tuple(config.login_nodes.pools) if config.login_nodes is not None else ()


def security_group_refs(config: Any) -> list[tuple[str, str]]:
    net = config.head_node.networking
    refs = [("HeadNode/Networking/SecurityGroups", g) for g in net.security_groups]
    refs += [("HeadNode/Networking/AdditionalSecurityGroups", g) for g in net.additional_security_groups]
    for qi, q in enumerate(_queues(config)):
        path = f"Scheduling/SlurmQueues[{qi}]/Networking"
        refs += [(f"{path}/SecurityGroups", g) for g in q.networking.security_groups]
        refs += [(f"{path}/AdditionalSecurityGroups", g) for g in q.networking.additional_security_groups]
    for pi, pool in enumerate(_pools(config)):
        path = f"LoginNodes/Pools[{pi}]/Networking"
        refs += [(f"{path}/SecurityGroups", g) for g in pool.networking.security_groups]
        refs += [(f"{path}/AdditionalSecurityGroups", g) for g in pool.networking.additional_security_groups]
    return refs


def image_refs(config: Any) -> list[tuple[str, str, tuple[str, ...]]]:
    """(config path, AMI id, instance types launched from it)."""
    head_type = (config.head_node.instance_type,)
    compute_types = tuple(t for q in _queues(config) for t in _types_of_queue(q))
    refs: list[tuple[str, str, tuple[str, ...]]] = []
    if config.image.custom_ami:
        refs.append(("Image/CustomAmi", config.image.custom_ami, head_type + compute_types))
    if config.head_node.image is not None:
        refs.append(("HeadNode/Image/CustomAmi", config.head_node.image.custom_ami, head_type))
    for qi, q in enumerate(_queues(config)):
        if q.image is not None:
            refs.append(
                (f"Scheduling/SlurmQueues[{qi}]/Image/CustomAmi", q.image.custom_ami, _types_of_queue(q))
            )
    for pi, pool in enumerate(_pools(config)):
        if pool.image is not None:
            refs.append(
                (f"LoginNodes/Pools[{pi}]/Image/CustomAmi", pool.image.custom_ami, (pool.instance_type,))
            )
    return refs


def _types_of(cr: Any) -> tuple[str, ...]:
    if cr.instances:
        return tuple(i.instance_type for i in cr.instances)
    return (cr.instance_type,) if cr.instance_type else ()


def _types_of_queue(queue: Any) -> tuple[str, ...]:
    return tuple(t for cr in queue.compute_resources for t in _types_of(cr))


def instance_type_refs(config: Any) -> list[tuple[str, str]]:
    refs = [("HeadNode/InstanceType", config.head_node.instance_type)]
    for qi, q in enumerate(_queues(config)):
        for ci, cr in enumerate(q.compute_resources):
            path = f"Scheduling/SlurmQueues[{qi}]/ComputeResources[{ci}]"
            if cr.instances:
                refs += [(f"{path}/Instances[{i}]/InstanceType", t) for i, t in enumerate(_types_of(cr))]
            elif cr.instance_type:
                refs.append((f"{path}/InstanceType", cr.instance_type))
    return refs


def reservation_refs(config: Any) -> list[tuple[str, str, tuple[str, ...], tuple[str, ...]]]:
    """(path, reservation id, instance types, subnets) of every CapacityReservationTarget id."""
    refs = []
    for qi, q in enumerate(_queues(config)):
        target = q.capacity_reservation_target
        if target is not None and target.capacity_reservation_id:
            refs.append(
                (
                    f"Scheduling/SlurmQueues[{qi}]/CapacityReservationTarget/CapacityReservationId",
                    target.capacity_reservation_id,
                    _types_of_queue(q),
                    tuple(q.networking.subnet_ids),
                )
            )
        for ci, cr in enumerate(q.compute_resources):
            target = cr.capacity_reservation_target
            if target is not None and target.capacity_reservation_id:
                path = f"Scheduling/SlurmQueues[{qi}]/ComputeResources[{ci}]/CapacityReservationTarget"
                refs.append(
                    (
                        f"{path}/CapacityReservationId",
                        target.capacity_reservation_id,
                        _types_of(cr),
                        tuple(q.networking.subnet_ids),
                    )
                )
    return refs


# -- decide ---------------------------------------------------------------------------------


def findings_from(config: Any, facts: CloudFacts) -> list[Finding]:
    """Every cloud finding for ``config`` given ``facts``. Pure."""
    return [
        *_subnet_findings(config, facts),
        *_security_group_findings(config, facts),
        *_key_pair_findings(config, facts),
        *_image_findings(config, facts),
        *_instance_type_findings(config, facts),
        *_reservation_findings(config, facts),
    ]


def _error(code: str, path: str, message: str, hint: str = "") -> Finding:
    return Finding(Level.ERROR, code, path, message, hint)


def _subnet_findings(config: Any, facts: CloudFacts) -> Iterator[Finding]:
    code = "SubnetsValidator"
    vpcs: dict[str, str] = {}
    for path, subnet in subnet_refs(config):
        found = facts.subnets.get(subnet)
        if found is None:
            yield _error(code, path, f"The subnet '{subnet}' does not exist.", "check the id and the region")
            continue
        vpcs.setdefault(found.vpc_id, subnet)
        if len(vpcs) > 1 and found.vpc_id != next(iter(vpcs)):
            yield _error(
                code,
                path,
                f"Subnet {subnet} is not in VPC {next(iter(vpcs))}. "
                "Please make sure all subnets are in the same VPC.",
            )
    for vpc in vpcs:
        support, hostnames = facts.vpc_dns.get(vpc, (True, True))
        if not support:
            yield _error(
                code,
                "HeadNode/Networking/SubnetId",
                f"DNS Support is not enabled in the VPC {vpc}.",
                "enable DNS resolution on the VPC",
            )
        if not hostnames:
            yield _error(
                code,
                "HeadNode/Networking/SubnetId",
                f"DNS Hostnames not enabled in the VPC {vpc}.",
                "enable DNS hostnames on the VPC",
            )


def _security_group_findings(config: Any, facts: CloudFacts) -> Iterator[Finding]:
    for path, group in security_group_refs(config):
        if group not in facts.security_groups:
            yield _error(
                "SecurityGroupsValidator",
                path,
                f"The security group '{group}' does not exist.",
                "check the id and that it belongs to the subnets' VPC and region",
            )


def _key_pair_findings(config: Any, facts: CloudFacts) -> Iterator[Finding]:
    ssh = config.head_node.ssh
    key = ssh.key_name if ssh is not None else None
    if not key:
        return
    path = "HeadNode/Ssh/KeyName"
    if key not in facts.key_pairs:
        yield _error(
            "KeyPairValidator",
            path,
            f"The key pair '{key}' does not exist.",
            "create or import it (`aws ec2 import-key-pair`) in this region",
        )
    elif config.image.os in ("ubuntu2204", "ubuntu2404") and facts.key_pairs[key] == "rsa":
        yield _error(
            "KeyPairValidator",
            path,
            f"{config.image.os} does not support RSA keys. Please generate and use an ed25519 key",
        )


def _image_findings(config: Any, facts: CloudFacts) -> Iterator[Finding]:
    code = "InstanceTypeBaseAMICompatibleValidator"
    for path, ami, types in image_refs(config):
        arch = facts.images.get(ami)
        if arch is None:
            yield _error(code, path, f"Invalid image '{ami}'.", "check the AMI id and the region")
            continue
        for itype in dict.fromkeys(types):
            supported = facts.type_architectures.get(itype)
            if supported and arch not in supported:
                yield _error(
                    code,
                    path,
                    f"AMI {ami}'s architecture ({arch}) is incompatible with the architecture supported "
                    f"by the instance type {itype} chosen ({list(supported)}). Use either a different AMI "
                    "or a different instance type.",
                )


def _instance_type_findings(config: Any, facts: CloudFacts) -> Iterator[Finding]:
    if not facts.offered_types:
        return  # the endpoint lists no offerings at all: nothing to compare against
    for path, itype in instance_type_refs(config):
        if itype not in facts.offered_types:
            yield _error(
                "InstanceTypeValidator",
                path,
                f"The instance type '{itype}' is not supported.",
                "it is not offered in this region; pick one `aws ec2 describe-instance-type-offerings` lists",
            )


def _reservation_findings(config: Any, facts: CloudFacts) -> Iterator[Finding]:
    code = "CapacityReservationValidator"
    for path, rid, types, subnets in reservation_refs(config):
        found = facts.reservations.get(rid)
        if found is None:
            yield _error(code, path, f"The capacity reservation '{rid}' does not exist.")
            continue
        if len(types) > 1:
            yield _error(
                code, path, "CapacityReservationId parameter cannot be used with Instances parameter."
            )
        elif types and found.instance_type != types[0]:
            yield _error(
                code, path, f"Capacity reservation {rid} must have the same instance type as {types[0]}."
            )
        for subnet in subnets:
            info = facts.subnets.get(subnet)
            if info is not None and info.availability_zone != found.availability_zone:
                yield _error(
                    code,
                    path,
                    f"Capacity reservation {rid} must use the same availability zone as subnet {subnet}.",
                )


# -- act ------------------------------------------------------------------------------------


def gather(clients: AwsClients, config: Any) -> CloudFacts:
    """Ask EC2 about every id the config names."""
    ec2 = clients.ec2
    subnets = {
        s["SubnetId"]: Subnet(s["VpcId"], s["AvailabilityZone"])
        for s in _existing(ec2.describe_subnets, "Subnets", "SubnetIds", [s for _, s in subnet_refs(config)])
    }
    vpc_dns = {vpc: _vpc_dns(clients, vpc) for vpc in {s.vpc_id for s in subnets.values()}}
    groups = _existing(
        ec2.describe_security_groups,
        "SecurityGroups",
        "GroupIds",
        [g for _, g in security_group_refs(config)],
    )
    ssh = config.head_node.ssh
    keys = _existing(
        ec2.describe_key_pairs, "KeyPairs", "KeyNames", [ssh.key_name] if ssh and ssh.key_name else []
    )
    images = _existing(ec2.describe_images, "Images", "ImageIds", [a for _, a, _ in image_refs(config)])
    types = sorted({t for _, t in instance_type_refs(config)})
    offered = aws_call(
        "DescribeInstanceTypeOfferings",
        ec2.describe_instance_type_offerings,
        LocationType="region",
        Filters=[{"Name": "instance-type", "Values": types}],
    ).get("InstanceTypeOfferings", [])
    infos = _existing(ec2.describe_instance_types, "InstanceTypes", "InstanceTypes", types)
    reservations = _existing(
        ec2.describe_capacity_reservations,
        "CapacityReservations",
        "CapacityReservationIds",
        [r for _, r, _, _ in reservation_refs(config)],
    )
    return CloudFacts(
        subnets=subnets,
        vpc_dns=vpc_dns,
        security_groups=frozenset(g["GroupId"] for g in groups),
        key_pairs={k["KeyName"]: str(k.get("KeyType", "rsa")) for k in keys},
        images={i["ImageId"]: str(i.get("Architecture", "x86_64")) for i in images},
        offered_types=frozenset(o["InstanceType"] for o in offered),
        type_architectures={
            t["InstanceType"]: tuple(t.get("ProcessorInfo", {}).get("SupportedArchitectures", ()))
            for t in infos
        },
        reservations={
            r["CapacityReservationId"]: Reservation(r["InstanceType"], r["AvailabilityZone"])
            for r in reservations
        },
    )


def _existing(call: Any, key: str, param: str, ids: list[str]) -> list[dict[str, Any]]:
    """The entries of ``ids`` that exist: one call for all, one per id when some are missing
    (EC2 fails the whole call for one unknown id)."""
    wanted = sorted(set(ids))
    if not wanted:
        return []
    try:
        return list(call(**{param: wanted})[key])
    except BOTO_ERRORS as exc:
        if not _is_not_found(exc):
            raise translate(exc, call.__name__) from exc
    found: list[dict[str, Any]] = []
    for one in wanted:
        try:
            found.extend(call(**{param: [one]})[key])
        except BOTO_ERRORS as exc:
            if not _is_not_found(exc):
                raise translate(exc, call.__name__) from exc
    return found


def _is_not_found(exc: BaseException) -> bool:
    code = error_code(exc)
    return code.endswith(".NotFound") or code.endswith(".Malformed") or code in ("InvalidGroupId.Malformed",)


def _vpc_dns(clients: AwsClients, vpc: str) -> tuple[bool, bool]:
    def attribute(name: str, key: str) -> bool:
        got = aws_call("DescribeVpcAttribute", clients.ec2.describe_vpc_attribute, VpcId=vpc, Attribute=name)
        return bool(got.get(key, {}).get("Value", True))

    return attribute("enableDnsSupport", "EnableDnsSupport"), attribute(
        "enableDnsHostnames", "EnableDnsHostnames"
    )


def cloud_findings(config: Any) -> list[Finding]:
    """The cloud findings for ``config``; a single INFO finding when they cannot run (no credentials,
    no endpoint reachable), because a dry run must stay possible offline."""
    if not has_credentials():
        return [
            Finding(
                Level.INFO,
                SKIPPED_CODE,
                "",
                "cloud validators were skipped: no AWS credentials",
                "give credentials (AWS_PROFILE=...) to check subnets, key pairs, AMIs and instance types",
            )
        ]
    try:
        clients = AwsClients(resolve_region(config.region))
        return findings_from(config, gather(clients, config))
    except CorralError as exc:
        return [
            Finding(
                Level.WARNING, SKIPPED_CODE, "", f"cloud validators could not run: {exc.message}", exc.hint
            )
        ]


__all__ = ["SKIPPED_CODE", "CloudFacts", "Reservation", "Subnet", "cloud_findings", "findings_from", "gather"]

"""NAT that belongs to a local cluster: its nodes reach the networks this machine reaches, as
instances in a subnet with a NAT gateway do (``apt-get install`` in a custom action works).

- A veth pair joins the host and the cluster's head namespace: ``cn<10 hex of the cluster id>`` on
  the host and ``uplink`` in the head, on the second-to-last /30 of the cluster's subnet (the last
  one is the accounting database's link).
- The head namespace forwards and masquerades what leaves by ``uplink``; every node's default route
  is the head's bridge address. Those rules live in the head's namespace and go with it.
- On the host: ``MASQUERADE`` of the head's uplink address in ``nat POSTROUTING`` and two
  ``FORWARD`` accepts for the cluster's veth, each tagged ``-m comment --comment corral:<id>``.
  Removal deletes exactly the rules with that tag (``remove``): rules made by anyone else are never
  touched. IPv4 forwarding is switched on on the host when it is off (reported at create; left on,
  as other users of the host may rely on it once it is).

``CORRAL_LOCAL_NAT=off`` (read at create) gives a cluster none of this: its nodes reach only the
cluster's own bridge.
"""

from __future__ import annotations

import hashlib
import ipaddress
import subprocess
from collections.abc import Callable
from pathlib import Path

from corral.errors import ProviderError
from corral.providers.local import _net, _owner, _proc
from corral.providers.local._layout import ClusterDescriptor, ClusterLayout
from corral.runtime import settings

NAT_ENV = "CORRAL_LOCAL_NAT"
#: ``ClusterDescriptor.extra``: "1" when the cluster has NAT (decided at create)
NAT_KEY = "nat"
HEAD_IF = "uplink"
IP_FORWARD = Path("/proc/sys/net/ipv4/ip_forward")
Report = Callable[[str, str], None]


def requested() -> bool:
    """Whether a create gives the cluster NAT (``CORRAL_LOCAL_NAT``, default on)."""
    value = settings.raw(NAT_ENV).strip().lower()
    if value in ("", "on", "1", "true", "yes"):
        return True
    if value in ("off", "0", "false", "no"):
        return False
    raise ProviderError(f"{NAT_ENV}={value!r} is not on or off", hint=f"e.g. {NAT_ENV}=off")


def enabled(descriptor: ClusterDescriptor) -> bool:
    return descriptor.extra.get(NAT_KEY) == "1"


def cluster_tag_id(root: Path) -> str:
    """The id the cluster's rules carry: its cluster id (a hash of its directory for a cluster
    made before ids were recorded)."""
    return _owner.cluster_id(root) or hashlib.sha1(str(root).encode()).hexdigest()[:16]


def tag(cluster_id: str) -> str:
    return f"corral:{cluster_id}"


def host_if(cluster_id: str) -> str:
    """The host side of the cluster's veth (at most 15 characters)."""
    return "cn" + hashlib.sha1(cluster_id.encode()).hexdigest()[:10]


def addresses(subnet: ipaddress.IPv4Network) -> tuple[ipaddress.IPv4Address, ipaddress.IPv4Address]:
    """(host side, head side) of the uplink: the second-to-last /30 of the cluster's subnet."""
    base = subnet.broadcast_address - 7
    return base + 1, base + 2


def host_rules(cluster_id: str, head_address: str) -> list[tuple[str, list[str]]]:
    """(table, rule) for the host, as ``iptables -t TABLE -A RULE`` takes them (pure)."""
    comment = ["-m", "comment", "--comment", tag(cluster_id)]
    veth = host_if(cluster_id)
    replies = ["-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED"]
    return [
        ("nat", ["POSTROUTING", "-s", f"{head_address}/32", "!", "-o", veth, *comment, "-j", "MASQUERADE"]),
        ("filter", ["FORWARD", "-i", veth, *comment, "-j", "ACCEPT"]),
        ("filter", ["FORWARD", "-o", veth, *replies, *comment, "-j", "ACCEPT"]),
    ]


def _iptables(*args: str, netns: str | None = None) -> subprocess.CompletedProcess[str]:
    prefix = ["ip", "netns", "exec", netns] if netns else []
    return _proc.run([*prefix, "iptables", "-w", "10", *args], check=False, timeout=30)


def _checked(*args: str, netns: str | None = None) -> None:
    result = _iptables(*args, netns=netns)
    if result.returncode != 0:
        raise ProviderError(
            f"`iptables {' '.join(args)}` failed: {result.stderr.strip()}",
            hint=f"the cluster's NAT needs iptables; {NAT_ENV}=off creates the cluster without it",
        )


def tagged_rules(cluster_id: str) -> list[tuple[str, list[str]]]:
    """(table, rule spec as ``iptables -S`` prints it) of every host rule tagged with the cluster id."""
    found = []
    for table in ("nat", "filter"):
        listed = _iptables("-t", table, "-S")
        for line in listed.stdout.splitlines():
            if line.startswith("-A ") and f"--comment {tag(cluster_id)}" in line.replace('"', ""):
                found.append((table, _split(line[3:])))
    return found


def _split(spec: str) -> list[str]:
    import shlex

    return shlex.split(spec)


def remove(cluster_id: str) -> None:
    """Delete the host rules tagged with the cluster id (and only those) and the cluster's uplink
    veth. Idempotent. The veth is deleted here rather than left to go with the head's namespace:
    the kernel frees a namespace (and its links) asynchronously once its last user is gone, so a
    delete that relied on that could return with the host side still there."""
    if not cluster_id:
        return
    for table, rule in tagged_rules(cluster_id):
        _iptables("-t", table, "-D", *rule)
    delete_link(host_if(cluster_id))


def delete_link(veth: str) -> None:
    """Delete a host-side veth of Corral's, when it is there (its peer goes with it)."""
    if subprocess.run(["ip", "link", "show", veth], capture_output=True).returncode == 0:
        subprocess.run(["ip", "link", "del", veth], capture_output=True)


def _enable_forwarding(report: Report) -> None:
    try:
        if IP_FORWARD.read_text().strip() != "1":
            IP_FORWARD.write_text("1\n")
            report("Cluster", "switched on IPv4 forwarding on this machine (net.ipv4.ip_forward=1) for NAT")
    except OSError as exc:
        raise ProviderError(f"cannot switch on IPv4 forwarding for the cluster's NAT: {exc}") from exc


def connect(layout: ClusterLayout, descriptor: ClusterDescriptor, report: Report) -> None:
    """The uplink and the rules (see the module doc), after the head's namespace exists, for a
    cluster with NAT. Rules a previous run of this cluster left (a restart) are replaced."""
    if not enabled(descriptor):
        return
    cluster_id = cluster_tag_id(layout.root)
    head = _net.head_netns(descriptor.name)
    host_side, head_side = addresses(ipaddress.IPv4Network(descriptor.subnet))
    veth = host_if(cluster_id)
    remove(cluster_id)
    _net.ip("link", "add", veth, "type", "veth", "peer", "name", HEAD_IF, "netns", head)
    _net.ip("addr", "add", f"{host_side}/30", "dev", veth)
    _net.ip("link", "set", veth, "up")
    _net.ip("-n", head, "addr", "add", f"{head_side}/30", "dev", HEAD_IF)
    _net.ip("-n", head, "link", "set", HEAD_IF, "up")
    _net.ip("-n", head, "route", "add", "default", "via", str(host_side))
    _proc.run(["ip", "netns", "exec", head, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"], timeout=30)
    _checked("-t", "nat", "-A", "POSTROUTING", "-o", HEAD_IF, "-m", "comment", "--comment",
             tag(cluster_id), "-j", "MASQUERADE", netns=head)  # fmt: skip
    _enable_forwarding(report)
    for table, rule in host_rules(cluster_id, str(head_side)):
        _checked("-t", table, "-I" if table == "filter" else "-A", *rule)


# -- build and test nodes of an image build ------------------------------------------------------

#: where build nodes' links come from: one /30 per node, picked by a hash of its namespace
BUILD_LINKS = ipaddress.IPv4Network("10.239.0.0/16")
NODE_IF = "eth0"


def build_link(netns: str, taken: set[str]) -> tuple[ipaddress.IPv4Address, ipaddress.IPv4Address]:
    """(host side, node side) of a build node's link: the /30 of ``BUILD_LINKS`` its namespace's
    name hashes to, or the next one whose addresses no host interface holds (pure)."""
    count = BUILD_LINKS.num_addresses // 4
    start = int(hashlib.sha1(netns.encode()).hexdigest(), 16) % count
    for step in range(count):
        base = BUILD_LINKS.network_address + 4 * ((start + step) % count)
        if str(base + 1) not in taken and str(base + 2) not in taken:
            return base + 1, base + 2
    raise ProviderError("no free /30 left in 10.239.0.0/16 for an image build node's link")


def build_host_if(netns: str) -> str:
    return "cb" + hashlib.sha1(netns.encode()).hexdigest()[:10]


def _host_addresses() -> set[str]:
    listed = _proc.run(["ip", "-o", "-4", "addr", "show"], check=False, timeout=30).stdout
    return {field.split("/")[0] for line in listed.splitlines() for field in line.split()[3:4]}


def connect_build_node(build_id: str, netns: str, report: Report) -> None:
    """A build (or test) node's way out, as a cluster node's: a veth from the host into its
    namespace, its default route through the host, and the host's masquerade and forward rules
    tagged ``corral:<build id>`` (``remove(build_id)`` deletes them)."""
    host_side, node_side = build_link(netns, _host_addresses())
    veth = build_host_if(netns)
    _net.ip("link", "add", veth, "type", "veth", "peer", "name", NODE_IF, "netns", netns)
    _net.ip("addr", "add", f"{host_side}/30", "dev", veth)
    _net.ip("link", "set", veth, "up")
    _net.ip("-n", netns, "addr", "add", f"{node_side}/30", "dev", NODE_IF)
    _net.ip("-n", netns, "link", "set", NODE_IF, "up")
    _net.ip("-n", netns, "link", "set", "lo", "up")
    _net.ip("-n", netns, "route", "add", "default", "via", str(host_side))
    _enable_forwarding(report)
    comment = ["-m", "comment", "--comment", tag(build_id)]
    replies = ["-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED"]
    _checked(
        "-t",
        "nat",
        "-A",
        "POSTROUTING",
        "-s",
        f"{node_side}/32",
        "!",
        "-o",
        veth,
        *comment,
        "-j",
        "MASQUERADE",
    )
    _checked("-t", "filter", "-I", "FORWARD", "-i", veth, *comment, "-j", "ACCEPT")
    _checked("-t", "filter", "-I", "FORWARD", "-o", veth, *replies, *comment, "-j", "ACCEPT")


def node_route(descriptor: ClusterDescriptor, netns: str) -> None:
    """A node's default route: the head's bridge address (NAT clusters only)."""
    if enabled(descriptor):
        head = _net.head_address(ipaddress.IPv4Network(descriptor.subnet))
        _net.ip("-n", netns, "route", "add", "default", "via", str(head))


__all__ = [
    "NAT_ENV",
    "NAT_KEY",
    "addresses",
    "build_host_if",
    "build_link",
    "connect",
    "connect_build_node",
    "delete_link",
    "enabled",
    "host_if",
    "host_rules",
    "node_route",
    "remove",
    "requested",
    "tag",
    "tagged_rules",
]

"""Network namespaces, the head's bridge and one veth per node; subnet allocation.

Every interface lives inside the cluster's namespaces: the veth pair is created between the head
netns (bridge side) and the node netns (``eth0``), so the host's network is never touched.
"""

from __future__ import annotations

import fcntl
import ipaddress
import os
import subprocess
from collections.abc import Iterable
from pathlib import Path

from corral.errors import ProviderError
from corral.providers.local import _proc

POOL = ipaddress.IPv4Network("10.240.0.0/12")
SUBNET_PREFIX = 20  # 4094 addresses per cluster
FIRST_NODE_OFFSET = 10  # .1 is the head; nodes start at network + 10
BRIDGE = "br0"


def head_netns(cluster: str) -> str:
    return f"corral-{cluster}-head"


def node_netns(cluster: str, node: str) -> str:
    return f"corral-{cluster}-{node}"


def veth_name(index: int) -> str:
    """Bridge-side veth name for the node at ``index`` (0-based); always ≤ 15 characters."""
    return f"v{index}"


def head_address(subnet: ipaddress.IPv4Network) -> ipaddress.IPv4Address:
    return subnet.network_address + 1


def node_address(subnet: ipaddress.IPv4Network, index: int) -> ipaddress.IPv4Address:
    """Deterministic address of the node at ``index`` in the plan, so /etc/hosts and NodeAddr are
    written before any node exists."""
    address = subnet.network_address + FIRST_NODE_OFFSET + index
    if address >= subnet.broadcast_address:
        raise ProviderError(
            f"too many nodes for subnet {subnet}: node #{index + 1} does not fit",
            hint=f"a local cluster holds at most {subnet.num_addresses - FIRST_NODE_OFFSET - 1} nodes",
        )
    return address


def mac_address(address: ipaddress.IPv4Address) -> str:
    """The interface address a machine's ``eth0`` (or the head's bridge) takes: a locally
    administered ``02:c0:`` followed by its IPv4 address, so unique across every local cluster.
    A replaced node keeps its IP address; with a random MAC the head's ARP entry for it stayed
    pointing at the dead node's interface until it aged out, and a connection to the new node
    timed out. The bridge would also adopt the lowest port's MAC and change it as nodes come and
    go, leaving every node's entry for the head stale."""
    return "02:c0:" + ":".join(f"{octet:02x}" for octet in address.packed)


def pick_subnet(taken: Iterable[str]) -> ipaddress.IPv4Network:
    """The first /20 of the pool that no other cluster uses (pure)."""
    used = {ipaddress.IPv4Network(t) for t in taken}
    for subnet in POOL.subnets(new_prefix=SUBNET_PREFIX):
        if subnet not in used:
            return subnet
    raise ProviderError(f"no free subnet left in {POOL}", hint="delete clusters you no longer need")


#: Host-wide record of the subnets in use, one file per subnet naming the cluster that holds it, so
#: that clusters kept in different state directories still get different subnets.
SUBNET_REGISTRY = Path("/run/corral/subnets")


def _registry_entry(registry: Path, subnet: ipaddress.IPv4Network) -> Path:
    return registry / str(subnet).replace("/", "-")


def _registered(registry: Path) -> list[str]:
    """Subnets whose holder still exists (its recorded subnet file is on disk)."""
    held = []
    for entry in registry.glob("10.*"):
        try:
            owner = Path(entry.read_text().strip())
        except OSError:
            continue
        if owner.is_file():
            held.append(entry.name.replace("-", "/"))
    return held


def allocate_subnet(
    state_dir: Path, clusters_dir: Path, subnet_file: Path, registry: Path = SUBNET_REGISTRY
) -> ipaddress.IPv4Network:
    """Allocate a subnet for a cluster under a host-wide lock, recording it in ``subnet_file`` and
    in the host-wide ``registry``; a subnet whose holder is gone is free again."""
    if subnet_file.exists():
        return ipaddress.IPv4Network(subnet_file.read_text().strip())
    state_dir.mkdir(parents=True, exist_ok=True)
    registry.mkdir(parents=True, exist_ok=True)
    lock = os.open(registry, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        taken = [p.read_text().strip() for p in clusters_dir.glob("*/subnet")] + _registered(registry)
        subnet = pick_subnet(t for t in taken if t)
        subnet_file.write_text(f"{subnet}\n")
        _registry_entry(registry, subnet).write_text(f"{subnet_file}\n")
        return subnet
    finally:
        os.close(lock)


def release_subnet(subnet_file: Path, registry: Path = SUBNET_REGISTRY) -> None:
    """Forget the cluster's subnet in the host-wide registry (its entry only). Idempotent."""
    try:
        entry = _registry_entry(registry, ipaddress.IPv4Network(subnet_file.read_text().strip()))
        if entry.read_text().strip() == str(subnet_file):
            entry.unlink()
    except (OSError, ValueError):
        pass


NEIGH_SYSCTL = Path("/proc/sys/net/ipv4/neigh/default")


def neighbour_limits(node_count: int) -> dict[str, int]:
    """ARP table limits for ``node_count`` nodes (pure). The kernel's neighbour table and its
    gc_thresh limits are shared by every network namespace; with the defaults (1024) a few hundred
    nodes talking to each other overflow it and packets are dropped."""
    hard = max(1024, 64 * node_count)
    return {
        "gc_thresh1": max(128, min(hard // 8, 4096)),
        "gc_thresh2": max(512, hard // 2),
        "gc_thresh3": hard,
    }


#: The host's per-CPU queue of received packets waiting for the network stack (shared by every
#: namespace). A broadcast on a cluster's bridge (an ARP request) is copied to every node's veth
#: and queued at once: with the default 1,000, a 1,000-node bridge overflows it and drops packets.
BACKLOG_SYSCTL = Path("/proc/sys/net/core/netdev_max_backlog")


def backlog_limit(node_count: int) -> int:
    """``net.core.netdev_max_backlog`` for ``node_count`` nodes (pure): room for a few broadcasts
    copied to every node at once, never under the kernel's default."""
    return max(1000, 4 * node_count)


def raise_neighbour_limits(node_count: int) -> list[str]:
    """Raise (never lower) the host's ARP table limits and receive backlog for a cluster this big;
    returns what changed."""
    changed = []
    limits = {NEIGH_SYSCTL / key: wanted for key, wanted in neighbour_limits(node_count).items()}
    limits[BACKLOG_SYSCTL] = backlog_limit(node_count)
    for path, wanted in limits.items():
        try:
            current = int(path.read_text())
            if current < wanted:
                path.write_text(f"{wanted}\n")
                name = ".".join(path.relative_to("/proc/sys").parts)
                changed.append(f"{name} {current} -> {wanted}")
        except (OSError, ValueError):
            continue
    return changed


def list_netns() -> set[str]:
    """Names of all network namespaces (``ip netns list``)."""
    try:
        names = [p.name for p in Path("/run/netns").iterdir()]
    except FileNotFoundError:
        return set()
    return set(names)


def netns_pids(name: str) -> list[int]:
    return pids_in_netns([name]).get(name, [])


def pids_in_netns(names: Iterable[str]) -> dict[str, list[int]]:
    """Processes inside each named netns, found in one pass over /proc (like ``ip netns pids``)."""
    by_inode: dict[tuple[int, int], str] = {}
    for name in names:
        try:
            st = os.stat(f"/run/netns/{name}")
        except OSError:
            continue
        by_inode[(st.st_dev, st.st_ino)] = name
    found: dict[str, list[int]] = {name: [] for name in by_inode.values()}
    if not by_inode:
        return found
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            st = os.stat(f"/proc/{entry.name}/ns/net")
        except OSError:
            continue
        owner = by_inode.get((st.st_dev, st.st_ino))
        if owner is not None:
            found[owner].append(int(entry.name))
    return found


def _ip(*args: str) -> None:
    try:
        _proc.run(["ip", *args])
    except subprocess.CalledProcessError as exc:
        raise ProviderError(f"`ip {' '.join(args)}` failed: {exc.stderr.strip()}") from exc


def ip(*args: str) -> None:
    """``ip ARGS``; ``ProviderError`` with ip's own message when it fails."""
    _ip(*args)


def create_netns(name: str) -> None:
    """A bare network namespace with loopback up."""
    _ip("netns", "add", name)
    _ip("-n", name, "link", "set", "lo", "up")


def create_head_network(cluster: str, subnet: ipaddress.IPv4Network) -> None:
    """The head netns with loopback up and the bridge holding the head's address."""
    ns = head_netns(cluster)
    _ip("netns", "add", ns)
    _ip("-n", ns, "link", "set", "lo", "up")
    _ip("-n", ns, "link", "add", BRIDGE, "address", mac_address(head_address(subnet)), "type", "bridge")
    _ip("-n", ns, "addr", "add", f"{head_address(subnet)}/{subnet.prefixlen}", "dev", BRIDGE)
    _ip("-n", ns, "link", "set", BRIDGE, "up")


def create_node_network(cluster: str, node: str, index: int, subnet: ipaddress.IPv4Network) -> None:
    """A node netns whose ``eth0`` is a veth with its peer on the head's bridge."""
    create_machine_network(cluster, node, veth_name(index), node_address(subnet, index), subnet)


def create_machine_network(
    cluster: str, machine: str, veth: str, address: ipaddress.IPv4Address, subnet: ipaddress.IPv4Network
) -> None:
    """A machine's netns (``node_netns(cluster, machine)``) whose ``eth0`` holds ``address`` and
    is a veth with its peer, ``veth``, on the head's bridge."""
    ns, head = node_netns(cluster, machine), head_netns(cluster)
    _ip("netns", "add", ns)
    _ip("-n", ns, "link", "set", "lo", "up")
    _ip(
        "-n", head, "link", "add", veth, "type", "veth",
        "peer", "name", "eth0", "address", mac_address(address), "netns", ns,
    )  # fmt: skip
    _ip("-n", head, "link", "set", veth, "master", BRIDGE, "up")
    _ip("-n", ns, "addr", "add", f"{address}/{subnet.prefixlen}", "dev", "eth0")
    _ip("-n", ns, "link", "set", "eth0", "up")


def delete_netns(*names: str) -> None:
    """Kill every process in these netns, then delete them (their veths go with them). Idempotent."""
    present = [name for name in names if name in list_netns()]
    if not present:
        return
    _proc.kill_pids(pid for pids in pids_in_netns(present).values() for pid in pids)
    commands = "".join(f"netns del {name}\n" for name in present)
    _proc.run(["ip", "-force", "-batch", "-"], input=commands, check=False, timeout=120)

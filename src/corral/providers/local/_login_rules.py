"""What a local cluster's login pools need next (pure): the local stand-in for an Auto Scaling
group per pool, applied by ``_login.converge`` (create, update-cluster and every reconciler pass).

Rules, per pool (``Want``: its ``Count`` and GracetimePeriod) over the login nodes seen (``Seen``):

1. every slot ``1..Count`` holds a node: an empty slot is launched;
2. a node whose machine is gone (killed, crashed) is replaced in its slot: stopped, then launched
   again, as an Auto Scaling group replaces an unhealthy instance;
3. a node whose bootstrap failed is kept as it is (its pool reports ``failed``): relaunching it
   would fail the same way, every pass;
4. a live node past ``Count`` (scale-in), or of a pool that is no longer configured, is *retired*:
   its logged-in users are warned at once (``warn``) and it stops when its grace period
   (GracetimePeriod; a removed pool's as it was when the node launched) has passed (``stop``), as
   pcluster's termination lifecycle hook waits;
5. a retired node whose slot is wanted again (``Count`` raised before it stopped) is kept
   (``keep``): it never stopped serving;
6. a retired node whose machine is gone is cleaned up (``stop``) without waiting.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

#: GracetimePeriod of a node whose pool is no longer configured (pcluster's default, 10 minutes).
DEFAULT_GRACE_S = 600


@dataclass(frozen=True)
class Want:
    """A configured pool: how many nodes, and how long a node scale-in removes keeps running."""

    count: int
    grace_s: int = DEFAULT_GRACE_S


@dataclass(frozen=True)
class Seen:
    """A login node on the machine."""

    pool: str
    index: int
    name: str
    alive: bool
    failed: bool = False
    #: when its grace period ends (epoch seconds), once retired; None while in service
    retire_at: float | None = None
    #: its pool's GracetimePeriod when it was launched (for a pool that is no longer configured)
    grace_s: int = DEFAULT_GRACE_S


@dataclass(frozen=True)
class LoginActions:
    launch: tuple[tuple[str, int], ...] = ()  # (pool, index): empty slots
    replace: tuple[str, ...] = ()  # dead nodes: stopped, then launched in their slot
    warn: tuple[tuple[str, int], ...] = ()  # (name, grace seconds): retire now, tell the users
    stop: tuple[str, ...] = ()  # retired nodes whose grace period ended (or that died)
    keep: tuple[str, ...] = ()  # retired nodes back in range: in service again

    @property
    def empty(self) -> bool:
        return not (self.launch or self.replace or self.warn or self.stop or self.keep)


def decide(wanted: Mapping[str, Want], seen: Iterable[Seen], now: float) -> LoginActions:
    """The actions that bring the seen login nodes to ``wanted`` (see the module docstring)."""
    nodes = list(seen)
    taken = {(s.pool, s.index) for s in nodes}
    launch = [
        (pool, index)
        for pool, want in wanted.items()
        for index in range(1, want.count + 1)
        if (pool, index) not in taken
    ]
    replace, warn, stop, keep = [], [], [], []
    for node in sorted(nodes, key=lambda s: (s.pool, s.index)):
        want = wanted.get(node.pool)
        in_range = want is not None and node.index <= want.count
        if in_range:
            if not node.alive:
                replace.append(node.name)
            elif node.retire_at is not None:
                keep.append(node.name)
        elif not node.alive or (node.retire_at is not None and node.retire_at <= now):
            stop.append(node.name)
        elif node.retire_at is None:
            warn.append((node.name, want.grace_s if want else node.grace_s))
    return LoginActions(tuple(launch), tuple(replace), tuple(warn), tuple(stop), tuple(keep))


__all__ = ["DEFAULT_GRACE_S", "LoginActions", "Seen", "Want", "decide"]

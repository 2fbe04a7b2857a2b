from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from corral.slurm import hostlist


def test_expand_forms() -> None:
    assert hostlist.expand("q1-dy-c1-[1-3,5],q2-st-c2-1") == [
        "q1-dy-c1-1",
        "q1-dy-c1-2",
        "q1-dy-c1-3",
        "q1-dy-c1-5",
        "q2-st-c2-1",
    ]
    assert hostlist.expand("n[01-03]") == ["n01", "n02", "n03"]
    assert hostlist.expand("a[1-2]b[3,4]") == ["a1b3", "a1b4", "a2b3", "a2b4"]
    assert hostlist.expand("") == []


def test_compress_forms() -> None:
    assert hostlist.compress(["q1-dy-c1-1", "q1-dy-c1-2", "q1-dy-c1-4", "head"]) == "q1-dy-c1-[1-2,4],head"
    assert (
        hostlist.compress(["10.240.0.254", "10.240.0.255", "10.240.1.0"]) == "10.240.0.[254-255],10.240.1.0"
    )
    assert hostlist.compress(["x-1"]) == "x-1"


names = st.lists(
    st.tuples(st.sampled_from(["q1-dy-c1-", "q2-st-gpu-", "abc-dy-x-"]), st.integers(1, 500)),
    min_size=1,
    max_size=40,
    unique=True,
)


@given(names)
def test_compress_then_expand_gives_the_same_set(pairs: list[tuple[str, int]]) -> None:
    hosts = [f"{prefix}{n}" for prefix, n in pairs]
    assert sorted(hostlist.expand(hostlist.compress(hosts))) == sorted(hosts)

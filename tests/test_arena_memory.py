"""Arena memory in proportion to what is alive, and given back after a peak.

A node that outlives its graph keeps its whole region from reuse (csrc/mg_arena.c), so
what one survivor costs is the size of a region; a chunk left with no node at all has its
pages handed back to the OS. These check both on the workloads that used to grow without
bound: a training loop keeping one leaf and one computed Value a step, short-lived threads
each returning one Value, and a peak of 5M nodes freed.
"""

import sys

import pytest
from helpers import fresh

MIB = 2**20
LIMIT = 32 * MIB


SURVIVORS = """
    import random
    from micrograd_c import Value, stats
    from micrograd_c.nn import MLP

    random.seed(7)
    model = MLP(4, [16, 16, 1])
    xs = [[random.uniform(-1, 1) for _ in range(4)] for _ in range(3)]
    kept, base = [], stats().live
    for step in range(3_000):
        leaf = Value(step * 0.001)  # a new leaf each step, kept
        before = stats().live
        loss = sum((model(x) * leaf for x in xs), Value(0.0))
        if step == 0:
            assert stats().live - before >= 2_000  # the graph built and dropped each step
        model.zero_grad()
        loss.backward()
        for p in model.parameters():
            p.data -= 1e-4 * p.grad
        kept.append(leaf)
        kept.append(leaf * 0.5 + loss.data)  # a computed Value, kept
        del loss
    s = stats()
    assert s.live - base == 5 * 3_000  # only the survivors (and their constants)
    print(s.bytes)
"""


def test_a_survivor_a_step_does_not_pin_the_arena():
    held = int(fresh(SURVIVORS))
    assert held <= LIMIT, f"arena holds {held / MIB:.1f} MiB for 6,000 survivors"


THREADS = """
    import threading
    from micrograd_c import Value, stats

    results = []

    def work(k: int) -> None:
        results.append(Value(float(k)) * 2.0)

    for k in range(3_000):
        t = threading.Thread(target=work, args=(k,))
        t.start()
        t.join()
    assert sorted(v.data for v in results) == [2.0 * k for k in range(3_000)]
    print(stats().bytes)
"""


def test_short_lived_threads_returning_one_value_each():
    held = int(fresh(THREADS))
    assert held <= LIMIT, f"arena holds {held / MIB:.1f} MiB for 3,000 thread results"


PEAK = """
    import os
    from micrograd_c._core import lib

    def rss():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    before = rss()
    x = lib.mg_leaf(1.0)
    for _ in range(2_500_000):  # a chain of 5M nodes: a constant and an add a step
        y = lib.mg_add_const(x, 1.0)
        lib.mg_decref(x)
        x = y
    assert lib.mg_backward(x) == 0
    peak = rss()
    lib.mg_decref(x)
    after = rss()
    print(before, peak, after)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")
def test_memory_goes_back_after_a_peak():
    before, peak, after = map(int, fresh(PEAK).split())
    assert peak - before >= 150 * MIB  # the chain's chunks were resident
    kept = (after - before) / (peak - before)
    assert kept <= 0.20, (
        f"RSS {before / MIB:.0f} -> peak {peak / MIB:.0f} -> "
        f"{after / MIB:.0f} MiB after freeing: {kept:.0%} of the growth kept"
    )


GROWTH = """
from micrograd_c import Value, stats
from micrograd_c._core import lib
x = Value(0.0)
chain = x
for n in range(1, 6):  # chunk table, chunk states, bitmap, region table, then the mapping
    lib.mg_fail_allocation(n)
    try:
        while True:
            chain = chain + 1.0
    except MemoryError:
        pass
    lib.mg_fail_allocation(0)
    assert chain.data == (stats().live - 1) // 2  # the graph held is intact
    assert stats().chunks == 1
chain = chain + 1.0  # with nothing failing, the arena grows
chain.backward()
assert x.grad == 1.0 and stats().chunks == 2
print("ok")
"""


def test_every_allocation_of_adding_a_chunk_can_fail_the_mapping_too():
    assert fresh(GROWTH) == "ok\n"

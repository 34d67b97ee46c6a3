"""Lifetime without the cyclic GC, any depth, and thread safety."""

import gc
import threading

import pytest

from micrograd_c import Value, stats


@pytest.fixture
def no_gc():
    """Run with the cyclic garbage collector disabled, as the contract requires."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def mesh(n, seed=0):
    """A graph of about n ops over shared leaves; returns (root, leaves)."""
    leaves = [Value(0.1 * (k + 1)) for k in range(16)]
    pool = list(leaves)
    for k in range(n // 4):
        a, b = pool[(k * 7 + seed) % len(pool)], pool[(k * 13 + 5) % len(pool)]
        pool.append(((a * b + a) - b * 0.5).relu() / 16)
    return sum(pool[-8:]), leaves


def test_graphs_are_freed_without_gc_and_live_count_stays_flat(no_gc):
    base = stats().live
    for it in range(10_000):
        root, leaves = mesh(10_000 if it % 100 == 0 else 400, seed=it)
        root.backward()
        del root, leaves
        assert stats().live == base, it


def test_deep_chain_of_ten_million_nodes(no_gc):
    """micrograd's recursive sort stops near 1,000 nodes; ours has no depth limit."""
    x0 = x = Value(1.0)
    start = stats().live
    n = 2_500_000  # each step makes 4 nodes: a constant, *, a constant, +
    for _ in range(n):
        x = x * 1.0001 + 0.1
    assert stats().live - start == 4 * n
    x.backward()
    assert x.grad == 1.0
    assert x0.grad == pytest.approx(1.0001**n, rel=1e-6)
    del x
    assert stats().live == start


def test_stats_report_the_arena():
    before = stats()
    keep = [Value(float(k)) for k in range(1000)]
    after = stats()
    assert after.live - before.live == 1000
    assert after.capacity >= after.live and after.bytes >= 32 * after.capacity
    del keep
    assert stats().live == before.live


def worker(seed):
    """Build graphs and backprop; return every number seen."""
    seen = []
    for it in range(30):
        root, leaves = mesh(2_000, seed=seed + it)
        root.backward()
        seen.append((root.data, [v.grad for v in leaves]))
    return seen


def test_threads_give_single_thread_results():
    expected = [worker(s) for s in range(8)]
    results = [None] * 8

    def run(k):
        results[k] = worker(k)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads)
    assert results == expected

"""fork() while other threads are inside the C core: the child must be fully usable.

The core's locks (mg_lock, every recording's lock) are put right by pthread_atfork handlers
(csrc/mg_fork.c). These tests fork while a thread runs backward over a big graph, so the fork
nearly always lands while that thread holds mg_lock; without the handlers the child blocks
forever in its first call into C.
"""

import os
import random
import signal
import threading
import time
from collections.abc import Callable

import pytest

from micrograd_c import Value, stats
from micrograd_c.nn import MLP

pytestmark = [
    pytest.mark.skipif(os.name != "posix" or not hasattr(os, "fork"), reason="needs fork()"),
    pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning"),
]

DEADLINE = 30.0  # seconds for all children together; a healthy child takes milliseconds


def chain(n: int) -> Value:
    """A chain of about n nodes over one leaf: x * 1.0 + 0.5, repeated."""
    x = Value(0.25)
    y = x
    for _ in range(n // 4):
        y = y * 1.0 + 0.5
    return y


class Busy:
    """A thread calling into C in a loop (backward over root) until stopped."""

    def __init__(self, root: Value):
        self.root, self.stop, self.rounds = root, threading.Event(), 0
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        while not self.stop.is_set():
            self.root.backward()
            self.rounds += 1

    def __enter__(self) -> "Busy":
        self.thread.start()
        while self.rounds == 0:
            time.sleep(0.001)
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()


def child_work() -> int:
    """In the child: a small graph, its backward, a grad checked; the exit status."""
    a, b = Value(3.0), Value(-2.0)
    out = (a * b + a**2).tanh() + (b * 0.5).relu() + a / 4
    out.backward()
    big = chain(20_000)  # enough nodes to open new regions in the child
    big.backward()
    t = (a * b + a**2).tanh().data
    ok = (
        abs(a.grad - ((1 - t * t) * (b.data + 2 * a.data) + 0.25)) < 1e-12
        and abs(b.grad - (1 - t * t) * a.data) < 1e-12
    )
    return 0 if ok and stats().live > 0 else 1


def reap(pids: list) -> tuple:
    """Wait for the children until DEADLINE; kill the ones still running. (failed, hung)."""
    end = time.monotonic() + DEADLINE
    pending, failed = set(pids), 0
    while pending and time.monotonic() < end:
        for pid in list(pending):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                pending.discard(pid)
                failed += os.waitstatus_to_exitcode(status) != 0
        time.sleep(0.01)
    for pid in pending:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    return failed, len(pending)


def fork_while_busy(root: Value, work: Callable[[], int]) -> None:
    """Fork 20 children while another thread runs root.backward(); each must exit 0 from work()."""
    pids = []
    with Busy(root):
        for _ in range(20):
            time.sleep(0.005)
            pid = os.fork()
            if pid == 0:  # the child: never returns into pytest
                code = 3
                try:
                    code = work()
                finally:
                    os._exit(code)
            pids.append(pid)
    failed, hung = reap(pids)
    assert (failed, hung) == (0, 0), f"of 20 children, {failed} failed and {hung} hung"
    assert child_work() == 0  # and the parent is as usable as before


def test_fork_while_another_thread_runs_backward():
    fork_while_busy(chain(1_000_000), child_work)


def python_op(v: Value) -> Value:
    """v passed through an op written in Python (its rule adds out.grad to v.grad)."""
    out = Value(v.data, (v,), "same")
    out._backward = lambda: setattr(v, "grad", v.grad + out.grad)  # (a cycle: the GC frees it)
    return out


def test_fork_while_another_thread_walks_a_graph_with_python_rules():
    def work() -> int:
        x = Value(1.5)
        y = python_op(x * 3.0) * 2.0
        y.backward()
        return child_work() or (0 if x.grad == 6.0 else 1)

    # the stepped walk: C, then Python, then C again
    fork_while_busy(python_op(chain(400_000)) * 2.0, work)


def train(seed: int) -> list:
    """A small MLP trained a few SGD steps; its losses."""
    random.seed(seed)
    model = MLP(3, [6, 4, 1])
    xs = [[random.uniform(-1, 1) for _ in range(3)] for _ in range(8)]
    ys = [random.choice([-1.0, 1.0]) for _ in range(8)]
    losses = []
    for _ in range(5):
        loss = sum(((model(x) - y) ** 2 for x, y in zip(xs, ys)), Value(0.0)) / len(xs)
        model.zero_grad()
        loss.backward()
        for p in model.parameters():
            p.data -= 0.05 * p.grad
        losses.append(loss.data)
    return losses


def test_fork_pool_trains_like_a_sequential_run():
    import multiprocessing

    expected = [train(seed) for seed in range(12)]
    root = chain(400_000)
    # a new worker for every task: 12 forks, each while the busy thread is in C
    with Busy(root), multiprocessing.get_context("fork").Pool(3, maxtasksperchild=1) as pool:
        try:
            got = pool.map_async(train, range(12), chunksize=1).get(timeout=DEADLINE)
        except multiprocessing.TimeoutError:
            pool.terminate()
            pytest.fail("a fork-start Pool worker hung in the C core")
    assert got == expected

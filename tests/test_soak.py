"""Concurrency soak: threads build, backpropagate, record, replay and drop graphs at once,
with Values freed on threads other than the one that made them; every number must equal, bit
for bit, what one thread computed beforehand; no thread may hang; nothing may leak.

Each worker thread loops until the time is up. One iteration:

- drops (and first checks) what the previous thread handed it through its queue: Values,
  whole models and recordings, made on that thread, so their handles die here;
- runs a job from a fixed set of seeds, alternately an own-model job (a fresh MLP, the demo's
  SVM + L2 loss built and backpropagated eagerly, a mixed-operation mesh, then a recorded MSE
  graph replayed over several mini-batches with SGD steps) or a shared-model job (one MLP,
  read by every thread, eager and replayed with its input gradients checked);
- replays one of two recordings shared by all the threads (set_inputs, forward, backward);
- hands its graphs, model and recording to the next thread's queue and lets go of them.

The run lasts MICROGRAD_C_SOAK_SECONDS (default 6) with MICROGRAD_C_SOAK_THREADS threads
(default 6); set them higher for a real soak. A thread still alive well after the time is up
fails the test as a deadlock, after its stack is printed; if the test itself hangs,
faulthandler prints every thread's stack and exits. Run with -s to see the counts.
"""

import faulthandler
import os
import queue
import random
import sys
import threading
import time
import traceback
from collections import Counter

from micrograd_c import MLP, Value, losses, optim, record, stats

SECONDS = float(os.environ.get("MICROGRAD_C_SOAK_SECONDS", "6"))
THREADS = int(os.environ.get("MICROGRAD_C_SOAK_THREADS", "6"))
GRACE = 90.0  # seconds past the end before a thread still running counts as deadlocked
SEEDS = range(6)  # jobs of each kind; iterations cycle through them
BATCHES = 4  # mini-batches replayed per recording
N = 12  # points per mini-batch


def points(rng, n):
    """n points in the square [-1.5, 1.5]^2 and their ±1 labels (by the sign of x*y)."""
    xs = [(rng.uniform(-1.5, 1.5), rng.uniform(-1.5, 1.5)) for _ in range(n)]
    return xs, [1 if a * b > 0 else -1 for a, b in xs]


def seeded_mlp(rng, sizes):
    """MLP(2, sizes) with parameters drawn from rng (MLP() itself draws from the global
    random module, which the other threads are drawing from too)."""
    model = MLP(2, sizes)
    for p in model.parameters():
        p.data = rng.uniform(-1, 1)
    return model


MESH_OPS = [
    lambda a, b: (a * b + a).tanh(),
    lambda a, b: (a - b).relu(),
    lambda a, b: a / (b * b + 1),
    lambda a, b: (a * a + 1).log() - b.sigmoid(),
    lambda a, b: ((a * 0.5).exp() - b**2).tanh(),
    lambda a, b: ((a * a + 1) ** b).tanh(),
    lambda a, b: 2 * a - 1 / (b.sigmoid() + 1),
]


def mesh(rng):
    """A mixed-operation graph over 6 shared leaves: (root, leaves)."""
    leaves = [Value(rng.uniform(-1, 1)) for _ in range(6)]
    pool = list(leaves)
    for _ in range(150):
        op = MESH_OPS[rng.randrange(len(MESH_OPS))]
        pool.append(op(pool[rng.randrange(len(pool))], pool[rng.randrange(len(pool))]))
    return sum(pool[-10:]), leaves


def own_model_job(seed):
    """A model of its own: eager SVM + L2 loss and a mesh, then a recorded MSE graph replayed
    over BATCHES mini-batches with SGD. Returns (numbers, things to hand off)."""
    rng = random.Random(seed)
    model = seeded_mlp(rng, [8, 8, 1])
    params = model.parameters()
    X, y = points(rng, N)
    scores = [model([Value(a), Value(b)]) for a, b in X]
    loss = losses.svm(scores, y) + 1e-4 * losses.l2(params)
    loss.backward()
    eager = (loss.data, [s.data for s in scores], [p.grad for p in params])
    root, leaves = mesh(rng)
    root.backward()
    meshed = (root.data, [v.grad for v in leaves], sorted(c.data for c in root._prev))

    xs = [[Value(0.0), Value(0.0)] for _ in range(N)]
    ts = [Value(0.0) for _ in range(N)]
    rec = record(
        losses.mse([model(x) for x in xs], ts), inputs=[v for x in xs for v in x] + ts, model=model
    )
    opt = optim.SGD(params, lr=0.05)
    replayed = []
    for _ in range(BATCHES):
        Xb, yb = points(rng, N)
        rec.set_inputs([c for p in Xb for c in p] + [float(t) for t in yb])
        opt.zero_grad()
        value = rec.forward()
        rec.backward()
        replayed.append((value, [p.grad for p in params]))
        opt.step()
    numbers = (eager, meshed, replayed, [p.data for p in params])
    handoff = {
        "loss": loss,
        "scores": scores,
        "root": root,
        "leaves": leaves,
        "model": model,
        "rec": rec,
        "xs": xs,
        "ts": ts,
    }
    return numbers, handoff


def shared_model_job(seed, shared):
    """The shared model, read only: eager and replayed MSE over this job's points, checking
    the loss and the input leaves' grads (the shared parameters' grads take every thread's
    additions, in whatever order the threads come, so they are not compared)."""
    rng = random.Random(1000 + seed)
    X, y = points(rng, N)
    xs = [[Value(a), Value(b)] for a, b in X]
    ts = [Value(float(t)) for t in y]
    outs = [shared(x) for x in xs]
    loss = losses.mse(outs, ts)
    loss.backward()
    inputs = [v for x in xs for v in x] + ts
    eager = (loss.data, [o.data for o in outs], [v.grad for v in inputs])
    rec = record(loss, inputs=inputs)
    replayed = []
    for _ in range(BATCHES):
        Xb, yb = points(rng, N)
        rec.set_inputs([c for p in Xb for c in p] + [float(t) for t in yb])
        for v in inputs:
            v.grad = 0.0
        value = rec.forward()
        rec.backward()
        replayed.append((value, [v.grad for v in inputs]))
    handoff = {"loss": loss, "outs": outs, "inputs": inputs, "rec": rec}
    return (eager, replayed), handoff


def shared_recording(k):
    """A recording every thread replays: integers only, so leaf grads summed over any number
    of backward passes, in any order, are exact. Returns (rec, leaves, inputs)."""
    a, b, c = Value(3.0), Value(-2.0), Value(5.0)
    if k == 0:
        loss = (a * b + c) ** 2 + (a + c).relu() * b - a * c
    else:
        loss = (a - b * c).relu() * (a + b) + c**3 - (b * 2 - 1) ** 2
    return record(loss, inputs=[a, b, c]), [a, b, c], [3.0, -2.0, 5.0]


def replay_once(rec, leaves, xs):
    """One replay of a shared recording: (loss, leaf grads); the grads are then zeroed."""
    rec.set_inputs(xs)
    value = rec.forward()
    rec.backward()
    grads = [v.grad for v in leaves]
    for v in leaves:
        v.grad = 0.0
    return value, grads


def check_handoff(kind, seed, item, expected):
    """What a receiving thread checks before dropping another thread's objects."""
    numbers = expected[kind, seed][0]
    assert item["loss"].data == numbers[0][0]  # the eager loss
    if kind == "own":
        assert sorted(c.data for c in item["root"]._prev) == numbers[1][2]  # the mesh's root
    assert item["rec"].forward() == expected[kind, seed][1]  # replayed on this thread


def single_threaded(shared):
    """Every job's numbers, and the numbers a receiver sees, computed on this thread."""
    expected = {}
    for seed in SEEDS:
        for kind in ("own", "shared"):
            numbers, handoff = (
                own_model_job(seed) if kind == "own" else shared_model_job(seed, shared)
            )
            expected[kind, seed] = (numbers, handoff["rec"].forward())
            del numbers, handoff
    return expected


def count_values(item):
    """The Value facades in a handed-off item (lists flattened; models by their parameters)."""
    n = 0
    for v in item.values():
        if isinstance(v, Value):
            n += 1
        elif isinstance(v, MLP):
            n += len(v.parameters())
        elif isinstance(v, list):
            n += sum(len(x) if isinstance(x, list) else 1 for x in v)
    return n


def test_threads_build_replay_and_drop_graphs_with_single_thread_results():
    baseline = stats().live
    rng = random.Random(99)
    shared = seeded_mlp(rng, [8, 8, 1])
    expected = single_threaded(shared)
    recs = [shared_recording(k) for k in range(2)]
    rec_expected = [replay_once(*r) for r in recs]

    inboxes = [queue.Queue() for _ in range(THREADS)]
    counts = [Counter() for _ in range(THREADS)]
    shared_backwards = [Counter() for _ in range(THREADS)]  # per shared recording
    errors = []
    stop_at = time.monotonic() + SECONDS
    done = threading.Barrier(THREADS, timeout=GRACE / 2)  # then only a hung thread is still alive

    def drain(t, count):
        while True:
            try:
                kind, seed, item = inboxes[t].get_nowait()
            except queue.Empty:
                return
            check_handoff(kind, seed, item, expected)
            count["cross-thread frees (Values)"] += count_values(item)
            count["cross-thread frees (recordings)"] += 1
            count["cross-thread frees (models)"] += isinstance(item.get("model"), MLP)
            del item  # the last reference: the other thread's Values die here

    def worker(t):
        count = counts[t]
        try:
            i = 0
            while time.monotonic() < stop_at:
                drain(t, count)
                seed = SEEDS[(t * 5 + i // 2) % len(SEEDS)]
                kind = "own" if (t + i) % 2 == 0 else "shared"
                numbers, handoff = (
                    own_model_job(seed) if kind == "own" else shared_model_job(seed, shared)
                )
                assert numbers == expected[kind, seed][0], (t, i, kind, seed)
                count["graphs built"] += 3 if kind == "own" else 2  # eager ones and recorded
                count["recordings"] += 1
                count["replays"] += BATCHES
                k = (t + i) % 2
                rec, leaves, xs = recs[k]
                for _ in range(3):
                    rec.set_inputs(xs)
                    assert rec.forward() == rec_expected[k][0]
                    rec.backward()
                    shared_backwards[t][k] += 1
                count["shared-recording replays"] += 3
                inboxes[(t + 1) % THREADS].put((kind, seed, handoff))
                del numbers, handoff, rec, leaves
                i += 1
                count["iterations"] += 1
        except BaseException:
            errors.append(f"thread {t}:\n{traceback.format_exc()}")
        finally:
            try:
                done.wait()  # every thread has stopped handing off: drain what is left
                drain(t, count)
            except BaseException:
                errors.append(f"thread {t}, at the end:\n{traceback.format_exc()}")

    # if this test itself hangs (say, in a C call of this thread), print every stack and exit
    faulthandler.dump_traceback_later(SECONDS + 2 * GRACE, exit=True, file=sys.__stderr__)
    try:
        threads = [
            threading.Thread(target=worker, args=(t,), name=f"soak-{t}", daemon=True)
            for t in range(THREADS)
        ]
        start = time.monotonic()
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=max(0.0, stop_at + GRACE - time.monotonic()))
        elapsed = time.monotonic() - start
        hung = [th.name for th in threads if th.is_alive()]
    finally:
        faulthandler.cancel_dump_traceback_later()
    if hung:  # print the stacks now; and if a hung thread holds the C lock, the tests after
        # this one would hang on it: give them 10 minutes, then print the stacks and exit
        faulthandler.dump_traceback(file=sys.__stderr__, all_threads=True)
        faulthandler.dump_traceback_later(600, exit=True, file=sys.__stderr__)

    total = sum(counts, Counter())
    report = (
        f"soak: {THREADS} threads, {elapsed:.1f} s; iterations per thread "
        f"{[c['iterations'] for c in counts]}; "
        + ", ".join(f"{k} {v}" for k, v in sorted(total.items()))
    )
    print("\n" + report, file=sys.__stderr__ if hung or errors else sys.stdout)
    assert not hung, f"deadlock: {hung} still running {GRACE:.0f} s after the end; {report}"
    assert not errors, "\n".join(errors) + "\n" + report
    assert all(c["iterations"] >= 1 for c in counts), report
    assert total["cross-thread frees (Values)"] > 0, report
    assert all(inbox.empty() for inbox in inboxes), report

    # leaf grads of the shared recordings: every backward pass added the same integers
    for k, (rec, leaves, _) in enumerate(recs):
        passes = sum(c[k] for c in shared_backwards)
        assert [v.grad for v in leaves] == [passes * g for g in rec_expected[k][1]], report
        del rec, leaves

    # nothing leaked: with every graph, model and recording dropped, the live count is back
    recs = shared = expected = threads = None  # (the workers' closures read these names)
    assert stats().live == baseline, report

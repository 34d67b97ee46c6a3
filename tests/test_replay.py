"""Replay: recorded graphs re-run in C equal rebuilt graphs bit for bit, and fail safely."""

import gc
import math
import random
import threading
from array import array

import pytest
from helpers import CHANGES, grow, leaf, model_and_spares, program, same
from hypothesis import given, settings
from hypothesis import strategies as st

import micrograd_c
from micrograd_c import MLP, Value, losses, optim, record
from micrograd_c.demo import fused_graph, learning_rate, make_moons


def build(leaves, steps):
    """The random program over the given leaf Values, summed so that every node is in
    the recorded graph, where eager and replay must raise alike (errors propagate)."""
    return sum(grow(list(leaves), steps)[len(leaves) :], Value(0.0))


def eager(xs, steps):
    """Rebuild and backpropagate: (root data, leaf grads), or the exception type."""
    leaves = [Value(x) for x in xs]
    try:
        root = build(leaves, steps)
        root.backward()
    except (ArithmeticError, ValueError) as exc:
        return type(exc)
    return root.data, [v.grad for v in leaves]


def replayed(rec, leaves, xs):
    """Set the inputs, forward, zero the leaves' grads, backward: like eager()."""
    rec.set_inputs(xs)
    for v in leaves:
        v.grad = 0.0
    try:
        value = rec.forward()
        rec.backward()
    except (ArithmeticError, ValueError) as exc:
        return type(exc)
    return value, [v.grad for v in leaves]


@settings(max_examples=200, deadline=None)
@given(program, st.lists(st.lists(leaf, min_size=5, max_size=5), min_size=1, max_size=3))
def test_random_graphs_replay_as_rebuilt(prog, batches):
    xs, steps, _ = prog
    leaves = [Value(x) for x in xs]
    try:
        root = build(leaves, steps)
    except (ArithmeticError, ValueError):
        return  # nothing to record
    rec = record(root, inputs=leaves)
    del root  # the recording does not need the graph it copied
    for batch in [xs, *[b[: len(xs)] for b in batches]]:
        want, got = eager(batch, steps), replayed(rec, leaves, batch)
        if isinstance(want, type):
            assert got is want
            continue
        assert same(got[0], want[0])
        assert all(same(g, w) for g, w in zip(got[1], want[1])), (got, want)


def demo_run(replay: bool, steps: int = 100):
    """The moons demo, eager or replayed: per step (loss, parameters, grads)."""
    X, y = make_moons(100, noise=0.1, seed=1337)
    random.seed(1337)
    model = MLP(2, [16, 16, 1])
    opt = optim.SGD(model.parameters(), schedule=lambda k: learning_rate(k, steps))
    rec = record(fused_graph(model, X, y)[0]) if replay else None
    history = []
    for _ in range(steps):
        if replay:
            loss = rec.forward()
            opt.zero_grad()
            rec.backward()
        else:
            graph = fused_graph(model, X, y)[0]
            opt.zero_grad()
            graph.backward()
            loss = graph.data
        history.append((loss, [p.grad for p in model.parameters()]))
        opt.step()
    return history, [p.data for p in model.parameters()]


def test_moons_demo_replay_equals_eager_for_100_steps():
    assert demo_run(True) == demo_run(False)


def test_new_minibatch_without_rebuild():
    X, y = make_moons(40, noise=0.1, seed=3)
    random.seed(3)
    model = MLP(2, [8, 1])
    xs = [[Value(0.0), Value(0.0)] for _ in range(20)]
    labels = [Value(0.0) for _ in range(20)]
    loss = losses.mse([model(x) for x in xs], labels)
    rec = record(loss, inputs=[v for x in xs for v in x] + labels)
    assert len(rec.inputs) == 60
    for start, kind in [(0, list), (20, array), (0, "numpy")]:
        rows = range(start, start + 20)
        batch = [c for k in rows for c in X[k]] + [float(y[k]) for k in rows]
        if kind == "numpy":
            np = pytest.importorskip("numpy")
            batch = np.array(batch)
        elif kind is array:
            batch = array("d", batch)
        rec.set_inputs(batch)
        model.zero_grad()
        value = rec.forward()
        rec.backward()
        got = [p.grad for p in model.parameters()]
        model.zero_grad()
        fresh = losses.mse([model(list(p)) for p in X[start : start + 20]], y[start : start + 20])
        fresh.backward()
        assert value == fresh.data
        assert got == [p.grad for p in model.parameters()]
        assert xs[1][0].data == X[start + 1][0]  # the batch setter writes the input Values


def test_set_inputs_takes_a_2d_float_array():
    np = pytest.importorskip("numpy")
    a, b = Value(1.0), Value(2.0)
    rec = record(a * b, inputs=[a, b])
    rec.set_inputs(np.array([[3.0, 4.0]]))
    assert rec.forward() == 12.0


# numpy arrays set_inputs must convert: (dtype, layout) -> the array holding 3.0 and 4.0
ARRAYS = {
    "objects": lambda np: np.array([3.0, 4.0], dtype=object),
    "objects, 2-D": lambda np: np.array([[3.0], [4.0]], dtype=object),
    "big-endian doubles": lambda np: np.array([3.0, 4.0], dtype=">f8"),
    "big-endian floats": lambda np: np.array([3.0, 4.0], dtype=">f4"),
    "a strided slice": lambda np: np.array([3.0, 9.0, 4.0, 9.0])[::2],
    "a 2-D column": lambda np: np.array([[3.0, 1.0], [4.0, 1.0]])[:, :1],
    "big-endian ints": lambda np: np.array([3, 4], dtype=">i4"),
    "halves": lambda np: np.array([3.0, 4.0], dtype="f2"),
}


@pytest.mark.parametrize("kind", ARRAYS)
def test_set_inputs_converts_any_array_of_real_numbers(kind):
    np = pytest.importorskip("numpy")
    a, b = Value(1.0), Value(2.0)
    rec = record(a * b, inputs=[a, b])
    rec.set_inputs(ARRAYS[kind](np))
    assert rec.forward() == 12.0 and (a.data, b.data) == (3.0, 4.0)


@pytest.mark.parametrize(
    "values, named", [([3 + 1j, 4], "'Zd'"), (["3", "4"], "'1w'"), ([b"3", b"4"], "'1s'")]
)
def test_set_inputs_names_the_format_it_cannot_take(values, named):
    np = pytest.importorskip("numpy")
    x = Value(1.0)
    rec = record(x * x, inputs=[x, Value(0.0)])
    with pytest.raises(TypeError, match=f"not a buffer of format {named}"):
        rec.set_inputs(np.array(values))
    with pytest.raises(TypeError, match=r"set_inputs takes real numbers: .* not str"):
        rec.set_inputs(np.array(["3", 4.0], dtype=object))
    assert x.data == 1.0


def test_outputs_are_replayed_and_do_not_feed_backward():
    a, b = Value(2.0), Value(-3.0)
    side = (a * b).relu() + a.exp()
    loss = a * a + b
    rec = record(loss, inputs=[a], outputs=[side, a * 10])
    assert rec.outputs == [side.data, 20.0]
    rec.set_inputs([4.0])
    assert rec.forward() == 13.0
    assert rec.outputs == [0.0 + math.exp(4.0), 40.0]
    rec.backward()
    assert (a.grad, b.grad) == (8.0, 1.0)


def test_backward_accumulates_like_eager_and_restarts_intermediate_grads():
    x = Value(3.0)
    y = (x * x + x).relu()
    rec = record(y)
    y.backward()
    (x * x + x).relu().backward()  # a second, fresh graph adds again
    eager_twice = x.grad
    x.grad = 0.0
    rec.backward()
    rec.backward()
    assert x.grad == eager_twice == 14.0


def test_intermediate_grads_restart_whether_forward_ran_or_not():
    # forward zeroes the copy's grads as it goes; a backward without one zeroes them itself
    x = Value(3.0)
    y = (x * x + x).relu()
    rec = record(y)
    y.backward()
    once = x.grad
    x.grad = 0.0
    for calls in (["f", "b"], ["b"], ["b"], ["f", "f", "b"], ["f", "b"]):
        for call in calls:
            rec.forward() if call == "f" else rec.backward()
    assert x.grad == 5 * once == 35.0


def test_constants_survive_the_graph_and_variables_are_read_live():
    x = Value(2.0)
    rec = record(3.0 * x + Value(1.0) / x)  # the 3.0 and Value(1.0) are constants
    gc.collect()
    micrograd_c.stats()  # frees the recorded graph
    x.data = 4.0
    assert rec.forward() == 3.0 * 4.0 + 1.0 * 4.0**-1
    rec.backward()
    assert x.grad == 3.0 - 1.0 / 16.0


def test_the_recording_keeps_its_leaves_alive_until_closed():
    base = micrograd_c.stats().live
    w = Value(0.5)
    rec = record(w * 2.0)
    del w
    assert micrograd_c.stats().live == base + 1  # w: held by the recording, not freed
    assert rec.forward() == 1.0
    rec.close()
    assert micrograd_c.stats().live == base
    for call in (rec.forward, rec.backward, lambda: rec.set_inputs([])):
        with pytest.raises(ValueError, match="closed"):
            call()
    assert "closed" in repr(rec)


def test_leaves_held_only_by_the_graph_facades_stay_usable():
    x = Value(1.0)
    root = sum([x * x], Value(0.0))  # the Value(0.0) lives only in root's operands
    rec = record(root, inputs=[x])
    del root
    micrograd_c.stats()
    rec.set_inputs([3.0])
    assert rec.forward() == 9.0


def test_a_changed_model_is_caught_when_given():
    model = MLP(2, [3, 1])
    rec = record(model([1.0, 2.0]), model=model)
    rec.forward()
    MLP(3, [2])  # other modules may change freely
    rec.forward()
    model.layers[0].neurons[0].w[0] = Value(0.25)  # the user changes the model
    with pytest.raises(ValueError, match="model changed"):
        rec.forward()
    with pytest.raises(ValueError, match="model changed"):
        rec.backward()


@pytest.mark.parametrize("change", CHANGES)
def test_any_change_to_the_model_is_named_by_forward_and_backward(change):
    make, message = CHANGES[change]
    model, s = model_and_spares()
    rec = record(model([0.3, -0.7]), model=model)
    make(model, s)
    for call in (rec.forward, rec.backward):
        with pytest.raises(
            ValueError,
            match=f"model changed since the graph was recorded: {message}; record the graph again",
        ):
            call()


def test_errors_are_pythons_and_change_no_grad():
    x = Value(1.0)
    y = Value(1.0)
    rec = record(x**-1 + y**0.5, inputs=[x, y])
    rec.set_inputs([0.0, 1.0])
    with pytest.raises(ZeroDivisionError):
        rec.forward()
    rec.set_inputs([2.0, 0.0])
    assert rec.forward() == 0.5
    with pytest.raises(ZeroDivisionError):  # d/dy y ** 0.5 at 0, as micrograd's backward
        rec.backward()
    assert (x.grad, y.grad) == (0.0, 0.0)


def test_bad_arguments():
    x = Value(1.0)
    rec = record(x + 1, inputs=[x])
    with pytest.raises(ValueError, match="needs 1 numbers, got 2"):
        rec.set_inputs([1.0, 2.0])
    with pytest.raises(TypeError):
        rec.set_inputs(["a"])
    with pytest.raises(ValueError, match="leaf"):
        record(x + 1, inputs=[x + 1])
    with pytest.raises(TypeError):
        record(1.0)


def test_a_recording_refuses_pickle_and_copy():
    import copy
    import pickle

    rec = record(Value(2.0) * 3)
    for attempt in (pickle.dumps, copy.deepcopy, copy.copy):
        with pytest.raises(TypeError, match="record the graph again"):
            attempt(rec)


def test_a_leaf_root_and_repr():
    x = Value(5.0)
    rec = record(x, inputs=[x])
    rec.set_inputs([6.0])
    assert rec.forward() == 6.0 and len(rec) == 1
    rec.backward()
    assert x.grad == 1.0
    assert "nodes=1" in repr(rec)


def test_one_recording_from_many_threads():
    a, b = Value(1.5), Value(2.0)
    rec = record((a * b + a).relu() + b * b)
    rec.backward()
    want = (a.grad, b.grad)
    a.grad = b.grad = 0.0

    def work():
        for _ in range(200):
            rec.forward()
            rec.backward()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert (a.grad, b.grad) == (want[0] * 800, want[1] * 800)

"""Pickle and deepcopy: leaves and whole models round-trip; computed Values refuse clearly."""
import copy
import pickle
import random

import pytest

from micrograd_c import MLP, Value


def test_leaf_round_trips_data_and_grad():
    v = Value(1.5)
    v.grad = -2.25
    for clone in (pickle.loads(pickle.dumps(v)), copy.deepcopy(v), copy.copy(v)):
        assert (clone.data, clone.grad) == (1.5, -2.25) and clone is not v
        clone.data = 9.0
        assert v.data == 1.5  # its own node


def test_model_round_trips_and_computes_the_same():
    random.seed(5)
    model = MLP(2, [4, 4, 1])
    out = model([0.5, -1.0])  # packs the fused forward
    out.backward()
    for clone in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model)):
        assert repr(clone) == repr(model)
        assert [(p.data, p.grad) for p in clone.parameters()] == \
               [(p.data, p.grad) for p in model.parameters()]
        assert clone([0.5, -1.0]).data == out.data
        clone.layers[0].neurons[0].w[0].data += 1.0  # the clone's own parameters
        assert clone([0.5, -1.0]).data != out.data
        assert model([0.5, -1.0]).data == out.data


def test_computed_values_refuse_with_a_clear_message():
    a = Value(2.0)
    for v in (a * 3, a + a, Value(1.0, (a,), "custom")):
        with pytest.raises(TypeError, match="only leaf Values"):
            pickle.dumps(v)
        with pytest.raises(TypeError, match="only leaf Values"):
            copy.deepcopy(v)

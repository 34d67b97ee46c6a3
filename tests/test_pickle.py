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
        assert [(p.data, p.grad) for p in clone.parameters()] == [
            (p.data, p.grad) for p in model.parameters()
        ]
        assert clone([0.5, -1.0]).data == out.data
        clone.layers[0].neurons[0].w[0].data += 1.0  # the clone's own parameters
        assert clone([0.5, -1.0]).data != out.data
        assert model([0.5, -1.0]).data == out.data


# Layer(1, 1) after random.seed(0), pickled when modules kept their lists in a list subclass
OLD_LAYER = (
    b"\x80\x04\x95\xbe\x00\x00\x00\x00\x00\x00\x00\x8c\x0emicrograd_c.nn\x94\x8c\x05La"
    b"yer\x94\x93\x94)\x81\x94}\x94\x8c\x07neurons\x94h\x00\x8c\x0c_TrackedList\x94"
    b"\x93\x94)\x81\x94h\x00\x8c\x06Neuron\x94\x93\x94)\x81\x94}\x94(\x8c\x01w\x94h"
    b"\x07)\x81\x94\x8c\x12micrograd_c.engine\x94\x8c\x05_leaf\x94\x93\x94G?\xe6\x0b"
    b"\x01\xf3\x14\xfb|G\x00\x00\x00\x00\x00\x00\x00\x00\x86\x94R\x94a\x8c\x01b\x94h"
    b"\x11G\x00\x00\x00\x00\x00\x00\x00\x00G\x00\x00\x00\x00\x00\x00\x00\x00\x86\x94R"
    b"\x94\x8c\x06nonlin\x94\x88ubasb."
)


def test_a_model_pickled_by_the_previous_version_loads():
    layer = pickle.loads(OLD_LAYER)
    random.seed(0)
    assert [p.data for p in layer.parameters()] == [random.uniform(-1, 1), 0.0]
    assert type(layer.neurons) is list and layer([2.0]).data == 2 * layer.neurons[0].w[0].data


def test_computed_values_refuse_with_a_clear_message():
    a = Value(2.0)
    for v in (a * 3, a + a, Value(1.0, (a,), "custom")):
        with pytest.raises(TypeError, match="only leaf Values"):
            pickle.dumps(v)
        with pytest.raises(TypeError, match="only leaf Values"):
            copy.deepcopy(v)

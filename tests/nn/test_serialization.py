"""nn.serialization: exact JSON round trips; malformed, truncated or foreign files raise
ValueError naming the problem; loading never executes code."""

import json
import math
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nn import MLP
from nn.serialization import FORMAT, VERSION, load, mlp_from_dict, mlp_to_dict, save

NAMED = ["tanh", "sigmoid", "relu", "leaky_relu", "linear"]


@given(st.integers(1, 3), st.lists(st.integers(1, 4), min_size=1, max_size=3),
       st.sampled_from(NAMED), st.sampled_from(NAMED), st.data())
def test_round_trip_is_exact(nin, nouts, hidden, output, data):
    mlp = MLP(nin, nouts, hidden, output, seed=0)
    for p in mlp.parameters():  # any float, including the awkward ones
        p.data = data.draw(st.floats(allow_nan=False) | st.sampled_from([0.1, -0.0, 5e-324]))
    back = MLP.from_dict(json.loads(json.dumps(mlp.to_dict())))
    assert [repr(p.data) for p in back.parameters()] == [repr(p.data) for p in mlp.parameters()]
    assert [ly.activation for ly in back.layers] == [ly.activation for ly in mlp.layers]
    assert back.sizes == mlp.sizes


def test_save_and_load_a_file(tmp_path):
    mlp = MLP(2, [4, 3, 1], "relu", "sigmoid", seed=5)
    mlp.layers[0].neurons[0].b.data = math.nan  # a diverged weight survives too
    path = tmp_path / "model.json"
    mlp.save(path)
    back = MLP.load(path)
    assert repr(back) == repr(mlp)
    assert math.isnan(back.layers[0].neurons[0].b.data)
    x = [0.3, -0.2]
    assert [repr(v.data) for v in back(x)] == [repr(v.data) for v in mlp(x)] == ['nan']
    data = json.loads(path.read_text())
    assert data["format"] == FORMAT and data["version"] == VERSION and data["nin"] == 2
    assert data["layers"][1] == {"activation": "relu",
                                 "weights": [[w.data for w in n.w] for n in mlp.layers[1].neurons],
                                 "biases": [n.b.data for n in mlp.layers[1].neurons]}


def test_custom_activation_cannot_be_saved():
    def swish(v):
        return v * v.sigmoid()
    with pytest.raises(ValueError, match="custom activation 'swish', which cannot be saved"):
        MLP(2, [3, 1], swish, seed=0).to_dict()


def good():
    return mlp_to_dict(MLP(2, [2, 1], seed=0))


def broken(change):
    d = good()
    change(d)
    return d


@pytest.mark.parametrize(("data", "message"), [
    ([1, 2], "holds a JSON object, not list"),
    ({"format": "something else"}, "not a deltagrad MLP: 'format' is 'something else'"),
    (broken(lambda d: d.update(version=2)), "unsupported format version 2"),
    (broken(lambda d: d.pop("version")), "unsupported format version None"),
    (broken(lambda d: d.update(nin=0)), "'nin' must be a positive int, got 0"),
    (broken(lambda d: d.update(layers=[])), "'layers' must be a non-empty list"),
    (broken(lambda d: d["layers"][0].update(activation="gelu")),
     "layer 0: unknown activation 'gelu'"),
    (broken(lambda d: d["layers"][0].update(activation=["tanh"])),
     "layer 0: unknown activation \\['tanh'\\]"),
    (broken(lambda d: d["layers"][1]["weights"][0].pop()),
     "layer 1, neuron 0: needs 2 weights \\(the previous layer's width\\), got 1"),
    (broken(lambda d: d["layers"][0]["biases"].pop()), "layer 0: 'biases' must be a list of 2"),
    (broken(lambda d: d["layers"][0]["weights"][1].__setitem__(0, "1.0")),
     "layer 0, neuron 1, weight 0: not a number: '1.0'"),
    (broken(lambda d: d["layers"][0]["biases"].__setitem__(0, True)),
     "layer 0, neuron 0, bias: not a number: True"),
    (broken(lambda d: d["layers"][0]["weights"][1].__setitem__(0, 10**400)),
     "layer 0, neuron 1, weight 0: not a number"),
])
def test_malformed_data_raises_value_error_naming_the_problem(data, message):
    with pytest.raises(ValueError, match=message):
        mlp_from_dict(data)


def test_truncated_and_foreign_files(tmp_path):
    path = tmp_path / "model.json"
    save(MLP(2, [3, 1], seed=0), path)
    text = path.read_text()
    path.write_text(text[: len(text) // 2])
    with pytest.raises(ValueError, match=r"model\.json is not valid JSON \(truncated"):
        load(path)
    path.write_bytes(pickle.dumps(MLP))  # a pickle is not read, let alone run
    with pytest.raises(ValueError, match="not valid JSON"):
        load(path)
    path.write_text(json.dumps(broken(lambda d: d.update(version=99))))
    with pytest.raises(ValueError, match=r"model\.json: unsupported format version 99"):
        load(path)

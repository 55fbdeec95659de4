"""nn.serialization: exact JSON round trips; malformed, truncated or foreign files raise
ValueError naming the problem; loading never executes code."""

import json
import math
import os
import pickle
import stat

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


# -- save: the file system's rules ----------------------------------------------------------------


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_a_new_file_gets_the_umask_without_the_umask_being_changed(tmp_path, monkeypatch):
    previous = os.umask(0o027)
    try:
        def umask_changed(mask):
            raise AssertionError("save changed the process umask, which other threads share")
        monkeypatch.setattr(os, "umask", umask_changed)
        save(MLP(2, [1], seed=0), tmp_path / "new.json")
        monkeypatch.undo()
    finally:
        os.umask(previous)
    assert stat.S_IMODE(os.stat(tmp_path / "new.json").st_mode) == 0o640  # 0o666 less 0o027


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_a_replaced_file_keeps_its_mode(tmp_path):
    path = tmp_path / "m.json"
    path.write_text("old")
    os.chmod(path, 0o604)
    save(MLP(2, [1], seed=0), path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o604 and load(path).sizes == [2, 1]


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_a_read_only_file_is_not_replaced(tmp_path):
    path = tmp_path / "m.json"
    path.write_text("kept")
    os.chmod(path, 0o444)
    with pytest.raises(PermissionError, match=r"m\.json is read-only \(mode 0o444\)"):
        save(MLP(2, [1], seed=0), path)
    assert path.read_text() == "kept" and os.listdir(tmp_path) == ["m.json"]


@pytest.mark.skipif(not hasattr(os, "symlink") or os.name != "posix", reason="symlinks")
def test_a_symlink_is_written_through_to_its_target(tmp_path):
    target, link = tmp_path / "models" / "m.json", tmp_path / "latest.json"
    target.parent.mkdir()
    MLP(2, [1], seed=0).save(target)
    link.symlink_to(target)
    new = MLP(2, [3, 1], seed=1)
    save(new, link)
    assert link.is_symlink() and load(target).to_dict() == new.to_dict()
    assert sorted(os.listdir(tmp_path)) == ["latest.json", "models"]
    assert os.listdir(target.parent) == ["m.json"]  # no temporary left beside the target


def test_a_folder_is_not_a_file_to_save_to(tmp_path):
    with pytest.raises(IsADirectoryError, match="is not a file"):
        save(MLP(2, [1], seed=0), tmp_path)

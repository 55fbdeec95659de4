"""Bad inputs to the public API, counted: clear errors, unrelated tracebacks, silent acceptances.

Run on demand (never in CI), from the repository root or against another checkout:

    python tests/benchmarks/bad_inputs.py [--root PATH] [--verbose]

Each case is a call that must be refused. Its outcome is

- ``clear``: a TypeError or ValueError (an OSError for a missing file) whose message holds
  every word that names the problem (the argument, the field, the file);
- ``unrelated``: any other exception, a hang (20 s) or a message that names none of that;
- ``silent``: no exception at all.

A second list, ``reproducers``, holds calls of the issue that must *work* (pickling a model,
saving over a file when the disk fills, ...); each prints ``ok`` or what went wrong.
Cases run in one process with a 4 GiB address-space limit, so an unchecked allocation fails
with MemoryError (counted as unrelated) instead of taking the machine; file descriptors 0 and 1
are put back after every case (a path ``True`` is file descriptor 1).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import pickle
import resource
import signal
import sys
import tempfile
import threading
from pathlib import Path


def cases(tmp: Path) -> list[tuple[str, object, tuple[str, ...]]]:
    """(name, thunk, words the message must hold)."""
    from engine import Value, apply, no_grad
    from nn import MLP, Layer, Neuron, data, losses, optim, train

    m = MLP(2, [3, 1], seed=0)
    m2 = MLP(2, [3, 2], seed=0)
    X, y = [[0.1, 0.2], [0.3, -0.1]], [1.0, -1.0]
    out, out2 = m([0.1, 0.2]), m2([0.1, 0.2])
    ps = m.parameters()
    v = Value(2.0)

    def file(name: str, text: str) -> Path:
        path = tmp / name
        path.write_text(text)
        return path

    def model(change, name: str) -> Path:
        d = json.loads(_saved_text(tmp))
        change(d)
        return file(name, json.dumps(d))

    def raw(change, name: str, number: str) -> Path:
        """A model file with the placeholder "N" (put there by ``change``) written as ``number``."""
        d = json.loads(_saved_text(tmp))
        change(d)
        return file(name, json.dumps(d).replace('"N"', number))

    def load(path: Path):
        return lambda: MLP.load(path)

    def with_data(value):
        def run():
            mm = MLP(2, [3, 1], seed=0)
            mm.parameters()[0].data = value
            mm.save(tmp / "p.json")
        return run

    def set_layer(d, **kw):
        d["layers"][0].update(kw)

    c = [
        # -- model files -------------------------------------------------------------------------
        ("load: 1000 nested brackets", load(file("deep.json", "[" * 1000 + "]" * 1000)),
         ("deep.json",)),
        ("load: a 5000-digit nin", load(raw(lambda d: d.update(nin="N"), "bign.json",
                                             "1" * 5000)), ("bign.json", "nin")),
        ("load: a 5000-digit bias", load(raw(lambda d: set_layer(d, biases=["N"] * 3),
                                             "bigw.json", "1" * 5000)), ("bigw.json", "bias")),
        ("load: a duplicate key", load(file("dup.json", _saved_text(tmp)[:-1] + ', "nin": 2}')),
         ("dup.json", "nin")),
        ("load: an unknown key", load(model(lambda d: d.update(extra=1), "unk.json")),
         ("unk.json", "extra")),
        ("load: an unknown layer key",
         load(model(lambda d: set_layer(d, dropout=0.5), "unkl.json")), ("unkl.json", "dropout")),
        ("load: 1e400 as a bias", load(raw(lambda d: set_layer(d, biases=["N"] * 3), "inf.json",
                                           "1e400")), ("inf.json", "bias")),
        ("load: the output layer lost",
         load(model(lambda d: d["layers"].pop(), "lost.json")), ("lost.json", "layer")),
        ("load: sizes of a billion",
         load(model(lambda d: d.update(sizes=[2, 10**9, 1]), "huge.json")), ("huge.json",)),
        ("load: truncated", load(file("trunc.json", _saved_text(tmp)[:40])), ("trunc.json",)),
        ("load: not UTF-8", lambda: (tmp / "bin.json").write_bytes(b"\xff\xfe") and
         MLP.load(tmp / "bin.json"), ("bin.json",)),
        ("load: empty file", load(file("empty.json", "")), ("empty.json",)),
        ("load: a JSON list", load(file("list.json", "[1, 2]")), ("list.json",)),
        ("load: version 7", load(model(lambda d: d.update(version=7), "v7.json")),
         ("v7.json", "version")),
        ("load: nin 0", load(model(lambda d: d.update(nin=0), "n0.json")), ("n0.json", "nin")),
        ("load: nin '2'", load(model(lambda d: d.update(nin="2"), "ns.json")), ("ns.json", "nin")),
        ("load: nin true", load(model(lambda d: d.update(nin=True), "nb.json")),
         ("nb.json", "nin")),
        ("load: layers {}", load(model(lambda d: d.update(layers={}), "lo.json")),
         ("lo.json", "layers")),
        ("load: a layer is a number", load(model(lambda d: d.update(layers=[3]), "l3.json")),
         ("l3.json", "layer")),
        ("load: unknown activation",
         load(model(lambda d: set_layer(d, activation="gelu"), "act.json")), ("act.json", "gelu")),
        ("load: weight row too short",
         load(model(lambda d: d["layers"][0]["weights"][0].pop(), "row.json")),
         ("row.json", "weights")),
        ("load: weight '0.5'",
         load(model(lambda d: d["layers"][0]["weights"][0].__setitem__(0, "0.5"), "ws.json")),
         ("ws.json", "weight")),
        ("load: weight null",
         load(model(lambda d: d["layers"][0]["weights"][0].__setitem__(0, None), "wn.json")),
         ("wn.json", "weight")),
        ("load: too few biases", load(model(lambda d: d["layers"][0]["biases"].pop(), "b.json")),
         ("b.json", "biases")),
        ("load: a missing file", lambda: MLP.load(tmp / "missing.json"), ("missing.json",)),
        ("load: a folder", lambda: MLP.load(tmp), (str(tmp),)),
        ("load: path True", lambda: MLP.load(True), ("path", "bool")),
        ("load: path 4321", lambda: MLP.load(4321), ("path", "int")),
        ("load: path None", lambda: MLP.load(None), ("path", "NoneType")),
        ("load: path b'x.json'", lambda: MLP.load(b"x.json"), ("path", "bytes")),
        ("save: path True", lambda: m.save(True), ("path", "bool")),
        ("save: path 1.5", lambda: m.save(1.5), ("path", "float")),
        ("save: path None", lambda: m.save(None), ("path", "NoneType")),
        ("save: a str weight", with_data("0.5"), ("weight", "str")),
        ("save: a None weight", with_data(None), ("weight", "NoneType")),
        ("save: a list weight", with_data([0.5]), ("weight", "list")),
        ("save: into a missing folder", lambda: m.save(tmp / "no" / "m.json"), ("m.json",)),
        ("save: over a read-only file", lambda: m.save(_read_only(tmp / "ro.json")),
         ("ro.json", "read-only")),
        ("save: to a folder", lambda: m.save(tmp), ("not a file",)),
        # -- Value -------------------------------------------------------------------------------
        ("Value('1')", lambda: Value("1"), ("str",)),
        ("Value(None)", lambda: Value(None), ("NoneType",)),
        ("Value([1])", lambda: Value([1]), ("list",)),
        ("Value(1j)", lambda: Value(1j), ("complex",)),
        ("Value(1, label=3)", lambda: Value(1.0, label=3), ("label",)),
        ("float(v)", lambda: float(v), (".data",)),
        ("int(v)", lambda: int(v), (".data",)),
        ("round(v)", lambda: round(v), (".data",)),
        ("math.exp(v)", lambda: math.exp(v), (".data", "exp()")),
        ("math.log(v)", lambda: math.log(v), (".data", "log()")),
        ("complex(v)", lambda: complex(v), (".data",)),
        ("v + 'a'", lambda: v + "a", ("Value", "str")),
        ("v * None", lambda: v * None, ("Value", "NoneType")),
        ("v ** 'a'", lambda: v ** "a", ("Value", "str")),
        ("v < 'a'", lambda: v < "a", ("str",)),
        ("v.backward('1')", lambda: (v * 2).backward("1"), ("grad", "str")),
        ("v.backward(None)", lambda: (v * 2).backward(None), ("grad", "NoneType")),
        ("Value.backward([v])", lambda: Value.backward([v]), ("list",)),
        ("v.leaky_relu('a')", lambda: v.leaky_relu("a"), ("slope",)),
        ("Value.sum(3)", lambda: Value.sum(3), ("int",)),
        ("Value.affine(1 weight, 2 inputs)", lambda: Value.affine([1.0], [1.0, 2.0], 0.0),
         ("weights",)),
        ("apply('nope')", lambda: apply("nope", v), ("nope",)),
        ("apply('tanh', v, v)", lambda: apply("tanh", v, v), ("tanh",)),
        ("apply('tanh', 'a')", lambda: apply("tanh", "a"), ("tanh", "str")),
        # -- MLP, Layer, Neuron ------------------------------------------------------------------
        ("MLP(2, [10**9])", lambda: MLP(2, [10**9]), ("parameters",)),
        ("MLP(10**6, [10**6])", lambda: MLP(10**6, [10**6]), ("parameters",)),
        ("MLP(0, [1])", lambda: MLP(0, [1]), ("nin",)),
        ("MLP('2', [1])", lambda: MLP("2", [1]), ("nin",)),
        ("MLP(True, [1])", lambda: MLP(True, [1]), ("nin",)),
        ("MLP(2, [])", lambda: MLP(2, []), ("nouts",)),
        ("MLP(2, 3)", lambda: MLP(2, 3), ("nouts",)),
        ("MLP(2, [0])", lambda: MLP(2, [0]), ("layer size",)),
        ("MLP(2, [1.5])", lambda: MLP(2, [1.5]), ("layer size",)),
        ("MLP(2, {3: 1})", lambda: MLP(2, {3: 1}), ("nouts",)),
        ("MLP(2, [1], 'gelu')", lambda: MLP(2, [1], "gelu"), ("gelu",)),
        ("MLP(2, [1], 3)", lambda: MLP(2, [1], 3), ("activation",)),
        ("MLP(2, [1], init='x')", lambda: MLP(2, [1], init="x"), ("init",)),
        ("MLP(2, [1], seed='x')", lambda: MLP(2, [1], seed="x"), ("seed",)),
        ("mlp(a dict)", lambda: m({0.5: "a", -0.2: "b"}), ("dict",)),
        ("mlp(a set)", lambda: m({0.5, -0.2}), ("set",)),
        ("mlp(a str)", lambda: m("ab"), ("str",)),
        ("mlp(3)", lambda: m(3), ("int",)),
        ("mlp([1])", lambda: m([1.0]), ("2 inputs",)),
        ("mlp(['a', 'b'])", lambda: m(["a", "b"]), ("input 0", "str")),
        ("mlp([None, 1])", lambda: m([None, 1.0]), ("input 0", "NoneType")),
        ("mlp(a batch of 5 rows)", lambda: m([[0.1, 0.2]] * 5), ("one sample", "batch", "predict")),
        ("mlp(a batch of 2 rows)", lambda: m([[0.1, 0.2]] * 2), ("one sample", "batch")),
        ("Neuron(2, weights=[1])", lambda: Neuron(2, weights=[1.0]), ("weights",)),
        ("Neuron(2, weights=['a', 'b'])", lambda: Neuron(2, weights=["a", "b"]), ("str",)),
        ("Neuron(2, bias='a')", lambda: Neuron(2, weights=[1.0, 2.0], bias="a"), ("str",)),
        ("Layer(2, 0)", lambda: Layer(2, 0), ("nout",)),
        ("Layer.from_neurons([1])", lambda: Layer.from_neurons([1]), ("Neuron",)),
        # -- data sets ---------------------------------------------------------------------------
        ("moons(10**9)", lambda: data.moons(10**9), ("n",)),
        ("xor(10**9)", lambda: data.xor(10**9), ("n",)),
        ("moons(-1)", lambda: data.moons(-1), ("n",)),
        ("moons(2.5)", lambda: data.moons(2.5), ("n",)),
        ("moons('10')", lambda: data.moons("10"), ("n",)),
        ("moons(noise=-1)", lambda: data.moons(10, noise=-1), ("noise",)),
        ("moons(noise=nan)", lambda: data.moons(10, noise=math.nan), ("noise",)),
        ("moons(seed='a')", lambda: data.moons(10, seed="a"), ("seed",)),
        ("circles(factor=2)", lambda: data.circles(10, factor=2), ("factor",)),
        ("circles(factor='a')", lambda: data.circles(10, factor="a"), ("factor",)),
        ("spirals(classes=1)", lambda: data.spirals(10, classes=1), ("classes",)),
        ("blobs(centers=0)", lambda: data.blobs(10, centers=0), ("centers",)),
        ("split('a')", lambda: data.moons(10, seed=0).split("a"), ("test_fraction",)),
        ("split(2)", lambda: data.moons(10, seed=0).split(2), ("test_fraction",)),
        ("signed() of 3 classes", lambda: data.blobs(10, seed=0).signed(), ("labels",)),
        ("spirals(10, classes=10**12)", lambda: data.spirals(10, classes=10**12), ("classes",)),
        ("blobs(10, centers=11)", lambda: data.blobs(10, centers=11), ("centers",)),
        ("split(8 points, 6 labels)", lambda: data.Dataset([[0.0]] * 8, [0] * 6).split(),
         ("8 points", "6 labels")),
        # -- losses ------------------------------------------------------------------------------
        ("mse([out], 1.0)", lambda: losses.mse([out], 1.0), ("targets", "float")),
        ("mse(out, [None])", lambda: losses.mse(out, [None]), ("target", "None")),
        ("mse([out], [None])", lambda: losses.mse([out], [None]), ("target", "None")),
        ("mse([out], [nan])", lambda: losses.mse([out], [math.nan]), ("target", "nan")),
        ("mse([out], [inf])", lambda: losses.mse([out], [math.inf]), ("target", "inf")),
        ("mse([out], ['a'])", lambda: losses.mse([out], ["a"]), ("target",)),
        ("mse([[1.0]], [1.0])", lambda: losses.mse([[1.0]], [1.0]), ("output",)),
        ("mse(a Value, [1])", lambda: losses.mse(out[0], [1.0]), ("outputs", "Value")),
        ("mse([], [])", lambda: losses.mse([], []), ("empty",)),
        ("mse(3, [1])", lambda: losses.mse(3, [1.0]), ("outputs", "int")),
        ("bce([out], [2])", lambda: losses.bce_with_logits([out], [2]), ("target",)),
        ("bce([out], [nan])", lambda: losses.bce_with_logits([out], [math.nan]), ("target",)),
        ("bce([out], ['1'])", lambda: losses.bce_with_logits([out], ["1"]), ("target",)),
        ("hinge([out], [0])", lambda: losses.hinge([out], [0]), ("labels",)),
        ("softmax([out], [0])", lambda: losses.softmax_cross_entropy([out], [0]), ("2 outputs",)),
        ("softmax([out2], [5])", lambda: losses.softmax_cross_entropy([out2], [5]), ("target",)),
        ("softmax([out2], [1.0])", lambda: losses.softmax_cross_entropy([out2], [1.0]),
         ("target",)),
        ("MeanSquaredError('x')", lambda: losses.MeanSquaredError("x"), ("reduction",)),
        ("L2Penalty('a')", lambda: losses.L2Penalty("a"), ("alpha",)),
        ("L2Penalty(-1)", lambda: losses.L2Penalty(-1), ("alpha",)),
        ("L2Penalty(0.1)('ab')", lambda: losses.L2Penalty(0.1)("ab"), ("parameters", "str")),
        ("L2Penalty(0.1)(mlp)", lambda: losses.L2Penalty(0.1)(m), ("parameters", "MLP")),
        ("L2Penalty(0.1)(3)", lambda: losses.L2Penalty(0.1)(3), ("parameters", "int")),
        ("L2Penalty(0.1)([1.0])", lambda: losses.L2Penalty(0.1)([1.0]), ("parameter", "float")),
        # -- optimizers --------------------------------------------------------------------------
        ("SGD([])", lambda: optim.SGD([]), ("empty",)),
        ("SGD(mlp)", lambda: optim.SGD(m), ("MLP", "parameters()")),
        ("SGD(3)", lambda: optim.SGD(3), ("parameters", "int")),
        ("SGD([1.0])", lambda: optim.SGD([1.0]), ("Value",)),
        ("SGD(lr=-1)", lambda: optim.SGD(ps, lr=-1), ("lr",)),
        ("SGD(lr='a')", lambda: optim.SGD(ps, lr="a"), ("lr",)),
        ("SGD(lr=nan)", lambda: optim.SGD(ps, lr=math.nan), ("lr",)),
        ("SGD(momentum=5)", lambda: optim.SGD(ps, momentum=5), ("momentum",)),
        ("SGD(momentum=-1)", lambda: optim.SGD(ps, momentum=-1), ("momentum",)),
        ("SGD(weight_decay=-1)", lambda: optim.SGD(ps, weight_decay=-1), ("weight_decay",)),
        ("Adam(eps=0).step()", lambda: optim.Adam(ps, eps=0.0).step(), ("eps",)),
        ("Adam(eps=-1)", lambda: optim.Adam(ps, eps=-1), ("eps",)),
        ("Adam(betas=(1, 0.9))", lambda: optim.Adam(ps, betas=(1, 0.9)), ("beta1",)),
        ("Adam(betas=0.9)", lambda: optim.Adam(ps, betas=0.9), ("betas",)),
        ("Adam(betas=('a', 'b'))", lambda: optim.Adam(ps, betas=("a", "b")), ("beta1",)),
        ("Adam(lr=inf)", lambda: optim.Adam(ps, lr=math.inf), ("lr",)),
        ("SGD.step() with a str grad", lambda: _step_with("grad", "0.5", optim.SGD),
         ("grad", "str")),
        ("Adam.step() with a None grad", lambda: _step_with("grad", None, optim.Adam),
         ("grad", "NoneType")),
        ("SGD.step() with a Value data", lambda: _step_with("data", Value(1.0), optim.SGD),
         ("data", "Value")),
        # -- training ----------------------------------------------------------------------------
        ("fit(loss='mse')", lambda: train.fit(m, X, y, "mse", progress=False), ("loss", "str")),
        ("fit(loss=None)", lambda: train.fit(m, X, y, None, progress=False), ("loss",)),
        ("fit(y too short)", lambda: train.fit(m, X, y[:1], progress=False), ("targets",)),
        ("fit([], [])", lambda: train.fit(m, [], [], progress=False), ("sample",)),
        ("fit(epochs=-1)", lambda: train.fit(m, X, y, epochs=-1, progress=False), ("epochs",)),
        ("fit(epochs=1.5)", lambda: train.fit(m, X, y, epochs=1.5, progress=False), ("epochs",)),
        ("fit(batch_size=0)", lambda: train.fit(m, X, y, batch_size=0, progress=False),
         ("batch_size",)),
        ("fit(X=3)", lambda: train.fit(m, 3, y, progress=False), ("X", "int")),
        ("fit(y=3)", lambda: train.fit(m, X, 3, progress=False), ("y", "int")),
        ("fit(optimizer='adam')", lambda: train.fit(m, X, y, optimizer="adam", progress=False),
         ("optimizer", "str")),
        ("fit(penalty=0.1)", lambda: train.fit(m, X, y, penalty=0.1, progress=False),
         ("penalty", "float")),
        ("fit('m', X, y)", lambda: train.fit("m", X, y, progress=False), ("model", "str")),
        ("fit(X rows of 3)", lambda: train.fit(m, [[1.0, 2.0, 3.0]] * 2, y, progress=False),
         ("X[0]",)),
        ("fit(lr 1e6)", _diverging_fit, ("epoch", "step")),
        ("fit(nan in X)", lambda: train.fit(m, [[math.nan, 0.0], [0.1, 0.2]], y,
                                            progress=False), ("epoch", "step")),
        ("accuracy(default mse)", lambda: train.accuracy(m, X, [0, 1]), ("regression",)),
        ("accuracy(loss='bce')", lambda: train.accuracy(m, X, [0, 1], "bce"), ("loss", "str")),
        ("accuracy(X=3)", lambda: train.accuracy(m, 3, [0, 1], losses.bce_with_logits),
         ("X", "int")),
        ("accuracy(nan outputs)", lambda: _nan_accuracy(X), ("nan",)),
        ("accuracy(bce, -1/+1 labels)", lambda: train.accuracy(m, X, [-1, 1],
                                                               losses.bce_with_logits),
         ("y[0]", "bce_with_logits")),
        ("accuracy(bce, str labels)", lambda: train.accuracy(m, X, ["no", "yes"],
                                                             losses.bce_with_logits), ("y[0]",)),
        ("accuracy(bce, soft labels)", lambda: train.accuracy(m, X, [0, 0.7],
                                                              losses.bce_with_logits), ("0.7",)),
        ("accuracy(hinge, 0/1 labels)", lambda: train.accuracy(m, X, [0, 1], losses.hinge),
         ("y[0]", "hinge")),
        ("fit(bce, str labels)", lambda: train.fit(m, X, ["no", "yes"], losses.bce_with_logits,
                                                   progress=False), ("y[0]",)),
        ("fit(another model's optimizer)", lambda: train.fit(
            m, X, y, optimizer=optim.SGD(m2.parameters()), progress=False), ("another model",)),
        ("predict(X=3)", lambda: train.predict(m, 3), ("X", "int")),
        ("predict(rows of 3)", lambda: train.predict(m, [[1.0, 2.0, 3.0]]), ("3",)),
        ("predict(one sample)", lambda: train.predict(m, [0.1, 0.2]), ("one sample", "[x]")),
        ("fit(one sample)", lambda: train.fit(m, [0.1, 0.2], y, progress=False),
         ("one sample", "[x]")),
        # -- modes -------------------------------------------------------------------------------
        ("@no_grad() on a generator", lambda: no_grad()(_generator), ("generator",)),
        # -- hypothesis strategies ---------------------------------------------------------------
        ("graphs(ops='+-')", lambda: _draw("graphs", ops="+-"), ("ops", "str")),
        ("expressions(ops='tanh')", lambda: _draw("expressions", ops="tanh"), ("ops", "str")),
        ("mlps(activations='tanh')", lambda: _draw("mlps", activations="tanh"),
         ("activations", "str")),
        ("mlps(inits=['glorot'])", lambda: _draw("mlps", inits=["glorot"]), ("inits", "glorot")),
    ]
    return c + _torch_cases()


def _torch_cases() -> list[tuple[str, object, tuple[str, ...]]]:
    """from_torch on modules whose function it cannot reproduce, or too large to read. PyTorch
    is a test dependency (``pip install -e ".[test]"``): without it this script stops here rather
    than report fewer cases as if they were all."""
    import torch

    from nn import MLP
    tnn = torch.nn

    class ScaledLinear(tnn.Linear):
        def forward(self, x):
            return 2 * super().forward(x)

    class MySequential(tnn.Sequential):
        pass

    def hooked(module):
        module.register_forward_hook(lambda mod, args, out: 2 * out)
        return module

    def own_forward():
        linear = tnn.Linear(2, 1)
        linear.forward = lambda x: 2 * tnn.Linear.forward(linear, x)
        return tnn.Sequential(linear)

    def stride_zero():
        linear = tnn.Linear(2, 2)
        linear.weight = tnn.Parameter(torch.zeros(1).expand(20000, 20000))
        linear.bias = tnn.Parameter(torch.zeros(1).expand(20000))
        linear.in_features = linear.out_features = 20000
        return tnn.Sequential(linear)

    def global_hook():
        handle = torch.nn.modules.module.register_module_forward_hook(lambda m, a, out: out)
        try:
            MLP.from_torch(tnn.Sequential(tnn.Linear(2, 1)))
        finally:
            handle.remove()

    return [
        ("from_torch(a Linear subclass)", lambda: MLP.from_torch(
            tnn.Sequential(ScaledLinear(2, 1))), ("ScaledLinear", "subclass")),
        ("from_torch(a Sequential subclass)", lambda: MLP.from_torch(
            MySequential(tnn.Linear(2, 1))), ("MySequential",)),
        ("from_torch(a forward hook)", lambda: MLP.from_torch(
            tnn.Sequential(hooked(tnn.Linear(2, 1)))), ("layer 0", "hook")),
        ("from_torch(a hooked Sequential)", lambda: MLP.from_torch(
            hooked(tnn.Sequential(tnn.Linear(2, 1)))), ("Sequential", "hook")),
        ("from_torch(a global hook)", global_hook, ("global", "hook")),
        ("from_torch(forward on the instance)", lambda: MLP.from_torch(own_forward()),
         ("forward",)),
        ("from_torch(Linear(3200, 3200))", lambda: MLP.from_torch(tnn.Sequential(
            torch.nn.utils.skip_init(tnn.Linear, 3200, 3200, device="meta"))),
         ("MAX_PARAMETERS",)),
        ("from_torch(a stride-0 20000x20000)", lambda: MLP.from_torch(stride_zero()),
         ("MAX_PARAMETERS",)),
    ]


def _read_only(path: Path) -> Path:
    path.write_text("kept")
    path.chmod(0o444)
    return path


def _step_with(field: str, bad: object, make) -> None:
    """An optimizer step after setting one parameter's ``field`` to ``bad``."""
    from nn import MLP
    m = MLP(2, [3, 1], seed=0)
    m([0.1, 0.2])[0].backward()
    setattr(m.parameters()[4], field, bad)
    make(m.parameters()).step()


def _draw(name: str, **kwargs) -> None:
    """Draw one example of the strategy ``name`` called with ``kwargs``."""
    from hypothesis import find

    from engine.testing import strategies
    from nn import strategies as nn_strategies
    strategy = getattr(strategies, name, None) or getattr(nn_strategies, name)
    find(strategy(**kwargs), lambda example: True)


def _generator():
    yield 1


def _diverging_fit():
    from nn import MLP, data, optim, train
    X, y = data.moons(50, seed=0)
    m = MLP(2, [8, 1], seed=0)
    train.fit(m, X, y, epochs=300, optimizer=optim.SGD(m.parameters(), lr=1e6), progress=False)


def _nan_accuracy(X):
    from nn import MLP, losses, train
    m = MLP(2, [3, 1], seed=0)
    for p in m.parameters():
        p.data = math.nan
    return train.accuracy(m, X, [0, 1], losses.bce_with_logits)


def _saved_text(tmp: Path) -> str:
    from nn import MLP
    path = tmp / "good.json"
    if not path.exists():
        MLP(2, [3, 1], seed=0).save(path)
    return path.read_text()


# -- calls that must work ----------------------------------------------------------------------


def reproducers(tmp: Path) -> list[tuple[str, object]]:
    """(name, check): ``check()`` returns None when the call works, else what went wrong."""
    from engine import Value, no_grad
    from nn import MLP, data, losses, optim, train

    def chain(n):
        v = Value(0.5)
        for _ in range(n):
            v = v * 1.0
        return v

    def pickle_mlp():
        m = MLP(2, [3, 1], seed=0)
        back = pickle.loads(pickle.dumps(m))
        return None if back([0.1, 0.2])[0].data == m([0.1, 0.2])[0].data else "different output"

    def save_over_when_disk_fills():
        path = tmp / "keep.json"
        MLP(2, [3, 1], seed=0).save(path)
        before = path.read_text()
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        old = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (64, hard))
        try:
            MLP(2, [30, 1], seed=1).save(path)
        except OSError:
            pass
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
            signal.signal(signal.SIGXFSZ, old)
        return None if path.read_text() == before else "the old file was destroyed"

    def shared_no_grad():
        """Thread A enters ``ng``, then thread B, then A exits, then B (the issue's order)."""
        ng, seen = no_grad(), []
        a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()

        def run(name, enter_after, entered, exit_after, exited):
            try:
                enter_after.wait(5)
                with ng:
                    entered.set()
                    exit_after.wait(5)
                exited.set()
                seen.append((name, (Value(1.0) * 2).op))  # recording again: op "*"
            except Exception as e:
                seen.append((name, repr(e)))
        go, done = threading.Event(), threading.Event()
        go.set()
        threads = [threading.Thread(target=run, args=("A", go, a_in, b_in, a_out)),
                   threading.Thread(target=run, args=("B", a_in, b_in, a_out, done))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return None if sorted(seen) == [("A", "*"), ("B", "*")] else str(seen)

    def fit_stops(X, optimizer=None):
        m = MLP(2, [8, 1], seed=0)
        X = data.moons(50, seed=0).X if X is None else X
        try:
            train.fit(m, X, [1.0, -1.0] * (len(X) // 2), losses.mse, epochs=300, progress=False,
                      optimizer=optimizer(m) if optimizer else None)
        except (ValueError, FloatingPointError) as e:
            if "epoch" in str(e) and all(math.isfinite(p.data) for p in m.parameters()):
                return None
            return f"stopped, but: {e}"
        return "ran every epoch"

    def power_nan(make):
        r = make()
        return None if math.isnan(r.data) else f"{r.data!r}, not nan"

    def conversions():
        v = Value(2.5)
        return None if f"{v:.2f}" == "2.50" and f"{v}" == repr(v) else f"{v:.2f}"

    def works(f):
        def check():
            f()
        return check

    def step_after_create_graph(make):
        def check():
            m, twin = MLP(2, [3, 1], seed=0), MLP(2, [3, 1], seed=0)
            out = m([0.5, -1.0])[0]
            (out * out).backward(create_graph=True)
            for p, q in zip(m.parameters(), twin.parameters(), strict=True):
                q.grad = p.grad.data
            opt, twin_opt = make(m.parameters()), make(twin.parameters())
            for _ in range(2):
                opt.step()
                twin_opt.step()
            data = [p.data for p in m.parameters()]
            return None if data == [p.data for p in twin.parameters()] else "another step"
        return check

    def ctrl_c_in_fit():
        class Stop(losses.BinaryCrossEntropyWithLogits):
            calls = 0

            def __call__(self, outputs, targets):
                self.calls += 1
                if self.calls == 4:
                    raise KeyboardInterrupt
                return super().__call__(outputs, targets)

        m = MLP(2, [4, 1], seed=0)
        X, y = data.xor(8, seed=0)
        try:
            train.fit(m, X, y, Stop(), epochs=10, batch_size=4, progress=False)
        except KeyboardInterrupt as stop:
            grads = {p.grad for p in m.parameters()}
            history = getattr(stop, "history", None)
            if history is not None and len(history.loss) == 1 and grads == {0.0}:
                return None
            return f"history {history}, grads {grads}"
        return "the interrupt was swallowed"

    def save_through_a_symlink():
        target, link = tmp / "target.json", tmp / "link.json"
        MLP(2, [1], seed=0).save(target)
        link.symlink_to(target)
        MLP(2, [3, 1], seed=0).save(link)
        ok = link.is_symlink() and MLP.load(target).sizes == [2, 3, 1]
        return None if ok else "the link was replaced by a file, the target left stale"

    def save_leaves_the_umask_alone():
        real, calls = os.umask, []
        os.umask = lambda mask: calls.append(mask) or real(mask)
        try:
            MLP(2, [1], seed=0).save(tmp / "umask.json")
        finally:
            os.umask = real
        return None if not calls else f"os.umask called with {calls}"

    return [
        ("pickle MLP(2, [3, 1])", pickle_mlp),
        ("pickle MLP relu", works(lambda: pickle.dumps(MLP(2, [3, 1], "relu")))),
        ("pickle MLP sigmoid", works(lambda: pickle.dumps(MLP(2, [3, 1], "sigmoid")))),
        ("pickle a 332-operation chain", works(lambda: pickle.loads(pickle.dumps(chain(332))))),
        ("pickle a 100000-operation chain", works(lambda: pickle.dumps(chain(100_000)))),
        ("deepcopy a 124-operation chain", works(lambda: copy.deepcopy(chain(124)))),
        ("deepcopy a 100000-operation chain", works(lambda: copy.deepcopy(chain(100_000)))),
        ("save over a file when the disk fills", save_over_when_disk_fills),
        ("no_grad() shared by two threads", shared_no_grad),
        ("fit stops at lr 1e6", lambda: fit_stops(
            None, lambda m: optim.SGD(m.parameters(), lr=1e6))),
        ("fit stops at a nan in X", lambda: fit_stops([[math.nan, 0.2], [0.3, -0.1]])),
        ("Value(10**400)", works(lambda: Value(10**400))),
        ("Value(2.0) + 10**400", works(lambda: Value(2.0) + 10**400)),
        ("v < 10**400", works(lambda: Value(2.0) < 10**400)),
        ("f'{v:.2f}'", conversions),
        ("Value(-2.0) ** 2000.5", lambda: power_nan(lambda: Value(-2.0) ** 2000.5)),
        ("Value(-2.0) ** Value(2000.5)", lambda: power_nan(lambda: Value(-2.0) ** Value(2000.5))),
        ("Value(-1e200) ** 2.5", lambda: power_nan(lambda: Value(-1e200) ** 2.5)),
        ("SGD step after create_graph", step_after_create_graph(
            lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9))),
        ("Adam steps after create_graph", step_after_create_graph(optim.Adam)),
        ("Ctrl-C in fit keeps the History", ctrl_c_in_fit),
        ("save through a symlink", save_through_a_symlink),
        ("save leaves the umask alone", save_leaves_the_umask_alone),
        ("unlabelled leaves show their grad", unlabelled_grads_shown),
        ("a lone surrogate in a label", lambda: renders(lambda: _draw_graph("x\ud800"))),
        ("a 20,000-character label", lambda: renders(lambda: _draw_graph("x" * 20_000))),
        ("\\N in a label is drawn as written", backslash_n_as_written),
        ("a NUL in draw_network's loss name", lambda: renders(nul_loss_network)),
        ("SIZERS in a film-strip label", one_player),
    ]


# -- pictures that must draw ---------------------------------------------------------------------


def _draw_graph(label: str, title: bool = True):
    from engine import Value, draw_graph

    x = Value(0.5, label)
    return draw_graph((x * 2).tanh(), title=label if title else "")


def renders(make) -> str | None:
    """None if the picture renders to SVG, else what went wrong."""
    try:
        make().svg()
    except Exception as error:  # what went wrong is the answer
        return f"{type(error).__name__}: {str(error)[:120]}"
    return None


def unlabelled_grads_shown() -> str | None:
    """The issue's ``(a * b).tanh() + a`` labels nothing: a.grad must be on the picture."""
    from engine import Value, draw_graph

    a, b = Value(0.3), Value(0.4)  # the 3 and 4 scaled, so that no other grad is a's
    c = (a * b).tanh() + a
    c.backward()
    return None if f"grad {a.grad:.4f}" in draw_graph(c).source else "a.grad is not shown"


def backslash_n_as_written() -> str | None:
    svg = _draw_graph("w\\N", title=False).svg()
    return None if "w\\N" in svg else "the label's \\N was read as the node's name"


def nul_loss_network():
    from nn import MLP, draw_network, losses

    loss = copy.copy(losses.mse)
    loss.name = "ms\x00e"
    return draw_network(MLP(2, [3, 1], seed=1), [0.5, -1.0], [1.0], loss=loss)


def one_player() -> str | None:
    from engine import Value, film_strip

    x = Value(0.5, "SIZERS CAPTION0")
    strip = film_strip((x * 2).tanh())
    page = strip.html()
    sizers = page.count('<pre class="dg-sizer"')
    wanted = len(set(map(strip.caption, range(len(strip)))))
    return None if sizers == wanted else f"{sizers} caption sizers for {wanted} captions"


# -- running -----------------------------------------------------------------------------------


class _Hang(Exception):
    pass


def _alarm(signum, frame):
    raise _Hang("took more than 20 s")


def _guarded(thunk):
    """Run ``thunk`` with fds 0 and 1 put back afterwards; return its exception or None."""
    saved = [os.dup(0), os.dup(1)]
    signal.alarm(20)
    try:
        thunk()
        return None
    except BaseException as e:  # a RecursionError or MemoryError is an outcome
        if isinstance(e, KeyboardInterrupt):
            raise
        return e
    finally:
        signal.alarm(0)
        for fd, copy_ in zip((0, 1), saved, strict=True):
            os.dup2(copy_, fd)
            os.close(copy_)


def classify(error: BaseException | None, words: tuple[str, ...]) -> str:
    if error is None:
        return "silent"
    kinds = (TypeError, ValueError, OSError, FloatingPointError)
    if isinstance(error, kinds) and not isinstance(error, RecursionError):
        message = str(error).lower()
        if all(w.lower() in message for w in words):
            return "clear"
    return "unrelated"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=str(Path(__file__).resolve().parents[2]),
                        help="the checkout to measure (default: this one)")
    parser.add_argument("--verbose", action="store_true", help="print every case")
    args = parser.parse_args()
    sys.path.insert(0, args.root)
    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, resource.RLIM_INFINITY))
    signal.signal(signal.SIGALRM, _alarm)
    import fcntl
    out = os.fdopen(fcntl.fcntl(1, fcntl.F_DUPFD, 200), "w", buffering=1)  # far from the fds used
    counts = {"clear": 0, "unrelated": 0, "silent": 0}
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        for name, thunk, words in cases(tmp):
            error = _guarded(thunk)
            outcome = classify(error, words)
            counts[outcome] += 1
            if args.verbose or outcome != "clear":
                shown = "" if error is None else f"{type(error).__name__}: {str(error)[:110]}"
                print(f"{outcome:9} {name:36} {shown}", file=out)
        failed = 0
        for name, check in reproducers(tmp):
            error = _guarded(lambda check=check: _raise_if(check()))
            failed += error is not None
            if args.verbose or error is not None:
                what = "ok" if error is None else f"{type(error).__name__}: {str(error)[:100]}"
                print(f"{'works' if error is None else 'FAILS':9} {name:36} {what}", file=out)
    import engine
    print(f"\nmeasured: {Path(engine.__file__).parents[1]}", file=out)
    total = sum(counts.values())
    print(f"\n{total} bad inputs: {counts['clear']} clear errors, {counts['unrelated']} unrelated "
          f"tracebacks, {counts['silent']} silently accepted", file=out)
    n = len(reproducers(Path(tempfile.gettempdir())))
    print(f"{n} reproducers that must work: {n - failed} work, {failed} fail", file=out)


def _raise_if(problem: str | None) -> None:
    if problem is not None:
        raise AssertionError(problem)


if __name__ == "__main__":
    main()

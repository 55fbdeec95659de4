"""Issue #12, "nothing lost, nothing silent": every reproducer, and bad inputs to the public API
answered by a TypeError or ValueError that names the problem (never an unrelated traceback, never
silently accepted). ``tests/benchmarks/bad_inputs.py`` counts them."""

from __future__ import annotations

import asyncio
import copy
import json
import math
import pickle
import subprocess
import sys
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import Value, ancestors, ieee, is_grad_enabled, no_grad
from nn import MLP, Layer, Neuron, data, losses, optim, train

# -- modes: one no_grad() object shared by threads or tasks ---------------------------------------


def test_a_shared_no_grad_restores_each_threads_own_state():
    ng, seen = no_grad(), {}
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()

    def a():
        with ng:
            a_in.set()
            b_in.wait(5)
        a_out.set()
        seen["A"] = is_grad_enabled(), (Value(1.0) * 2).op

    def b():
        a_in.wait(5)
        with ng:
            b_in.set()
            a_out.wait(5)  # A leaves first, while B is still inside
            seen["B inside"] = is_grad_enabled()
        seen["B"] = is_grad_enabled(), (Value(1.0) * 2).op

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {"A": (True, "*"), "B inside": False, "B": (True, "*")}


def test_a_shared_no_grad_restores_each_tasks_own_state():
    ng = no_grad()

    async def first(entered, second_entered):
        with ng:
            entered.set()
            await second_entered.wait()
        return is_grad_enabled()

    async def second(entered, second_entered, first_done):
        await entered.wait()
        with ng:
            second_entered.set()
            await first_done
            inside = is_grad_enabled()
        return inside, is_grad_enabled()

    async def main():
        entered, second_entered = asyncio.Event(), asyncio.Event()
        task = asyncio.ensure_future(first(entered, second_entered))
        other = await second(entered, second_entered, task)
        return await task, other

    assert asyncio.run(main()) == (True, (False, True))
    assert is_grad_enabled()


# -- numerical edges ------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [lambda: Value(-2.0) ** 2000.5,
                                  lambda: Value(-2.0) ** Value(2000.5),
                                  lambda: Value(-1e200) ** 2.5,
                                  lambda: Value(-1e200) ** Value(2.5)])
def test_a_negative_base_with_a_non_integer_exponent_is_nan_even_beyond_the_float_range(make):
    assert math.isnan(make().data)  # C99 pow and PyTorch: nan; the magnitude would overflow


def test_a_negative_base_with_a_large_integer_exponent_still_overflows_with_its_sign():
    assert ieee.power(-2.0, 2001.0) == -math.inf and ieee.power(-2.0, 2000.0) == math.inf
    assert ieee.power(-1e200, 2.0) == math.inf and ieee.power(-1e200, 3.0) == -math.inf


# -- pickling and deep copies ---------------------------------------------------------------------


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu", "leaky_relu", "linear"])
def test_an_mlp_pickles_and_deep_copies_with_every_named_activation(activation):
    mlp = MLP(2, [3, 1], activation, seed=0)
    for back in (pickle.loads(pickle.dumps(mlp)), copy.deepcopy(mlp)):
        assert [p.data for p in back.parameters()] == [p.data for p in mlp.parameters()]
        assert back([0.3, -0.2])[0].data == mlp([0.3, -0.2])[0].data


def chain(n):
    x = Value(0.5, label="x")
    v = x
    for _ in range(n):
        v = v * 1.0 + 0.0
    return x, v


@pytest.mark.parametrize("copier", [lambda v: pickle.loads(pickle.dumps(v)), copy.deepcopy],
                         ids=["pickle", "deepcopy"])
def test_graphs_of_any_depth_pickle_and_deep_copy(copier):
    _, root = chain(20_000)  # 40,000 operations: far past the recursion limit
    back = copier(root)
    back.backward()
    leaf = ancestors(back)[0]  # oldest first: the leaf x
    assert leaf.label == "x" and leaf.grad == 1.0  # d(x * 1 + 0 ...)/dx = 1
    assert len(ancestors(back)) == len(ancestors(root))


def test_pickling_keeps_shared_nodes_shared():
    a, b = Value(2.0, label="a"), Value(3.0, label="b")
    ab = a * b
    s = ab + a
    both = [a, ab, s, s * ab]
    for a2, ab2, s2, t2 in (pickle.loads(pickle.dumps(both)), copy.deepcopy(both)):
        assert s2.parents[0] is ab2 and s2.parents[1] is a2 and t2.parents == (s2, ab2)
        t2.backward()
        assert a2.grad == 2 * 2 * 3**2 + 2 * 2 * 3 == 48.0  # t = a^2 b^2 + a^2 b: 2ab^2 + 2ab


# -- conversions and big numbers ------------------------------------------------------------------


@pytest.mark.parametrize("convert", [float, int, round, complex, math.exp, math.log, math.floor])
def test_converting_a_value_says_to_use_data_or_the_value_method(convert):
    with pytest.raises(TypeError, match=r"Use .*\.data.* or the Value method .*v\.exp\(\)"):
        convert(Value(2.5))


def test_format_specs_format_the_data():
    v = Value(2.5, label="v")
    assert f"{v:.2f}" == "2.50" and f"{v:>6}" == "   2.5" and f"{v:e}" == "2.500000e+00"
    assert f"{v}" == str(v) == repr(v)


def test_ints_beyond_the_float_range_are_inf_as_in_ieee():
    assert Value(10**400).data == math.inf and Value(-(10**400)).data == -math.inf
    assert (Value(2.0) + 10**400).data == math.inf and (10**400 * Value(-1.0)).data == -math.inf
    assert Value(2.0) < 10**400 and Value(2.0) > -(10**400)


def test_equality_is_identity_while_order_compares_data():
    a, b = Value(1.0), Value(1.0)
    assert a != b and a == a and not a < b and a <= b and len({a, b}) == 2


# -- model files ----------------------------------------------------------------------------------

SAVE_UNDER_A_FILE_SIZE_LIMIT = """
import resource, signal, sys
from nn import MLP, Layer, Neuron, data, losses, optim, train
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (64, resource.RLIM_INFINITY))
try:
    MLP(2, [30, 1], seed=1).save(sys.argv[1])
except OSError as e:
    print("refused:", e.errno)
"""


def test_a_failing_save_leaves_the_old_file_as_it_was(tmp_path):
    path = tmp_path / "m.json"
    MLP(2, [3, 1], seed=0).save(path)
    before = path.read_bytes()
    run = subprocess.run([sys.executable, "-c", SAVE_UNDER_A_FILE_SIZE_LIMIT, str(path)],
                         capture_output=True, text=True, check=True)
    assert run.stdout.startswith("refused: 27")  # EFBIG: the disk "filled" mid-write
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]  # no temporary file left


@pytest.mark.parametrize("bad", ["0.5", None, [0.5], 10**400])
def test_save_refuses_a_parameter_that_is_not_a_float_before_writing(tmp_path, bad):
    mlp = MLP(2, [3, 1], seed=0)
    mlp.layers[1].neurons[0].w[2].data = bad
    with pytest.raises(TypeError, match=r"layer 1, neuron 0, weight 2 is a \w+ .*not a real"):
        mlp.save(tmp_path / "m.json")
    assert not (tmp_path / "m.json").exists()


@pytest.mark.parametrize("path", [True, False, 1, 4321, None, 1.5, b"m.json"])
def test_paths_are_str_or_pathlike_never_file_descriptors(path):
    with pytest.raises(TypeError, match=r"path must be a str or an os\.PathLike"):
        MLP.load(path)
    with pytest.raises(TypeError, match=r"path must be a str or an os\.PathLike"):
        MLP(2, [1], seed=0).save(path)


def saved(tmp_path):
    MLP(2, [3, 1], seed=0).save(tmp_path / "good.json")
    return json.loads((tmp_path / "good.json").read_text())


def write(tmp_path, data, placeholder=None):
    text = data if isinstance(data, str) else json.dumps(data)
    if placeholder is not None:
        text = text.replace('"N"', placeholder)
    path = tmp_path / "bad.json"
    path.write_text(text)
    return path


def test_load_refuses_deep_nesting_naming_the_file(tmp_path):
    with pytest.raises(ValueError, match=r"bad\.json: nested too deeply"):
        MLP.load(write(tmp_path, "[" * 100_000 + "]" * 100_000))


@pytest.mark.parametrize("number", ["1" * 5000, "-" + "9" * 400, "1e400", "-1e400"])
def test_numbers_beyond_the_float_range_are_refused_naming_the_field(tmp_path, number):
    d = saved(tmp_path)
    d["layers"][0]["biases"][1] = "N"
    with pytest.raises(ValueError, match=r"bad\.json: layer 0, neuron 1, bias: not a number: .*"
                                         r"beyond the float range"):
        MLP.load(write(tmp_path, d, number))
    d = saved(tmp_path)
    d["nin"] = "N"
    with pytest.raises(ValueError, match=r"bad\.json: 'nin' must be a positive int"):
        MLP.load(write(tmp_path, d, number))


def test_nan_and_infinity_written_as_such_still_load(tmp_path):
    d = saved(tmp_path)
    d["layers"][0]["biases"][:2] = ["N", "N"]
    path = write(tmp_path, json.dumps(d).replace('"N"', "NaN", 1), "-Infinity")
    assert [n.b.data for n in MLP.load(path).layers[0].neurons][1] == -math.inf


def test_repeated_and_unknown_keys_are_refused(tmp_path):
    text = json.dumps(saved(tmp_path))
    with pytest.raises(ValueError, match=r"bad\.json: the key 'nin' appears twice"):
        MLP.load(write(tmp_path, text[:-1] + ', "nin": 2}'))
    for where, change in [("the model", lambda d: d.update(extra=1)),
                          ("layer 0", lambda d: d["layers"][0].update(dropout=0.5))]:
        d = saved(tmp_path)
        change(d)
        with pytest.raises(ValueError, match=rf"bad\.json: {where} has the unknown key"):
            MLP.load(write(tmp_path, d))


def test_a_file_that_lost_its_output_layer_does_not_load(tmp_path):
    d = saved(tmp_path)
    d["layers"].pop()
    with pytest.raises(ValueError, match=r"'sizes' is \[2, 3, 1\] but .* give \[2, 3\]"):
        MLP.load(write(tmp_path, d))


def test_a_file_declaring_a_huge_model_is_refused_before_building(tmp_path):
    d = saved(tmp_path)
    d["sizes"] = [2, 10**9, 1]
    with pytest.raises(ValueError, match="declare 4000000001 parameters, more than"):
        MLP.load(write(tmp_path, d))


def test_files_saved_without_sizes_still_load(tmp_path):
    d = saved(tmp_path)
    del d["sizes"]
    assert MLP.load(write(tmp_path, d)).sizes == [2, 3, 1]


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.sampled_from(["format", "version", "nin", "sizes",
                                                       "layers", "weights", "biases",
                                                       "activation", "x"]), inner, max_size=5),
                    max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_any_mangled_model_file_loads_or_raises_a_value_error_naming_the_file(tmp_path_factory,
                                                                              data):
    tmp_path = tmp_path_factory.mktemp("files")
    d = saved(tmp_path)
    target = data.draw(st.sampled_from(["top", "layer", "row", "text"]))
    if target == "text":
        text = json.dumps(d)
        cut = data.draw(st.integers(0, len(text)))
        path = write(tmp_path, text[:cut] + data.draw(st.text(max_size=3)) + text[cut + 1:])
    else:
        obj = {"top": d, "layer": d["layers"][-1], "row": {"r": d["layers"][0]["weights"]}}[target]
        key = data.draw(st.sampled_from(sorted(obj)))
        obj[key] = data.draw(JSON)
        path = write(tmp_path, d)
    try:
        mlp = MLP.load(path)
    except ValueError as e:
        assert str(e).startswith(str(path))
    else:
        assert all(isinstance(p.data, float) for p in mlp.parameters())


# -- sizes checked before allocating; inputs are sequences -----------------------------------------


@pytest.mark.parametrize("make", [lambda: MLP(2, [10**9]), lambda: MLP(10**6, [10**6, 1]),
                                  lambda: Layer(10**5, 10**5), lambda: Neuron(10**9)])
def test_networks_beyond_max_parameters_are_refused_before_allocating(make):
    with pytest.raises(ValueError, match=r"parameters, more than nn\.mlp\.MAX_PARAMETERS"):
        make()


@pytest.mark.parametrize("make", [data.moons, data.circles, data.xor, data.spirals, data.blobs,
                                  data.curve])
def test_data_sets_beyond_max_points_are_refused_before_allocating(make):
    with pytest.raises(ValueError, match=r"n must be at most 1000000"):
        make(10**9)


@pytest.mark.parametrize("x", [{0.5: "a", -0.2: "b"}, {0.5, -0.2}, frozenset({1.0, 2.0}),
                               iter([0.5, -0.2]), "ab", 3, Value(1.0)])
def test_inputs_must_be_ordered_sequences(x):
    mlp = MLP(2, [3, 1], seed=0)
    with pytest.raises(TypeError, match=r"MLP expects a sequence of 2 inputs"):
        mlp(x)


def test_numpy_arrays_and_tuples_are_inputs():
    import numpy as np
    mlp = MLP(2, [3, 1], seed=0)
    one = mlp([0.5, -0.2])[0].data
    assert mlp(np.array([0.5, -0.2]))[0].data == mlp((0.5, -0.2))[0].data == one


@pytest.mark.parametrize("call", [lambda: data.circles(10, factor="a"),
                                  lambda: data.moons(10, seed=0).split("a")])
def test_data_set_fractions_must_be_numbers(call):
    with pytest.raises(ValueError, match="must be between 0 and 1"):
        call()


# -- training that diverges is never silent -------------------------------------------------------


def diverging(on_nonfinite="raise"):
    X, y = data.moons(50, seed=0)
    mlp = MLP(2, [8, 1], seed=0)
    run = lambda: train.fit(mlp, X, y, epochs=300, progress=False,  # noqa: E731
                            optimizer=optim.SGD(mlp.parameters(), lr=1e6),
                            on_nonfinite=on_nonfinite)
    return mlp, run


def test_fit_stops_at_the_first_non_finite_loss_naming_epoch_and_step():
    mlp, run = diverging()
    with pytest.raises(train.NonFiniteError, match=r"fit stopped at epoch \d+ of 300, step 1 of "
                                                   r"1: the loss is (inf|nan)"):
        run()
    assert all(math.isfinite(p.data) for p in mlp.parameters())  # the last finite parameters


def test_fit_stops_at_a_nan_in_the_data_before_any_step():
    mlp = MLP(2, [3, 1], seed=0)
    before = [p.data for p in mlp.parameters()]
    X = [[0.1, 0.2], [math.nan, 0.0], [0.3, 0.1], [0.0, 0.5]]
    with pytest.raises(train.NonFiniteError, match=r"epoch 1 of 5, step 1 of 2: the loss is nan"):
        train.fit(mlp, X, [1.0, 0.0, 1.0, 0.0], epochs=5, batch_size=2, shuffle=False,
                  progress=False)
    assert [p.data for p in mlp.parameters()] == before


def test_fit_stops_when_a_step_would_make_a_parameter_inf_and_puts_it_back():
    mlp = MLP(1, [1], "linear", seed=0)
    before = [p.data for p in mlp.parameters()]
    with pytest.raises(train.NonFiniteError, match=r"step made parameter \d inf|-inf"):
        train.fit(mlp, [[1.0]], [1e150], epochs=1, progress=False,  # loss ~ 1e300, finite
                  optimizer=optim.SGD(mlp.parameters(), lr=1e300))  # grad ~ -2e150: step inf
    assert [p.data for p in mlp.parameters()] == before


@pytest.mark.parametrize(("make", "w", "x", "target"), [
    (lambda ps: optim.SGD(ps, lr=1e300, momentum=0.5), None, 1.0, 1e150),  # grad -2e150
    (lambda ps: optim.Adam(ps, lr=1e308, eps=1e-320), 1e308, 1e-300, 1e9)],  # w moves by ~lr
    ids=["SGD with momentum", "Adam"])
def test_a_refused_step_leaves_the_optimizers_state_as_it_was_too(make, w, x, target):
    mlp = MLP(1, [1], "linear", seed=0)
    if w is not None:
        mlp.layers[0].neurons[0].w[0].data, mlp.layers[0].neurons[0].b.data = w, 0.0
    optimizer = make(mlp.parameters())

    def state():
        return {k: list(v) if isinstance(v, list) else v for k, v in vars(optimizer).items()}

    before = state()
    with pytest.raises(train.NonFiniteError, match=r"step made parameter 0 inf"):
        train.fit(mlp, [[x]], [target], epochs=1, progress=False, optimizer=optimizer)
    assert state() == before  # no velocity, moment or step count of the refused step


def test_keep_going_trains_on_and_the_history_shows_nan():
    mlp, run = diverging("keep_going")
    history = run()
    assert len(history.loss) == 300 and math.isnan(history.loss[-1])
    mlp = MLP(2, [3, 1], seed=0)
    history = train.fit(mlp, [[math.nan, 0.0], [0.1, 0.2]], [0, 1], losses.bce_with_logits,
                        epochs=3, progress=False, on_nonfinite="keep_going")
    assert all(map(math.isnan, history.loss + history.accuracy))  # never a plausible 0.5


def test_accuracy_of_nan_outputs_raises_instead_of_looking_fine():
    mlp = MLP(2, [3, 1], seed=0)
    for p in mlp.parameters():
        p.data = math.nan
    with pytest.raises(ValueError, match=r"output for sample 0 is \[nan\]: .* has no accuracy"):
        train.accuracy(mlp, [[0.1, 0.2], [0.3, 0.4]], [0, 1], losses.bce_with_logits)


def test_fit_leaves_every_gradient_at_zero():
    mlp = MLP(2, [3, 1], seed=0)
    train.fit(mlp, [[0.1, 0.2], [0.3, 0.4]], [0.5, -0.5], epochs=2, progress=False)
    assert all(p.grad == 0.0 for p in mlp.parameters())


# -- wrong types and hostile hyperparameters: errors that name the argument -----------------------

m_ = MLP(2, [3, 1], seed=0)
X_, y_ = [[0.1, 0.2], [0.3, -0.1]], [1.0, -1.0]
out_ = m_([0.1, 0.2])


@pytest.mark.parametrize("call, error, message", [
    (lambda: train.fit(m_, X_, y_, "mse"), TypeError,
     r"fit: loss must be an nn.losses loss .* not str 'mse' \(.*LOSSES\['mse'\]\)"),
    (lambda: train.fit(m_, X_, y_, None), TypeError, r"fit: loss must be"),
    (lambda: train.fit("m", X_, y_), TypeError, r"fit: the model must be an nn.MLP, not str"),
    (lambda: train.fit(m_, 3, y_), TypeError, r"fit: X must be a sequence .* not int"),
    (lambda: train.fit(m_, X_, 3), TypeError, r"fit: y must be a sequence .* not int"),
    (lambda: train.fit(m_, X_, {1.0: 0, 2.0: 1}), TypeError, r"fit: y must be a sequence"),
    (lambda: train.fit(m_, X_, y_, optimizer="adam"), TypeError, r"fit: optimizer must be"),
    (lambda: train.fit(m_, X_, y_, penalty=0.1), TypeError,
     r"penalty must be an nn.losses.L2Penalty or None, not float"),
    (lambda: train.fit(m_, X_, y_, on_nonfinite="ignore"), ValueError, r"on_nonfinite"),
    (lambda: train.accuracy(m_, X_, [0, 1], "bce"), TypeError, r"accuracy: loss must be"),
    (lambda: train.accuracy(m_, 3, [0, 1], losses.bce_with_logits), TypeError,
     r"accuracy: X must be a sequence"),
    (lambda: train.predict(m_, 3), TypeError, r"predict: X must be a sequence .* not int"),
    (lambda: losses.mse([out_], 1.0), TypeError, r"mse expects a list of per-sample targets"),
    (lambda: losses.mse(out_, [None]), ValueError, r"mse: a target must be 1 number\(s\)"),
    (lambda: losses.mse([out_], [None]), ValueError, r"mse: a target must be 1 number\(s\)"),
    (lambda: losses.mse([out_], [math.nan]), ValueError, r"got nan"),
    (lambda: losses.mse([out_], [[math.inf]]), ValueError, r"got \[inf\]"),
    (lambda: losses.mse([out_], [10**400]), ValueError, r"\(finite, one per output\)"),
    (lambda: losses.bce_with_logits([out_], [math.nan]), ValueError, r"got nan"),
    (lambda: losses.hinge([out_], [math.nan]), ValueError, r"got nan"),
    (lambda: losses.L2Penalty(0.1)("ab"), TypeError, r"L2Penalty expects a list of parameters"),
    (lambda: losses.L2Penalty(0.1)(m_), TypeError, r"\(pass mlp.parameters\(\)\), got MLP"),
    (lambda: losses.L2Penalty(0.1)(3), TypeError, r"L2Penalty expects .* got int"),
    (lambda: losses.L2Penalty(0.1)([1.0]), TypeError, r"parameter 0 is a float, not a Value"),
    (lambda: optim.SGD(m_), TypeError, r"\(pass mlp.parameters\(\)\), got MLP"),
    (lambda: optim.SGD(3), TypeError, r"the optimizer expects a list of parameters"),
    (lambda: optim.SGD(m_.parameters(), momentum=5), ValueError, r"momentum must be < 1"),
    (lambda: optim.SGD(m_.parameters(), momentum=1.0), ValueError, r"momentum"),
    (lambda: optim.Adam(m_.parameters(), eps=0.0), ValueError, r"eps must be a finite .*> 0"),
])
def test_bad_arguments_get_an_error_naming_them(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_adam_with_a_tiny_eps_steps_at_zero_gradients():
    p = Value(1.0)
    optim.Adam([p], eps=1e-300).step()  # m = v = 0: 0 / (0 + eps) = 0, no ZeroDivisionError
    assert p.data == 1.0


def test_every_loss_refuses_non_finite_targets():
    outs = [m_([0.1, 0.2])]
    two = [MLP(2, [2], seed=0)([0.1, 0.2])]
    for loss, o in [(losses.mse, outs), (losses.hinge, outs), (losses.bce_with_logits, outs),
                    (losses.softmax_cross_entropy, two)]:
        for bad in (math.nan, math.inf, -math.inf):
            with pytest.raises(ValueError, match=r"(target|label)s? must be"):
                loss(o, [bad])


# -- hostile hyperparameters and targets, drawn by hypothesis -------------------------------------

ANYTHING = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=3)
            | st.lists(st.floats(), max_size=2) | st.tuples(st.floats(), st.floats()))


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["lr", "momentum", "weight_decay", "eps", "betas"]), ANYTHING)
def test_any_hyperparameter_is_taken_in_its_range_or_refused_by_name(name, value):
    opt_class = optim.SGD if name in ("momentum",) else optim.Adam
    ps = [Value(1.0), Value(-2.0)]
    try:
        opt = opt_class(ps, **{name: value})
    except ValueError as e:
        assert name.rstrip("s") in str(e)
        return
    for p in ps:
        p.grad = 0.0
    opt.step()  # accepted: a step at zero gradients is finite and raises nothing
    assert all(math.isfinite(p.data) for p in ps)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["mse", "hinge", "bce_with_logits", "softmax_cross_entropy"]), ANYTHING)
def test_any_target_gives_a_loss_or_a_value_error_naming_the_loss(name, target):
    loss = losses.LOSSES[name]
    outputs = [MLP(2, [2 if name == "softmax_cross_entropy" else 1], seed=0)([0.1, 0.2])]
    try:
        value = loss(outputs, [target])
    except ValueError as e:
        assert str(e).startswith(name)
        return
    assert not math.isnan(value.data)  # inf for a target near the float range's end: IEEE


def test_backward_called_on_something_else_says_it_is_a_value_method():
    v = Value(1.0)
    with pytest.raises(TypeError, match="backward is a method of a Value, not of a list"):
        Value.backward([v])

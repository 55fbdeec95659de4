"""nn.torch_bridge against PyTorch: to_torch, from_torch, every loss, SGD and Adam.

PyTorch is the oracle: its Linear, activation and loss modules, its autograd and its optimizers
are its own code. The losses are written here as the docs name them (``nn.CrossEntropyLoss()``,
``nn.MSELoss(reduction="sum") / N``, ...), not through ``torch_loss``, which is checked against
them separately. Tolerance 1e-12 (relative, or absolute below 1): both sides compute in float64
and differ only in rounding (BLAS sums in another order), a few ulps, about 1e-15.
"""

from __future__ import annotations

import math
import sys

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import Value, explain
from engine.testing.strategies import finite_floats
from nn import MLP, Layer, Neuron, draw_network, losses, optim
from nn.strategies import mlps
from nn.torch_bridge import LOSS_COUNTERPARTS, from_torch, to_torch, torch_loss

TOLERANCE = 1e-12
tnn = torch.nn


def close(ours: float, theirs: float) -> bool:
    return math.isclose(ours, theirs, rel_tol=TOLERANCE, abs_tol=TOLERANCE)


def far(ours: list[float], theirs: list[float]) -> list[tuple[int, float, float]]:
    """The positions where two lists of numbers differ by more than the tolerance."""
    assert len(ours) == len(theirs)
    return [(i, a, b) for i, (a, b) in enumerate(zip(ours, theirs, strict=True))
            if not close(a, b)]


def torch_grads(module: tnn.Module) -> list[float]:
    """Every parameter's gradient in our parameter order: neuron by neuron, weights then bias."""
    flat = []
    for linear in (m for m in module if isinstance(m, tnn.Linear)):
        for w_row, b in zip(linear.weight.grad.tolist(), linear.bias.grad.tolist(), strict=True):
            flat += [*w_row, b]
    return flat


def inputs(nin: int, n: int = 3) -> st.SearchStrategy[list[list[float]]]:
    return st.lists(st.lists(finite_floats(), min_size=nin, max_size=nin), min_size=1,
                    max_size=n)


# -- to_torch -------------------------------------------------------------------------------------


def test_to_torch_is_linear_layers_and_activation_modules_with_our_exact_weights():
    mlp = MLP(3, [4, 5, 2], activation="relu", output_activation="sigmoid", seed=0)
    module = mlp.to_torch()
    assert [type(m) for m in module] == [tnn.Linear, tnn.ReLU, tnn.Linear, tnn.ReLU,
                                         tnn.Linear, tnn.Sigmoid]
    for layer, linear in zip(mlp.layers, module[::2], strict=True):
        assert linear.weight.dtype == linear.bias.dtype == torch.float64
        assert linear.weight.tolist() == [[w.data for w in n.w] for n in layer.neurons]
        assert linear.bias.tolist() == [n.b.data for n in layer.neurons]


@pytest.mark.parametrize(("name", "module"), [("tanh", tnn.Tanh), ("sigmoid", tnn.Sigmoid),
                                              ("relu", tnn.ReLU), ("leaky_relu", tnn.LeakyReLU)])
def test_each_activation_becomes_its_module(name, module):
    made = MLP(2, [3, 1], activation=name, seed=1).to_torch()
    assert [type(m) for m in made] == [tnn.Linear, module, tnn.Linear]
    if name == "leaky_relu":
        assert made[1].negative_slope == 0.01  # Value.leaky_relu's default slope


def test_to_torch_leaves_torchs_random_state_alone():
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    MLP(4, [8, 8, 1], seed=0).to_torch()
    assert torch.equal(torch.rand(3), expected)


@settings(max_examples=80)
@given(mlps(), st.data())
def test_module_of_x_equals_mlp_of_x_within_1e_12(mlp, data):
    X = data.draw(inputs(mlp.nin))
    with torch.no_grad():
        theirs = mlp.to_torch()(torch.tensor(X, dtype=torch.float64)).tolist()
    for x, row in zip(X, theirs, strict=True):
        assert not far([a.data for a in mlp(x)], row), (mlp, x)


def test_an_activation_given_as_its_function_becomes_its_module():
    module = MLP(2, [3, 1], activation=Value.tanh, output_activation=Value.sigmoid,
                 seed=0).to_torch()
    assert [type(m) for m in module] == [tnn.Linear, tnn.Tanh, tnn.Linear, tnn.Sigmoid]


def test_to_torch_refuses_activations_without_a_module():
    def cube(v: Value) -> Value:
        return v * v * v

    with pytest.raises(ValueError, match=r"layer 0 uses the activation.*cube"):
        MLP(2, [3, 1], activation=cube, seed=0).to_torch()
    mixed = Layer.from_neurons([Neuron(2, "tanh", seed=0), Neuron(2, "relu", seed=1)])
    with pytest.raises(ValueError, match=r"layer 0 uses the activation.*relu, tanh"):
        MLP.from_layers([mixed]).to_torch()
    with pytest.raises(TypeError, match=r"to_torch needs an nn.MLP"):
        to_torch([1, 2])


# -- the same loss, the same gradients ------------------------------------------------------------

CASES = {  # loss -> (number of outputs, targets for 4 samples, the loss as PyTorch writes it)
    "mse": (2, [[0.5, -1.0], [0.0, 2.0], [1.5, 0.25], [-0.5, 0.0]],
            lambda out, y: tnn.MSELoss(reduction="sum")(out, torch.tensor(y, dtype=out.dtype))
            / len(y)),
    "hinge": (1, [1, -1, -1, 1],
              lambda out, y: torch.relu(1 - torch.tensor(y, dtype=out.dtype)[:, None] * out)
              .mean()),
    "bce_with_logits": (1, [1, 0, 0.25, 1],
                        lambda out, y: tnn.BCEWithLogitsLoss()(
                            out, torch.tensor(y, dtype=out.dtype)[:, None])),
    "softmax_cross_entropy": (3, [0, 2, 1, 2],
                              lambda out, y: tnn.CrossEntropyLoss()(out, torch.tensor(y))),
}
X4 = [[0.5, -1.0, 2.0], [1.5, 0.25, -0.5], [-2.0, 1.0, 0.0], [0.1, 0.2, 0.3]]


def test_every_loss_has_a_named_counterpart():
    assert set(LOSS_COUNTERPARTS) == set(losses.LOSSES) == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu", "leaky_relu"])
def test_the_same_loss_gives_the_same_value_and_gradients(name, activation):
    nout, y, torch_form = CASES[name]
    loss = losses.LOSSES[name]
    mlp = MLP(3, [5, 4, nout], activation=activation, seed=2)
    module = mlp.to_torch()
    ours = loss([mlp(x) for x in X4], y)
    ours.backward()
    theirs = torch_form(module(torch.tensor(X4, dtype=torch.float64)), y)
    theirs.backward()
    assert close(ours.data, theirs.item())
    assert not far([p.grad for p in mlp.parameters()], torch_grads(module))


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_torch_loss_computes_the_loss_as_the_docs_write_it(name, reduction):
    nout, y, torch_form = CASES[name]
    loss = type(losses.LOSSES[name])(reduction=reduction)
    mlp = MLP(3, [4, nout], seed=3)
    module = mlp.to_torch()
    out = module(torch.tensor(X4, dtype=torch.float64))
    expected = torch_form(out, y).item() * (len(y) if reduction == "sum" else 1)
    assert close(torch_loss(loss)(out, y).item(), expected)
    assert close(torch_loss(loss)(out, torch.tensor(y)).item(), expected)  # tensor targets too
    assert close(loss([mlp(x) for x in X4], y).data, expected)


def test_torch_loss_refuses_what_it_does_not_know():
    with pytest.raises(TypeError, match=r"torch_loss needs a loss of nn.losses"):
        torch_loss(lambda out, y: out)
    with pytest.raises(ValueError, match=r"class index in 0..2"):
        torch_loss(losses.softmax_cross_entropy)(torch.zeros(2, 3), [0, 3])
    for loss in (losses.mse, losses.softmax_cross_entropy):
        with pytest.raises(ValueError, match=r"tensor of shape \(N, nout\).*got \(3,\)"):
            torch_loss(loss)(torch.zeros(3), [0, 1, 1])


def test_the_l2_penalty_is_the_sum_of_squares_of_the_parameters():
    mlp = MLP(3, [4, 2], seed=4)
    module = mlp.to_torch()
    ours = losses.L2Penalty(0.01)(mlp.parameters())
    ours.backward()
    theirs = 0.01 * sum((p ** 2).sum() for p in module.parameters())
    theirs.backward()
    assert close(ours.data, theirs.item())
    assert not far([p.grad for p in mlp.parameters()], torch_grads(module))


# -- optimizers -----------------------------------------------------------------------------------

OPTIMIZERS = {
    "sgd": (lambda ps: optim.SGD(ps, lr=0.1), lambda ps: torch.optim.SGD(ps, lr=0.1)),
    "sgd momentum decay": (lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01),
                           lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9,
                                                      weight_decay=0.01)),
    "adam": (lambda ps: optim.Adam(ps, lr=0.01), lambda ps: torch.optim.Adam(ps, lr=0.01)),
    "adam decay": (lambda ps: optim.Adam(ps, lr=0.01, betas=(0.8, 0.99), eps=1e-6,
                                         weight_decay=0.1),
                   lambda ps: torch.optim.Adam(ps, lr=0.01, betas=(0.8, 0.99), eps=1e-6,
                                               weight_decay=0.1)),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizer_steps_match_torch_optim(name):
    """Three steps from the same gradients: the first is the one the issue asks about, the next
    ones check the momentum, the moments and Adam's bias corrections."""
    ours_of, theirs_of = OPTIMIZERS[name]
    mlp = MLP(3, [4, 2], seed=5)
    module = mlp.to_torch()
    ours, theirs = ours_of(mlp.parameters()), theirs_of(module.parameters())
    for step in range(3):
        ours.zero_grad()
        theirs.zero_grad()
        losses.mse([mlp(x) for x in X4], CASES["mse"][1]).backward()
        _set_torch_grads(module, [p.grad for p in mlp.parameters()])  # the very same numbers
        ours.step()
        theirs.step()
        assert not far([p.data for p in mlp.parameters()], _torch_params(module)), step


def _torch_params(module: tnn.Module) -> list[float]:
    return [v for linear in module[::2] for w_row, b in
            zip(linear.weight.tolist(), linear.bias.tolist(), strict=True) for v in (*w_row, b)]


def _set_torch_grads(module: tnn.Module, grads: list[float]) -> None:
    at = 0
    for linear in module[::2]:
        nout, nin = linear.weight.shape
        rows = [grads[at + j * (nin + 1):at + (j + 1) * (nin + 1)] for j in range(nout)]
        linear.weight.grad = torch.tensor([r[:-1] for r in rows], dtype=torch.float64)
        linear.bias.grad = torch.tensor([r[-1] for r in rows], dtype=torch.float64)
        at += nout * (nin + 1)


# -- from_torch and the round trip ----------------------------------------------------------------


@settings(max_examples=60)
@given(mlps())
def test_to_torch_then_from_torch_gives_back_the_same_network(mlp):
    back = MLP.from_torch(mlp.to_torch())
    assert back.sizes == mlp.sizes
    assert [n.activation for ly in back.layers for n in ly.neurons] == \
        [n.activation for ly in mlp.layers for n in ly.neurons]
    assert [p.data for p in back.parameters()] == [p.data for p in mlp.parameters()]  # exact


def test_from_torch_reads_a_float32_module_exactly():
    torch.manual_seed(0)
    module = tnn.Sequential(tnn.Linear(3, 4), tnn.Tanh(), tnn.Identity(), tnn.Linear(4, 2),
                            tnn.Sigmoid())
    mlp = from_torch(module)
    assert repr(mlp) == "MLP(3 -> 4 tanh -> 2 sigmoid; 26 params)"
    assert [n.w[0].data for n in mlp.layers[0].neurons] == module[0].weight[:, 0].tolist()
    x = [0.5, -1.0, 0.25]
    with torch.no_grad():
        theirs = module.double()(torch.tensor(x, dtype=torch.float64)).tolist()
    assert not far([a.data for a in mlp(x)], theirs)


def test_from_torch_reads_a_linear_without_bias_as_bias_zero():
    module = tnn.Sequential(tnn.Linear(2, 3, bias=False), tnn.ReLU(), tnn.Linear(3, 1))
    mlp = MLP.from_torch(module)
    assert [n.b.data for n in mlp.layers[0].neurons] == [0.0, 0.0, 0.0]
    assert mlp.layers[1].activation == "linear"


@pytest.mark.parametrize(("module", "message"), [
    (tnn.Sequential(tnn.Linear(2, 3), tnn.Dropout(0.5), tnn.Linear(3, 1)),
     r"layer 1 \(Dropout\(p=0.5.*\) is not supported: from_torch reads Linear, Tanh"),
    (tnn.Sequential(tnn.Linear(2, 3), tnn.GELU()), r"layer 1 \(GELU.*\) is not supported"),
    (tnn.Sequential(tnn.Linear(2, 3), tnn.Sequential(tnn.Linear(3, 1))),
     r"(?s)layer 1 \(Sequential.*\) is not supported"),
    (tnn.Sequential(tnn.Linear(2, 3), tnn.LeakyReLU(0.2)),
     r"layer 1 \(LeakyReLU\(negative_slope=0.2\)\) is not supported.*slope 0.01"),
    (tnn.Sequential(tnn.Tanh(), tnn.Linear(2, 3)), r"layer 0 \(Tanh\(\)\) follows the start"),
    (tnn.Sequential(tnn.Linear(2, 3), tnn.Tanh(), tnn.ReLU()),
     r"layer 2 \(ReLU\(\)\) follows another activation"),
    (tnn.Sequential(tnn.Linear(2, 3), tnn.Linear(4, 1)),
     r"layer 1 \(Linear\(in_features=4.*\) reads 4 inputs but the layer before it has 3"),
    (tnn.Sequential(tnn.Identity()), "no Linear layer"),
])
def test_from_torch_names_the_layer_it_cannot_read(module, message):
    with pytest.raises(ValueError, match=message):
        MLP.from_torch(module)


def test_from_torch_refuses_other_modules_and_dtypes():
    with pytest.raises(TypeError, match=r"needs a torch.nn.Sequential.*not Linear"):
        MLP.from_torch(tnn.Linear(2, 2))
    with pytest.raises(TypeError, match=r"layer 0 .* holds torch.float16 weights"):
        MLP.from_torch(tnn.Sequential(tnn.Linear(2, 2).half()))


def test_a_network_trained_in_torch_is_drawn_and_explained_with_torchs_deltas():
    """The teacher's story: train in PyTorch, read it back, and the deltas on the drawing are
    PyTorch's own dC/dz (read with retain_grad on the Linear outputs)."""
    torch.manual_seed(1)
    module = tnn.Sequential(tnn.Linear(2, 3), tnn.Tanh(), tnn.Linear(3, 1)).double()
    X = torch.tensor([[0.5, -1.0], [1.0, 0.5], [-0.5, 0.25]], dtype=torch.float64)
    y = torch.tensor([[1.0], [-1.0], [0.5]], dtype=torch.float64)
    trainer = torch.optim.SGD(module.parameters(), lr=0.1)
    for _ in range(20):
        trainer.zero_grad()
        tnn.MSELoss()(module(X), y).backward()
        trainer.step()
    mlp = MLP.from_torch(module)

    module.zero_grad()
    z1 = module[0](X[:1])
    z1.retain_grad()
    z2 = module[2](module[1](z1))
    z2.retain_grad()
    ((z2 - y[:1]) ** 2).sum().backward()  # the lecture's C = sum_k (a_k - y_k)^2
    trace = mlp.trace(X[0].tolist())
    loss = losses.mse([trace[-1].a], [y[0].item()])
    loss.backward()
    assert not far([z.grad for z in trace[0].z], z1.grad[0].tolist())
    assert not far([z.grad for z in trace[1].z], z2.grad[0].tolist())
    w = mlp.layers[0].neurons[0].w[0]
    assert close(explain(loss, w).total, module[0].weight.grad[0, 0].item())
    drawing = draw_network(mlp, X[0].tolist(), y[0].item())
    assert f"delta {z1.grad[0, 0].item():.4f}" in drawing.source  # torch's delta, drawn


# -- without PyTorch ------------------------------------------------------------------------------


@pytest.mark.parametrize("call", [lambda: MLP(2, [1], seed=0).to_torch(),
                                  lambda: MLP.from_torch(object()),
                                  lambda: torch_loss(losses.mse)])
def test_without_torch_the_error_says_how_to_install_it(monkeypatch, call):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now raises ImportError
    with pytest.raises(ImportError, match=r'needs PyTorch.*pip install "deltagrad\[torch\]"'):
        call()


def test_importing_nn_does_not_import_torch():
    import subprocess
    code = "import sys, nn, nn.torch_bridge; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "False"


# -- from_torch reads only what it can reproduce ---------------------------------------------------


class ScaledLinear(tnn.Linear):
    """A Linear whose forward doubles its output: a LoRA-style module with its own forward."""

    def forward(self, x):
        return 2 * super().forward(x)


class LoggedSequential(tnn.Sequential):
    pass


def with_forward_hook(module):
    module.register_forward_hook(lambda m, args, out: 2 * out)
    return module


def with_pre_hook(module):
    module.register_forward_pre_hook(lambda m, args: (2 * args[0],))
    return module


def with_instance_forward(module):
    module.forward = lambda x: 2 * tnn.Linear.forward(module, x)
    return module


@pytest.mark.parametrize(("make", "error", "message"), [
    (lambda: tnn.Sequential(ScaledLinear(2, 1)), ValueError,
     r"layer 0 .* is a ScaledLinear, a subclass of Linear whose forward"),
    (lambda: LoggedSequential(tnn.Linear(2, 1)), TypeError, "not the subclass LoggedSequential"),
    (lambda: tnn.Sequential(with_forward_hook(tnn.Linear(2, 1))), ValueError,
     r"layer 0 .* has a forward hook"),
    (lambda: with_forward_hook(tnn.Sequential(tnn.Linear(2, 1))), ValueError,
     "the Sequential has a forward hook"),
    (lambda: tnn.Sequential(tnn.Linear(2, 1), with_pre_hook(tnn.Tanh())), ValueError,
     r"layer 1 .* has a forward pre-hook"),
    (lambda: tnn.Sequential(with_instance_forward(tnn.Linear(2, 1))), ValueError,
     "has its own forward, set on the instance")])
def test_from_torch_refuses_what_it_cannot_reproduce(make, error, message):
    torch.manual_seed(0)
    module = make().double()
    x = torch.tensor([[0.5, -1.0]], dtype=torch.float64)
    with pytest.raises(error, match=message):
        MLP.from_torch(module)
    assert module(x).shape == (1, 1)  # the module itself still runs


def test_a_global_forward_hook_is_refused():
    handle = torch.nn.modules.module.register_module_forward_hook(lambda m, a, out: out)
    try:
        with pytest.raises(ValueError, match="a global forward hook is registered"):
            MLP.from_torch(tnn.Sequential(tnn.Linear(2, 1)))
    finally:
        handle.remove()
    assert MLP.from_torch(tnn.Sequential(tnn.Linear(2, 1))).sizes == [2, 1]


def test_from_torch_checks_the_parameter_count_before_reading_weights():
    big = torch.nn.utils.skip_init(tnn.Linear, 3200, 3200, device="meta")  # 10.2 M, no memory
    with pytest.raises(ValueError, match=r"10243200 parameters, more than nn\.mlp\.MAX_PARAM"):
        MLP.from_torch(tnn.Sequential(big))
    huge = tnn.Linear(2, 2)
    huge.weight = tnn.Parameter(torch.zeros(1).expand(20000, 20000))  # stride 0: 4 bytes
    huge.in_features = huge.out_features = 20000
    huge.bias = tnn.Parameter(torch.zeros(1).expand(20000))
    with pytest.raises(ValueError, match="400020000 parameters, more than"):
        MLP.from_torch(tnn.Sequential(huge))
    odd = tnn.Linear(2, 3)
    odd.weight = tnn.Parameter(torch.zeros(3, 4))
    with pytest.raises(ValueError, match=r"holds a weight of shape \(3, 4\), not \(3, 2\)"):
        MLP.from_torch(tnn.Sequential(odd))

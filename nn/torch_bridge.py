"""The bridge to PyTorch: an MLP as a ``torch.nn.Sequential`` and back, and each loss's twin.

``to_torch(mlp)`` gives ``Sequential(Linear, Tanh, Linear, ...)`` holding exactly our weights in
float64; ``from_torch(module)`` reads such a Sequential (float32 or float64) into an :class:`MLP`,
so a network trained in PyTorch can be drawn with ``draw_network``, ``explain`` and the film
strip. ``torch_loss(loss)`` is the PyTorch function that computes the same number as one of
:mod:`nn.losses`. PyTorch is optional: it is imported by these functions only
(``pip install "deltagrad[torch]"``).

``module(x)`` equals ``mlp(x)`` within 1e-12, not to the last bit: ``Linear`` computes ``W x + b``
with a BLAS matrix product, which adds the products in another order (and may fuse multiply and
add), and PyTorch's ``tanh``, ``sigmoid`` and ``exp`` are not the C library's, so the two may
round differently in the last bits (a few units in the last place per operation).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from nn import losses
from nn.mlp import ACTIVATIONS, LEAKY_SLOPE, MAX_PARAMETERS, MLP, Layer, Neuron

if TYPE_CHECKING:  # torch is imported only when a function of this module runs
    import torch

__all__ = ["ACTIVATION_MODULES", "LOSS_COUNTERPARTS", "from_torch", "to_torch", "torch_loss"]

ACTIVATION_MODULES: dict[str, str | None] = {
    "tanh": "Tanh",
    "sigmoid": "Sigmoid",
    "relu": "ReLU",
    "leaky_relu": "LeakyReLU",  # negative_slope=0.01, PyTorch's default and ours
    "linear": None,  # no module: a Linear followed by a Linear (or nothing) is linear
}
"""Each named activation's ``torch.nn`` module (by class name)."""


LOSS_COUNTERPARTS: dict[str, str] = {
    "mse": "nn.MSELoss(reduction='sum')(out, y) / N: ours sums over outputs, averages over "
           "samples (nn.MSELoss() also divides by the number of outputs)",
    "hinge": "torch.relu(1 - y * out).mean(): no torch.nn module computes it",
    "bce_with_logits": "nn.BCEWithLogitsLoss()",
    "softmax_cross_entropy": "nn.CrossEntropyLoss(), with class indices (int64) as targets",
}
"""Each loss of ``nn.losses`` (reduction ``mean``) as PyTorch writes it; ``N`` is the batch size.
With ``reduction="sum"`` the torch loss takes ``reduction='sum'`` (mse: no division by N)."""

_SUPPORTED = "Linear, Tanh, Sigmoid, ReLU, LeakyReLU(0.01) and Identity"


def import_torch(who: str) -> Any:
    """The ``torch`` module, or an ``ImportError`` that says who needs it and how to install it."""
    try:
        import torch
    except ImportError as error:
        raise ImportError(f"{who} needs PyTorch, which is not installed: "
                          'pip install "deltagrad[torch]" (or pip install torch)') from error
    return torch


# -- deltagrad -> PyTorch -------------------------------------------------------------------------


def to_torch(mlp: MLP) -> torch.nn.Sequential:
    """A ``torch.nn.Sequential`` of ``Linear`` layers (float64) and activation modules holding
    exactly ``mlp``'s weights: ``module(x)`` equals ``mlp(x)`` within 1e-12."""
    if not isinstance(mlp, MLP):
        raise TypeError(f"to_torch needs an nn.MLP, not {type(mlp).__name__}")
    torch = import_torch("MLP.to_torch")
    modules = []
    for index, layer in enumerate(mlp.layers):
        modules.append(_linear(torch, layer))
        activation = _activation_module(torch, layer, index)
        if activation is not None:
            modules.append(activation)
    return torch.nn.Sequential(*modules)


def _linear(torch: Any, layer: Layer) -> torch.nn.Linear:
    """A float64 ``Linear`` with the layer's weights (row ``j`` is neuron ``j``) and biases."""
    linear = torch.nn.utils.skip_init(torch.nn.Linear, layer.nin, layer.nout,
                                      dtype=torch.float64)  # no random init: leaves torch's RNG
    with torch.no_grad():
        linear.weight.copy_(torch.tensor([[w.data for w in n.w] for n in layer.neurons],
                                         dtype=torch.float64))
        linear.bias.copy_(torch.tensor([n.b.data for n in layer.neurons], dtype=torch.float64))
    return linear


def _activation_module(torch: Any, layer: Layer, index: int) -> torch.nn.Module | None:
    names = {_named(n.activation) for n in layer.neurons}
    if len(names) != 1 or None in names:
        used = sorted({n.activation_name for n in layer.neurons})
        raise ValueError(f"layer {index} uses the activation(s) {', '.join(used)}: to_torch needs "
                         f"one named activation per layer, one of {', '.join(ACTIVATION_MODULES)}")
    module = ACTIVATION_MODULES[names.pop()]
    if module is None:
        return None
    if module == "LeakyReLU":
        return torch.nn.LeakyReLU(LEAKY_SLOPE)
    return getattr(torch.nn, module)()


def _named(activation: object) -> str | None:
    """The name of a known activation, given by name or as its function (``Value.tanh``)."""
    if isinstance(activation, str):
        return activation
    return next((name for name, f in ACTIVATIONS.items() if f is activation and f is not None),
                None)


# -- PyTorch -> deltagrad -------------------------------------------------------------------------


def from_torch(module: torch.nn.Module) -> MLP:
    """The :class:`MLP` computing what ``module`` computes: a ``Sequential`` of ``Linear``
    layers (float32 or float64), each followed by at most one supported activation module.
    Anything else raises an error that names the unsupported layer and its position.

    Only what we can reproduce is read: the modules' exact classes (a subclass, such as a
    LoRA adapter or a Linear with its own ``forward``, may compute anything), no forward hooks
    and no ``forward`` set on an instance. The parameter count is checked against
    ``nn.mlp.MAX_PARAMETERS`` before any weight is read."""
    torch = import_torch("MLP.from_torch")
    _check_readable(torch, module)
    layers: list[Layer] = []
    rows: list[tuple[list[float], float]] | None = None  # the Linear awaiting its activation
    for position, child in enumerate(module):
        if type(child) is torch.nn.Identity:
            continue
        if type(child) is torch.nn.Linear:
            if rows is not None:
                layers.append(_layer(rows, "linear"))
            rows = _linear_rows(torch, child, position, layers)
            continue
        activation = _activation_name(torch, child, position)
        if rows is None:
            after = "another activation" if layers else "the start"
            raise ValueError(f"layer {position} ({child!r}) follows {after}: from_torch reads a "
                             "Linear, then at most one activation")
        layers.append(_layer(rows, activation))
        rows = None
    if rows is not None:
        layers.append(_layer(rows, "linear"))
    if not layers:
        raise ValueError("from_torch got a Sequential with no Linear layer")
    return MLP.from_layers(layers)


def _check_readable(torch: Any, module: Any) -> None:
    """Refuse, before reading any weight, a module whose function we cannot reproduce (not a
    Sequential itself, hooks, subclasses of Linear) or that is larger than MAX_PARAMETERS."""
    if not isinstance(module, torch.nn.Sequential):
        raise TypeError(f"from_torch needs a torch.nn.Sequential of {_SUPPORTED} modules, "
                        f"not {type(module).__name__}")
    registry = torch.nn.modules.module
    if registry._global_forward_hooks or registry._global_forward_pre_hooks:
        raise ValueError("a global forward hook is registered (register_module_forward_hook or "
                         "register_module_forward_pre_hook), which may change what every module "
                         "computes: from_torch cannot reproduce it; remove it first")
    _check_reproducible(torch, module, "the Sequential")
    if type(module) is not torch.nn.Sequential:
        raise TypeError(f"from_torch reads a torch.nn.Sequential itself, not the subclass "
                        f"{type(module).__name__}, whose forward may compute something else")
    for position, child in enumerate(module):
        what = f"layer {position} ({child!r:.60})"
        _check_reproducible(torch, child, what)
        base = next((c for c in (torch.nn.Linear, torch.nn.Identity) if isinstance(child, c)),
                    None)
        if base is not None and type(child) is not base:
            raise ValueError(f"{what} is a {type(child).__name__}, a subclass of {base.__name__} "
                             "whose forward may compute something else (an adapter, a scale): "
                             f"from_torch reads {_SUPPORTED} modules themselves")
    _check_size(torch, module)


def _check_reproducible(torch: Any, module: torch.nn.Module, what: str) -> None:
    """ValueError if something changes what ``module`` computes beyond its class's forward:
    its forward hooks, or a ``forward`` set on the instance."""
    for name, kind in (("_forward_hooks", "forward hook"),
                       ("_forward_pre_hooks", "forward pre-hook")):
        if getattr(module, name, None):
            raise ValueError(f"{what} has a {kind}, which may change what it computes: "
                             "from_torch cannot reproduce it; remove the hook (handle.remove()) "
                             "first")
    if "forward" in vars(module):
        raise ValueError(f"{what} has its own forward, set on the instance: from_torch "
                         "cannot reproduce it")


def _check_size(torch: Any, module: torch.nn.Sequential) -> None:
    """Refuse a network of more than MAX_PARAMETERS parameters before reading any weight, and
    a Linear whose weight or bias is not of the shape its sizes say."""
    count = 0
    for position, child in enumerate(module):
        if type(child) is torch.nn.Linear:
            shapes = {"weight": (child.out_features, child.in_features),
                      "bias": (child.out_features,)}
            for name, shape in shapes.items():
                tensor = getattr(child, name)
                if tensor is not None and tuple(tensor.shape) != shape:
                    raise ValueError(f"layer {position} ({child!r:.60}) holds a {name} of shape "
                                     f"{tuple(tensor.shape)}, not {shape}")
            count += (child.in_features + 1) * child.out_features
    if count > MAX_PARAMETERS:
        raise ValueError(f"the module has {count} parameters, more than "
                         f"nn.mlp.MAX_PARAMETERS ({MAX_PARAMETERS}); checked before reading "
                         "its weights")


def _linear_rows(torch: Any, linear: torch.nn.Linear, position: int,
                 layers: list[Layer]) -> list[tuple[list[float], float]]:
    """(weights, bias) per output neuron of ``linear``, checked for dtype and width."""
    weight = linear.weight
    if weight.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"layer {position} ({linear!r}) holds {weight.dtype} weights; from_torch "
                        "reads float32 or float64 (convert with module.double())")
    if layers and linear.in_features != layers[-1].nout:
        raise ValueError(f"layer {position} ({linear!r}) reads {linear.in_features} inputs but "
                         f"the layer before it has {layers[-1].nout} outputs")
    W = weight.detach().cpu().to(torch.float64).tolist()  # float32 -> float64 is exact
    b = ([0.0] * linear.out_features if linear.bias is None
         else linear.bias.detach().cpu().to(torch.float64).tolist())
    return list(zip(W, b, strict=True))


def _activation_name(torch: Any, child: torch.nn.Module, position: int) -> str:
    nn_ = torch.nn
    if type(child) is nn_.LeakyReLU:
        if child.negative_slope != LEAKY_SLOPE:
            raise ValueError(f"layer {position} ({child!r}) is not supported: deltagrad's "
                             f"leaky_relu has slope {LEAKY_SLOPE}")
        return "leaky_relu"
    for name, module in ACTIVATION_MODULES.items():
        if module is not None and type(child) is getattr(nn_, module):
            return name
    raise ValueError(f"layer {position} ({child!r}) is not supported: from_torch reads "
                     f"{_SUPPORTED} modules only")


def _layer(rows: list[tuple[list[float], float]], activation: str) -> Layer:
    return Layer.from_neurons(Neuron(len(w), activation, weights=w, bias=b) for w, b in rows)


# -- losses ---------------------------------------------------------------------------------------


def torch_loss(loss: losses.Loss) -> Callable[[torch.Tensor, Sequence[Any]], torch.Tensor]:
    """The PyTorch function ``f(outputs, targets)`` computing ``loss`` on a batch: ``outputs``
    a tensor of shape ``(N, nout)`` (what the module returns), ``targets`` as ``loss`` takes them.
    """
    if not isinstance(loss, losses.Loss):
        raise TypeError(f"torch_loss needs a loss of nn.losses, not {type(loss).__name__}")
    torch = import_torch("torch_loss")
    F = torch.nn.functional
    reduction = loss.reduction

    def dense(out: torch.Tensor, targets: Sequence[Any]) -> torch.Tensor:
        _check_outputs(torch, loss, out)
        return torch.tensor(loss.targets_matrix(_listed(torch, targets), out.shape[1]),
                            dtype=out.dtype)

    if isinstance(loss, losses.MeanSquaredError):  # MSELoss also divides by nout: sum, then / N
        def mse(out: torch.Tensor, y: Sequence[Any]) -> torch.Tensor:
            total = F.mse_loss(out, dense(out, y), reduction="sum")
            return total / out.shape[0] if reduction == "mean" else total
        return mse
    if isinstance(loss, losses.Hinge):  # no torch.nn module
        def hinge(out: torch.Tensor, y: Sequence[Any]) -> torch.Tensor:
            per_sample = torch.relu(1 - dense(out, y) * out)
            return per_sample.mean() if reduction == "mean" else per_sample.sum()
        return hinge
    if isinstance(loss, losses.BinaryCrossEntropyWithLogits):
        return lambda out, y: F.binary_cross_entropy_with_logits(out, dense(out, y),
                                                                 reduction=reduction)
    if isinstance(loss, losses.SoftmaxCrossEntropy):
        def cross_entropy(out: torch.Tensor, y: Sequence[Any]) -> torch.Tensor:
            _check_outputs(torch, loss, out)
            indices = [loss._check_target(k, out.shape[1]) for k in _listed(torch, y)]
            return F.cross_entropy(out, torch.tensor(indices, dtype=torch.int64),
                                   reduction=reduction)
        return cross_entropy
    raise TypeError(f"no PyTorch counterpart is known for the loss {loss!r}")


def _check_outputs(torch: Any, loss: losses.Loss, out: object) -> None:
    if not isinstance(out, torch.Tensor) or out.dim() != 2:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(f"{loss.name}: the outputs must be a tensor of shape (N, nout), one row "
                         f"per sample, got {shape}")


def _listed(torch: Any, targets: Sequence[Any] | torch.Tensor) -> list:
    """Targets as a list of Python numbers (or lists of them), also when given as a tensor."""
    return targets.tolist() if isinstance(targets, torch.Tensor) else list(targets)

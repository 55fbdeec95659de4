"""Neurons, layers and multi-layer perceptrons built from engine Values.

A neuron computes ``z = w . x + b`` and ``a = s(z)``: two nodes of the graph, ``z`` one
``affine`` node (``Value.affine``) and ``a`` one activation node (none for ``linear``, where
``a`` is ``z``). In the lecture notes' notation a layer computes ``z_l = W_l a_{l-1} + b_l`` and
``a_l = s_l(z_l)``; row ``j`` of ``W_l`` is ``layers[l].neurons[j].w``.

``expanded=True`` builds ``z`` the long way instead, one ``*`` node per weight and one ``sum``
node, to show every multiplication in a drawing; both forms give bit-identical values and
gradients (the sum adds ``b`` first, then the products in order, as ``affine`` does). The flag
lives in one place, each neuron's ``expanded``: ``Layer.expanded`` and ``MLP.expanded`` read
their neurons' flags and set them all.
"""

from __future__ import annotations

import itertools
import math
import numbers
import operator
import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

from engine import Value, affine_rows
from nn.checks import int_at_least, lift
from nn.seeding import Seed, as_random

Activation = str | Callable[[Value], Value]

LEAKY_SLOPE = 0.01  # Value.leaky_relu's default slope, the one the "leaky_relu" activation uses

ACTIVATIONS: dict[str, Callable[[Value], Value] | None] = {
    "tanh": Value.tanh,
    "sigmoid": Value.sigmoid,
    "relu": Value.relu,
    "leaky_relu": Value.leaky_relu,  # slope 0.01, as PyTorch
    "linear": None,  # a = z: no node
}
"""Activations known by name: they can be saved, and the closed form knows their derivatives."""

MAX_PARAMETERS = 10_000_000
"""The most parameters a network may have, checked before anything is allocated (a Value takes
about 100 bytes: ten million are a gigabyte, and minutes per training step). Raise it if you
mean it."""

INITS = ("uniform", "xavier", "he")
"""Weight initializations: uniform(-1, 1) (micrograd's), Xavier/Glorot uniform, He uniform."""

_MIXED = object()  # a layer whose neurons have different activations
_EXPANDED = operator.attrgetter("expanded")


class LayerTrace(NamedTuple):
    """One layer's Values in the graph of one input: ``a_{l-1}`` (``inputs``), ``z_l``, ``a_l``.

    After ``backward()``, ``z[j].grad`` is the lecture notes' ``delta`` of neuron ``j``.
    For a ``linear`` layer ``a[j] is z[j]``.
    """

    inputs: list[Value]
    z: list[Value]
    a: list[Value]


class Neuron:
    """One neuron: weights ``w`` (a tuple of leaf Values), bias ``b``, and an activation.

    ``activation`` is a name of ``ACTIVATIONS`` or any callable Value -> Value. ``seed`` is an
    int or a ``random.Random`` (shared by a whole MLP so that its draws follow each other);
    ``weights`` and ``bias`` give the initial numbers explicitly instead. ``fan_out`` (the size
    of the neuron's layer) is used by the ``xavier`` initialization only.

    ``w``, ``b`` and ``activation`` are fixed once made (layers rely on it); to change a weight,
    change its ``data``. ``expanded`` (settable) builds ``z`` from one ``*`` per weight; it is
    the only copy of the flag, which the neuron's layers read on every call.
    """

    __slots__ = ("_w", "_b", "_activation", "_activate", "_expanded")
    _any_expanded = False  # has any neuron's flag been set? if not, layers need not read them

    def __init__(self, nin: int, activation: Activation = "tanh", *, init: str = "uniform",
                 seed: Seed = None, fan_out: int = 1,
                 weights: Sequence[float] | None = None, bias: float | None = None,
                 expanded: bool = False) -> None:
        nin = int_at_least(nin, "nin")
        _check_parameter_count(nin + 1, f"Neuron({nin})")
        self._activate = _activation_function(activation)
        self._activation = activation
        self.expanded = expanded
        limit, bias_limit = _init_limits(init, nin, int_at_least(fan_out, "fan_out"))
        if weights is None:
            rng = as_random(seed)
            weights = [rng.uniform(-limit, limit) for _ in range(nin)]
            if bias is None:
                bias = rng.uniform(-bias_limit, bias_limit) if bias_limit else 0.0
        elif len(weights) != nin:
            raise ValueError(f"a neuron with nin={nin} needs {nin} weights, got {len(weights)}")
        self._w = tuple(Value(x) for x in weights)
        self._b = Value(0.0 if bias is None else bias)

    @property
    def expanded(self) -> bool:
        """Whether ``z`` is built the long way: one ``*`` node per weight and a ``sum``."""
        return self._expanded

    @expanded.setter
    def expanded(self, value: bool) -> None:
        self._expanded = bool(value)
        if value:
            Neuron._any_expanded = True

    def __setstate__(self, state: tuple) -> None:
        """Unpickled and copied neurons set their flag through ``expanded``, so that layers
        still see it."""
        _, slots = state
        for name, value in slots.items():
            object.__setattr__(self, name, value)
        self.expanded = self._expanded

    @property
    def w(self) -> tuple[Value, ...]:
        """The weights: one leaf Value per input."""
        return self._w

    @property
    def b(self) -> Value:
        """The bias: a leaf Value."""
        return self._b

    @property
    def activation(self) -> Activation:
        """The activation as given: a name of ``ACTIVATIONS`` or a callable."""
        return self._activation

    @property
    def nin(self) -> int:
        """The number of inputs (of weights)."""
        return len(self._w)

    @property
    def activation_name(self) -> str:
        """The activation's name: its key in ``ACTIVATIONS`` or the callable's ``__name__``."""
        return _activation_name(self._activation)

    def __call__(self, x: Sequence[Value | float]) -> Value:
        """The neuron's output ``a`` for the inputs ``x`` (numbers or Values)."""
        return self.forward(lift(x, len(self._w), "Neuron"))[1]

    def forward(self, x: tuple[Value, ...], expanded: bool | None = None) -> tuple[Value, Value]:
        """``(z, a)`` for inputs already lifted to Values (a tuple of ``nin`` Values).

        ``expanded`` (default: the neuron's own flag) overrides the flag for this call.
        """
        if self._expanded if expanded is None else expanded:
            z = Value.sum([self._b, *(wi * xi for wi, xi in zip(self._w, x, strict=True))])
        else:
            z = Value.affine(self._w, x, self._b)
        return z, self._activated(z)

    def _activated(self, z: Value) -> Value:
        act = self._activate
        if act is None:
            return z
        a = act(z)
        if type(a) is not Value:
            raise TypeError(f"the activation {self.activation_name} must return a Value, "
                            f"not {type(a).__name__}")
        return a

    def parameters(self) -> list[Value]:
        """Weights then bias (micrograd's order)."""
        return [*self._w, self._b]

    def zero_grad(self) -> None:
        """Set the gradient of every weight and of the bias to 0."""
        for p in self._w:
            p.grad = 0.0
        self._b.grad = 0.0

    def __repr__(self) -> str:
        return f"Neuron(nin={len(self._w)}, activation={self.activation_name!r})"


class Layer:
    """``nout`` neurons reading the same ``nin`` inputs; calling it returns a list of ``nout``.

    ``expanded`` (settable) builds every neuron's ``z`` the long way, one ``*`` per weight: it
    reads and sets the neurons' own flags (a neuron whose flag is set is expanded on its own).
    """

    __slots__ = ("_neurons", "_rows", "_nin", "_activate", "_fast")

    def __init__(self, nin: int, nout: int, activation: Activation = "tanh", *,
                 init: str = "uniform", seed: Seed = None,
                 expanded: bool = False) -> None:
        nout = int_at_least(nout, "nout")
        if isinstance(nin, numbers.Integral):
            _check_parameter_count((nin + 1) * nout, f"Layer({nin}, {nout})")
        rng = as_random(seed)
        self._setup([Neuron(nin, activation, init=init, seed=rng, fan_out=nout,
                            expanded=expanded) for _ in range(nout)])

    @classmethod
    def from_neurons(cls, neurons: Iterable[Neuron], expanded: bool | None = None) -> Layer:
        """A layer made of existing neurons (all with the same ``nin``).

        The neurons keep their ``expanded`` flags, unless ``expanded`` sets them all.
        """
        layer = cls.__new__(cls)
        layer._setup(list(neurons))
        if expanded is not None:
            layer.expanded = expanded
        return layer

    def _setup(self, neurons: list[Neuron]) -> None:
        if not neurons or not all(type(n) is Neuron for n in neurons):
            raise TypeError("a layer needs a non-empty list of Neurons")
        if len({n.nin for n in neurons}) != 1:
            raise ValueError("the neurons of a layer must all have the same nin")
        self._neurons = tuple(neurons)
        # what the fast path reads on every call (the neurons' w, b, activation are fixed)
        self._rows = tuple((*n.w, n.b) for n in neurons)  # (w_1..w_n, b), as affine nodes store
        self._nin = neurons[0].nin
        same = len({id(n._activate) for n in neurons}) == 1
        self._activate = neurons[0]._activate if same else _MIXED
        self._fast = _fast_path(self._activate)

    @property
    def neurons(self) -> tuple[Neuron, ...]:
        """The layer's neurons, in output order."""
        return self._neurons

    @property
    def nin(self) -> int:
        """The number of inputs every neuron reads."""
        return self._nin

    @property
    def nout(self) -> int:
        """The number of outputs (of neurons)."""
        return len(self._rows)

    @property
    def expanded(self) -> bool:
        """Whether any neuron builds ``z`` the long way; setting it sets every neuron's flag."""
        return any(map(_EXPANDED, self._neurons))

    @expanded.setter
    def expanded(self, value: bool) -> None:
        for n in self._neurons:
            n.expanded = bool(value)

    @property
    def activation(self) -> Activation:
        """The first neuron's activation (all of them share it unless built by from_neurons)."""
        return self._neurons[0].activation

    @property
    def activation_name(self) -> str:
        """The first neuron's activation name (see ``Neuron.activation_name``)."""
        return self._neurons[0].activation_name

    def __call__(self, x: Sequence[Value | float]) -> list[Value]:
        """The layer's outputs ``a`` (a list, even for one neuron)."""
        return self._call_lifted(lift(x, self._nin, "Layer"))

    def _call_lifted(self, x: tuple[Value, ...]) -> list[Value]:
        fast = self._fast
        if fast is None or (Neuron._any_expanded and self.expanded):
            return [a for _, a in self._forward(x)]
        op, then = fast
        a = affine_rows(self._rows, x, op)  # what it needs checked: rows of Values, x by lift
        return a if then is None else list(map(then, a))

    def _forward(self, x: tuple[Value, ...]) -> list[tuple[Value, Value]]:
        return [n.forward(x) for n in self._neurons]  # each neuron reads its own flag

    def trace(self, x: Sequence[Value | float]) -> LayerTrace:
        """The layer's inputs, pre-activations ``z`` and activations ``a`` as graph Values."""
        x = lift(x, self._nin, "Layer")
        za = self._forward(x)
        return LayerTrace(list(x), [z for z, _ in za], [a for _, a in za])

    def parameters(self) -> list[Value]:
        """Neuron by neuron, weights then bias."""
        return [p for n in self._neurons for p in (*n.w, n.b)]

    def zero_grad(self) -> None:
        """Set the gradient of every parameter to 0."""
        for n in self._neurons:
            n.zero_grad()

    def __repr__(self) -> str:
        return f"Layer(nin={self.nin}, nout={self.nout}, activation={self.activation_name!r})"


class MLP:
    """A multi-layer perceptron: ``nin`` inputs, then one layer per entry of ``nouts``.

    Hidden layers use ``activation``, the last layer ``output_activation``. ``seed`` (an int or
    a ``random.Random``) makes the initial weights reproducible; ``None`` draws fresh ones.
    ``init`` is ``"uniform"`` (weights and biases uniform(-1, 1)), ``"xavier"`` (Glorot
    uniform, biases 0, for tanh and sigmoid) or ``"he"`` (He uniform, biases 0, for relu).
    Calling it returns a list of Values (one per output neuron), always.
    """

    __slots__ = ("_layers",)

    def __init__(self, nin: int, nouts: Sequence[int], activation: Activation = "tanh",
                 output_activation: Activation = "linear", seed: Seed = None,
                 *, init: str = "uniform", expanded: bool = False) -> None:
        if isinstance(nouts, numbers.Integral) or not isinstance(nouts, Sequence) or not nouts:
            raise TypeError(f"nouts must be a non-empty list of layer sizes, got {nouts!r}")
        sizes = [int_at_least(nin, "nin"), *(int_at_least(n, "a layer size") for n in nouts)]
        _check_parameter_count(sum((a + 1) * b for a, b in itertools.pairwise(sizes)),
                               f"MLP({sizes[0]}, {sizes[1:]})")
        _activation_function(activation)  # checked even when there is no hidden layer
        rng = as_random(seed)
        last = len(nouts) - 1
        self._layers = tuple(Layer(sizes[i], sizes[i + 1],
                                   output_activation if i == last else activation,
                                   init=init, seed=rng, expanded=expanded)
                             for i in range(len(nouts)))

    @classmethod
    def from_layers(cls, layers: Iterable[Layer]) -> MLP:
        """An MLP made of existing layers, each reading the previous one's outputs."""
        mlp = cls.__new__(cls)
        mlp._layers = tuple(layers)
        if not mlp._layers or not all(type(layer) is Layer for layer in mlp._layers):
            raise TypeError("an MLP needs a non-empty list of Layers")
        for i in range(1, len(mlp._layers)):
            if mlp._layers[i].nin != mlp._layers[i - 1].nout:
                raise ValueError(f"layer {i} reads {mlp._layers[i].nin} inputs but layer {i - 1} "
                                 f"has {mlp._layers[i - 1].nout} outputs")
        return mlp

    @property
    def layers(self) -> tuple[Layer, ...]:
        """The layers, input side first."""
        return self._layers

    @property
    def expanded(self) -> bool:
        """Whether any neuron builds ``z`` the long way (one ``*`` per weight); setting it sets
        every neuron's flag."""
        return any(layer.expanded for layer in self._layers)

    @expanded.setter
    def expanded(self, value: bool) -> None:
        for layer in self._layers:
            layer.expanded = bool(value)

    @property
    def nin(self) -> int:
        """The number of inputs."""
        return self.layers[0].nin

    @property
    def sizes(self) -> list[int]:
        """``[nin, n_1, ..., n_L]``: the width of every layer, inputs first."""
        return [self.nin, *(layer.nout for layer in self.layers)]

    def __call__(self, x: Sequence[Value | float]) -> list[Value]:
        """The network's outputs ``a_L`` for one input (a list, even for one output)."""
        layers = self._layers
        x = lift(x, layers[0]._nin, "MLP")
        for layer in layers:
            x = layer._call_lifted(x)
        return x

    def trace(self, x: Sequence[Value | float]) -> list[LayerTrace]:
        """Every layer's ``inputs``, ``z`` and ``a`` for one input: ``list[LayerTrace]``.

        ``trace(x)[l]`` is layer ``l`` (0-based): ``.inputs`` is ``a_{l-1}`` (the input ``x``,
        lifted to Values, for ``l = 0``), ``.z`` the pre-activations, ``.a`` the activations;
        ``trace(x)[-1].a`` is what ``mlp(x)`` returns. Build a loss on it and call
        ``backward()``: ``trace[l].z[j].grad`` is then ``delta`` of neuron ``j`` of layer ``l``.
        """
        traces = []
        for layer in self.layers:
            t = layer.trace(x)
            traces.append(t)
            x = t.a
        return traces

    def parameters(self) -> list[Value]:
        """Layer by layer, neuron by neuron, weights then bias (micrograd's order)."""
        return [p for layer in self.layers for n in layer.neurons for p in (*n.w, n.b)]

    def zero_grad(self) -> None:
        """Set the gradient of every parameter to 0."""
        for layer in self.layers:
            layer.zero_grad()

    def compile(self, loss: Any = None) -> Any:
        """One sample's cost ``loss.sample(self(x), row)`` traced once, as an
        ``engine.compile`` program: ``.source`` reads it, ``.backward(X, Y)`` runs a batch (Y:
        ``loss.targets_matrix(y, nout)``). ``loss`` defaults to ``mse`` (see ``nn.compiled``)."""
        from nn.compiled import compile_loss
        from nn.losses import mse
        return compile_loss(self, mse if loss is None else loss)

    def to_dict(self) -> dict:
        """Architecture, activations and weights as JSON-ready data (see ``nn.serialization``)."""
        from nn.serialization import mlp_to_dict
        return mlp_to_dict(self)

    @classmethod
    def from_dict(cls, data: dict) -> MLP:
        """The MLP described by ``to_dict``'s data; ``ValueError`` names what is wrong."""
        from nn.serialization import mlp_from_dict
        return mlp_from_dict(data)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write ``to_dict()`` as JSON to ``path``."""
        from nn.serialization import save
        save(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> MLP:
        """Read an MLP saved by ``save``; never executes code from the file."""
        from nn.serialization import load
        return load(path)

    def to_torch(self) -> Any:
        """A ``torch.nn.Sequential`` of ``Linear`` (float64) and activation modules with exactly
        these weights (see ``nn.torch_bridge``; needs ``pip install "deltagrad[torch]"``)."""
        from nn.torch_bridge import to_torch
        return to_torch(self)

    @classmethod
    def from_torch(cls, module: Any) -> MLP:
        """The MLP computing what a ``torch.nn.Sequential`` of ``Linear`` and activation modules
        computes; ``ValueError`` names an unsupported layer (see ``nn.torch_bridge``)."""
        from nn.torch_bridge import from_torch
        return from_torch(module)

    def __repr__(self) -> str:
        widths = " -> ".join([str(self.nin), *(f"{layer.nout} {layer.activation_name}"
                                              for layer in self.layers)])
        return f"MLP({widths}; {sum(n.nin + 1 for ly in self.layers for n in ly.neurons)} params)"


# -- helpers ------------------------------------------------------------------------------------


def _fast_path(act: object) -> tuple[str | None, Callable[[Value], Value] | None] | None:
    """How a layer whose neurons share the activation ``act`` builds its outputs quickly:
    ``(op, then)`` for ``then(affine_layer(..., op))``, or ``None`` (neuron by neuron).

    Only the named activations qualify (they always return a Value); they are recognized by
    identity, so any callable works as a custom activation, hashable or not.
    """
    if act is None:  # linear
        return None, None
    for name in ("tanh", "sigmoid", "relu"):  # the engine builds z and a
        if act is ACTIVATIONS[name]:
            return name, None
    if act is ACTIVATIONS["leaky_relu"]:
        return None, act
    return None


def _check_parameter_count(count: int, what: str) -> None:
    if count > MAX_PARAMETERS:
        raise ValueError(f"{what} would have {count} parameters, more than "
                         f"nn.mlp.MAX_PARAMETERS ({MAX_PARAMETERS}); checked before allocating")


def _activation_function(activation: Activation) -> Callable[[Value], Value] | None:
    if isinstance(activation, str):
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; known: {', '.join(ACTIVATIONS)}"
                             " (or pass a callable Value -> Value)")
        return ACTIVATIONS[activation]
    if callable(activation):
        return activation
    raise TypeError(f"activation must be a name ({', '.join(ACTIVATIONS)}) or a callable "
                    f"Value -> Value, not {type(activation).__name__}")


def _activation_name(activation: Activation) -> str:
    if isinstance(activation, str):
        return activation
    return getattr(activation, "__name__", type(activation).__name__)


def _init_limits(init: str, nin: int, nout: int) -> tuple[float, float]:
    """(weight limit, bias limit) of the uniform initialization named ``init``."""
    if init == "uniform":
        return 1.0, 1.0
    if init == "xavier":
        return math.sqrt(6.0 / (nin + nout)), 0.0
    if init == "he":
        return math.sqrt(6.0 / nin), 0.0
    raise ValueError(f"unknown init {init!r}; known: {', '.join(INITS)}")

"""deltagrad's neural networks: neurons, layers and MLPs built from engine Values.

``MLP(nin, nouts, activation="tanh", output_activation="linear", seed=None)`` returns a list of
Values when called; ``mlp.trace(x)`` gives every layer's ``z`` and ``a`` as graph Values.
``draw_graph(loss, mlp)``, ``film_strip(loss, mlp)`` and ``explain(loss, w, mlp)`` are the
engine's pictures with the MLP's layers, neurons and lecture-notes names; ``draw_network(mlp, x,
y)`` is the network as drawn in lectures.
Submodules: ``data`` (toy data sets), ``losses``, ``optim``, ``train`` (a training loop),
``serialization`` (JSON save/load), ``closed_form`` (the matrix form with NumPy, imported on
first use so that ``import nn`` stays light) and ``torch_bridge`` (to PyTorch and back; import
it, or call ``MLP.to_torch`` / ``MLP.from_torch``: PyTorch is imported only then).
"""

from nn import data, losses, optim, serialization, train
from nn.draw import draw_graph, draw_network, explain, film_strip
from nn.mlp import ACTIVATIONS, INITS, MLP, Layer, LayerTrace, Neuron

__all__ = ["ACTIVATIONS", "INITS", "MLP", "Layer", "LayerTrace", "Neuron", "closed_form", "data",
           "draw_graph", "draw_network", "explain", "film_strip", "losses", "optim",
           "serialization", "train"]


def __getattr__(name: str):  # nn.closed_form imports NumPy only when first used
    if name == "closed_form":
        import importlib
        return importlib.import_module("nn.closed_form")
    raise AttributeError(f"module 'nn' has no attribute {name!r}")

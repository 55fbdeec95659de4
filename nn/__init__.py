"""deltagrad's neural networks: neurons, layers and MLPs built from engine Values.

``MLP(nin, nouts, activation="tanh", output_activation="linear", seed=None)`` returns a list of
Values when called; ``mlp.trace(x)`` gives every layer's ``z`` and ``a`` as graph Values.
"""

from nn import data
from nn.mlp import ACTIVATIONS, INITS, MLP, Layer, LayerTrace, Neuron

__all__ = ["ACTIVATIONS", "INITS", "MLP", "Layer", "LayerTrace", "Neuron", "data"]

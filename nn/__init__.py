"""deltagrad's neural networks: neurons, layers and MLPs built from engine Values.

(Coming with the next issue: Neuron, Layer, MLP, losses, optimizers, data sets.)
"""

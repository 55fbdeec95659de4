"""Saving and loading MLPs as JSON: architecture, activations, weights and a format version.

The file is plain JSON read with ``json.loads`` (no pickle, no eval: loading never runs code)::

    {"format": "deltagrad.mlp", "version": 1, "nin": 2,
     "layers": [{"activation": "tanh", "weights": [[w, ...], ...], "biases": [b, ...]}, ...]}

``weights[j]`` are neuron ``j``'s weights. Floats are written with ``repr``, which Python reads
back as the same float, so the round trip is exact (nan and inf are written as ``NaN`` and
``Infinity``, as Python's ``json`` does). Anything malformed raises ``ValueError`` saying what.
"""

from __future__ import annotations

import json
import math
import numbers
import os
from typing import Any

from nn.mlp import ACTIVATIONS, MLP, Layer, Neuron

__all__ = ["FORMAT", "VERSION", "load", "mlp_from_dict", "mlp_to_dict", "save"]

FORMAT = "deltagrad.mlp"
VERSION = 1


def mlp_to_dict(mlp: MLP) -> dict[str, Any]:
    """The MLP as JSON-ready data; ``ValueError`` for a custom (callable) activation."""
    layers = []
    for k, layer in enumerate(mlp.layers):
        names = {n.activation if isinstance(n.activation, str) else None for n in layer.neurons}
        if None in names:
            raise ValueError(f"layer {k} uses the custom activation {layer.activation_name!r}, "
                             f"which cannot be saved by name; only {', '.join(ACTIVATIONS)} can. "
                             "Save the weights yourself (mlp.parameters()) and rebuild the MLP "
                             "with the same callable.")
        if len(names) != 1:
            raise ValueError(f"the neurons of layer {k} have different activations")
        layers.append({"activation": names.pop(),
                       "weights": [[w.data for w in n.w] for n in layer.neurons],
                       "biases": [n.b.data for n in layer.neurons]})
    return {"format": FORMAT, "version": VERSION, "nin": mlp.nin, "layers": layers}


def mlp_from_dict(data: Any) -> MLP:
    """The MLP ``mlp_to_dict`` described; ``ValueError`` names the first thing that is wrong."""
    if not isinstance(data, dict):
        raise ValueError(f"an MLP file holds a JSON object, not {type(data).__name__}")
    if data.get("format") != FORMAT:
        raise ValueError(f"not a deltagrad MLP: 'format' is {data.get('format')!r}, "
                         f"expected {FORMAT!r}")
    version = data.get("version")
    if version != VERSION or isinstance(version, bool):
        raise ValueError(f"unsupported format version {version!r}; this deltagrad reads "
                         f"version {VERSION}")
    nin = data.get("nin")
    if isinstance(nin, bool) or not isinstance(nin, int) or nin < 1:
        raise ValueError(f"'nin' must be a positive int, got {nin!r}")
    layers_data = data.get("layers")
    if not isinstance(layers_data, list) or not layers_data:
        raise ValueError("'layers' must be a non-empty list")
    layers = []
    width = nin
    for k, entry in enumerate(layers_data):
        where = f"layer {k}"
        if not isinstance(entry, dict):
            raise ValueError(f"{where} must be an object, got {type(entry).__name__}")
        activation = entry.get("activation")
        if not isinstance(activation, str) or activation not in ACTIVATIONS:
            raise ValueError(f"{where}: unknown activation {activation!r}; known: "
                             f"{', '.join(ACTIVATIONS)}")
        weights, biases = entry.get("weights"), entry.get("biases")
        if not isinstance(weights, list) or not weights:
            raise ValueError(f"{where}: 'weights' must be a non-empty list of rows")
        if not isinstance(biases, list) or len(biases) != len(weights):
            raise ValueError(f"{where}: 'biases' must be a list of {len(weights)} numbers "
                             "(one per row of 'weights')")
        neurons = []
        for j, (row, bias) in enumerate(zip(weights, biases, strict=True)):
            if not isinstance(row, list) or len(row) != width:
                raise ValueError(f"{where}, neuron {j}: needs {width} weights (the previous "
                                 f"layer's width), got {_describe(row)}")
            for i, x in enumerate([*row, bias]):
                if not _is_number(x):
                    what = "bias" if i == width else f"weight {i}"
                    raise ValueError(f"{where}, neuron {j}, {what}: not a number: {x!r:.60}")
            neurons.append(Neuron(width, activation, weights=row, bias=bias))
        layers.append(Layer.from_neurons(neurons))
        width = len(neurons)
    return MLP.from_layers(layers)


def save(mlp: MLP, path: str | os.PathLike[str]) -> None:
    """Write the MLP to ``path`` as JSON (the whole file is replaced)."""
    text = json.dumps(mlp_to_dict(mlp))
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def load(path: str | os.PathLike[str]) -> MLP:
    """Read an MLP written by ``save``; ``ValueError`` if the file is not one."""
    with open(path, "rb") as f:
        raw = f.read()
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{os.fspath(path)} is not valid JSON (truncated or not an MLP file): "
                         f"{e}") from None
    try:
        return mlp_from_dict(data)
    except ValueError as e:
        raise ValueError(f"{os.fspath(path)}: {e}") from None


def _is_number(x: Any) -> bool:
    if isinstance(x, float):
        return True
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        return False
    try:
        return math.isfinite(float(x))
    except OverflowError:  # an int beyond the float range
        return False


def _describe(row: Any) -> str:
    return f"{len(row)}" if isinstance(row, list) else type(row).__name__

"""Saving and loading MLPs as JSON: architecture, activations, weights and a format version.

The file is plain JSON read with ``json.loads`` (no pickle, no eval: loading never runs code)::

    {"format": "deltagrad.mlp", "version": 1, "nin": 2, "sizes": [2, 3, 1],
     "layers": [{"activation": "tanh", "weights": [[w, ...], ...], "biases": [b, ...]}, ...]}

``weights[j]`` are neuron ``j``'s weights. Floats are written with ``repr``, which Python reads
back as the same float, so the round trip is exact (nan and inf are written as ``NaN`` and
``Infinity``, as Python's ``json`` does). ``sizes`` (``[nin, n_1, ..., n_L]``) is written by
``save`` and checked when present, so a file that lost a layer does not load as another model.
Nothing else is accepted: an unknown or repeated key, a number beyond the float range
(``1e400``), a model of more than ``nn.mlp.MAX_PARAMETERS`` parameters or a file of more than
``MAX_FILE_BYTES`` raise ``ValueError`` naming the file and the field.

``save`` writes a temporary file in the same folder and renames it over ``path``: a save that
fails (disk full, an interrupted process) leaves the old file as it was. The new file keeps the
old one's permissions (a new one gets what any new file gets: 0o666 less the umask, applied by
the system, never by changing the process's umask, which other threads share). A symlink is
written through, so its target gets the model and the link stays; a file its owner made
read-only is refused with ``PermissionError``, as ``open(path, "w")`` would be.
"""

from __future__ import annotations

import itertools
import json
import math
import numbers
import os
import secrets
import stat
from typing import Any

from nn.mlp import ACTIVATIONS, MAX_PARAMETERS, MLP, Layer, Neuron

__all__ = ["FORMAT", "MAX_FILE_BYTES", "VERSION", "load", "mlp_from_dict", "mlp_to_dict", "save"]

FORMAT = "deltagrad.mlp"
VERSION = 1
MAX_FILE_BYTES = 40 * MAX_PARAMETERS
"""The largest file ``load`` reads: about 40 characters per parameter of the largest model."""

_KEYS = ("format", "version", "nin", "sizes", "layers")
_LAYER_KEYS = ("activation", "weights", "biases")


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
        where = f"layer {k}, neuron"
        layers.append({"activation": names.pop(),
                       "weights": [[_real(w.data, f"{where} {j}, weight {i}")
                                    for i, w in enumerate(n.w)]
                                   for j, n in enumerate(layer.neurons)],
                       "biases": [_real(n.b.data, f"{where} {j}, bias")
                                  for j, n in enumerate(layer.neurons)]})
    return {"format": FORMAT, "version": VERSION, "nin": mlp.nin, "sizes": mlp.sizes,
            "layers": layers}


def _real(x: Any, where: str) -> float:
    """A parameter's data as a float for the file; TypeError if no file could hold it."""
    if type(x) is float:
        return x
    if isinstance(x, numbers.Real) and not isinstance(x, bool):
        try:
            return float(x)
        except OverflowError:
            pass
    raise TypeError(f"{where} is a {type(x).__name__} ({x!r:.40}), not a real number in the "
                    "float range: the file would not load. Set p.data to a float.")


def mlp_from_dict(data: Any) -> MLP:
    """The MLP ``mlp_to_dict`` described; ``ValueError`` names the first thing that is wrong."""
    if not isinstance(data, dict):
        raise ValueError(f"an MLP file holds a JSON object, not {type(data).__name__}")
    _known_keys(data, _KEYS, "the model")
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
    _check_sizes(data, nin, layers_data)
    layers = []
    width = nin
    for k, entry in enumerate(layers_data):
        where = f"layer {k}"
        if not isinstance(entry, dict):
            raise ValueError(f"{where} must be an object, got {type(entry).__name__}")
        _known_keys(entry, _LAYER_KEYS, where)
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
    """Write the MLP to ``path`` as JSON, replacing the file only once the new one is complete
    (a temporary file in the same folder, renamed over it): a failed save loses nothing."""
    path = _path(path, "save")
    if not isinstance(mlp, MLP):
        raise TypeError(f"save needs an MLP, not {type(mlp).__name__}")
    text = json.dumps(mlp_to_dict(mlp))
    target, mode = _replaceable(path)
    fd, temporary = _new_file(target, 0o666 if mode is None else mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        if mode is not None:
            os.chmod(temporary, mode)  # exactly the old file's, whatever the umask
        os.replace(temporary, target)
    except BaseException:
        os.unlink(temporary)
        raise


def load(path: str | os.PathLike[str]) -> MLP:
    """Read an MLP written by ``save``; ``ValueError`` naming the file and the field if the file
    is not one (see the module's docstring for what the format accepts)."""
    path = _path(path, "load")
    with open(path, "rb") as f:
        raw = f.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        raise ValueError(f"{path}: larger than MAX_FILE_BYTES ({MAX_FILE_BYTES} bytes), more "
                         "than any model deltagrad builds")
    try:
        data = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_repeated_keys,
                          parse_int=_parse_int, parse_float=_parse_float)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path} is not valid JSON (truncated or not an MLP file): "
                         f"{e}") from None
    except RecursionError:
        raise ValueError(f"{path}: nested too deeply to be an MLP file") from None
    except ValueError as e:  # from the hooks
        raise ValueError(f"{path}: {e}") from None
    try:
        return mlp_from_dict(data)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None


def _path(path: object, who: str) -> str:
    """``path`` as a str; a TypeError for anything but a str or os.PathLike (an int or a bool
    would be taken by ``open`` as a file descriptor: ``True`` is stdout)."""
    if isinstance(path, str | os.PathLike) and not isinstance(path, bytes):
        name = os.fspath(path)
        if isinstance(name, str):
            return name
    raise TypeError(f"{who}: the path must be a str or an os.PathLike (pathlib.Path), not "
                    f"{type(path).__name__}: {path!r:.60}")


def _replaceable(path: str) -> tuple[str, int | None]:
    """The file ``save`` writes (``path``, or a symlink's target) and its permissions (None if
    it does not exist yet); PermissionError for a read-only file, refused as ``open`` would."""
    target = os.path.realpath(path)
    try:
        info = os.stat(target)
    except FileNotFoundError:
        return target, None
    if not stat.S_ISREG(info.st_mode):
        raise IsADirectoryError(f"save: {path} is not a file (a folder?): give a file's path")
    mode = stat.S_IMODE(info.st_mode)
    if not mode & 0o222 or not os.access(target, os.W_OK):  # access() lets root write any file
        raise PermissionError(f"save: {path} is read-only (mode {mode:#o}), so it is not "
                              "replaced: make it writable (chmod u+w) or save to another path")
    return target, mode


def _new_file(beside: str, mode: int) -> tuple[int, str]:
    """A new, empty temporary file in ``beside``'s folder, created with ``mode`` (less the
    umask, which the system applies) and opened for writing: (descriptor, path)."""
    folder, name = os.path.split(beside)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        temporary = os.path.join(folder, f".{name}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(temporary, flags, mode), temporary
        except FileExistsError:
            continue
    raise FileExistsError(f"save: no free temporary name beside {beside}")


class _OutOfRange(str):
    """A number of the file beyond the float range (``1e400``, a 400-digit int): no field takes
    one, so the field's check refuses it, naming the field."""

    def __repr__(self) -> str:
        return f"{self[:24]}{'...' if len(self) > 24 else ''} (beyond the float range)"


def _parse_int(text: str) -> int | _OutOfRange:
    return int(text) if len(text) <= 300 else _OutOfRange(text)  # 10 ** 300 < float max


def _parse_float(text: str) -> float | _OutOfRange:
    x = float(text)
    return _OutOfRange(text) if math.isinf(x) else x  # Infinity is written so, not as 1e400


def _no_repeated_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data = dict(pairs)
    if len(data) != len(pairs):
        seen: set[str] = set()
        repeated = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise ValueError(f"the key {repeated!r} appears twice in one object")
    return data


def _known_keys(data: dict, known: tuple[str, ...], where: str) -> None:
    for key in data:
        if key not in known:
            raise ValueError(f"{where} has the unknown key {key!r:.40}; known: {', '.join(known)}")


def _check_sizes(data: dict, nin: int, layers: list) -> None:
    """Refuse a model larger than MAX_PARAMETERS before building it, and, when the file says
    its ``sizes``, a file whose layers do not match them (a lost layer)."""
    widths = [len(e["weights"]) if isinstance(e, dict) and isinstance(e.get("weights"), list)
              else 0 for e in layers]
    sizes = data.get("sizes")
    if "sizes" in data:
        if (not isinstance(sizes, list) or not sizes
                or not all(type(n) is int and n >= 1 for n in sizes)):
            raise ValueError(f"'sizes' must be a list of positive ints, got {sizes!r:.60}")
        _cap(sizes)
        if sizes != [nin, *widths]:
            raise ValueError(f"'sizes' is {sizes!r:.60} but 'nin' and the layers give "
                             f"{[nin, *widths]!r:.60}: a layer is missing, extra or cut")
    _cap([nin, *widths])


def _cap(sizes: list[int]) -> None:
    count = sum((a + 1) * b for a, b in itertools.pairwise(sizes))
    if count > MAX_PARAMETERS:
        raise ValueError(f"the layer sizes {sizes!r:.60} declare {count} parameters, more than "
                         f"nn.mlp.MAX_PARAMETERS ({MAX_PARAMETERS})")


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

"""What the engine reports when something goes wrong: a nan or inf under ``detect_anomaly``, a
local-derivative rule that gives too few or too many derivatives or cannot run on Values
(``create_graph=True``), an operation or a layer given the wrong operands. The backward pass
calls these only once an error happened (or in anomaly mode), so it stays the lecture's loop.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from engine.derivatives import OPS, Op, local_derivatives


def describe(values: Iterable) -> str:
    """``a = 2.0, an unlabelled value = 3.0``: Values as a message names them."""
    return ", ".join(f"{v.label or 'an unlabelled value'} = {v.data!r}" for v in values)


def check_step(node, g: float) -> None:
    """Under detect_anomaly: raise if passing ``node``'s gradient ``g`` (a number) on gave an
    operand nan or inf."""
    for operand, local in local_derivatives(node):
        if not math.isfinite(local * g):
            raise FloatingPointError(
                f"backward through {node.op} (output {node.label or 'unlabelled'} = {node.data!r}, "
                f"grad {g!r}) gave the gradient {local * g!r} to {operand.label or 'an operand'} "
                f"= {operand.data!r} (local derivative {local!r}); operands: "
                f"{describe(node.parents)}")


def refuse_miscounting_rules(nodes: Iterable, error: Exception) -> None:
    """Raise an error naming the first node whose rule does not give a tuple of one local
    derivative per operand (a user-registered rule, most likely), caused by ``error``; return
    if every rule counts right, or one raises (``error`` is then the one to see)."""
    for node in nodes:
        parents = node.parents
        try:
            local = node.entry.derivatives(*[p.data for p in parents], node.data)
        except Exception:
            return
        at = (f"at the node {node.label or 'unlabelled'} = {node.data!r} with operands "
              f"{describe(parents)}")
        if not isinstance(local, tuple | list):
            raise TypeError(f"the local-derivative rule of {node.op!r} must return a tuple, one "
                            f"derivative per operand, not {type(local).__name__} {local!r:.40}; "
                            f"{at}") from error
        if len(local) != len(parents):
            raise ValueError(f"the local-derivative rule of {node.op!r} gave {len(local)} "
                             f"derivatives for {len(parents)} operands, {at}") from error


def refuse_rules_off_values(nodes: Iterable, error: Exception) -> None:
    """Under create_graph: raise a short TypeError, the fix first, naming the first node whose
    rule cannot run on Values, caused by ``error``."""
    for node in nodes:
        try:
            local_derivatives(node, True)
        except (TypeError, ValueError, AttributeError) as cause:
            said = str(cause).split(":")[0][:60]
            raise TypeError(
                f"the rule of {node.op!r} cannot run on Values: write it with "
                "engine.derivatives' exp, div, power, log, sign, tanh, ... (or Value methods), "
                f"not math. create_graph=True and gradgradcheck run it on Values; it raised "
                f"{type(cause).__name__}: {said}") from error


def check_rows(rows: Sequence[tuple], inputs: tuple, value: type) -> None:
    """Raise a TypeError naming what is wrong with ``affine_rows``' arguments (``value``: the
    class Value, which this module, imported by it, does not import)."""
    for i, x in enumerate(inputs):
        if type(x) is not value:
            raise TypeError(f"affine_rows: input {i} is a {type(x).__name__}, not a Value")
    for j, row in enumerate(rows):
        if len(row) != len(inputs) + 1:
            raise TypeError(f"affine_rows: row {j} must hold {len(inputs)} weights and a bias, "
                            f"got {len(row)} Values")
        for i, w in enumerate(row):
            if type(w) is not value:
                raise TypeError(f"affine_rows: row {j}, entry {i} is a {type(w).__name__}, not "
                                "a Value")


def check_layer(weights: Sequence, biases: Sequence) -> None:
    """``affine_layer``'s rows and biases: as many of each."""
    if len(weights) != len(biases):
        raise ValueError(f"affine_layer needs one bias per row, got {len(weights)} rows and "
                         f"{len(biases)} biases")


def check_widths(rows: Sequence[tuple], inputs: tuple) -> None:
    """Each row of an affine layer: a weight per input, and a bias."""
    for row in rows:
        if len(row) != len(inputs) + 1:
            raise width_error(len(row) - 1, len(inputs))


def width_error(weights: int, inputs: int) -> ValueError:
    """The error of an ``affine`` node or layer given more or fewer weights than inputs."""
    return ValueError(f"affine needs as many weights as inputs, got {weights} weights and "
                      f"{inputs} inputs")


def checked_entry(op: str, operands: tuple) -> Op:
    """``apply``'s operation: its entry of the table, if it exists and takes that many operands."""
    entry = OPS.get(op)
    if entry is None:
        raise ValueError(f"unknown operation {op!r}; known: {', '.join(OPS)}")
    if entry.arity is not None and len(operands) != entry.arity:
        raise TypeError(f"{op} takes {entry.arity} operands, got {len(operands)}")
    return entry

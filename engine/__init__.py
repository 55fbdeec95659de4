"""deltagrad's engine: scalar reverse-mode automatic differentiation in pure Python.

A :class:`Value` records each operation with its operands; ``backward()`` walks the graph in
reverse topological order and applies the chain rule with the local derivatives of the table
(``engine.derivatives``). The folders are the layers, each using only those below it:

- the core, here: ``value`` (the node and the backward pass), ``derivatives`` (the table of
  operations), ``modes`` (``no_grad``, ``detect_anomaly``), ``ieee`` (numbers that never raise),
  ``functional`` (``grad``, ``hessian``, ``hvp``, ``jacobian``, ``jvp``);
- ``engine.pictures``: drawings, the film strip, explain and the trace table;
- ``engine.testing``: gradcheck and the hypothesis tools (``engine.testing.strategies``).
"""

import sys

from engine.chain_rule import chain_rule_steps
from engine.compiler import compile
from engine.functional import grad, hessian, hvp, jacobian, jvp
from engine.modes import detect_anomaly, enable_grad, is_grad_enabled, no_grad
from engine.pictures import draw, filmstrip, notation, render, trace
from engine.pictures import explain as _explain
from engine.pictures import gradient_names as _gradient_names
from engine.value import Value, affine_rows, ancestors, apply, backward_order

# The paths of the pictures before 0.2 name the same modules: ``engine.draw`` is
# ``engine.pictures.draw``. Set here, not in files of their own, so that importing
# ``engine.explain`` never replaces the function ``engine.explain`` by a module.
for _old, _module in {"draw": draw, "explain": _explain, "filmstrip": filmstrip, "render": render,
                      "gradient_names": _gradient_names, "text": notation, "trace": trace}.items():
    sys.modules.setdefault(f"engine.{_old}", _module)
del _old, _module

draw_graph, explain, film_strip = draw.draw_graph, _explain.explain, filmstrip.film_strip
gradient_names, trace_table = _gradient_names.gradient_names, trace.trace_table

__all__ = ["Value", "affine_rows", "ancestors", "apply", "backward_order", "chain_rule_steps",
           "compile", "detect_anomaly",
           "draw_graph", "enable_grad", "explain", "film_strip", "grad", "gradient_names",
           "hessian", "hvp", "is_grad_enabled", "jacobian", "jvp", "no_grad", "trace_table"]

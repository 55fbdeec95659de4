"""deltagrad's engine: scalar reverse-mode automatic differentiation in pure Python.

A :class:`Value` records each operation with its operands; ``backward()`` walks the graph in
reverse topological order and applies the chain rule with the local derivatives of
``engine.derivatives``. ``backward(create_graph=True)`` builds the gradients as graphs too, for
second derivatives; ``engine.functional`` (``grad``, ``hessian``, ``hvp``, ``jacobian``, ``jvp``)
gives derivatives as functions.
"""

from engine.draw import draw_graph
from engine.explain import explain
from engine.filmstrip import film_strip
from engine.functional import grad, hessian, hvp, jacobian, jvp
from engine.gradient_names import gradient_names
from engine.modes import detect_anomaly, enable_grad, is_grad_enabled, no_grad
from engine.trace import trace_table
from engine.value import Value, affine_rows, ancestors, apply, backward_order

__all__ = ["Value", "affine_rows", "ancestors", "apply", "backward_order", "detect_anomaly",
           "draw_graph", "enable_grad", "explain", "film_strip", "grad", "gradient_names",
           "hessian", "hvp", "is_grad_enabled", "jacobian", "jvp", "no_grad", "trace_table"]

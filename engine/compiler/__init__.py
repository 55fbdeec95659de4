"""``engine.compile``: trace a function of one sample once, and run it as a program.

deltagrad records the same graph for every sample. Its graph is the lecture notes' evaluation
trace, and ``backward()`` its adjoint: a straight-line program. ``engine.compile`` writes that
program once, readable, and runs it on one sample (the same bits as ``backward()``) or on a
whole batch with NumPy (a layer's ``affine`` nodes as one matrix product)::

    mlp = MLP(2, [16, 16, 1])
    def loss(x, y):                   # one sample: x a list of 2 Values, y a Value
        return (mlp(x)[0] - y) ** 2
    step = engine.compile(loss, [0.5, -1.0], 1.0, params=mlp.parameters())
    print(step.source)                # the forward and adjoint programs, one line per node
    print(step.batch_source)          # the batch program: Z1 = W1 @ A0 + b1, ...
    step([0.5, -1.0], 1.0)            # the output, a float
    step.backward([0.5, -1.0], 1.0)   # adds d loss/d p into p.grad, returns the output
    step.backward(X, Y)               # a batch: X (B, 2), Y (B,) NumPy arrays; returns the B
                                      # outputs, adds the gradient of their sum into p.grad
    out, grads = step.gradients(X, Y, theta=theta)   # arrays only: nothing read or written
                                                     # in the Values (theta: params' numbers)

API (what notebooks, ``nn`` and tests may rely on):

- ``compile(f, *example_inputs, params=(), names=None, check_inputs=(), has_aux=False)`` ->
  ``Compiled``.
  ``f`` takes one sample: numbers, or nested lists of numbers (the same shape at every call),
  which it receives as Values; it reads its parameters (leaf Values listed by ``params``)
  through a closure, and returns a Value or a list of Values (``backward`` then differentiates
  their sum). Any other leaf ``f`` reads is a constant of the program. ``names`` maps Values
  to the names the programs give them (``{w: "W1[2,1]"}``; labels otherwise; a callable
  ``names(output) -> dict`` is called on the traced output). ``check_inputs`` is a list of
  other examples (tuples of inputs): each is traced too, and compile refuses if the graph
  differs, naming the first node that does (a branch on data, a number read off the data).
  ``has_aux=True`` (as in JAX): ``f`` returns a pair ``(outputs, aux)``, ``aux`` a Value or a
  list of Values the programs compute and return beside the outputs, never differentiated (a
  network's logits beside its loss): ``__call__`` and ``backward`` then return the pair
  ``(outputs, aux)``, and ``gradients`` returns ``((outputs, aux), gradients)``.
- ``Compiled``: ``__call__(*inputs, theta=)``, ``backward(*inputs, exact=False)``
  (``exact=True``: a batch through the one-sample program, sample after sample, the bits of
  ``backward()`` on each in turn), ``gradients(*inputs, theta=)``,
  ``parameter_array()``, ``set_parameters(theta)``, ``params``, ``source`` (one-sample
  program), ``batch_source`` (batch program); both sources show highlighted in Jupyter.
  A batch is recognised by NumPy arrays with one more axis than the example. A compiled
  step keeps its parameter and gradient arrays: one thread at a time per step.
- Every op of ``engine.derivatives.OPS`` has a row in ``engine.compiler.arrays.ARRAY_OPS`` (how
  its forward is written, its NumPy functions); a registered op without one still compiles,
  through its float functions (``np.vectorize`` in the batch program, with a warning naming it).
- While ``f`` is traced, a comparison or truth test of a Value (an ``if`` on data) warns
  (``engine.modes.TracerWarning``): the program keeps the branch this example took.

The parts: ``tracing`` (the trace and the check of other examples), ``naming``, ``symbols`` (the
engine's rules run on symbols), ``arrays`` (how each op is written, the table of the compiler),
``writing``, ``one_sample`` and ``batch`` (the two programs), ``program`` (``Compiled``).
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Mapping, Sequence

from engine.compiler.arrays import ARRAY_OPS, float_functions
from engine.compiler.naming import Names
from engine.compiler.program import Compiled
from engine.compiler.source import Source
from engine.compiler.tracing import Trace, argument_names, first_difference, trace
from engine.modes import TracerWarning
from engine.value import Value

__all__ = ["ARRAY_OPS", "Compiled", "Source", "TracerWarning", "compile"]

RESERVED = {"P", "G", "np", "theta", "ones"}


def compile(f: Callable[..., Value | list[Value]], *example_inputs: object,
            params: Iterable[Value] = (),
            names: Mapping[Value, str] | Callable[[Value], Mapping[Value, str]] | None = None,
            check_inputs: Sequence[Sequence[object]] = (), has_aux: bool = False) -> Compiled:
    """Trace ``f`` on ``example_inputs`` (one sample) and return its programs (``Compiled``).
    See the module's docstring for the whole interface."""
    if not callable(f):
        raise TypeError(f"engine.compile needs a function, not {type(f).__name__}")
    params = list(params)
    taken = RESERVED | set(float_functions()) | set(dir(builtins))
    first = trace(f, example_inputs, params, argument_names(f, len(example_inputs), taken),
                  has_aux)
    given = names(first.root) if callable(names) else (names or {})
    named = name_nodes(first, given)
    for k, other in enumerate(check_inputs):
        if not isinstance(other, list | tuple):
            raise TypeError(f"check_inputs[{k}] must be a tuple of inputs, like the example's")
        if len(other) != len(example_inputs):
            raise TypeError(f"check_inputs[{k}] has {len(other)} inputs; the example has "
                            f"{len(example_inputs)}")
        again = trace(f, other, params, first.arg_names, has_aux)
        if again.shapes != first.shapes:
            raise ValueError(f"check_inputs[{k}] has inputs of shapes {again.shapes}; the "
                             f"example's are {first.shapes}")
        difference = first_difference(first, again, named.name)
        if difference is not None:
            raise ValueError(f"engine.compile: f is not one program for all its inputs: on "
                             f"check_inputs[{k}], {difference}")
    return Compiled(f, first, named)


def name_nodes(t: Trace, given: Mapping[Value, str]) -> Names:
    """Names for the trace's computed nodes; the inputs are read where they are (``x[0]``). The
    parameters are named when the one-sample program is written (``Names.name_params``): the
    batch program reads them in arrays, and a network may have a hundred thousand."""
    names = Names(RESERVED | set(float_functions()) | set(t.arg_names), given)
    for leaf, text in t.input_text.items():
        names.fixed(leaf, text)
    for node in t.interior:
        if t.computed(node) and node not in names.name:
            names.give(node, given.get(node) or node.label or None)
    return names

"""``Compiled``: what ``engine.compile`` returns, the traced function as programs that run.

One sample of floats runs the one-sample program (the same bits as ``backward()``); a batch of
NumPy arrays runs the batch program. Both are written when first needed, from the one trace.
"""

from __future__ import annotations

import html
from collections import deque
from collections.abc import Callable, Sequence
from itertools import repeat
from operator import attrgetter

from engine.compiler.naming import Names
from engine.compiler.one_sample import OneSampleProgram
from engine.compiler.source import Source
from engine.compiler.tracing import Trace
from engine.conversions import real
from engine.value import Value

SHOWN_PARAMETERS = 2_000


class Compiled:
    """A function of one sample traced into programs; see ``engine.compile``."""

    def __init__(self, f: Callable, trace: Trace, names: Names) -> None:
        self.f = f
        self.trace = trace
        self.names = names
        self.params = list(trace.params)
        self._one: OneSampleProgram | None = None
        self._batch = None

    # -- the programs, written on first use ------------------------------------------------
    @property
    def one_sample(self) -> OneSampleProgram:
        if self._one is None:
            from engine.compiler import one_sample

            self._one = one_sample.write(self.trace, self.names)
        return self._one

    @property
    def batch(self):
        """The batch program (``engine.compiler.batch.BatchProgram``); builds it, imports NumPy."""
        if self._batch is None:
            from engine.compiler import batch

            self._batch = batch.write(self.trace, self.names)
        return self._batch

    @property
    def source(self) -> Source:
        """The one-sample program: the forward (evaluation trace) and the adjoint program, one
        line per node, readable Python; ``batch_source`` has the batch program."""
        return Source(self.one_sample.source)

    @property
    def batch_source(self) -> Source:
        """The batch program: NumPy, one line per node or per layer (``Z1 = W1 @ A0 + b1``)."""
        return Source(self.batch.source)

    # -- running ----------------------------------------------------------------------------
    def __call__(self, *inputs: object, theta: object = None) -> object:
        """The output for one sample (a float, or a list of floats), or for a batch of NumPy
        arrays whose first axis is the sample (an array of outputs: (B,) or (B, outputs)).
        ``theta``, for a batch: the parameters' numbers, as ``gradients`` takes them."""
        if self._is_batch(inputs):
            return self.batch.forward(inputs, self._theta() if theta is None else theta)
        if theta is not None:
            raise TypeError("theta= is for a batch (NumPy arrays whose first axis is the "
                            "sample); one sample reads the parameters' Values")
        args = self._sample(inputs)
        program = self.one_sample
        return self._result(program.forward(*args, list(map(_DATA, program.params))))

    def backward(self, *inputs: object, exact: bool = False) -> object:
        """Add d output / d p into ``p.grad`` for each parameter (of the outputs' sum if f
        returns a list; of the sum over the samples for a batch), as ``output.backward()``
        does, and return the output(s) as ``__call__`` does.

        ``exact=True`` runs a batch through the one-sample program, sample after sample: the
        same bits as ``backward()`` on each sample's graph in turn (slower than the batch
        program, faster than the engine)."""
        if exact and self._is_batch(inputs):
            return self._each_sample(inputs)
        if self._is_batch(inputs):
            outputs, grads = self.batch.run(inputs, self._theta())
            for p, g in zip(self.params, grads.tolist(), strict=True):  # one pass: the cost
                p.grad += g  # of this route is a Python step per parameter, and memory
            return outputs
        args = self._sample(inputs)
        program = self.one_sample
        params = program.params
        out, grads = program.backward(*args, list(map(_DATA, params)), list(map(_GRAD, params)))
        deque(map(setattr, params, repeat("grad"), grads), 0)
        return self._result(out)

    def _result(self, out: object) -> object:
        """The one-sample program's result as the caller gets it: a float or a list (and with
        has_aux the pair of those)."""
        t = self.trace
        if t.aux is None:
            return out if t.single else list(out)
        out, aux = out  # type: ignore[misc]
        return (out if t.single else list(out), aux if t.aux_single else list(aux))

    def _each_sample(self, inputs: Sequence[object]) -> object:
        """``backward`` on each sample of a batch in turn, with the one-sample program: the
        parameters are read once, the gradients carried from sample to sample as floats."""
        from engine.compiler.batch import batch_arrays  # imports NumPy

        columns = batch_arrays(inputs, self.trace)
        program = self.one_sample
        params = program.params
        P, grads = list(map(_DATA, params)), list(map(_GRAD, params))
        run = program.backward
        outputs = []
        for sample in zip(*[c.tolist() for c in columns], strict=True):
            out, grads = run(*sample, P, grads)
            outputs.append(out)
        deque(map(setattr, params, repeat("grad"), grads), 0)
        t = self.trace
        if t.aux is None:
            return _stacked(outputs, t.outputs, t.single)
        return (_stacked([out for out, _ in outputs], t.outputs, t.single),
                _stacked([aux for _, aux in outputs], t.aux, t.aux_single))

    def gradients(self, *inputs: object, theta: object = None) -> tuple[object, object]:
        """``(outputs, gradients)`` for a batch, without touching the Values: ``gradients[k]``
        is d(sum of outputs)/d ``params[k]``, at the parameters ``theta`` (an array in the
        order of ``params``; default: their Values' numbers). For training loops that keep
        the parameters in an array (see ``parameter_array``). With has_aux: ``((outputs,
        aux), gradients)``, as JAX's ``value_and_grad(has_aux=True)``."""
        return self.batch.run(inputs, self._theta() if theta is None else theta)

    def parameter_array(self):
        """The parameters' numbers, a NumPy array in the order of ``params``."""
        return self._theta()

    def set_parameters(self, theta: object) -> None:
        """Write the numbers of ``theta`` (in the order of ``params``) into the Values."""
        values = [float(x) for x in theta]  # type: ignore[union-attr]
        if len(values) != len(self.params):
            raise ValueError(f"set_parameters needs {len(self.params)} numbers, got "
                             f"{len(values)}")
        for p, x in zip(self.params, values, strict=True):
            p.data = x

    def _theta(self):
        import numpy as np

        return np.fromiter(map(_DATA, self.params), dtype=float, count=len(self.params))

    # -- inputs -----------------------------------------------------------------------------
    def _is_batch(self, inputs: Sequence[object]) -> bool:
        self._check_count(inputs)
        shapes = self.trace.shapes
        arrays = [getattr(x, "ndim", None) for x in inputs]
        if all(a is None for a in arrays):
            return False
        if any(a is not None and a == len(s) + 1 for a, s in zip(arrays, shapes, strict=True)):
            return True
        return False

    def _check_count(self, inputs: Sequence[object]) -> None:
        if len(inputs) != len(self.trace.shapes):
            raise TypeError(f"the compiled function takes {len(self.trace.shapes)} inputs "
                            f"({', '.join(self.trace.arg_names)}), got {len(inputs)}")

    def _sample(self, inputs: Sequence[object]) -> list[object]:
        """The inputs of one sample as nested lists of floats, checked against the example's
        shapes."""
        return [_floats(x, s, name) for x, s, name in
                zip(inputs, self.trace.shapes, self.trace.arg_names, strict=True)]

    def __repr__(self) -> str:
        t = self.trace
        inner = sum(1 for v in t.interior if t.computed(v))
        return (f"<engine.compile of {getattr(self.f, '__qualname__', self.f)!r}: "
                f"{inner} nodes, {len(self.params)} parameters>")

    def _repr_html_(self) -> str:
        """In Jupyter: the one-sample program, or for a large network (more than
        ``SHOWN_PARAMETERS`` parameters: a line per weight) the batch program."""
        large = len(self.params) > SHOWN_PARAMETERS
        source = self.batch_source if large else self.source
        return f"<p>{html.escape(repr(self))}</p>" + source._repr_html_()


def _stacked(rows: list, nodes: list, single: bool) -> object:
    """The samples' results as the batch program shapes them: (B,) for one node, (B, k) for
    k, even for no samples."""
    import numpy as np

    return np.array(rows, dtype=float).reshape((len(rows),) if single else (len(rows),
                                                                             len(nodes)))


def _depth(x: object) -> int:
    """How deeply ``x`` nests lists (0 for a number), along its first entries."""
    depth = 0
    while isinstance(x, list | tuple) and x:
        x, depth = x[0], depth + 1
    return depth


def _floats(x: object, shape: tuple[int, ...], where: str) -> object:
    if not shape:
        if isinstance(x, Value):
            raise TypeError(f"input {where} must be a number here (as in the example), not "
                            "Value: give its .data")
        return real(x, f"input {where} (a number, as in the example)")  # as Value(x) reads it
    try:
        n = len(x)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"input {where} must be a list of {shape[0]} here (as in the example), "
                        f"not {type(x).__name__}") from None
    if n != shape[0]:
        hint = (" (a batch is a NumPy array whose first axis is the sample)"
                if n and _depth(x) > len(shape) else "")
        raise ValueError(f"input {where} has {n} entries; the example had {shape[0]}{hint}")
    return [_floats(v, shape[1:], f"{where}[{i}]") for i, v in enumerate(x)]  # type: ignore


_DATA, _GRAD = attrgetter("data"), attrgetter("grad")  # a gradient adds as backward() adds to it





"""Tracing: run ``f`` once on example inputs and keep the graph it records.

The inputs become leaf Values (a nested list of numbers, a nested list of leaves); the
parameters are the Values ``f`` reads through a closure, listed by ``params``; any other leaf is a
constant, its number fixed in the program. What the programs need of each node is found here:
whether it varies with the sample (*mapped*: it depends on an input) and whether a gradient
flows through it (*active*: it depends on a parameter). Two traces of the same ``f`` can be
compared node by node (:func:`first_difference`): a trace fixes the branches ``f`` took and the
numbers it read off the data, which another example reveals.
"""

from __future__ import annotations

import inspect
import numbers
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from operator import attrgetter

from engine.compiler.naming import FUNCTION_PREFIXES
from engine.modes import ModeBlock, TracerWarning
from engine.value import Value, ancestors

_IS_LEAF = attrgetter("is_leaf")


@dataclass
class Trace:
    """The graph of ``f`` on one example, and what each of its nodes is."""

    arg_names: list[str]
    shapes: list[tuple[int, ...]]  # each argument's shape: () for a number
    inputs: list[Value]  # the leaves made for the inputs, argument by argument, flat
    input_text: dict[Value, str]  # x[0][1]: where an input leaf is read from its argument
    input_place: dict[Value, tuple[int, int]]  # (argument, flat index)
    params: list[Value]
    outputs: list[Value]
    single: bool  # f returned a Value, not a list
    root: Value  # the output, or the sum of the outputs
    nodes: list[Value]  # the root and all it was computed from, in creation order
    interior: list[Value] = field(default_factory=list)  # the nodes made by operations
    mapped: set[Value] = field(default_factory=set)  # depends on an input
    active: set[Value] = field(default_factory=set)  # depends on a parameter
    branches: list[str] = field(default_factory=list)  # data-dependent branches warned about
    aux: list[Value] | None = None  # has_aux: computed beside the outputs, not differentiated
    aux_single: bool = True  # the aux was a Value, not a list

    def computed(self, node: Value) -> bool:
        """Whether the program computes ``node`` (else it is a constant of the program)."""
        return not node.is_leaf and (node in self.mapped or node in self.active)

    def constant(self, node: Value) -> bool:
        return node not in self.mapped and node not in self.active


def argument_names(f: Callable, count: int, taken: Iterable[str] = ()) -> list[str]:
    """The names of ``f``'s first ``count`` parameters (``x``, ``y``), ``arg0``... otherwise, and
    for a name the programs use themselves (``taken``: ``P``, ``theta``, ``tanh``...), which an
    argument would shadow."""
    try:
        found = [p.name for p in inspect.signature(f).parameters.values()
                 if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        found = []
    taken = set(taken)
    names: list[str] = []
    for i in range(count):
        name = found[i] if i < len(found) else ""
        if not name.isidentifier() or name in names or name in taken or \
                name.startswith(FUNCTION_PREFIXES):
            name = f"arg{i}"
            while name in names or name in found or name in taken:
                name += "_"
        names.append(name)
    return names


def shape_of(example: object, where: str) -> tuple[int, ...]:
    """The shape of a number (``()``) or of a nested list of numbers, all rows alike."""
    if isinstance(example, numbers.Real) and not isinstance(example, Value):
        return ()
    if isinstance(example, Value):
        raise TypeError(f"{where} is a Value: the inputs of engine.compile are numbers (or nested "
                        "lists of numbers); Values that f reads go in params=")
    try:
        items = list(example)  # type: ignore[call-overload]
    except TypeError:
        raise TypeError(f"{where} must be a number or a (nested) list of numbers, not "
                        f"{type(example).__name__}") from None
    if not items:
        raise ValueError(f"{where} is empty")
    inner = [shape_of(x, f"{where}[{i}]") for i, x in enumerate(items)]
    if any(s != inner[0] for s in inner):
        raise ValueError(f"{where} is ragged: its rows have shapes {sorted(set(inner))}")
    return (len(items), *inner[0])


def _leaves(example: object, text: str, flat: list[Value], texts: list[str]) -> object:
    if isinstance(example, numbers.Real):
        leaf = Value(example)  # as Value reads a number: an int past the float range is inf
        flat.append(leaf)
        texts.append(text)
        return leaf
    return [_leaves(x, f"{text}[{i}]", flat, texts) for i, x in enumerate(example)]


def trace(f: Callable, examples: Sequence[object], params: Sequence[Value],
          arg_names: list[str] | None = None, has_aux: bool = False) -> Trace:
    """Run ``f`` on leaves made from ``examples`` and return its :class:`Trace`; with
    ``has_aux``, ``f`` returns ``(outputs, aux)``."""
    names = arg_names or argument_names(f, len(examples))
    shapes = [shape_of(x, f"input {name}") for x, name in zip(examples, names, strict=True)]
    flat: list[Value] = []
    texts: list[str] = []
    args, place = [], {}
    for a, (x, name) in enumerate(zip(examples, names, strict=True)):
        start = len(flat)
        args.append(_leaves(x, name, flat, texts))
        place.update({leaf: (a, i) for i, leaf in enumerate(flat[start:])})
    start = Value(0.0).created  # leaves older than this were not made by f
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", TracerWarning)
        with ModeBlock(record=True, tracing=True):
            result = f(*args)
    branches = [str(w.message) for w in caught if issubclass(w.category, TracerWarning)]
    for w in caught:  # the user sees every warning once, ours with where they came from
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    aux, aux_single = None, True
    if has_aux:
        if not (isinstance(result, list | tuple) and len(result) == 2):
            raise TypeError(f"engine.compile(has_aux=True): f must return a pair (outputs, aux), "
                            f"got {type(result).__name__}: {result!r:.80}")
        result, extra = result
        aux_single = isinstance(extra, Value)
        aux = [extra] if aux_single else _outputs(extra, "the aux of f must be")
    single = isinstance(result, Value)
    outputs = [result] if single else _outputs(result)
    root = outputs[0] if single else Value.sum(outputs)
    nodes = ancestors(root, *(aux or ()))
    found = Trace(names, shapes, flat, dict(zip(flat, texts, strict=True)), place, list(params),
                  outputs, single, root, nodes, branches=branches, aux=aux,
                  aux_single=aux_single)
    _check_params(found)
    _warn_unlisted(found, start)
    in_graph = set(nodes)
    found.mapped = set(flat) & in_graph
    found.active = set(found.params) & in_graph
    mapped, active = found.mapped, found.active
    found.interior = [v for v in nodes if not v.is_leaf]
    for node in found.interior:  # creation order: operands first
        operands = node.parents
        if any(p in mapped for p in operands):
            mapped.add(node)
        if any(p in active for p in operands):
            active.add(node)
    return found


def _outputs(result: object, what: str = "f must return") -> list[Value]:
    if isinstance(result, list | tuple) and result and all(isinstance(v, Value) for v in result):
        return list(result)
    raise TypeError(f"engine.compile: {what} a Value or a non-empty list of Values, got "
                    f"{type(result).__name__}: {result!r:.80}")


def _check_params(t: Trace) -> None:
    if set(map(type, t.params)) <= {Value} and all(map(_IS_LEAF, t.params)) and \
            len(set(t.params)) == len(t.params):
        return
    seen = set()
    for i, p in enumerate(t.params):
        if not isinstance(p, Value):
            raise TypeError(f"params[{i}] is a {type(p).__name__}, not a Value")
        if not p.is_leaf:
            raise ValueError(f"params[{i}] ({p.label or p.op}) is computed by an operation: "
                             "parameters are leaf Values (their gradients are what step."
                             "backward gives)")
        if p in seen:
            raise ValueError(f"params[{i}] ({p.label or 'unlabelled'}) is listed twice")
        seen.add(p)


def _warn_unlisted(t: Trace, start: int) -> None:
    """Warn about leaves that existed before the trace, that f reads, and that params does not
    list: their numbers are fixed in the program (a forgotten parameter gets no gradient and
    keeps its old number when an optimizer changes it)."""
    listed = set(t.params) | set(t.inputs)
    older = [v for v in set(t.nodes).difference(t.interior, listed) if v.created < start]
    older.sort(key=lambda v: v.created)
    if older:
        shown = ", ".join(v.label or f"a Value of data {v.data!r}" for v in older[:3])
        more = f" and {len(older) - 3} more" if len(older) > 3 else ""
        warnings.warn(f"engine.compile: f reads {len(older)} Value(s) made before the trace that "
                      f"params does not list ({shown}{more}): their numbers are constants of the "
                      "program, with no gradient, whatever they become. List them in params= "
                      "(or use numbers)", TracerWarning, stacklevel=3)


def first_difference(a: Trace, b: Trace, names: dict[Value, str]) -> str | None:
    """How the graph of ``b`` first differs from ``a`` (its node, named as in ``a``'s program),
    or None when they are the same program: the same operations on the same operands, and the
    same constants."""
    if len(a.outputs) != len(b.outputs) or a.single != b.single:
        return f"f returned {len(b.outputs)} outputs, not {len(a.outputs)}"
    if a.aux_single != b.aux_single:
        return (f"f returned its aux as a {'Value' if b.aux_single else 'list'} here, as a "
                f"{'Value' if a.aux_single else 'list'} in the first trace")
    if len(a.aux or ()) != len(b.aux or ()):
        return f"f returned {len(b.aux or ())} aux values, not {len(a.aux or ())}"
    where_a = {v: i for i, v in enumerate(a.nodes)}
    where_b = {v: i for i, v in enumerate(b.nodes)}
    params_a = {p: i for i, p in enumerate(a.params)}
    params_b = {p: i for i, p in enumerate(b.params)}
    for k in range(max(len(a.nodes), len(b.nodes))):
        if k >= len(a.nodes) or k >= len(b.nodes):
            extra = b.nodes[k] if k < len(b.nodes) else a.nodes[k]
            return f"the graph has {len(b.nodes)} nodes, not {len(a.nodes)} (around {extra.op!r})"
        u, v = a.nodes[k], b.nodes[k]
        name = names.get(u, u.label or f"#{k}")
        if u.op != v.op or len(u.parents) != len(v.parents):
            return (f"node {name} is {_what(u)} in the first trace but {_what(v)} here: f takes "
                    "another path through its code for this input")
        if u.is_leaf:
            if (u in a.input_place) != (v in b.input_place) or (u in params_a) != \
                    (v in params_b):
                return f"leaf {name} is an input, a parameter or a constant in one trace only"
            if u in params_a and params_b[v] != params_a[u]:
                return f"leaf {name} is another parameter here"
            if u in a.input_place and a.input_place[u] != b.input_place[v]:
                return (f"the graph reads the input {a.input_text[u]} in the first trace, "
                        f"{b.input_text[v]} here: f chooses its inputs by their numbers")
            if u not in params_a and u not in a.input_place and not _same(u.data, v.data):
                return (f"the constant {name} is {u.data!r} in the first trace but {v.data!r} "
                        "here: a number read off the data (v.data) is fixed in the program")
            continue
        for i, (p, q) in enumerate(zip(u.parents, v.parents, strict=True)):
            if where_a[p] != where_b[q]:
                return (f"node {name} ({u.op}) reads operand {i + 1} from another node here: "
                        "the graph differs")
    return _other_result(a, b, where_a, where_b)


def _other_result(a: Trace, b: Trace, where_a: dict, where_b: dict) -> str | None:
    """Whether ``f`` returns other nodes of the same graph in ``b`` (an output or an aux chosen
    by the data): the program would return ``a``'s."""
    returned = [("its output" if a.single else f"output {k}", u, v)
                for k, (u, v) in enumerate(zip(a.outputs, b.outputs, strict=True))]
    returned += [(f"aux {k}", u, v) for k, (u, v) in enumerate(zip(a.aux or (), b.aux or (),
                                                                  strict=True))]
    for what, u, v in returned:
        if where_a[u] != where_b[v]:
            return f"f returns another node as {what} here: it picks what it returns by the data"
    return None


def _what(v: Value) -> str:
    return "a leaf" if v.is_leaf else f"a {v.op} node of {len(v.parents)} operands"


def _same(x: float, y: float) -> bool:
    return x == y or (x != x and y != y)

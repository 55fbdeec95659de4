"""The one-sample program: the evaluation trace and its adjoint as straight-line Python.

One line per node, in creation order (the forward), then one line per term of the chain rule,
in the order of ``backward()``'s walk and, within a node, of its operands: the same float
operations, with the same functions, in the same order as the engine, so the same bits. The
parameters' gradients start from their ``.grad`` (the program is given them), because
``backward()`` adds to a leaf's gradient term by term.
"""

from __future__ import annotations

import builtins
import re
from dataclasses import dataclass

from engine.compiler.arrays import CHUNK, float_functions
from engine.compiler.naming import Names
from engine.compiler.symbols import Symbol, infix
from engine.compiler.tracing import Trace
from engine.compiler.writing import Writer, returned, term, tuple_text
from engine.derivatives import OPS, SUM
from engine.value import backward_order

PROGRAM = "forward_and_backward"
FORWARD = "forward"


@dataclass
class OneSampleProgram:
    source: str
    forward: object  # (*args, P) -> outputs
    backward: object  # (*args, P, G) -> (outputs, gradients)
    params: list  # the parameters it reads and differentiates, in the order of P and G


def write(t: Trace, names: Names) -> OneSampleProgram:
    """The program of ``t``, its variables named by ``names``."""
    node_set = set(t.nodes)
    used = [p for p in t.params if p in node_set]
    names.name_params(used)
    writer = Writer(lambda v: names.name[v], t.constant)
    args = ", ".join(t.arg_names)
    forward = [*_unpack(used, names, "P"), *_forward_lines(t, names, writer)]
    outputs = _outputs(t, names)
    backward = _backward_lines(t, names, writer, used)
    grads = tuple_text([names.grad(p) for p in used])
    dicts = sorted(names.dicts)
    declare = ([f"    {', '.join(dicts)} = {', '.join('{}' for _ in dicts)}  # names with "
                "an index (run as plain variables)"] if dicts else [])
    gdicts = sorted(d for d in (f"g{d}" for d in names.dicts))
    gdeclare = ([f"    {', '.join(gdicts)} = {', '.join('{}' for _ in gdicts)}"]
                if gdicts else [])
    what = "the output" if t.single else "the outputs, and the gradients of their sum"
    if t.aux is not None:
        what += ", and the aux (not differentiated)"
    lines = [
        f"def {PROGRAM}({args}, P, G):",
        f'    """{what.capitalize()}; P: the parameters\' numbers, G: their gradients so far."""',
        *declare,
        "    # forward: the evaluation trace",
        *forward,
        "    # reverse: the adjoint trace, gv = d(output)/dv; each line adds (dn/dv) * gn, the "
        "chain rule",
        *gdeclare,
        *backward,
        f"    return {outputs}, ({grads})",
    ]
    source = "\n".join(lines) + "\n"
    fwd_source = "\n".join([f"def {FORWARD}({args}, P):", *declare, *forward,
                            f"    return {outputs}"]) + "\n"
    namespace = {**float_functions(), **_rowless_functions(writer)}
    run, run_forward = _plain(source, names), _plain(fwd_source, names)
    exec(builtins.compile(run, f"<engine.compile {PROGRAM}>", "exec"), namespace)
    exec(builtins.compile(run_forward, f"<engine.compile {FORWARD}>", "exec"), namespace)
    return OneSampleProgram(source, namespace[FORWARD], namespace[PROGRAM], used)


def _plain(source: str, names: Names) -> str:
    """The source as it runs: each indexed name a plain variable (``W1[2,1]`` is ``W1__2_1``),
    which Python reads and writes twice as fast as a dict's entry; the same operations on the
    same numbers otherwise. Unchanged if a plain name would clash with one in use."""
    bases = names.dicts | {f"g{d}" for d in names.dicts}
    if not bases:
        return source
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, sorted(bases, key=len, reverse=True)))
                         + r")\[(-?\d+(?:,-?\d+)*)\]")

    def plain(match: re.Match) -> str:
        return f"{match.group(1)}__{match.group(2).replace(',', '_').replace('-', 'm')}"
    run = pattern.sub(plain, source)
    mangled = set(re.findall(r"\b\w+__[\dm_]+\b", run))
    if mangled & (names.plain | names.reserved) or "__" in "".join(names.plain):
        return source
    return run


def _unpack(params: list, names: Names, sequence: str) -> list[str]:
    if not params:
        return []
    targets = [names.name[p] for p in params]
    lines = []
    for i in range(0, len(targets), CHUNK):
        part = targets[i:i + CHUNK]
        lines.append(f"    {tuple_text(part)} = {sequence}[{i}:{i + len(part)}]")
    if len(lines) == 1:
        lines = [f"    {tuple_text(targets)} = {sequence}  # the parameters' numbers"]
    return lines


def _forward_lines(t: Trace, names: Names, writer: Writer) -> list[str]:
    lines = []
    for node in t.interior:
        if not t.computed(node):
            continue
        target = names.name[node]
        comment = f"  # {names.comment[node]}" if node in names.comment else ""
        if node.op in ("affine", "sum") and len(node.parents) > CHUNK:
            lines += _long_sum(target, node, writer)
            lines[-1] += comment
            continue
        lines.append(f"    {target} = {writer.forward(node).text}{comment}")
    return lines


def _long_sum(target: str, node, writer: Writer) -> list[str]:
    """A sum of many terms, in lines of CHUNK terms, still added left to right."""
    operands = [writer.symbol(p) for p in node.parents]
    if node.op == "affine":
        n = len(operands) // 2
        terms = [operands[-1], *(infix(w, "*", x, 2) for w, x in zip(operands[:n],
                                                                      operands[n:-1], strict=True))]
    else:
        terms = operands
    lines = []
    for i in range(0, len(terms), CHUNK):
        total = Symbol(target) if i else terms[0]
        for x in terms[i + (0 if i else 1):i + CHUNK]:
            total = infix(total, "+", x, SUM)
        lines.append(f"    {target} = {total.text}")
    return lines


def _outputs(t: Trace, names: Names) -> str:
    return returned(t, lambda v: repr(v.data) if t.constant(v) else names.name[v])


def _backward_lines(t: Trace, names: Names, writer: Writer, params: list) -> list[str]:
    lines = [f"    {tuple_text([names.grad(p) for p in params])} = G  # backward adds to .grad"] \
        if params else []
    if t.root not in t.active:
        return lines
    assigned = set(params)  # a parameter's gradient starts from its .grad, the root's too
    lines.append(f"    {names.grad(t.root)} {'+=' if t.root in assigned else '='} 1.0")
    for node in backward_order(t.root):
        if node not in t.active:
            continue
        g = names.grad(node)
        for operand, local in zip(node.parents, writer.locals(node), strict=True):
            if operand not in t.active:
                continue
            target = names.grad(operand)
            product = term(local, g)
            if operand in assigned:  # x + (-y) is x - y, bit for bit
                lines.append(f"    {target} -= {product[1:]}" if product.startswith("-")
                             and _atom(product[1:]) else f"    {target} += {product}")
            else:
                assigned.add(operand)
                lines.append(f"    {target} = {product}")
    return lines


def _atom(text: str) -> bool:
    return text.replace("[", "").replace("]", "").replace(",", "").isidentifier()


def _rowless_functions(writer: Writer) -> dict[str, object]:
    found = {}
    for op, name in writer.rowless.items():
        entry = OPS[op]
        found[name] = entry.forward
        found["d_" + name] = entry.derivatives
    return found

"""The batch program: the trace run on a whole batch with NumPy, a layer as one matrix product.

Each node that varies with the sample is an array over the batch (node by node: ``v3 = tanh(v2)``
on arrays of B numbers); a node that depends on the parameters only is one number. Nodes that
make a layer are *blocks*, matrices whose rows are nodes and whose columns are samples: the
inputs (``A0 = x.T``), a layer's ``affine`` nodes that read the same inputs (``Z1 = W1 @ A0 +
b1``: the ``affine`` row of the table says how, :class:`engine.compiler.arrays.AffineGroups`),
and an op applied to every row of a block (``A1 = tanh(Z1)``). A node whose operands are the rows
of blocks (a sum, log-sum-exp's shift, a dot product: ``ARRAY_OPS[op].over_rows``) is one call
over them (``v = sum_rows(M1)``). The adjoint runs the same units backwards: ``gZ1 = gA1 * (1.0 -
A1 * A1)``, ``gW1 += gZ1 @ A0.T``, ``gM1 = np.zeros(M1.shape) + gv``.

The parameters are one array ``theta`` (in the order of ``params``), their gradients one array
``G``; a layer's ``W1`` and ``b1`` are views of ``theta``, ``gW1`` and ``gb1`` of ``G``. A
parameter read one by one has its label for a name (``w, b = theta[0], theta[1]``, then ``v1 =
w * x``), and its gradient ``gw`` is added into ``G`` at the end.
"""

from __future__ import annotations

import builtins
import heapq
import re
import warnings
from dataclasses import dataclass

import numpy as np

from engine.compiler.arrays import ARRAY_OPS, numpy_functions
from engine.compiler.naming import Names
from engine.compiler.symbols import Symbol, literal
from engine.compiler.tracing import Trace
from engine.compiler.writing import Writer, returned, term
from engine.derivatives import OPS
from engine.value import Value

PROGRAM = "batch_forward_and_backward"
FORWARD = "batch_forward"


@dataclass(eq=False)
class Unit:
    """What one step of the program computes: a block of nodes, or one node."""

    kind: str  # "input", "layer", "map", "stack", "node", "rows" (a node reading whole blocks)
    nodes: list[Value]  # the rows of a block, or the one node
    name: str = ""  # a block's matrix
    operand: Unit | None = None  # a layer's inputs block, a map's operand block
    op: str = ""
    arrays: LayerArrays | None = None  # a layer's weights and biases
    arg: int = -1  # an input block's argument
    groups: tuple = ()  # a "rows" node's operands: the blocks it reads whole, or single nodes

    @property
    def newest(self) -> int:
        return max(v.created for v in self.nodes)


@dataclass
class LayerArrays:
    """A layer's weights and biases: views of theta (or an index into it) and of G."""

    W: str
    b: str
    W_at: object  # index arrays into theta, (m, n) and (m, 1)
    b_at: object
    passes: int = 0  # the layers (units) that read them


class BatchProgram:
    """The compiled batch program and what it needs to run."""

    def __init__(self, source: str, namespace: dict, trace: Trace) -> None:
        self.source = source
        self.namespace = namespace
        self.trace = trace
        self._run = namespace[PROGRAM]
        self._forward = namespace[FORWARD]
        self.arrays: dict = {}  # the layers' views of theta and G, by name
        self.forward_arrays: dict = {}

    def _load(self, inputs, theta):
        """The inputs as float arrays of one batch size (checked against the example's
        shapes); ``theta`` copied into the program's own array."""
        arrays = batch_arrays(inputs, self.trace)
        size = len(arrays[0])
        if not size:
            raise ValueError("an empty batch")
        own = self.namespace["theta"]
        if theta is not own:
            theta = np.asarray(theta, dtype=float)
            if theta.shape != own.shape:
                raise ValueError(f"theta must hold the {own.shape[0]} parameters, got the "
                                 f"shape {theta.shape}")
            own[...] = theta
        if len(self.namespace["ones"]) != size:
            self.namespace["ones"] = np.ones(size)
        return arrays

    def forward(self, inputs, theta):
        """The outputs only (and the aux, with has_aux): the forward half of the program."""
        arrays = self._load(inputs, theta)
        with np.errstate(all="ignore"):
            return self._shaped(self._forward(*arrays, **self.forward_arrays), len(arrays[0]))

    def run(self, inputs, theta):
        """``(outputs, gradients)``: the gradient of the outputs' sum over the batch, an array
        in the order of ``params``."""
        arrays = self._load(inputs, theta)
        G = self.namespace["G"]
        G[...] = 0.0
        with np.errstate(all="ignore"):
            out = self._run(*arrays, **self.arrays)
        return self._shaped(out, len(arrays[0])), G.copy()

    def _shaped(self, out, size):
        """The program's result as arrays over the batch: (B,) for one output, (B, k) for k;
        with has_aux, the pair of the outputs and the aux so shaped, each an array of its own
        (the aux may be the outputs' nodes: a block and one of its rows)."""
        t = self.trace
        if t.aux is None:
            return _arrays(out, size, t.single, t.outputs, t.input_place)
        out, aux = out
        out = _arrays(out, size, t.single, t.outputs, t.input_place)
        aux = _arrays(aux, size, t.aux_single, t.aux, t.input_place)
        return out, aux.copy() if np.may_share_memory(out, aux) else aux


def batch_arrays(inputs, t: Trace) -> list:
    """The inputs of a batch as float arrays, each the example's shape after one first axis,
    the same for all (the number of samples); a ValueError names the input that is not."""
    arrays = []
    for x, shape, name in zip(inputs, t.shapes, t.arg_names, strict=True):
        a = x if type(x) is np.ndarray and x.dtype == np.float64 else np.asarray(x, dtype=float)
        if a.ndim != len(shape) + 1 or a.shape[1:] != shape:
            raise ValueError(f"input {name}: a batch of it must have the shape (B, "
                             f"{', '.join(map(str, shape))}), got {a.shape}".replace(
                                 "(B, )", "(B,)"))
        if arrays and len(a) != len(arrays[0]):
            raise ValueError(f"input {name} has {len(a)} samples, the first input "
                             f"{len(arrays[0])}")
        arrays.append(a)
    return arrays


def write(t: Trace, names: Names) -> BatchProgram:
    """The batch program of the trace ``t``, its nodes named by ``names``."""
    return _Builder(t, names).program()


class _Builder:
    def __init__(self, t: Trace, names: Names) -> None:
        self.t, self.names = t, names
        self.param_at = {p: k for k, p in enumerate(t.params)}
        self.users: dict[Value, list[Value]] = {}  # of a node, the nodes that may map a block
        self.parents: dict[Value, tuple] = {}  # read once: an affine node spells them out
        for v in t.interior:
            if v in t.mapped and v.op in ARRAY_OPS and v.op not in ("affine", "sum"):
                self.parents[v] = parents = v.parents
                self.users.setdefault(parents[0], []).append(v)
        used = {names.name[v].split("[")[0] for v in t.interior if v in names.name}
        self.taken = used | {f"g{u}" for u in used} | set(names.reserved)
        self.unit_of: dict[Value, Unit] = {}
        self.row_of: dict[Value, int] = {}
        self.units: list[Unit] = []
        self.blocks_by_rows: dict[tuple[int, ...], Unit] = {}
        self.layer_arrays: dict[tuple, LayerArrays] = {}
        self.slow: set[str] = set()
        self._param_names: dict[Value, str] | None = None
        self.scalars: dict[Value, str] = {}  # the parameters read one by one, by name
        self.writer = Writer(self.ref, t.constant)

    def operands(self, v: Value) -> tuple:
        """``v.parents``, read once (an affine node spells out its 2n + 1 operands each time)."""
        found = self.parents.get(v)
        if found is None:
            found = self.parents[v] = v.parents
        return found

    # -- names ------------------------------------------------------------------------------
    def fresh(self, wanted: str | None, fallback: str) -> str:
        for candidate in ([wanted] if wanted else []) + [f"{fallback}{i}" if i else fallback
                                                         for i in range(0, 1000)]:
            if candidate and candidate.isidentifier() and candidate not in self.taken \
                    and f"g{candidate}" not in self.taken:
                self.taken |= {candidate, f"g{candidate}"}
                return candidate
        raise RuntimeError("no free name")  # pragma: no cover

    def shared_base(self, nodes: list[Value], capital: bool = True) -> str | None:
        """``Z1`` for nodes named ``z1[1], z1[2], ...``: their names' base, capitalised (a
        matrix of the lecture notes), or as it is (``W1``, ``b1``: already the lecture's)."""
        known = self.names.name if capital else self.param_names()
        first = known.get(nodes[0], "")
        base = first.split("[")[0] + "["
        if "[" not in first or not all(known.get(v, "").startswith(base) for v in nodes):
            return None
        return (base[:1].upper() if capital else base[:1]) + base[1:-1]

    def param_names(self) -> dict[Value, str]:
        """The parameters' wanted names (given, or labels), as the one-sample program reads
        them; without naming them (a network may have a hundred thousand)."""
        if self._param_names is None:
            given = self.names.given
            self._param_names = {p: given.get(p) or p.label for p in self.param_at}
        return self._param_names

    def scalar(self, p: Value) -> str:
        """The name a parameter read one by one (outside a layer's matrices) has in the program:
        its label (``w``) where that is a free identifier; the program reads it from theta
        first and adds its gradient into G last."""
        name = self.scalars.get(p)
        if name is None:
            name = self.scalars[p] = self.fresh(self.param_names()[p], "p")
        return name

    def ref(self, v: Value) -> str:
        if v in self.param_at:
            return self.scalar(v)
        unit = self.unit_of.get(v)
        if unit is not None and unit.kind in ("input", "layer", "map"):
            if unit.kind == "input" and self.t.shapes[unit.arg] == ():
                return unit.name
            return f"{unit.name}[{self.row_of[v]}]"
        return self.names.name[v]

    def gref(self, v: Value) -> str:
        if v in self.param_at:
            return f"g{self.scalar(v)}"
        unit = self.unit_of.get(v)
        if unit is not None and unit.kind in ("layer", "map"):
            return f"g{unit.name}[{self.row_of[v]}]"
        return self.names.grad(v)

    # -- finding the units ------------------------------------------------------------------
    def block(self, unit: Unit) -> None:
        self.units.append(unit)
        for i, v in enumerate(unit.nodes):
            self.unit_of[v] = unit
            self.row_of[v] = i
        self.blocks_by_rows.setdefault(tuple(map(id, unit.nodes)), unit)
        self.maps_over(unit)

    def find_units(self) -> None:
        t = self.t
        by_arg: dict[int, list[Value]] = {}
        for leaf in t.inputs:
            by_arg.setdefault(t.input_place[leaf][0], []).append(leaf)
        for a, leaves in by_arg.items():
            arg = t.arg_names[a]
            wanted = f"{arg}T"
            name = arg if t.shapes[a] == () else self.fresh(wanted, f"{arg}T")
            self.block(Unit("input", leaves, name, arg=a))
        layers: dict[tuple, list[Value]] = {}
        groups = ARRAY_OPS["affine"].groups
        for v in t.interior:
            if v.op == "affine" and v in t.mapped and v not in self.unit_of:
                w, x, b = groups.split(self.operands(v))
                if all(p in self.param_at for p in (*w, b)) and all(p in t.mapped for p in x):
                    layers.setdefault(groups.key(self.operands(v)), []).append(v)
        for v in t.interior:
            if v in self.unit_of or not t.computed(v):
                continue
            members = layers.get(groups.key(self.operands(v))) if v.op == "affine" else None
            if members and v in members:
                self.layer(members)
            else:
                read = self.blocks_read(v)
                self.unit_of[v] = unit = Unit("rows" if read else "node", [v], groups=read)
                self.units.append(unit)

    def blocks_read(self, v: Value) -> tuple:
        """What a node of an op written over rows (``ARRAY_OPS[op].over_rows``) reads, one
        entry per group of its operands: the block whose rows the group is, in order, or the
        node itself for a single operand. ``()`` if a group is not a block's rows (or none is a
        block): the node is then written term by term."""
        row = ARRAY_OPS.get(v.op)
        if row is None or row.over_rows is None:
            return ()
        found = []
        for group in row.over_rows.split(self.operands(v)):
            if isinstance(group, Value):
                found.append(group)
                continue
            block = self.blocks_by_rows.get(tuple(map(id, group)))
            if block is None or (block.kind == "input" and self.t.shapes[block.arg] == ()):
                return ()
            found.append(block)
        return tuple(found) if any(isinstance(g, Unit) for g in found) else ()

    def name_inputs_A0(self) -> None:
        """The input block the first layer reads is ``A0``, as in the lecture notes."""
        first = next((u for u in self.units if u.kind == "layer"), None)
        if first is not None and first.operand.kind == "input" and first.operand.name != "A0" \
                and "A0" not in self.taken:
            self.taken |= {"A0", "gA0"}
            first.operand.name = "A0"

    def layer(self, members: list[Value]) -> None:
        groups = ARRAY_OPS["affine"].groups
        _, x, _ = groups.split(self.operands(members[0]))
        source = self.blocks_by_rows.get(tuple(map(id, x)))
        if source is None or source.kind not in ("input", "layer", "map") or (
                source.kind == "input" and self.t.shapes[source.arg] == ()):
            source = Unit("stack", list(x), self.fresh(None, "S"))
            self.units.append(source)
        W_at = np.array([[self.param_at[p] for p in groups.split(self.operands(z))[0]]
                         for z in members], dtype=np.intp)
        b_at = np.array([[self.param_at[groups.split(self.operands(z))[2]]] for z in members],
                        dtype=np.intp)
        key = (W_at.tobytes(), W_at.shape, b_at.tobytes())
        arrays = self.layer_arrays.get(key)
        if arrays is None:
            index = len(self.layer_arrays) + 1
            weights = [w for z in members for w in groups.split(self.operands(z))[0]]
            W = self.fresh(self.shared_base(weights, capital=False), f"W{index}")
            b = self.fresh(self.shared_base([groups.split(self.operands(z))[2] for z in members],
                                            capital=False), f"b{index}")
            arrays = self.layer_arrays[key] = LayerArrays(W, b, W_at, b_at)
        arrays.passes += 1  # the same layer again (a network run twice): Z1_2, A1_2
        index = list(self.layer_arrays).index(key) + 1
        suffix = "" if arrays.passes == 1 else f"_{arrays.passes}"
        name = self.fresh(self.shared_base(members), f"Z{index}{suffix}")
        self.block(Unit("layer", list(members), name, operand=source, arrays=arrays))

    def maps_over(self, block: Unit) -> None:
        """A block of the nodes that apply one op to every row of ``block``, in order, with the
        same other operands, constants or one node of a sample each (``A1 = tanh(Z1)``,
        ``M = Z2 - v7``: NumPy broadcasts ``v7`` over the rows), and blocks over that one."""
        if block.kind == "input" and self.t.shapes[block.arg] == ():
            return
        t = self.t
        candidates: dict[tuple, list[Value]] = {}
        for i, row in enumerate(block.nodes):
            for v in self.users.get(row, ()):
                parents = self.operands(v)
                if v in self.unit_of or parents[0] is not row:
                    continue
                key = (v.op, tuple(p.data if t.constant(p) else id(p) for p in parents[1:]))
                found = candidates.setdefault(key, [])
                if len(found) == i:
                    found.append(v)
        for (op, _), members in candidates.items():
            if len(members) != len(block.nodes):
                continue
            oldest = min(m.created for m in members)  # what they share is computed before them
            shared = [p for p in self.operands(members[0])[1:] if not t.constant(p)]
            rows = set(block.nodes) if len(block.nodes) > 1 else set()  # Z * Z[0]: not a map
            if not any(m in self.unit_of for m in members) and \
                    all(p.created < oldest and p not in rows for p in shared):
                wanted = self.shared_base(members)
                index = block.name[1:] if block.kind == "layer" and \
                    block.name[1:].replace("_", "").isdigit() else ""
                activation = index and len(self.operands(members[0])) == 1  # A1 = tanh(Z1)
                name = self.fresh(wanted or (f"A{index}" if activation else None), "M")
                self.block(Unit("map", members, name, operand=block, op=op))

    # -- order ------------------------------------------------------------------------------
    def ordered(self) -> list[Unit]:
        """The units in an order where each comes after those it reads (newest node first
        breaking ties, so the program reads in creation order)."""
        needs: dict[int, set[int]] = {}
        index = {id(u): k for k, u in enumerate(self.units)}
        for k, u in enumerate(self.units):
            found = set()
            reads = [u.operand] if u.kind in ("layer", "map") else []
            if u.kind == "map":  # and the operands its rows share
                reads += [self.unit_of.get(p) for p in self.operands(u.nodes[0])[1:]]
            if u.kind in ("node", "rows", "stack"):
                for v in u.nodes:
                    for p in (self.operands(v) if u.kind != "stack" else [v]):
                        owner = self.unit_of.get(p)
                        if owner is not None and owner is not u:
                            reads.append(owner)
            for r in reads:
                if r is not None and index[id(r)] != k:
                    found.add(index[id(r)])
            needs[k] = found
        users: dict[int, list[int]] = {}
        for k, found in needs.items():
            for r in found:
                users.setdefault(r, []).append(k)
        waiting = {k: len(found) for k, found in needs.items()}
        ready = [(self.units[k].newest, k) for k, n in waiting.items() if n == 0]
        heapq.heapify(ready)
        order = []
        while ready:
            _, k = heapq.heappop(ready)
            order.append(self.units[k])
            for u in users.get(k, ()):
                waiting[u] -= 1
                if waiting[u] == 0:
                    heapq.heappush(ready, (self.units[u].newest, u))
        if len(order) != len(self.units):  # pragma: no cover - units form no cycle
            raise RuntimeError("engine.compile: the batch program's steps form a cycle")
        return order

    # -- writing ----------------------------------------------------------------------------
    def forward_lines(self, order: list[Unit]) -> list[str]:
        lines = []
        for u in order:
            if u.kind == "input":
                if self.t.shapes[u.arg] != ():
                    arg = self.t.arg_names[u.arg]
                    lines.append(f"{u.name} = {arg}.reshape(len({arg}), -1).T"
                                 "  # a column per sample")
            elif u.kind == "layer":
                arrays = u.arrays
                lines.append(ARRAY_OPS["affine"].groups.forward(u.name, arrays.W, u.operand.name,
                                                                arrays.b))
            elif u.kind == "map":
                rest = [literal(p.data) if self.t.constant(p) else Symbol(self.ref(p))
                        for p in self.operands(u.nodes[0])[1:]]
                expr = ARRAY_OPS[u.op].forward(Symbol(u.operand.name), *rest)
                lines.append(f"{u.name} = {expr.text}")
            elif u.kind == "stack":
                rows = ", ".join(self.broadcast(v) for v in u.nodes)
                lines.append(f"{u.name} = np.stack([{rows}])")
            elif u.kind == "rows":
                v = u.nodes[0]
                read = [Symbol(g.name) if isinstance(g, Unit) else literal(self.writer.symbol(g))
                        for g in u.groups]
                text = ARRAY_OPS[v.op].over_rows.forward(*read).text
                comment = f"  # {self.names.comment[v]}" if v in self.names.comment else ""
                lines.append(f"{self.names.name[v]} = {text}{comment}")
            else:
                v = u.nodes[0]
                if v.op not in ARRAY_OPS:
                    self.slow.add(v.op)
                comment = f"  # {self.names.comment[v]}" if v in self.names.comment else ""
                lines.append(f"{self.names.name[v]} = {self.writer.forward(v).text}{comment}")
        return lines

    def broadcast(self, v: Value) -> str:
        text = self.ref(v) if not self.t.constant(v) else repr(v.data)
        return text if v in self.t.mapped else f"{text} * ones"

    def backward_lines(self, order: list[Unit]) -> list[str]:
        t = self.t
        if t.root not in t.active:
            return []
        lines: list[str] = []
        self.started: set = set()  # the gradients that hold something already
        root = t.root
        if root in self.param_at:
            return [f"G[{self.param_at[root]}] += len(ones)"]
        mapped = root in t.mapped
        self.add(lines, root, "ones" if mapped else "float(len(ones))", from_mapped=mapped)
        for u in reversed(order):
            if not any(v in t.active for v in u.nodes) or u.kind == "input":
                continue
            if u.kind == "node":
                self.node_backward(lines, u.nodes[0])
            elif u.kind == "rows":
                self.rows_backward(lines, u)
            elif u.kind == "stack":
                gS = f"g{u.name}"
                if gS in self.started:
                    for i, v in enumerate(u.nodes):
                        if v in t.active:
                            self.add(lines, v, f"{gS}[{i}]")
            elif u.kind == "map":
                self.map_backward(lines, u)
            else:
                self.layer_backward(lines, u)
        return lines

    def add(self, lines: list[str], target: Value, text: str, from_mapped: bool = True) -> None:
        """Add the term ``text`` to ``target``'s gradient (summed over the samples when the
        target is one number for the whole batch)."""
        t = self.t
        if target not in t.mapped and from_mapped:
            text = f"({text}).sum()" if not text.isidentifier() else f"{text}.sum()"
        unit = self.unit_of.get(target)
        if unit is not None and unit.kind in ("layer", "map"):
            g = f"g{unit.name}"
            if g not in self.started:
                self.started.add(g)
                lines.append(f"{g} = np.zeros({unit.name}.shape)")
            lines.append(f"{self.gref(target)} += {text}")
            return
        g = self.gref(target)
        if target in self.started:
            minus = text.startswith("-") and _PRIMARY.fullmatch(text[1:]) is not None
            lines.append(f"{g} = {g} - {text[1:]}" if minus else f"{g} = {g} + {text}")
        else:
            self.started.add(target)
            lines.append(f"{g} = {text}")

    def node_backward(self, lines: list[str], v: Value) -> None:
        if v not in self.started:
            return  # no gradient reached it
        g = self.gref(v)
        for operand, local in zip(self.operands(v), self.writer.locals(v), strict=True):
            if operand in self.t.active:
                self.add(lines, operand, term(local, g), from_mapped=v in self.t.mapped)

    def whole(self, lines: list[str], block: Unit, text: str, row: bool = False) -> None:
        """Add ``text`` to a block's gradient (a new array: rows may be added to it in place);
        ``row``: ``text`` is one row, the same term for every row of the block."""
        g = f"g{block.name}"
        if g in self.started:
            lines.append(f"{g} = {g} + {text}")
        else:
            self.started.add(g)
            if row:
                lines.append(f"{g} = np.zeros({block.name}.shape) + {text}")
            else:
                lines.append(f"{g} = {text}.copy()" if text.isidentifier() else f"{g} = {text}")

    def rows_backward(self, lines: list[str], u: Unit) -> None:
        """The chain rule of a node that reads whole blocks: the table's rule run with each
        block's name for its rows gives one term per block (``gZ2 = gZ2 + rowT * gv25``)."""
        v = u.nodes[0]
        if v not in self.started:
            return
        g, t = self.gref(v), self.t
        block_of = {p: b for b in u.groups if isinstance(b, Unit) for p in b.nodes}
        saved = self.writer.ref
        self.writer.ref = lambda p: block_of[p].name if p in block_of else saved(p)
        try:
            locals_ = iter(self.writer.locals(v))
        finally:
            self.writer.ref = saved
        names = {b.name for b in u.groups if isinstance(b, Unit)}
        split = ARRAY_OPS[v.op].over_rows.split(self.operands(v))
        for group, read in zip(split, u.groups, strict=True):
            if isinstance(read, Value):
                local = next(locals_)
                if read in t.active:
                    self.add(lines, read, term(local, g))
                continue
            terms = {term(next(locals_), g) for _ in group}
            if len(terms) != 1:  # pragma: no cover - the rules of sum, max_shift and affine
                raise RuntimeError(f"engine.compile: the rule of {v.op!r} differs by row")
            if read.kind != "input" and any(p in t.active for p in group):
                text = terms.pop()  # a term that reads no block (sum's gv) is one row,
                # the same for each row of the block
                row = not set(re.findall(r"[A-Za-z_]\w*", text)) & names
                self.whole(lines, read, text, row=row)

    def map_backward(self, lines: list[str], u: Unit) -> None:
        """``gZ = gM * local`` for the block the map reads; a shared operand gets its terms
        summed over the rows, ``(gM * local).sum(axis=0)``."""
        g = f"g{u.name}"
        if g not in self.started or u.operand is None:
            return
        first = u.nodes[0]
        operands = self.operands(first)
        saved = self.writer.ref, self.writer.constant
        self.writer.ref = lambda v: (u.name if v is first else u.operand.name if v is operands[0]
                                     else saved[0](v))
        try:
            locals_ = self.writer.locals(first)
        finally:
            self.writer.ref, self.writer.constant = saved
        local = locals_[0]
        if u.operand.kind != "input" and operands[0] in self.t.active:
            self.whole(lines, u.operand, g if local.text == "1.0" else f"{g} * {_factor(local)}")
        for p, local in zip(operands[1:], locals_[1:], strict=True):
            if p is operands[0] and p in self.t.active:  # the row itself again: e * e
                self.whole(lines, u.operand, f"{g} * {_factor(local)}")
            elif p in self.t.active:
                self.add(lines, p, {"1.0": f"{g}.sum(axis=0)", "-1.0": f"-{g}.sum(axis=0)"}.get(
                    local.text, f"({g} * {_factor(local)}).sum(axis=0)"))

    def layer_backward(self, lines: list[str], u: Unit) -> None:
        g = f"g{u.name}"
        if g not in self.started:
            return
        arrays = u.arrays
        source = u.operand
        gA = None
        if source.kind != "input" and any(v in self.t.active for v in source.nodes):
            name = f"g{source.name}"
            gA = (name, name not in self.started)
            self.started.add(name)
        lines += ARRAY_OPS["affine"].groups.backward(g, arrays.W, source.name, f"g{arrays.W}",
                                                      f"g{arrays.b}", gA)

    def program(self) -> BatchProgram:
        t = self.t
        self.find_units()
        self.name_inputs_A0()
        order = self.ordered()
        forward = self.forward_lines(order)
        backward = self.backward_lines(order)
        outputs = self.outputs_text()  # the last to name a parameter read one by one
        theta = np.zeros(len(t.params))
        G = np.zeros(len(t.params))
        arrays, gathered, header, back = self.parameter_arrays(theta, G)
        header = self.scalar_reads() + header
        back += [f"G[{self.param_at[p]}] += g{name}" for p, name in self.scalars.items()
                 if p in self.started]
        described = [f"{a.W} {a.W_at.shape}, {a.b} {a.b_at.shape}"
                     for a in self.layer_arrays.values()]
        declare, gdeclare = self.dict_declarations()
        names = [n for n in arrays if not n.startswith("g")]
        args = ", ".join(t.arg_names)
        signature = f"{args}, *, {', '.join(arrays)}" if arrays else args
        aux = "" if t.aux is None else " and the aux (not differentiated)"
        intro = [f'"""The outputs of a batch (one sample per row of each input){aux}; adds the '
                 'gradients of the outputs\' sum to G."""']
        if described:
            intro.append("# the layers' weights and biases, views of theta or gathered from it "
                         "(their gradients, g...: of G): " + "; ".join(described))
        body = [*intro, *header, *declare, "# forward, every sample at once", *forward,
                "# reverse: g<name> = d(sum of the outputs)/d<name>, per sample",
                *gdeclare, *backward, *back, f"return {outputs}"]
        source = f"def {PROGRAM}({signature}):\n" + "".join(f"    {line}\n" for line in body)
        reads = [h for h in header if "theta[" in h]
        fsignature = f"{args}, *, {', '.join(names)}" if names else args
        fwd = f"def {FORWARD}({fsignature}):\n" + "".join(
            f"    {line}\n" for line in [*reads, *declare, *forward, f"return {outputs}"])
        namespace = {**numpy_functions(), **self.slow_functions(), **gathered,
                     "theta": theta, "G": G, "ones": np.ones(0)}
        exec(builtins.compile(source, f"<engine.compile {PROGRAM}>", "exec"), namespace)
        exec(builtins.compile(fwd, f"<engine.compile {FORWARD}>", "exec"), namespace)
        if self.slow:
            warnings.warn(f"engine.compile: no array form for the operation(s) "
                          f"{', '.join(sorted(map(repr, self.slow)))} in engine.compiler.arrays."
                          f"ARRAY_OPS: the batch program maps their float functions over the "
                          f"samples with np.vectorize (slow)", RuntimeWarning, stacklevel=4)
        program = BatchProgram(source, namespace, t)
        program.arrays = arrays
        program.forward_arrays = {n: arrays[n] for n in names}
        return program

    def parameter_arrays(self, theta, G) -> tuple[dict, dict, list[str], list[str]]:
        """Each layer's ``W`` and ``b`` (and ``gW``, ``gb``) as views of ``theta`` (and ``G``):
        ``(views by name, index arrays by name, lines that gather, lines that scatter back)``.
        Parameters that are not evenly spaced in ``theta`` are gathered and scattered."""
        views, gathered, header, back = {}, {}, [], []
        for layer in self.layer_arrays.values():
            for name, at in ((layer.W, layer.W_at), (layer.b, layer.b_at)):
                view = _view(theta, at)
                if view is None:
                    gathered[f"{name}_at"] = at
                    header += [f"{name} = theta[{name}_at]", f"g{name} = np.zeros({name}.shape)"]
                    back.append(f"np.add.at(G, {name}_at, g{name})")
                else:
                    views[name], views[f"g{name}"] = view, _view(G, at)
        return views, gathered, header, back

    def scalar_reads(self) -> list[str]:
        """``w, b = theta[0], theta[1]``: the parameters read one by one, eight to a line."""
        found = sorted(self.scalars.items(), key=lambda item: self.param_at[item[0]])
        return [f"{', '.join(name for _, name in part)} = "
                f"{', '.join(f'theta[{self.param_at[p]}]' for p, _ in part)}"
                for part in (found[i:i + 8] for i in range(0, len(found), 8))]

    def dict_declarations(self) -> tuple[list[str], list[str]]:
        """``e = {}`` (and ``ge = {}``) for the indexed names of the nodes written one by one."""
        known, t = self.names.name, self.t
        dicts = sorted({known[v].split("[")[0] for v in t.interior if "[" in known.get(v, "")
                        and v in self.unit_of and self.unit_of[v].kind in ("node", "rows")})
        if not dicts:
            return [], []
        return ([f"{', '.join(dicts)} = {', '.join('{}' for _ in dicts)}"],
                [f"{', '.join('g' + d for d in dicts)} = {', '.join('{}' for _ in dicts)}"])

    def outputs_text(self) -> str:
        """What the program returns; outputs that are the rows of a layer or a map: the block
        (``Z2``, not ``(Z2[0], Z2[1], ...)``)."""
        t = self.t

        def block(nodes: list[Value]) -> str | None:
            found = self.blocks_by_rows.get(tuple(map(id, nodes)))
            return found.name if found is not None and found.kind in ("layer", "map") else None
        return returned(t, lambda v: repr(v.data) if t.constant(v) else self.ref(v), block)

    def slow_functions(self) -> dict[str, object]:
        found = {}
        for op, name in self.writer.rowless.items():
            entry = OPS[op]
            found[name] = np.vectorize(entry.forward, otypes=[float])

            def rule(*args, entry=entry):
                count = len(args) - 1  # the operands; the last argument is the output
                if count == 1:  # np.vectorize gives one array, not a tuple, for one output
                    one = np.vectorize(lambda *a: float(entry.derivatives(*a)[0]), otypes=[float])
                    return (one(*args),)
                return np.vectorize(lambda *a: tuple(float(x) for x in entry.derivatives(*a)),
                                    otypes=[float] * count)(*args)
            found["d_" + name] = rule
        return found


def _arrays(out, size: int, single: bool, nodes: list, inputs: dict):
    """``out`` as the caller gets it: (B,) for one node, (B, k) for k (a block of k rows is
    ``out`` itself, a new array each run)."""
    if not single and type(out) is np.ndarray:
        return out.T
    if single:
        if type(out) is np.ndarray and out.shape == (size,) and out.dtype == np.float64 \
                and nodes[0] not in inputs:  # not the caller's array
            return out
        return np.broadcast_to(np.asarray(out, dtype=float), (size,)).copy()
    return np.stack([np.broadcast_to(np.asarray(o, dtype=float), (size,)) for o in out], axis=1)


_PRIMARY = re.compile(r"[A-Za-z_][\w.]*(\([^()]*\))?")
"""A name, maybe with attributes and one call (``gM.sum(axis=0)``): ``g + -that`` is ``g -
that``, bit for bit."""


def _factor(local: Symbol) -> str:
    from engine.derivatives import PRODUCT
    return f"({local.text})" if local.precedence <= PRODUCT else local.text


def _view(base, at):
    """``base[at]`` as a view when the indices ``at`` step evenly along each axis (a layer's
    weights in ``params`` order), else None (the program gathers them)."""
    m, n = at.shape
    start = int(at[0, 0])
    row = int(at[1, 0] - at[0, 0]) if m > 1 else 0
    col = int(at[0, 1] - at[0, 0]) if n > 1 else 0
    expected = start + row * np.arange(m)[:, None] + col * np.arange(n)[None, :]
    distinct = (n == 1 or col > 0) and (m == 1 or row > 0) and (row >= n * col or
                                                                  col >= m * row)
    if row < 0 or col < 0 or not distinct or not np.array_equal(expected, at):
        return None
    item = base.itemsize
    return np.lib.stride_tricks.as_strided(base[start:], shape=(m, n),
                                           strides=(row * item, col * item))

"""Explaining one gradient: d root / d leaf as a sum over paths of products of local derivatives.

Every path from ``leaf`` up to ``root`` multiplies the local derivatives ``d result / d operand``
of the operations it passes through; the sum over all paths is the gradient (the multivariate
chain rule). ``explain(root, leaf)`` lists the paths with their numbers, checks the sum against
the backward pass and against ``leaf.grad``, and highlights the paths in a drawing. For a weight
of an ``nn.MLP``, ``nn.explain`` also writes the lecture notes' form ``dC/dw_jk = delta_j * a_k``.

Paths can be exponentially many (each diamond doubles them): they are counted exactly, but at
most ``max_paths`` are listed, and the text says so.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engine.derivatives import local_derivatives
from engine.functional import grad
from engine.graph_order import ancestors
from engine.pictures.draw import DEFAULT_MAX_NODES, Cluster, Drawing, Graph, fallback_bundle
from engine.pictures.notation import derivative, grouped, number, printable
from engine.value import Value

DEFAULT_MAX_PATHS = 20


@dataclass(frozen=True)
class Path:
    """One path from the leaf up to the root: ``values[0]`` is the leaf, ``values[-1]`` the root;
    ``slots[i]`` is the operand position of ``values[i]`` in ``values[i + 1]`` and ``local[i]``
    the local derivative ``d values[i + 1] / d values[i]`` through that slot."""

    values: tuple[Value, ...]
    slots: tuple[int, ...]
    local: tuple[float, ...]
    product: float


@dataclass(frozen=True)
class DeltaForm:
    """The lecture notes' form of a weight's (or bias's) gradient, filled in by ``nn.explain``.

    ``terms`` holds ``(delta, a)`` per forward pass through the neuron in the graph (``a = 1``
    for a bias); the gradient is ``sum(delta * a)``.
    """

    name: str  # "w_jk of layer l" in words
    formula: str  # e.g. "dC/dw_3,1 = delta_3 * a_1"
    terms: tuple[tuple[float, float], ...]

    @property
    def value(self) -> float:
        return math.fsum(d * a for d, a in self.terms)


@dataclass(frozen=True)
class PathRow:
    """One path as written: the chain from the leaf up, the local derivatives and their numbers
    from the root down (long paths elided), and the product."""

    chain: list[str]
    factors: list[str]
    numbers: list[str]
    product: str


@dataclass(frozen=True)
class Parts:
    """An explanation piece by piece: ``heading`` (``dC/dw = 0.1234``), ``summary`` (over which
    paths), the listed ``rows``, how many paths are ``unlisted``, the ``checks`` (what, number),
    the lecture notes' form ``(name, formula, numbers)`` if any, and whether all ``agree``."""

    heading: str
    summary: str
    rows: list[PathRow]
    unlisted: int
    checks: list[tuple[str, str]]
    delta_form: tuple[str, str, str] | None
    agree: bool


class Explanation:
    """d root / d leaf, explained: ``paths`` (at most ``max_paths``), ``n_paths`` (all of them),
    ``total`` (the backward pass's number), ``grad`` (``leaf.grad`` as stored), ``text()`` and
    ``drawing()``; in Jupyter, both."""

    def __init__(self, root: Value, leaf: Value, *, max_paths: int = DEFAULT_MAX_PATHS,
                 delta_form: DeltaForm | None = None, names: dict[Value, str] | None = None,
                 clusters: Sequence[Cluster] = (), parameters: Sequence[Value] = ()) -> None:
        self.root, self.leaf = root, leaf
        self.grad = leaf.grad
        self.total = grad(root, [leaf])[0]  # backward's own number, every .grad left as it was
        self.on_path = _between(root, leaf)
        self.n_paths = _count_paths(root, leaf, self.on_path)
        self.paths = _paths(root, leaf, self.on_path, max_paths)
        self.delta_form = delta_form
        self.known_names = names or {}
        self.clusters, self.parameters = list(clusters), list(parameters)
        self._graph: Graph | None = None

    @property
    def graph(self) -> Graph:
        if self._graph is None:
            self._graph = Graph(self.root)
        return self._graph

    def agrees(self, rel_tol: float = 1e-9, abs_tol: float = 1e-12) -> bool:
        """Whether the listed paths (when all are listed), ``leaf.grad`` and the backward pass
        (and the delta form, if any) all give the same number."""
        numbers = [self.total, self.grad]
        if len(self.paths) == self.n_paths:
            numbers.append(math.fsum(p.product for p in self.paths))
        if self.delta_form is not None:
            numbers.append(self.delta_form.value)
        return all(_same(x, self.total, rel_tol, abs_tol) for x in numbers)

    def parts(self) -> Parts:
        """What the text and the HTML say, piece by piece (see :class:`Parts`)."""
        names = self.graph.names(self.known_names)

        def raw(v: Value) -> str:
            return names.get(v) or v.label or "?"

        def name(v: Value) -> str:
            return grouped(raw(v))

        r, x = name(self.root), name(self.leaf)
        n = self.n_paths
        heading = f"{derivative(raw(self.root), raw(self.leaf))} = {number(self.total)}"
        summary = f"the sum over {n} path{'s' * (n != 1)} from {x} to {r}"
        rows = []
        for path in self.paths:
            chain, factors = [x], []
            for k in range(len(path.slots)):
                lower, upper = path.values[k], path.values[k + 1]
                twice = upper.parents.count(lower) > 1
                slot = f" [operand {path.slots[k] + 1}]" if twice else ""
                chain.append(f"{name(upper)}{slot}")
                factors.append(derivative(raw(upper), raw(lower)) + slot)
            numbers = [number(f) for f in path.local]
            rows.append(PathRow(_elide(chain), _elide(factors[::-1]), _elide(numbers[::-1]),
                                _product(numbers, path.product)))
        listed = math.fsum(p.product for p in self.paths)
        if len(self.paths) < n:
            checks = [(f"the {len(self.paths)} paths listed (of {n}; max_paths="
                       f"{len(self.paths)})", number(listed))]
        else:
            checks = [("sum over the paths", number(listed))]
        checks.append(("the backward pass", number(self.total)))
        stale = "" if _same(self.grad, self.total) else (
            f" (differs: call {r}.zero_grad() then {r}.backward(); leaf gradients accumulate)")
        checks.append((f"{x}.grad", number(self.grad) + stale))
        form = None
        if self.delta_form is not None:
            d = self.delta_form
            terms = " + ".join(f"{number(a)} x {number(b)}" for a, b in d.terms)
            form = (d.name, d.formula, f"{terms} = {number(d.value)}")
        return Parts(heading, summary, rows, n - len(self.paths), checks, form, self.agrees())

    def text(self) -> str:
        """The explanation as plain text: one sentence or one formula a line."""
        parts = self.parts()
        lines = [f"{parts.heading}: {parts.summary}.",
                 "Each path contributes the product of the local derivatives along it:"]
        for i, row in enumerate(parts.rows, 1):
            lines.append(f"  path {i}: {' -> '.join(row.chain)}")
            lines.append(f"    = {' x '.join(row.factors)}")
            lines.append(f"    = {' x '.join(row.numbers)} = {row.product}")
        if parts.unlisted:
            lines.append(f"  ... and {parts.unlisted} more paths, not listed (max_paths="
                         f"{len(parts.rows)}); all of them sum to the backward pass's number")
        lines += [f"  {what}: {value}" for what, value in parts.checks]
        if parts.delta_form is not None:
            name, formula, numbers = parts.delta_form
            lines.append(f"In the lecture notes' form: {name}.")
            lines.append(f"  {formula}:")
            lines.append(f"  {numbers}")
        lines.append("All agree." if parts.agree else "They do NOT agree.")
        return printable("\n".join(lines))

    __str__ = text

    def html(self) -> str:
        """The explanation as a styled HTML block (a notebook's rich output): the formula, one
        table row per path, the checks, and the verdict."""
        return printable(explanation_html(self.parts()))

    def drawing(self, *, rankdir: str = "LR", collapse: bool | int | str | Sequence[str] = False,
                max_nodes: int | None = DEFAULT_MAX_NODES) -> Drawing:
        """The graph with the listed paths in red and local derivatives on their edges.

        ``collapse`` and ``max_nodes`` work as in ``draw_graph`` (with clusters, a neuron or a
        layer on a path is drawn red when collapsed).
        """
        graph = Graph(self.root, clusters=self.clusters, collapse=collapse, max_nodes=max_nodes)
        edges = {(p.values[k + 1], p.slots[k]): number(p.local[k])
                 for p in self.paths for k in range(len(p.slots))}
        names = graph.names(self.known_names)

        def label(v: Value) -> str:
            return v.label or self.known_names.get(v) or ("" if v.constant else names.get(v, ""))

        parts = self.parts()
        listed = len(parts.rows)
        title = (f"{parts.heading}: {parts.summary}, in red"
                 + (f" ({listed} listed)" if parts.unlisted else "")
                 + "; the local derivatives on their edges")
        return graph.draw(rankdir=rankdir, highlight={v for p in self.paths for v in p.values},
                          highlight_edges=edges, edge_label=edges, label_text=label,
                          parameters=self.parameters, title=title)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        text = self.text()
        try:
            svg = self.drawing().svg()
        except (RuntimeError, OSError) as error:
            hint = fallback_bundle("", error)["text/plain"].splitlines()[0]
            return {"text/plain": f"{text}\n({hint})"}
        svg = svg[svg.index("<svg"):].replace("<svg", '<svg style="max-width:100%;height:auto"', 1)
        return {"text/plain": text, "text/html": f"{self.html()}\n{svg}"}

    def __repr__(self) -> str:
        return self.text()


def explain(root: Value, leaf: Value, *, max_paths: int = DEFAULT_MAX_PATHS,
            delta_form: DeltaForm | None = None, names: Mapping[Value, str] | None = None,
            clusters: Sequence[Cluster] = (), parameters: Sequence[Value] = ()) -> Explanation:
    """Explain ``d root / d leaf`` (``leaf`` may be any Value that ``root`` was computed from).

    ``delta_form`` adds another form of the same gradient to check and show; ``names``,
    ``clusters`` and ``parameters`` work as in ``draw_graph``. For a weight or bias of an
    ``nn.MLP``, ``nn.explain(root, leaf, mlp)`` gives all four, with the lecture notes' form
    ``dC/dw_jk = delta_j * a_k``.
    """
    for what, v in (("root", root), ("leaf", leaf)):
        if not isinstance(v, Value):
            raise TypeError(f"explain needs engine.Value objects; the {what} is a "
                            f"{type(v).__name__}: {v!r:.60}")
    if isinstance(max_paths, bool) or not isinstance(max_paths, int) or max_paths < 1:
        raise ValueError(f"max_paths must be a positive int, got {max_paths!r}")
    if leaf is not root and leaf not in set(ancestors(root)):
        raise ValueError(f"the leaf {leaf.label or repr(leaf)} is not in the graph of the root "
                         f"{root.label or repr(root)}: {root.label or 'the root'} was not "
                         "computed from it, so there is no path and no gradient to explain")
    return Explanation(root, leaf, max_paths=max_paths, delta_form=delta_form,
                       names=dict(names or {}), clusters=clusters, parameters=parameters)


# -- paths ----------------------------------------------------------------------------------------


def _same(x: float, y: float, rel_tol: float = 1e-9, abs_tol: float = 1e-12) -> bool:
    """Equal up to rounding; two nans count as equal (the same nan came through both ways)."""
    return (math.isnan(x) and math.isnan(y)) or math.isclose(x, y, rel_tol=rel_tol,
                                                             abs_tol=abs_tol)


def _product(factors: list[str], product: float) -> str:
    """The product as written after its rounded factors: when those do not multiply out to it
    (``0.8556 x 2.0000`` is 1.7112, the product 1.7113), it says it is of the unrounded ones."""
    shown = number(product)
    rounded = math.prod(float(f) for f in factors)
    if math.isfinite(product) and number(rounded) != shown:
        return f"{shown} (of the unrounded factors)"
    return shown


def _elide(items: list[str], keep: int = 4) -> list[str]:
    """A long path's first and last ``keep`` steps, with how many are left out between them."""
    if len(items) <= 2 * keep + 1:
        return items
    return [*items[:keep], f"...({len(items) - 2 * keep} more)...", *items[-keep:]]


def _between(root: Value, leaf: Value) -> set[Value]:
    """The Values on some path from ``leaf`` to ``root`` (both included)."""
    nodes = ancestors(root)  # oldest first: a topological order
    reaches = {leaf}
    for v in nodes:
        if v.created > leaf.created and any(p in reaches for p in v.parents):
            reaches.add(v)
    return reaches


def _count_paths(root: Value, leaf: Value, on_path: set[Value]) -> int:
    """How many paths lead from ``leaf`` to ``root`` (one per operand slot on the way)."""
    count = {leaf: 1}
    for v in sorted(on_path, key=lambda v: v.created):
        if v is not leaf:
            count[v] = sum(count[p] for p in v.parents if p in on_path)
    return count[root]


def _paths(root: Value, leaf: Value, on_path: set[Value], limit: int) -> list[Path]:
    """The first ``limit`` paths from ``leaf`` to ``root``, in operand order from the root."""
    local_cache: dict[Value, Sequence[float]] = {}

    def local(v: Value) -> Sequence[float]:
        if v not in local_cache:
            local_cache[v] = [d for _, d in local_derivatives(v)]
        return local_cache[v]

    found: list[Path] = []
    # depth first, operands in order; a trail is linked back to the step before it, (v, slot,
    # trail), so a push costs the same at any depth (a copied tuple would cost the depth)
    stack: list[tuple[Value, tuple | None]] = [(root, None)]
    while stack and len(found) < limit:
        v, trail = stack.pop()
        if v is leaf:
            chain = [(leaf, -1)]  # from the leaf up
            while trail is not None:
                u, slot, trail = trail
                chain.append((u, slot))
            values = tuple(u for u, _ in chain)
            slots = tuple(s for _, s in chain[1:])
            factors = tuple(local(values[k + 1])[slots[k]] for k in range(len(slots)))
            product = 1.0
            for f in reversed(factors):  # from the root down, as the backward pass multiplies
                product *= f
            found.append(Path(values, slots, factors, product))
            continue
        parents = v.parents
        for slot in reversed(range(len(parents))):
            p = parents[slot]
            if p in on_path:
                stack.append((p, (v, slot, trail)))
    return found


# -- the notebook's HTML --------------------------------------------------------------------------

_MONO = "font-family:Menlo,Consolas,'DejaVu Sans Mono',monospace"
_CELL = "padding:3px 8px;border-bottom:1px solid #ddd;text-align:left;vertical-align:top"


def explanation_html(parts: Parts) -> str:
    """``parts`` as an HTML block with inline styles (a notebook keeps them): the formula as a
    heading, one table row per path, the checks as a small table, the verdict in colour."""
    from html import escape

    def code(text: str) -> str:
        return f'<code style="{_MONO}">{escape(text)}</code>'

    head = (f'<div style="font-size:1.15em;margin:0 0 4px">{code(parts.heading)}: '
            f"{escape(parts.summary)}.</div>"
            '<div style="margin:0 0 6px">Each path contributes the product of the local '
            "derivatives along it.</div>")
    rows = "".join(
        f'<tr><td style="{_CELL}">{i}</td>'
        f'<td style="{_CELL};{_MONO}">{" &rarr; ".join(map(escape, row.chain))}</td>'
        f'<td style="{_CELL};{_MONO}">{" &times; ".join(map(escape, row.factors))}<br>'
        f'= {" &times; ".join(map(escape, row.numbers))}</td>'
        f'<td style="{_CELL};{_MONO};text-align:right">{escape(row.product)}</td></tr>'
        for i, row in enumerate(parts.rows, 1))
    header = "".join(f'<th style="{_CELL}">{h}</th>' for h in
                     ("path", "from the leaf up to the root", "local derivatives, root first",
                      "product"))
    table = (f'<table style="border-collapse:collapse;margin:0 0 6px"><tr>{header}</tr>{rows}'
             "</table>")
    if parts.unlisted:
        table += (f"<div>... and {parts.unlisted} more paths, not listed (max_paths="
                  f"{len(parts.rows)}).</div>")
    checks = "".join(f'<tr><td style="{_CELL}">{escape(what)}</td>'
                     f'<td style="{_CELL};{_MONO}">{escape(value)}</td></tr>'
                     for what, value in parts.checks)
    block = f'<table style="border-collapse:collapse;margin:0 0 6px">{checks}</table>'
    if parts.delta_form is not None:
        name, formula, numbers = parts.delta_form
        block += (f"<div>In the lecture notes' form: {escape(name)}.</div>"
                  f'<div style="margin:2px 0 6px 1em">{code(formula)}<br>{code(numbers)}</div>')
    colour, verdict = ("#1a7f37", "All agree.") if parts.agree else ("#b2182b",
                                                                     "They do NOT agree.")
    block += f'<div style="color:{colour};font-weight:bold">{verdict}</div>'
    return f'<div class="dg-explain" style="line-height:1.4">{head}{table}{block}</div>'

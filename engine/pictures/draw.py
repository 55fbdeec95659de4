"""Drawing a computation graph: ``draw_graph(root)`` -> a :class:`Drawing` (DOT, SVG, PNG).

Each Value is a record ``label | data | grad``; each operation is a small ellipse between its
operands and its result, with one edge per operand slot (``a * a`` has two). Leaves, parameters
and the output have their own colours. Clusters (a neuron, a layer) are drawn as boxes and can be
collapsed to one summary node.

The DOT text is built with the ``graphviz`` package (imported when a drawing is made, never at
``import engine``) and is the same, byte for byte, on every run: node ids follow the graph's
topological order, everything is emitted in that order, labels are escaped, the text deltagrad
writes is ASCII and the fonts are ones every renderer has metrics for (Courier, Helvetica).
The first operand of a non-commutative operation (``a - b``, ``a / b``, ``a ** b``) enters its
ellipse from above (LR) or from the left (TB), the second from below or from the right.
"""

from __future__ import annotations

import html
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

from engine.pictures.gradient_names import gradient_names
from engine.pictures.notation import dot_text, html_text, number, shown, written
from engine.pictures.render import INSTALL_HINT, RendererNotFound, render
from engine.value import Value

DEFAULT_MAX_NODES = 500
RANKDIRS = ("LR", "TB")

# colours (ColorBrewer pastels, distinguishable in print and by most colour-blind readers), and
# what the legend says of each
MEANING = {
    "output": "output",
    "parameter": "parameter",
    "input": "leaf",
    "constant": "constant (a number, as the 2 of x * 2): data only",
    "value": "computed",
    "summary": "collapsed cluster",
}
COLOURS = {
    "output": "#b8e186",     # the root
    "parameter": "#fdb863",  # what training changes
    "input": "#92c5de",      # a leaf that is not a parameter or a constant: a variable
    "constant": "#eeeeee",   # a number an operation was given (Value.constant): the 2 of x * 2
    "value": "#ffffff",      # computed inside the graph
    "summary": "#fff7bc",    # a collapsed cluster
}
HIGHLIGHT = "#d7191c"
RED = {"color": HIGHLIGHT, "penwidth": "2.5"}  # a highlighted node or edge
PORTS = {"LR": ("n", "s"), "TB": ("w", "e")}  # where operands 1 and 2 of ``a - b`` enter
RECORD_FONT, TEXT_FONT = "Courier", "Helvetica"
VALUE_SHAPE = "plain"  # a Value is an HTML-like table (see _table); the node has no outline


@dataclass(frozen=True)
class Cluster:
    """A named group of Values drawn inside one box: ``values`` directly, ``clusters`` nested.

    Clusters are described at drawing time (for an MLP, ``nn.draw.graph_clusters`` derives them
    from its layers and neurons): the engine keeps no bookkeeping for them while computing.
    """

    label: str
    values: tuple[Value, ...] = ()
    clusters: tuple[Cluster, ...] = ()

    def all_values(self) -> list[Value]:
        """The Values of this cluster and of every cluster nested in it."""
        out = list(self.values)
        for child in self.clusters:
            out.extend(child.all_values())
        return out


class Drawing:
    """A picture of a graph: ``source`` (DOT), ``svg()``, ``png()``, ``save(path)``.

    In Jupyter it shows itself as inline SVG; with no renderer installed it shows the DOT source
    and a one-line install hint instead of raising.
    """

    def __init__(self, source: str, nodes: int = 0, edges: int = 0) -> None:
        self.source = source
        self.nodes = nodes
        self.edges = edges

    def svg(self, renderer: str | os.PathLike | None = None) -> str:
        """The picture as SVG text (see ``engine.render`` for how the renderer is chosen)."""
        return render(self.source, "svg", renderer).decode("utf-8")

    def png(self, renderer: str | os.PathLike | None = None) -> bytes:
        """The picture as PNG bytes."""
        return render(self.source, "png", renderer)

    def save(self, path: str | os.PathLike, renderer: str | os.PathLike | None = None) -> Path:
        """Write ``.svg``, ``.png`` or ``.gv``/``.dot`` (the source), by the path's suffix."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix in (".gv", ".dot"):
            path.write_text(self.source, encoding="utf-8")
        elif suffix == ".svg":
            path.write_text(self.svg(renderer), encoding="utf-8")
        elif suffix == ".png":
            path.write_bytes(self.png(renderer))
        else:
            raise ValueError(f"cannot tell the format from {path.name!r}: use .svg, .png, .gv "
                             "or .dot")
        return path

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        """Jupyter: inline SVG, or the DOT source with an install hint (never an exception)."""
        try:
            return {"image/svg+xml": self.svg(), "text/plain": repr(self)}
        except (RuntimeError, OSError) as error:  # no renderer, or it failed
            return fallback_bundle(self.source, error)

    def __repr__(self) -> str:
        return f"<Drawing: {self.nodes} nodes, {self.edges} edges>"


def fallback_bundle(source: str, error: Exception) -> dict[str, str]:
    """What a notebook shows instead of a picture: the reason, the hint and the DOT source."""
    reason = INSTALL_HINT if isinstance(error, RendererNotFound) else f"{error} ({INSTALL_HINT})"
    return {"text/plain": f"{reason}\n{source}",
            "text/markdown": f"{reason}\n\n```dot\n{source}```\n"}


def draw_graph(root: Value, *, rankdir: str = "LR", show_grad: bool = True,
               highlight: Iterable[Value] = (), parameters: Iterable[Value] = (),
               clusters: Sequence[Cluster] = (), names: Mapping[Value, str] | None = None,
               collapse: bool | int | str | Iterable[str] = False,
               max_nodes: int | None = DEFAULT_MAX_NODES, title: str = "",
               gradient_of: Value | None = None, legend: bool = True) -> Drawing:
    """Draw the graph that computed ``root``.

    - ``rankdir``: ``"LR"`` (inputs on the left) or ``"TB"`` (inputs on top).
    - ``show_grad``: ``False`` leaves the grad field out (before ``backward()``, for instance).
    - ``highlight``: Values to mark in red, and the edges between two of them (a path).
    - ``parameters``: leaves to colour as parameters (``mlp.parameters()``, for instance).
    - ``clusters``: :class:`Cluster` boxes around groups of Values (a neuron, a layer).
    - ``names``: names for unlabelled Values (a label always wins). ``nn.draw_graph(root, mlp)``
      gives an MLP's clusters, parameters and names (``W2[5,3]``, ``z2[5]``, ``a2[5]``).
    - ``collapse``: ``True`` draws each innermost cluster (a neuron) as one summary node; an int
      ``d`` collapses the clusters at nesting depth ``d`` (1: layers); a label or a list of
      labels collapses those clusters.
    - ``max_nodes``: draw at most this many Values, those nearest the root; the rest become one
      "more values" node. ``None``: no cap.
    - ``title``: a caption above the graph.
    - ``legend``: what the colours mean, under the title. A leaf shows its gradient unless it is
      a constant, a number an operation was given (the 2 of ``x * 2``; ``Value.constant``):
      those show their data only. An exponent or a slope is written into its operation (``**2``).
    - ``gradient_of``: for a gradient's graph (``root`` is ``x.grad`` after
      ``y.backward(create_graph=True)``), the ``y``: the nodes the backward pass made are named
      for what they are, ``dy/du`` and the local derivatives ``dn/du`` of the chain rule
      (``engine.gradient_names``). A grad that is a Value shows its number.
    """
    _check_value(root, "draw_graph")
    names = dict(names or {})
    if gradient_of is not None:
        _check_value(gradient_of, "draw_graph's gradient_of")
        names = {**gradient_names(gradient_of), **names}
    graph = Graph(root, clusters=clusters, collapse=collapse, max_nodes=max_nodes)
    return graph.draw(rankdir=rankdir, show_grad=show_grad, highlight=highlight,
                      parameters=parameters, title=title, legend=legend,
                      label_text=lambda v: v.label or names.get(v, ""))


class Graph:
    """What of a root's graph gets drawn, and under which DOT ids.

    Built once and drawn many times (the film strip draws one frame per backward step).
    ``values`` are the drawn Values oldest first; ``inputs[v]`` lists ``(slot, parent)`` for
    the operand slots drawn as edges (a constant exponent or slope is written into the
    operation's label instead).
    """

    def __init__(self, root: Value, *, clusters: Sequence[Cluster] = (),
                 collapse: bool | int | str | Iterable[str] = False,
                 max_nodes: int | None = DEFAULT_MAX_NODES) -> None:
        _check_value(root, "draw_graph")
        if max_nodes is not None and (isinstance(max_nodes, bool) or not isinstance(max_nodes, int)
                                      or max_nodes < 1):
            raise ValueError(f"max_nodes must be a positive int or None, got {max_nodes!r}")
        self.root = root
        self.values, self.hidden = _nearest_values(root, max_nodes)
        self.ids = {v: f"v{i}" for i, v in enumerate(self.values)}
        drawn = self.ids
        self.inputs: dict[Value, list[tuple[int, Value]]] = {}
        self.folded: dict[Value, str] = {}  # op label with constants folded in
        self.cut: dict[Value, int] = {}  # operand slots whose Value is beyond max_nodes
        for v in self.values:
            if not v.parents:
                continue
            slots, folded = [], []
            for slot, p in enumerate(v.parents):
                if _is_folded(v, slot):
                    folded.append(f"{p.data:g}")
                elif p in drawn:
                    slots.append((slot, p))
                else:
                    self.cut[v] = self.cut.get(v, 0) + 1
            self.inputs[v] = slots
            self.folded[v] = _op_label(v, folded)
        self.users: dict[Value, list[Value]] = {}  # who uses each Value, in the drawing
        for v, slots in self.inputs.items():
            for _, p in slots:
                self.users.setdefault(p, []).append(v)
        self.clusters = [_Box(c, (i,), drawn) for i, c in enumerate(_check_clusters(clusters))]
        self.box_of: dict[Value, _Box] = {}
        for box in self.clusters:
            box.claim(self.box_of)
        self._collapse(collapse)

    def _collapse(self, collapse: bool | int | str | Iterable[str]) -> None:
        """Mark the boxes to draw as one summary node; ``summary[v]`` is its DOT id."""
        boxes = [b for top in self.clusters for b in top.walk()]
        if collapse is False or collapse is None:
            chosen = []
        elif collapse is True:
            chosen = [b for b in boxes if not b.children]
        elif isinstance(collapse, int):
            chosen = [b for b in boxes if b.depth == collapse]
        else:
            labels = {collapse} if isinstance(collapse, str) else set(collapse)
            unknown = labels - {b.label for b in boxes}
            if unknown:
                raise ValueError(f"collapse names clusters that do not exist: "
                                 f"{', '.join(sorted(unknown))}")
            chosen = [b for b in boxes if b.label in labels]
        self.summary: dict[Value, _Box] = {}
        for box in chosen:
            if not any(box.path[:len(c.path)] == c.path and c is not box for c in chosen):
                box.collapsed = True
                for v in box.members():
                    self.summary[v] = box

    def names(self, known: Mapping[Value, str] | None = None,
              longest: int = 24) -> dict[Value, str]:
        """A name for every drawn Value, to refer to it in text: its label, else its name in
        ``known``, else its number (a constant: ``Value.constant``), else its expression
        (``v0 * v1``), else ``v<k>`` (k: its place, oldest first; its DOT id)."""
        names: dict[Value, str] = {}
        known = known or {}
        for v in self.values:
            if v.label or v in known:
                names[v] = shown(v.label or known[v])
            elif not v.parents:
                names[v] = f"{v.data:g}" if v.constant else self.ids[v]
            else:
                name = _expression(v, names)
                names[v] = name if len(name) <= longest else self.ids[v]
        return names

    # -- drawing ---------------------------------------------------------------------------------
    def draw(self, *, rankdir: str = "LR", show_grad: bool = True,
             highlight: Iterable[Value] = (), parameters: Iterable[Value] = (), title: str = "",
             label_text: Callable[[Value], str] | None = None,
             grad_text: Callable[[Value], str] | None = None,
             node_colour: Mapping[Value, str] | None = None,
             edge_label: Mapping[tuple[Value, int], str] | None = None,
             highlight_edges: Iterable[tuple[Value, int]] | None = None,
             legend: bool = False, title_size: tuple[float, float] | None = None) -> Drawing:
        """The DOT drawing. ``label_text``, ``grad_text``, ``node_colour``, ``edge_label`` and
        ``highlight_edges`` (edges named ``(value, operand slot)``; by default the edges between
        two highlighted Values) let the film strip and explain show more; ``legend`` says under
        the title what each colour of the drawing means; ``title_size`` fixes the title's box
        (points), so that every frame of a film strip has the same size."""
        if rankdir not in RANKDIRS:
            raise ValueError(f"rankdir must be 'LR' or 'TB', got {rankdir!r}")
        marked = _value_set(highlight, "highlight")
        if highlight_edges is None:
            red = {(v, slot) for v in marked if v in self.inputs
                   for slot, p in self.inputs[v] if p in marked}
        else:
            red = set(highlight_edges)
        look = Look(rankdir=rankdir, show_grad=show_grad, marked=marked,
                    parameters=_value_set(parameters, "parameters"),
                    label_text=label_text or (lambda v: v.label),
                    grad_text=grad_text or (lambda v: number(_number(v.grad))),
                    node_colour=node_colour or {}, edge_label=edge_label or {}, red_edges=red,
                    red_ops={v for v, _ in red})
        canvas = _Canvas(rankdir)
        for v in self.values:  # values outside every cluster, oldest first
            if v not in self.box_of:
                self._draw_value(canvas, canvas.dot, v, look)
        for box in self.clusters:
            self._draw_box(canvas, canvas.dot, box, look)
        if self.hidden:
            canvas.node(canvas.dot, "more",
                        label=dot_text(f"... {self.hidden} more values (max_nodes)"),
                        shape="note", fontname=TEXT_FONT, style="filled",
                        fillcolor=COLOURS["constant"])
        self._draw_edges(canvas, look)
        canvas.caption(title, [k for k in MEANING if k in canvas.kinds] if legend else [],
                       title_size)
        return Drawing(canvas.dot.source, nodes=canvas.nodes, edges=canvas.edges)

    def _draw_value(self, canvas: _Canvas, target: Any, v: Value, look: Look) -> None:
        """A Value's record ``label | data | grad`` and, for a computed one, its op's ellipse."""
        label = look.label_text(v)
        kind = self.kind(v, look.parameters, label)
        fields = [label] if label else []  # no empty row for an unnamed Value
        fields.append("data " + number(v.data))
        if look.show_grad and kind != "constant":  # every gradient that means something
            fields.append("grad " + look.grad_text(v))
        fill = look.node_colour.get(v, COLOURS[kind])
        canvas.kinds.add(kind)
        attrs = {"shape": VALUE_SHAPE, "fillcolor": fill}
        if v in look.marked:
            attrs.update(RED)
        canvas.node(target, self.ids[v], label=_table(fields, look.rankdir, fill,
                                                      red=v in look.marked), **attrs)
        if v.parents:
            attrs = {"shape": "ellipse", "fontname": TEXT_FONT, "fontsize": "11",
                     "margin": "0.04,0.02", "height": "0.3"}
            if v in look.red_ops:
                attrs.update(RED)
            canvas.node(target, self.ids[v] + "op", label=dot_text(self.folded[v]), **attrs)

    def kind(self, v: Value, parameters: set[Value], label: str) -> str:
        """What ``v`` is in the picture (a key of ``COLOURS``): the output, a parameter, a
        computed value, a constant (a number an operation was given, as the 2 of ``x * 2``, and
        not named: ``Value.constant``) or else a leaf, a variable whose gradient is shown."""
        if v is self.root:
            return "output"
        if v in parameters:
            return "parameter"
        if v.parents:
            return "value"
        return "constant" if v.constant and not label else "input"

    def _draw_box(self, canvas: _Canvas, target: Any, box: _Box, look: Look) -> None:
        """A cluster as a box around its Values and nested boxes, or as one summary node."""
        if box.collapsed:
            self._draw_summary(canvas, target, box, look)
            return
        with target.subgraph(name="cluster_" + box.key) as sub:
            sub.attr(label=dot_text(box.label), fontname=TEXT_FONT, fontsize="12",
                     style="rounded", color="#888888", labeljust="l")
            for v in _in_rank_order(box.own, look.rankdir):
                self._draw_value(canvas, sub, v, look)
                for slot in self._entries(v):
                    canvas.node(sub, self._entry_id(v, slot), label="", shape="point",
                                width="0.04", height="0.04")
            # nested boxes in the order that keeps them first on top: Graphviz's crossing
            # minimisation turns the column over when edges carry labels (a rank of their own)
            children = box.children if look.edge_label else _in_rank_order(box.children,
                                                                          look.rankdir)
            for child in children:
                self._draw_box(canvas, sub, child, look)
            for first, second in self._siblings(box) + self._parallel_summaries(box):
                # an invisible edge within one rank keeps their order: in LR the head of
                # such an edge is drawn above its tail, in TB to the right of it
                tail, head = (second, first) if look.rankdir == "LR" else (first, second)
                with sub.subgraph() as rank:
                    rank.attr(rank="same")
                    rank.edge(tail, head, style="invis")

    def _parallel_summaries(self, box: _Box) -> list[tuple[str, str]]:
        """Consecutive collapsed children of ``box`` that read the same Values from outside
        (the neurons of one layer): their summary nodes, drawn in the children's order."""
        collapsed = [c for c in box.children if c.collapsed]
        reads = {c.key: self._reads(c) for c in collapsed}
        return [("c" + a.key, "c" + b.key) for a, b in pairwise(collapsed)
                if reads[a.key] and reads[a.key] == reads[b.key]]

    def _reads(self, box: _Box) -> frozenset[str]:
        """The DOT ids of what the Values of ``box`` read from outside it."""
        return frozenset("c" + self.summary[p].key if p in self.summary else self.ids[p]
                         for v in box.members() for _, p in self.inputs.get(v, ())
                         if p not in box.member_set)

    def _siblings(self, box: _Box) -> list[tuple[str, str]]:
        """The DOT ids of consecutive leaf operands of one operation that are both this box's
        own Values (a neuron's ``w_1 .. w_n, b``; layer 1's ``x_1 .. x_n``), or the points where
        its other operands enter the box (``_entries``), each pair once: they are drawn in
        operand order, first on top (LR) or on the left (TB)."""
        pairs: dict[tuple[str, str], None] = {}
        depth = self._depths()
        for v, slots in self.inputs.items():
            entries = self._entries(v) if self.box_of.get(v) is box else []
            column = [(self._entry_id(v, slot), 0) if slot in entries else
                      (self.ids[p], depth[p]) for slot, p in slots
                      if slot in entries or (self.box_of.get(p) is box
                                             and p not in self.summary)]
            pairs.update(((a, b), None) for (a, da), (b, db) in pairwise(column)
                         if a != b and da == db)
        return list(pairs)

    def _depths(self) -> dict[Value, int]:
        """Each drawn Value's longest distance from a leaf (leaves: 0)."""
        depth: dict[Value, int] = {}
        for v in self.values:  # oldest first: operands before results
            depth[v] = 1 + max((depth[p] for _, p in self.inputs.get(v, ())), default=-1)
        return depth

    def _draw_summary(self, canvas: _Canvas, target: Any, box: _Box, look: Look) -> None:
        """A collapsed cluster: its size and, if it has one output, that output's data and grad."""
        members = box.members()
        outputs = [v for v in members if v is self.root or any(
            u not in box.member_set for u in self.users.get(v, ()))]
        fields = [f"{box.short_label} ({len(members)} values)"]
        if len(outputs) == 1:
            fields.append("data " + number(outputs[0].data))
            if look.show_grad:
                fields.append("grad " + look.grad_text(outputs[0]))
        red = any(v in look.marked for v in members)
        attrs = {"shape": VALUE_SHAPE, "fillcolor": COLOURS["summary"], **(RED if red else {})}
        canvas.kinds.add("summary")
        canvas.node(target, "c" + box.key, label=_table(fields, look.rankdir, COLOURS["summary"],
                                                        red=red, rounded=True), **attrs)

    def _draw_edges(self, canvas: _Canvas, look: Look) -> None:
        """Operand -> op ellipse -> result, oldest result first; edges into or out of a collapsed
        cluster end at its summary node, once per pair of ends."""
        seen = set()
        between: dict[tuple[str, str], list[tuple[str, str, dict]]] = {}  # summary to summary
        for v in self.values:
            if not v.parents:
                continue
            head_box = self.summary.get(v)
            head = "c" + head_box.key if head_box else self.ids[v] + "op"
            entries = [] if head_box else self._entries(v)  # operands that enter v's box
            for slot, p in self.inputs[v]:
                tail_box = self.summary.get(p)
                if tail_box is not None and tail_box is head_box:
                    continue  # inside one collapsed cluster
                tail = "c" + tail_box.key if tail_box else self.ids[p]
                if head_box or tail_box:
                    if (tail, head) in seen:
                        continue
                    seen.add((tail, head))
                attrs = self._operand_edge(v, slot, head_box, look)
                if head_box and tail_box:  # drawn below, bundled when every pair is joined
                    between.setdefault((self._parent_key(tail_box), self._parent_key(head_box)),
                                       []).append((tail, head, attrs))
                    continue
                if slot in entries:  # into the box, then to the op
                    entry = self._entry_id(v, slot)
                    colour = {k: attrs[k] for k in RED if k in attrs}
                    canvas.edge(tail, entry, arrowhead="none", **colour)
                    tail = entry
                canvas.edge(tail, head, **attrs)
            if self.cut.get(v) and not head_box:
                canvas.edge("more", head, style="dashed")
            if not head_box:
                canvas.edge(self.ids[v] + "op", self.ids[v], **(RED if v in look.red_ops else {}))
        for (tail_parent, head_parent), edges in between.items():
            self._draw_between(canvas, tail_parent, head_parent, edges)

    def _draw_between(self, canvas: _Canvas, tail_parent: str, head_parent: str,
                      edges: list[tuple[str, str, dict]]) -> None:
        """The edges between the summaries of two collapsed boxes' siblings (a layer's neurons
        and the next layer's). When every one of ``m`` tails feeds every one of ``n`` heads,
        ``m x n`` edges would merge into one black bar: they are drawn as one edge between the
        two parent boxes saying how many it stands for (invisible edges keep the ranks)."""
        tails = list(dict.fromkeys(t for t, _, _ in edges))
        heads = list(dict.fromkeys(h for _, h, _ in edges))
        complete = len(edges) == len(tails) * len(heads) and len(tails) > 1 and len(heads) > 1
        if not complete or tail_parent == head_parent or not tail_parent or not head_parent:
            for tail, head, attrs in edges:
                canvas.edge(tail, head, **attrs)
            return
        middle_tail, middle_head = tails[len(tails) // 2], heads[len(heads) // 2]
        for head in heads:
            canvas.dot.edge(middle_tail, head, style="invis")
        for tail in tails:
            canvas.dot.edge(tail, middle_head, style="invis")
        red = any(attrs.get("color") == HIGHLIGHT for _, _, attrs in edges)
        canvas.dot.attr(compound="true")
        canvas.edge(middle_tail, middle_head, ltail="cluster_" + tail_parent,
                    lhead="cluster_" + head_parent, penwidth="2.5" if red else "1.5",
                    color=HIGHLIGHT if red else "black", fontname=TEXT_FONT, fontsize="11",
                    label=dot_text(f"{len(tails)} x {len(heads)} = {len(edges)} edges: each "
                                   f"of the {len(tails)} feeds\neach of the {len(heads)}"))

    def _parent_key(self, box: _Box) -> str:
        """The DOT key of the box that holds ``box`` ("" at the top)."""
        return "_".join(map(str, box.path[:-1]))

    def _entries(self, v: Value) -> list[int]:
        """The operand slots of ``v`` whose Value comes into ``v``'s box from outside while
        ``v`` also reads leaves of its own box (a neuron's inputs, beside its weights). Each
        such edge enters the box through a point in the column of the box's leaves: drawn
        straight to the op, it would have to pass that column outside the box (Graphviz keeps
        a box for its own nodes), looping around it and across its title."""
        box = self.box_of.get(v)
        if box is None or v in self.summary or not any(
                not q.parents and self.box_of.get(q) is box for _, q in self.inputs.get(v, ())):
            return []
        return [slot for slot, p in self.inputs[v] if self.box_of.get(p) is not box]

    def _entry_id(self, v: Value, slot: int) -> str:
        return f"{self.ids[v]}in{slot}"

    def _operand_edge(self, v: Value, slot: int, head_box: _Box | None,
                      look: Look) -> dict[str, str]:
        """The attributes of the edge from operand ``slot`` into ``v``'s op: red if on a path,
        its label, and for the two operands of a non-commutative op the side it enters from."""
        attrs = {}
        if (v, slot) in look.red_edges:
            attrs = dict(RED)
        if (v, slot) in look.edge_label:
            # edge labels take part in the layout, so they get room of their own; labels placed
            # afterwards (xlabel) were printed over the boxes' text in an MLP's clusters
            attrs["label"] = dot_text(look.edge_label[v, slot])
            attrs["fontname"] = TEXT_FONT
            attrs["fontsize"] = "10"
        if not head_box and len(v.parents) == 2 == len(self.inputs[v]) \
                and not v.entry.commutative:
            attrs["headport"] = PORTS[look.rankdir][slot]
        return attrs


@dataclass(frozen=True)
class Look:
    """How one drawing shows its graph (see :meth:`Graph.draw`): ``red_edges`` are
    ``(value, slot)`` pairs, ``red_ops`` the Values whose op ellipse is on a red path."""

    rankdir: str
    show_grad: bool
    marked: set[Value]
    parameters: set[Value]
    label_text: Callable[[Value], str]
    grad_text: Callable[[Value], str]
    node_colour: Mapping[Value, str]
    edge_label: Mapping[tuple[Value, int], str]
    red_edges: set[tuple[Value, int]]
    red_ops: set[Value]


class _Canvas:
    """A graphviz Digraph with the drawings' fonts and sizes, counting what is put on it."""

    def __init__(self, rankdir: str) -> None:
        import graphviz  # a dependency of deltagrad; only drawing needs it

        self.dot = dot = graphviz.Digraph("graph", graph_attr={
            "rankdir": rankdir, "fontname": TEXT_FONT, "nodesep": "0.25", "ranksep": "0.3",
            # each box's order is settled inside it; a last pass over the whole graph would
            # shuffle a neuron's weights again
            "remincross": "false"})
        dot.attr("node", fontname=RECORD_FONT, fontsize="12")
        dot.attr("edge", arrowsize="0.6")
        self.nodes = self.edges = 0
        self.kinds: set[str] = set()  # the COLOURS used

    def caption(self, title: str, kinds: Sequence[str],
                size: tuple[float, float] | None = None) -> None:
        """The title (lines left-aligned) and a legend of ``kinds`` above the drawing."""
        if title or kinds:
            self.dot.attr(label=caption_label(title, kinds, size), labelloc="t", labeljust="l",
                          fontsize="13")

    def node(self, target: Any, name: str, **attrs: str) -> None:
        target.node(name, **attrs)
        self.nodes += 1

    def edge(self, tail: str, head: str, **attrs: str) -> None:
        self.dot.edge(tail, head, **attrs)
        self.edges += 1


class _Box:
    """A cluster as drawn: its Values that are in the drawing, its nested boxes, its DOT key."""

    def __init__(self, cluster: Cluster, path: tuple[int, ...], drawn: Mapping[Value, str]):
        self.label = self.short_label = cluster.label
        self.path = path
        self.depth = len(path)
        self.key = "_".join(map(str, path))
        self.wanted = [v for v in cluster.values if v in drawn]
        self.children = [_Box(c, (*path, i), drawn) for i, c in enumerate(cluster.clusters)]
        for child in self.children:  # "layer 2 / neuron 5" inside "layer 2": "neuron 5"
            prefix = self.label + " / "
            if child.label.startswith(prefix):
                child.short_label = child.label[len(prefix):]
        self.own: list[Value] = []
        self.collapsed = False
        self.member_set: set[Value] = set()

    def walk(self) -> list[_Box]:
        return [self, *(b for c in self.children for b in c.walk())]

    def claim(self, box_of: dict[Value, _Box]) -> None:
        """Give each Value to the first box that lists it (nested boxes first)."""
        for child in self.children:
            child.claim(box_of)
        for v in self.wanted:
            if v not in box_of:
                box_of[v] = self
                self.own.append(v)
        self.own.sort(key=lambda v: v.created)
        self.member_set = set(self.members())

    def members(self) -> list[Value]:
        return sorted([*self.own, *(v for c in self.children for v in c.members())],
                      key=lambda v: v.created)


# -- helpers ------------------------------------------------------------------------------------


def _check_value(x: object, who: str) -> None:
    if not isinstance(x, Value):
        raise TypeError(f"{who} needs an engine.Value, got {type(x).__name__}: {x!r:.60}")


def _value_set(values: Iterable[Value], what: str) -> set[Value]:
    if isinstance(values, Value):
        values = (values,)
    out = set()
    for v in values:
        if not isinstance(v, Value):
            raise TypeError(f"{what} must hold engine.Value objects, got {type(v).__name__}")
        out.add(v)
    return out


def _check_clusters(clusters: Sequence[Cluster]) -> list[Cluster]:
    if isinstance(clusters, Cluster):
        clusters = [clusters]
    out = list(clusters)
    for c in out:
        if not isinstance(c, Cluster):
            raise TypeError(f"clusters must hold engine.draw.Cluster objects, got "
                            f"{type(c).__name__}")
        _value_set(c.values, f"cluster {c.label!r}")
        _check_clusters(c.clusters)
    return out


def _nearest_values(root: Value, max_nodes: int | None) -> tuple[list[Value], int]:
    """Up to ``max_nodes`` Values nearest ``root`` (breadth first), oldest first; and how many
    were left out."""
    seen = {root}
    queue = [root]
    for v in queue:  # the list grows while we walk it
        for slot, p in enumerate(v.parents):
            if p not in seen and not _is_folded(v, slot):
                seen.add(p)
                queue.append(p)
    kept = queue if max_nodes is None else queue[:max_nodes]
    return sorted(kept, key=lambda v: v.created), len(queue) - len(kept)


def _number(x: float | Value) -> float:
    """A grad as a number: after ``backward(create_graph=True)`` it is a Value."""
    return x.data if type(x) is Value else x


def _expression(v: Value, names: Mapping[Value, str]) -> str:
    """``v`` written with its operands' names: ``a * b``, ``tanh(n)``, ``(a + b) ** 2``."""
    return written(v.op, [names.get(p) or (f"{p.data:g}" if p.constant else "...")
                          for p in v.parents])


def _is_folded(v: Value, slot: int) -> bool:
    """Whether operand ``slot`` of ``v`` is a constant of its operation (an exponent, a slope)
    that is written into the operation's label instead of drawn as a node."""
    if slot not in v.entry.constants:
        return False
    p = v.parents[slot]
    return not p.parents and not p.label


def _op_label(v: Value, constants: list[str]) -> str:
    """The text of an op's ellipse: its name and folded constants (``leaky_relu 0.1``), or an
    infix op's symbol with its folded constant (``**2``)."""
    if constants and v.entry.symbol:
        return v.entry.symbol + "".join(constants)
    return " ".join([v.op, *constants])


def _in_rank_order(values: list[Value], rankdir: str) -> list[Value]:
    """Values in the order to emit them so that the layout keeps them oldest first from the
    top: graphviz builds an LR drawing top to bottom from the last emitted."""
    return values[::-1] if rankdir == "LR" else values


def caption_label(title: str, kinds: Sequence[str] = (),
                  size: tuple[float, float] | None = None) -> str:
    """An HTML-like label: ``title``'s lines, left-aligned, then a legend: a swatch of each
    kind's colour and what it means (``MEANING``). All text escaped for HTML. ``size`` (points)
    fixes the title's box, so that drawings with different titles have the same size."""
    rows = []
    if title:
        lines = [html_text(line) for line in str(title).split("\n")]
        fixed = "" if size is None else (f' WIDTH="{size[0]:.0f}" HEIGHT="{size[1]:.0f}" '
                                         'FIXEDSIZE="TRUE" VALIGN="TOP"')
        rows.append(f'<TR><TD ALIGN="LEFT" BALIGN="LEFT"{fixed}>{"<BR/>".join(lines)}</TD></TR>')
    if kinds:
        cells = "".join(f'<TD BGCOLOR="{COLOURS[k]}" BORDER="1" WIDTH="12"> </TD>'
                        f'<TD ALIGN="LEFT">{html.escape(MEANING[k])}  </TD>' for k in kinds)
        rows.append('<TR><TD ALIGN="LEFT"><TABLE BORDER="0" CELLSPACING="2" CELLPADDING="1">'
                    f'<TR>{cells}</TR></TABLE></TD></TR>')
    return f'<<TABLE BORDER="0" CELLSPACING="0" CELLPADDING="1">{"".join(rows)}</TABLE>>'


def _table(fields: list[str], rankdir: str, fill: str, *, red: bool = False,
           rounded: bool = False) -> str:
    """A Value as an HTML-like table: fields stacked (name over data over grad) when the graph
    runs left to right, side by side when it runs top to bottom, so that a record is narrow
    along the direction the graph grows and a long chain fits a slide. (Tables, not DOT
    records: graphviz cannot keep records in a given order within a rank.)"""
    # cells filled and outlined: the frame around them stays clear unless highlighted
    colour = "" if rounded else f' BGCOLOR="{fill}" COLOR="{HIGHLIGHT if red else "black"}"'
    cells = [f"<TD{colour}>{html_text(text) or ' '}</TD>" for text in fields]
    rows = "".join(f"<TR>{c}</TR>" for c in cells) if rankdir == "LR" else \
        f"<TR>{''.join(cells)}</TR>"
    # a highlighted box's frame is drawn in room every box has (a transparent frame), so that
    # highlighting moves nothing: the frames of a film strip keep one layout
    frame = f'BORDER="2" COLOR="{HIGHLIGHT}"' if red else 'BORDER="1"' if rounded else \
        'BORDER="2" COLOR="transparent"'
    style = ' STYLE="rounded" CELLBORDER="0"' if rounded else ' CELLBORDER="1"'
    colour = f' BGCOLOR="{fill}"' if rounded else ""
    return (f'<<TABLE {frame}{style} CELLSPACING="0" CELLPADDING="3"{colour}>'
            f"{rows}</TABLE>>")

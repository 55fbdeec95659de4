"""Drawing an MLP: its graph in clusters per layer and neuron, and the network as students draw it.

- :func:`graph_clusters` finds, in a graph built by an MLP's forward, each neuron's nodes (its
  parameters, its ``z``, the products of the expanded form, its activation) and groups them per
  neuron and per layer; :func:`graph_names` names them as the lecture notes do. Nothing is
  recorded while computing; both are derived from the MLP's structure at drawing time.
- :func:`draw_graph`, :func:`film_strip` and :func:`explain` are the engine's, given those
  clusters, names and the MLP's parameters: ``nn.draw_graph(loss, mlp)``. :func:`delta_form`
  gives ``nn.explain(loss, w, mlp)`` the lecture notes' form of a weight's gradient,
  ``dC/dw_jk = delta_j * a_k``, with the engine's numbers.
- :func:`draw_network` draws layers of neurons joined by weights (width by magnitude, colour by
  sign) and, after a forward and backward pass on ``(x, y)``, each neuron's ``z``, ``a`` and
  ``delta`` (``dC/dz``), and optionally each weight's gradient.

Layers and neurons are numbered from 1, as in the lecture notes (``W_1`` reads the input
``a_0 = x``); weight ``w_jk`` of layer ``l`` is ``mlp.layers[l - 1].neurons[j - 1].w[k - 1]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import engine
from engine import Value, ancestors, grad
from engine.pictures.draw import COLOURS, HIGHLIGHT, RANKDIRS, Cluster, Drawing
from engine.pictures.explain import DeltaForm, Explanation
from engine.pictures.filmstrip import FilmStrip
from engine.pictures.notation import dot_text, html_text, number
from nn.losses import Loss, mse
from nn.mlp import MLP, Neuron

POSITIVE, NEGATIVE = "#2166ac", "#b2182b"  # weight colours: blue for w >= 0, red for w < 0
BACKGROUND = "#c8c8c8"  # the weights out of focus
ROOM = 4  # at most this many weights into one neuron get arrowheads and labels: more pile up


class Pass(NamedTuple):
    """One forward pass through a neuron in a graph: its ``z``, its inputs ``a_k`` (the Values
    its weights multiply), the products of the expanded form, and its activation ``a``."""

    z: Value
    inputs: tuple[Value, ...]
    products: tuple[Value, ...]
    a: Value | None  # None for a custom activation (not recognised in the graph)


class Place(NamedTuple):
    """Where a neuron sits: ``layer`` and ``index`` counted from 1."""

    layer: int
    index: int
    neuron: Neuron


def neuron_passes(mlp: MLP, root: Value) -> dict[Neuron, list[Pass]]:
    """Every forward pass of every neuron of ``mlp`` found in the graph of ``root``."""
    _check_mlp(mlp)
    by_first_weight = {n.w[0]: n for layer in mlp.layers for n in layer.neurons}
    by_bias = {n.b: n for layer in mlp.layers for n in layer.neurons}
    nodes = ancestors(root)
    users: dict[Value, list[Value]] = {}
    for v in nodes:
        for p in v.parents:
            users.setdefault(p, []).append(v)
    passes: dict[Neuron, list[Pass]] = {}
    for v in nodes:
        found = _match(v, by_first_weight, by_bias)
        if found is None:
            continue
        neuron, inputs, products = found
        passes.setdefault(neuron, []).append(
            Pass(v, inputs, products, _activation_node(neuron, v, users.get(v, ()))))
    return passes


def _match(v: Value, by_first_weight: dict, by_bias: dict):
    """``(neuron, inputs, products)`` if ``v`` is a neuron's ``z`` (either form), else None."""
    parents = v.parents
    if v.op == "affine" and parents:
        neuron = by_first_weight.get(parents[0])
        n = len(parents) // 2
        if neuron is not None and len(neuron.w) == n and parents[-1] is neuron.b \
                and all(a is b for a, b in zip(parents[:n], neuron.w, strict=True)):
            return neuron, tuple(parents[n:-1]), ()
    elif v.op == "sum" and parents:
        neuron = by_bias.get(parents[0])
        products = parents[1:]
        if neuron is not None and len(products) == len(neuron.w) and all(
                p.op == "*" and p.parents[0] is w for p, w in zip(products, neuron.w, strict=True)):
            return neuron, tuple(p.parents[1] for p in products), tuple(products)
    return None


def _activation_node(neuron: Neuron, z: Value, users: Sequence[Value]) -> Value | None:
    name = neuron.activation
    if name == "linear":
        return z
    if isinstance(name, str):
        for u in users:
            if u.op == name and u.parents[0] is z:
                return u
    return None


def places(mlp: MLP) -> dict[Neuron, Place]:
    """Each neuron's layer and index, counted from 1."""
    _check_mlp(mlp)
    return {n: Place(ly, j, n) for ly, layer in enumerate(mlp.layers, 1)
            for j, n in enumerate(layer.neurons, 1)}


def graph_clusters(mlp: MLP, root: Value) -> list[Cluster]:
    """One cluster per layer holding one cluster per neuron (``layer 2 / neuron 5``): the
    neuron's weights and bias, and for each of its forward passes in the graph its products,
    ``z`` and activation. Layer 1 also holds the inputs ``x`` (leaves), drawn beside its
    neurons. Layers with no pass in the graph are left out. What the graph computes from the
    MLP's outputs (the loss, its targets and constants) is one more cluster, ``loss``."""
    passes = neuron_passes(mlp, root)
    clusters = []
    for ly, layer in enumerate(mlp.layers, 1):
        inner = []
        for j, neuron in enumerate(layer.neurons, 1):
            runs = passes.get(neuron)
            if not runs:
                continue
            values = [*neuron.w, neuron.b]
            for run in runs:
                values += [*run.products, run.z]
                if run.a is not None and run.a is not run.z:
                    values.append(run.a)
            inner.append(Cluster(f"layer {ly} / neuron {j}", tuple(values)))
        if inner:
            inputs = _leaf_inputs(layer.neurons, passes) if ly == 1 else ()
            clusters.append(Cluster(f"layer {ly}", inputs, clusters=tuple(inner)))
    loss = loss_values(mlp, root, passes)
    if loss:
        clusters.append(Cluster("loss", tuple(loss)))
    return clusters


def _leaf_inputs(neurons: Sequence[Neuron], passes: dict[Neuron, list[Pass]]) -> tuple:
    """The leaves the first layer reads (``x``), in input order, each once."""
    found: dict[Value, None] = {}
    for neuron in neurons:
        for run in passes.get(neuron, ()):
            found.update((x, None) for x in run.inputs if not x.parents)
    return tuple(found)


def output_values(mlp: MLP, root: Value,
                  passes: dict[Neuron, list[Pass]] | None = None) -> list[Value]:
    """The MLP's outputs ``a_L`` in the graph of ``root``: forward pass after forward pass,
    neuron 1 first."""
    return list(_output_places(mlp, root, passes))


def _output_places(mlp: MLP, root: Value,
                   passes: dict[Neuron, list[Pass]] | None = None) -> dict[Value, tuple[int, int]]:
    """Each output ``a_L[j]`` of forward pass ``i`` in the graph: ``(j, i)``, from 1."""
    passes = neuron_passes(mlp, root) if passes is None else passes
    runs = [passes.get(n, []) for n in mlp.layers[-1].neurons]
    places: dict[Value, tuple[int, int]] = {}
    for i in range(max(map(len, runs), default=0)):
        for j, neuron_runs in enumerate(runs, 1):
            if i < len(neuron_runs) and neuron_runs[i].a is not None:
                places.setdefault(neuron_runs[i].a, (j, i + 1))
    return places


def loss_values(mlp: MLP, root: Value,
                passes: dict[Neuron, list[Pass]] | None = None) -> list[Value]:
    """What ``root`` computes from the MLP's outputs (a loss), and the leaves it reads there
    that are not the MLP's (targets, constants), oldest first; empty if ``root`` is an output."""
    passes = neuron_passes(mlp, root) if passes is None else passes
    outputs = set(output_values(mlp, root, passes))
    own = set(mlp.parameters())
    after: set[Value] = set()
    for v in ancestors(root):  # oldest first: operands before results
        if v not in outputs and any(p in outputs or p in after for p in v.parents):
            after.add(v)
    leaves = {p for v in after for p in v.parents if not p.parents and p not in own}
    return sorted(after | leaves, key=lambda v: v.created)


def graph_names(mlp: MLP, root: Value) -> dict[Value, str]:
    """Lecture-notes names for the MLP's Values in the graph of ``root``: ``W2[5,3]``, ``b2[5]``,
    ``z2[5]``, ``a2[5]`` (layer 2, neuron 5, input 3) and ``x[1]`` for the inputs. A neuron's
    second forward pass in the same graph gets ``#2`` (``z2[5]#2``), and so on."""
    names: dict[Value, str] = {}
    passes = neuron_passes(mlp, root)
    for ly, layer in enumerate(mlp.layers, 1):
        for j, neuron in enumerate(layer.neurons, 1):
            for k, w in enumerate(neuron.w, 1):
                names[w] = f"W{ly}[{j},{k}]"
            names[neuron.b] = f"b{ly}[{j}]"
            for i, run in enumerate(passes.get(neuron, ()), 1):
                tag = "" if i == 1 else f"#{i}"
                names[run.z] = f"z{ly}[{j}]{tag}"
                if run.a is not None and run.a is not run.z:
                    names[run.a] = f"a{ly}[{j}]{tag}"
                if ly == 1:
                    for k, x in enumerate(run.inputs, 1):
                        names.setdefault(x, f"x[{k}]{tag}")
    return {**loss_names(mlp, root, passes), **names}


def loss_names(mlp: MLP, root: Value,
               passes: dict[Neuron, list[Pass]] | None = None) -> dict[Value, str]:
    """Names for the loss's Values, as in the lecture notes' ``C = ||a_L - y||^2``: the target
    ``y[j]``, the error ``e[j] = a_L[j] - y[j]``, its square ``e[j]^2``, a sample's cost ``c``
    (the sum of its squares), their sum ``sum c`` and the root ``C``. Forward pass ``i > 1``
    adds ``#i`` (``e[1]#2``). Values of other shapes are left to the engine's names."""
    passes = neuron_passes(mlp, root) if passes is None else passes
    outputs = _output_places(mlp, root, passes)
    if not outputs or root in outputs:
        return {}
    names: dict[Value, str] = {}
    kind: dict[Value, tuple[str, int]] = {}  # "square" or "cost", with the pass
    for v in loss_values(mlp, root, passes):
        parents = v.parents
        if v.op == "-" and parents[0] in outputs and not parents[1].parents:
            j, i = outputs[parents[0]]
            tag = "" if i == 1 else f"#{i}"
            names.setdefault(parents[1], f"y[{j}]{tag}")
            names[v] = f"e[{j}]{tag}"
        elif v.op == "*" and parents[0] is parents[1] and parents[0] in names:
            names[v] = names[parents[0]].replace("]", "]^2", 1)
            kind[v] = ("square", outputs.get(parents[0].parents[0], (0, 0))[1])
        elif v.op == "sum" and all(p in kind for p in parents):
            found = {kind[p] for p in parents}
            if len(found) == 1 and found.pop()[0] == "square":  # one sample's squares
                i = kind[parents[0]][1]
                names[v] = "c" if i == 1 else f"c#{i}"
                kind[v] = ("cost", i)
            else:  # the samples' costs
                names[v] = "sum c"
    if not root.label:
        names[root] = "C"
    return names


def delta_form(mlp: MLP, root: Value, leaf: Value) -> DeltaForm | None:
    """The lecture notes' form of ``d root / d leaf`` when ``leaf`` is a weight or a bias of
    ``mlp``: ``dC/dW_l[j,k] = delta_l[j] * a_{l-1}[k]`` summed over the neuron's forward passes,
    where ``delta_l[j] = d root / d z_l[j]`` (the engine's backward pass) and ``a_{l-1}[k]`` the
    input the weight multiplies (``a_0 = x``). ``None`` when ``leaf`` is not a parameter of
    ``mlp``."""
    for place in places(mlp).values():
        neuron = place.neuron
        if leaf is neuron.b:
            k = None
        elif any(leaf is w for w in neuron.w):
            k = next(i for i, w in enumerate(neuron.w) if w is leaf)
        else:
            continue
        runs = neuron_passes(mlp, root).get(neuron, [])
        zs = [r.z for r in runs]
        grads = dict(zip(zs, grad(root, zs), strict=True)) if zs else {}
        C = root.label or "C"
        ly, j = place.layer, place.index
        if k is None:
            terms = tuple((grads.get(r.z, 0.0), 1.0) for r in runs)
            name = f"b{ly}[{j}], the bias of neuron {j} of layer {ly} (entry {j} of b_{ly})"
            formula = f"d{C}/db{ly}[{j}] = delta{ly}[{j}]"
        else:
            terms = tuple((grads.get(r.z, 0.0), r.inputs[k].data) for r in runs)
            source = "x, the input" if ly == 1 else f"the outputs of layer {ly - 1}"
            name = (f"W{ly}[{j},{k + 1}], the weight from input {k + 1} to neuron {j} of layer "
                    f"{ly} (row {j}, column {k + 1} of W_{ly}); a{ly - 1} is {source}")
            formula = f"d{C}/dW{ly}[{j},{k + 1}] = delta{ly}[{j}] * a{ly - 1}[{k + 1}]"
        formula += f" with delta{ly}[{j}] = d{C}/dz{ly}[{j}]"
        if len(runs) > 1:
            formula += f", summed over the {len(runs)} forward passes in the graph"
        return DeltaForm(name, formula, terms)
    return None


# -- the engine's pictures of an MLP's graph ------------------------------------------------------


class GraphView(NamedTuple):
    """What the engine's pictures need to know about an MLP in a graph."""

    clusters: list[Cluster]
    parameters: list[Value]
    names: dict[Value, str]


def graph_view(mlp: MLP, root: Value, clusters: Sequence[Cluster] = (),
               parameters: Sequence[Value] = (),
               names: dict[Value, str] | None = None) -> GraphView:
    """The MLP's clusters, parameters and names in the graph of ``root``, after those given
    (given names win)."""
    if not isinstance(root, Value):
        raise TypeError(f"an MLP's graph starts at an engine.Value, got {type(root).__name__}: "
                        f"{root!r:.60}")
    return GraphView([*clusters, *graph_clusters(mlp, root)],
                     [*parameters, *mlp.parameters()], {**graph_names(mlp, root), **(names or {})})


def draw_graph(root: Value, mlp: MLP, *, clusters: Sequence[Cluster] = (),
               parameters: Sequence[Value] = (), names: dict[Value, str] | None = None,
               **options: Any) -> Drawing:
    """``engine.draw_graph`` for a graph an MLP's forward built: a box per neuron inside a box
    per layer, the parameters coloured, unlabelled Values named ``W2[5,3]``, ``z2[5]``,
    ``a2[5]``. ``options`` are ``engine.draw_graph``'s (``collapse``, ``rankdir``, ...)."""
    view = graph_view(mlp, root, clusters, parameters, names)
    return engine.draw_graph(root, clusters=view.clusters, parameters=view.parameters,
                             names=view.names, **options)


def film_strip(root: Value, mlp: MLP, *, clusters: Sequence[Cluster] = (),
               parameters: Sequence[Value] = (), names: dict[Value, str] | None = None,
               **options: Any) -> FilmStrip:
    """``engine.film_strip`` with the MLP's clusters, parameters and names (as
    :func:`draw_graph`); ``options`` are ``engine.film_strip``'s."""
    view = graph_view(mlp, root, clusters, parameters, names)
    return engine.film_strip(root, clusters=view.clusters, parameters=view.parameters,
                             names=view.names, **options)


def explain(root: Value, leaf: Value, mlp: MLP, **options: Any) -> Explanation:
    """``engine.explain`` with the MLP's clusters, parameters and names and, for a weight or a
    bias of ``mlp``, the lecture notes' form ``dC/dw_jk = delta_j * a_k`` (:func:`delta_form`).
    ``options`` are ``engine.explain``'s (``max_paths``)."""
    if not (isinstance(root, Value) and isinstance(leaf, Value)):
        return engine.explain(root, leaf, **options)  # which says what is wrong
    view = graph_view(mlp, root)
    return engine.explain(root, leaf, delta_form=delta_form(mlp, root, leaf),
                          names=view.names, clusters=view.clusters,
                          parameters=view.parameters, **options)


# -- the network diagram ------------------------------------------------------------------------


class NetworkNumbers(NamedTuple):
    """The engine's numbers for one input (lists by layer, 0-based; neurons in order).

    ``delta[l][j]`` is ``dC/dz`` of neuron ``j`` of layer ``l``, ``dW[l][j][k]`` and ``db[l][j]``
    the parameter gradients; they are ``None`` without a target.
    """

    x: list[float]
    z: list[list[float]]
    a: list[list[float]]
    loss: float | None
    delta: list[list[float]] | None
    dW: list[list[list[float]]] | None
    db: list[list[float]] | None


def network_numbers(mlp: MLP, x: Sequence[float], y: Any = None,
                    loss: Loss = mse) -> NetworkNumbers:
    """One forward pass (``mlp.trace(x)``) and, with a target ``y``, the loss and one backward
    pass. The MLP's gradients are left as they were: the pass runs on a fresh graph and the
    parameters' previous gradients are put back afterwards."""
    _check_mlp(mlp)
    traces = mlp.trace(x)
    z = [[v.data for v in t.z] for t in traces]
    a = [[v.data for v in t.a] for t in traces]
    xs = [v.data for v in traces[0].inputs]
    if y is None:
        return NetworkNumbers(xs, z, a, None, None, None, None)
    C = loss([traces[-1].a], [y])
    leaves = [v for v in ancestors(C) if not v.parents]
    saved = [v.grad for v in leaves]
    for v in leaves:
        v.grad = 0.0
    try:
        C.backward()
        delta = [[v.grad for v in t.z] for t in traces]
        dW = [[[w.grad for w in n.w] for n in layer.neurons] for layer in mlp.layers]
        db = [[n.b.grad for n in layer.neurons] for layer in mlp.layers]
    finally:
        for v, g in zip(leaves, saved, strict=True):
            v.grad = g
    return NetworkNumbers(xs, z, a, C.data, delta, dW, db)


def draw_network(mlp: MLP, x: Sequence[float] | None = None, y: Any = None, *,
                 loss: Loss = mse, weights: bool = False, weight_grads: bool = False,
                 focus: tuple[int, int] | None = None, rankdir: str = "LR") -> Drawing:
    """The network as students draw it: inputs, then each layer's neurons, weights as edges.

    Edge width grows with ``|w|``; blue edges are positive weights, red ones negative. With an
    input ``x`` each neuron shows its ``z`` and ``a``; with a target ``y`` too, its ``delta``
    (``dC/dz``) and the loss ``C`` (``loss``, the lecture notes' squared error by default).
    ``weights`` writes each weight on its edge, ``weight_grads`` its gradient ``dC/dw``.
    Every edge has a tooltip (hover in the SVG) with both.

    Wide layers stay readable: where more than ``ROOM`` weights enter a neuron they have no
    arrowheads (they would pile up on the box) and fade with ``|w|``, the small ones almost to
    nothing; where more than ``ROOM`` meet at either end, labels are left out.
    ``focus=(layer, neuron)`` (from 1) draws that neuron's weights in (from the layer before)
    and out (to the layer after) in colour and every other weight in light grey, and writes the
    focused weights (and gradients) asked for in the boxes at their other ends."""
    import graphviz

    _check_mlp(mlp)
    if rankdir not in RANKDIRS:
        raise ValueError(f"rankdir must be 'LR' or 'TB', got {rankdir!r}")
    _check_focus(mlp, focus)
    if weight_grads and y is None:
        raise ValueError("weight_grads needs a target y (and an input x): gradients come from "
                         "a backward pass")
    if y is not None and x is None:
        raise ValueError("a target y needs an input x")
    numbers = network_numbers(mlp, x, y, loss) if x is not None else None
    columns = network_columns(mlp, numbers, y, loss)
    if focus is not None:
        _write_focus(mlp, columns, numbers, focus, Labels(weights, weight_grads))
    layout = _Layout(columns, rankdir, wide_edges=weights or weight_grads)
    place = layout.place
    dot = graphviz.Digraph("network", graph_attr={
        "layout": "neato", "splines": "line", "fontname": "Helvetica", "outputorder": "edgesfirst"})
    dot.attr("node", fontname="Courier", fontsize="11", shape="box", style="rounded,filled",
             margin="0.06,0.03")
    dot.attr("edge", arrowsize="0.5")
    nodes = _draw_columns(dot, columns, place, focus)
    edges = _draw_weights(dot, mlp, columns, numbers, Labels(weights, weight_grads), focus,
                          layout)
    if numbers and numbers.loss is not None:
        for node_id in columns[-2].ids:
            dot.edge(node_id, "loss", style="dashed", color="#555555")
            edges += 1
    return Drawing(dot.source, nodes=nodes, edges=edges)


class Column(NamedTuple):
    """One column of the network diagram: a title, and per node its DOT id and text lines."""

    title: str
    ids: list[str]
    lines: list[list[str]]
    fill: str


def network_columns(mlp: MLP, numbers: NetworkNumbers | None, y: Any = None,
                    loss: Loss = mse) -> list[Column]:
    """The diagram's columns: the inputs, each layer's neurons (with ``z``, ``a`` and ``delta``
    when ``numbers`` has them) and, with a loss, the cost."""
    columns = [Column("input a_0 = x", [f"x{k}" for k in range(1, mlp.nin + 1)],
                      [[f"x_{k}", *([number(numbers.x[k - 1])] if numbers else [])]
                       for k in range(1, mlp.nin + 1)], COLOURS["input"])]
    for ly, layer in enumerate(mlp.layers, 1):
        lines = []
        for j, neuron in enumerate(layer.neurons, 1):
            f = [f"neuron {j}", f"b {number(neuron.b.data)}"]
            if numbers:
                f += [f"z {number(numbers.z[ly - 1][j - 1])}",
                      f"a {number(numbers.a[ly - 1][j - 1])}"]
                if numbers.delta is not None:
                    f.append(f"delta {number(numbers.delta[ly - 1][j - 1])}")
            lines.append(f)
        last = ly == len(mlp.layers)
        columns.append(Column(f"layer {ly} ({layer.activation_name})" + " = output" * last,
                              [f"n{ly}_{j}" for j in range(1, layer.nout + 1)], lines,
                              COLOURS["output"] if last else COLOURS["value"]))
    if numbers and numbers.loss is not None:
        targets = list(y) if isinstance(y, Sequence) else [y]
        columns.append(Column("cost", ["loss"], [[f"C = {loss.name}", number(numbers.loss),
                                                 "y " + " ".join(number(float(t))
                                                                 for t in targets)]],
                              COLOURS["summary"]))
    return columns


class _Layout:
    """Fixed positions (inches): one column per layer, neuron 1 first, as students draw it;
    nodes sized for the longest text, columns spaced for the edges (and their labels)."""

    def __init__(self, columns: list[Column], rankdir: str, wide_edges: bool) -> None:
        longest = max(len(t) for c in columns for f in c.lines for t in f)
        tallest = max(len(f) for c in columns for f in c.lines)
        self.width, self.height = longest * 0.1 + 0.3, tallest * 0.19 + 0.15
        widest = max(len(c.ids) for c in columns)
        self.step = self.width + (3.2 if wide_edges else 1.4) + 0.06 * widest  # room for edges
        self.rankdir = rankdir

    def boxes(self, columns: list[Column]) -> list[tuple[float, float, float, float]]:
        """The box ``(x0, y0, x1, y1)`` (inches) around each node of ``columns``, as placed."""
        found = []
        for col, column in enumerate(columns):
            middle = (len(column.ids) - 1) / 2
            for row in range(len(column.ids)):
                x, y = _xy(self.place(col, row - middle))
                w, h = self.width / 2 + 0.05, self.height / 2 + 0.05
                found.append((x - w, y - h, x + w, y + h))
        return found

    def place(self, col: int, row: float) -> str:
        """The ``pos`` of row ``row`` (0: the middle) of column ``col``."""
        across, down = col * self.step, -row * (self.height + 0.15)
        return f"{across:.3f},{down:.3f}!" if self.rankdir == "LR" else \
            f"{-down * (self.width + 0.3) / (self.height + 0.15):.3f},{-across * 0.6:.3f}!"


def _draw_columns(dot: Any, columns: list[Column], place: Any,
                  focus: tuple[int, int] | None = None) -> int:
    """Each column's title and nodes, centred on the middle row (the focused neuron framed in
    red); returns the node count."""
    nodes = 0
    top = max(len(c.ids) for c in columns) / 2 + 0.1
    for col, column in enumerate(columns):
        middle = (len(column.ids) - 1) / 2
        dot.node(f"title{col}", label=dot_text(column.title), shape="plaintext", style="",
                 fontname="Helvetica", fontsize="12", pos=place(col, -top))
        for row, (node_id, f) in enumerate(zip(column.ids, column.lines, strict=True)):
            framed = {"color": HIGHLIGHT, "penwidth": "2.5"} if focus == (col, row + 1) else {}
            dot.node(node_id, label=_lines(f), fillcolor=column.fill, pos=place(col, row - middle),
                     **framed)
            nodes += 1
    return nodes


class Labels(NamedTuple):
    """Which numbers go on a weight's edge."""

    weights: bool
    grads: bool


def _draw_weights(dot: Any, mlp: MLP, columns: list[Column], numbers: NetworkNumbers | None,
                  labels: Labels, focus: tuple[int, int] | None = None,
                  layout: _Layout | None = None) -> int:
    """One edge per weight, from input ``k`` to neuron ``j``, and its numbers (if asked for and
    they fit) in a box of their own on it; returns the edge count."""
    taken = [] if layout is None else layout.boxes(columns)  # where labels must not go
    wmax = max((abs(w.data) for layer in mlp.layers for n in layer.neurons for w in n.w),
               default=1.0) or 1.0
    edges = 0
    for ly, layer in enumerate(mlp.layers, 1):
        tails = columns[ly - 1].ids
        for j, neuron in enumerate(layer.neurons, 1):
            for k, w in enumerate(neuron.w, 1):
                grad = numbers.dW[ly - 1][j - 1][k - 1] if numbers and numbers.dW else None
                role = _role(focus, ly, j, k)
                attrs = _weight_edge(f"w_{j},{k} of layer {ly}", w.data, grad, wmax,
                                     labels, role, dense=layer.nin > ROOM,
                                     crowded=max(layer.nin, layer.nout) > ROOM)
                text = attrs.pop("label_text", None)
                dot.edge(tails[k - 1], f"n{ly}_{j}", **attrs)
                edges += 1
                if text and layout is not None:
                    _weight_label(dot, f"w{ly}_{j}_{k}", text, attrs["color"],
                                  _xy(layout.place(ly - 1, (k - 1) - (layer.nin - 1) / 2)),
                                  _xy(layout.place(ly, (j - 1) - (layer.nout - 1) / 2)), taken)
    return edges


ALONG = (0.5, 0.4, 0.6, 0.3, 0.7, 0.45, 0.55, 0.35, 0.65, 0.24, 0.76)  # where on its edge, in turn


def _weight_label(dot: Any, name: str, text: str, colour: str, tail: tuple[float, float],
                  head: tuple[float, float], taken: list[tuple[float, ...]]) -> None:
    """A weight's numbers in a box of their own, centred on its edge at the first place of
    ``ALONG`` (of the way from tail to head) where it meets no box and no other label, on a
    white ground drawn over the edges: no edge, its own included, strikes the numbers through.
    Where no place is free the label is left out (the edge's tooltip has the numbers)."""
    lines = text.split("\n")
    half_w, half_h = max(map(len, lines)) * 0.033 + 0.04, len(lines) * 0.075 + 0.02
    for along in ALONG:
        x, y = tail[0] + along * (head[0] - tail[0]), tail[1] + along * (head[1] - tail[1])
        box = (x - half_w, y - half_h, x + half_w, y + half_h)
        if not any(_meet(box, other) for other in taken):
            taken.append(box)
            dot.node(name, label=dot_text(text), shape="box", style="rounded,filled",
                     fillcolor="#ffffffee", color="#ffffff00", fontname="Helvetica",
                     fontsize="9", fontcolor=colour, margin="0.03,0.01", width="0", height="0",
                     pos=f"{x:.3f},{y:.3f}!")
            return


def _xy(pos: str) -> tuple[float, float]:
    x, y = pos.rstrip("!").split(",")
    return float(x), float(y)


def _meet(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    """Whether two boxes ``(x0, y0, x1, y1)`` overlap."""
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _role(focus: tuple[int, int] | None, layer: int, j: int, k: int) -> str:
    """How weight ``w_jk`` of ``layer`` is drawn: ``"in"`` or ``"out"`` of the focused neuron,
    ``"background"`` (another weight, with a focus), or ``"plain"`` (no focus)."""
    if focus is None:
        return "plain"
    if focus == (layer, j):
        return "in"
    if focus == (layer - 1, k):
        return "out"
    return "background"


def _weight_edge(name: str, w: float, grad: float | None, wmax: float, labels: Labels,
                 role: str = "plain", dense: bool = False,
                 crowded: bool = False) -> dict[str, str]:
    """A weight's edge: colour by sign, width by size, a tooltip, and the asked-for labels
    where they fit: not where many edges meet at either end (``crowded``), and not with a
    focus (its numbers are written in the boxes). ``dense``: many edges meet at the head."""
    tip = f"{name} = {number(w)}"
    if grad is not None:
        tip += f"; dC/dw = {number(grad)}"
    size = min(abs(w) / wmax, 1.0)
    colour = POSITIVE if w >= 0 else NEGATIVE
    attrs = {"color": colour, "penwidth": f"{0.4 + 2.6 * size:.2f}", "tooltip": dot_text(tip)}
    if role == "background":
        attrs.update(color=BACKGROUND, penwidth="0.5", arrowhead="none")
        return attrs
    if dense:  # arrowheads would pile up on the box; the columns say which way is forward
        attrs["arrowhead"] = "none"
    if dense and role == "plain":  # a hairball otherwise: thinner, the small weights faded
        attrs.update(color=f"{colour}{round(255 * (0.08 + 0.92 * size ** 2)):02x}",
                     penwidth=f"{0.3 + 1.9 * size:.2f}")
    label = []
    if labels.weights:
        label.append(f"w {number(w)}")
    if labels.grads and grad is not None:
        label.append(f"dC/dw {number(grad)}")
    if label and role == "plain" and not crowded:
        attrs["label_text"] = "\n".join(label)  # drawn by _weight_label, on the edge
    return attrs


def _write_focus(mlp: MLP, columns: list[Column], numbers: NetworkNumbers | None,
                 focus: tuple[int, int], labels: Labels) -> None:
    """Write the focused neuron's weights (and their gradients) where they fit: each weight in
    the box at its other end, ``W2[5,3] 0.1234`` in neuron 3 of layer 1 for focus ``(2, 5)``."""
    ly, j = focus
    ends = [(ly, j, k, k - 1, columns[ly - 1]) for k in range(1, mlp.layers[ly - 1].nin + 1)]
    if ly < len(mlp.layers):
        ends += [(ly + 1, i, j, i - 1, columns[ly + 1])
                 for i in range(1, mlp.layers[ly].nout + 1)]
    for layer, row, col, at, column in ends:
        w = mlp.layers[layer - 1].neurons[row - 1].w[col - 1].data
        if labels.weights:
            column.lines[at].append(f"W{layer}[{row},{col}] {number(w)}")
        if labels.grads and numbers is not None and numbers.dW is not None:
            column.lines[at].append(f"dC/dW {number(numbers.dW[layer - 1][row - 1][col - 1])}")


def _check_focus(mlp: MLP, focus: object) -> None:
    """``focus`` is ``None`` or ``(layer, neuron)`` of ``mlp``, both counted from 1."""
    if focus is None:
        return
    if (not isinstance(focus, tuple) or len(focus) != 2
            or not all(isinstance(i, int) and not isinstance(i, bool) for i in focus)):
        raise TypeError(f"focus must be (layer, neuron), two ints counted from 1, got {focus!r}")
    layer, neuron = focus
    if not 1 <= layer <= len(mlp.layers):
        raise ValueError(f"focus layer {layer} is not a layer of this MLP (1 to "
                         f"{len(mlp.layers)})")
    if not 1 <= neuron <= mlp.layers[layer - 1].nout:
        raise ValueError(f"focus neuron {neuron} is not a neuron of layer {layer} (1 to "
                         f"{mlp.layers[layer - 1].nout})")


def _lines(lines: list[str]) -> str:
    """An HTML-like label: the first line bold (a name), the others as they are."""
    cells = [f"<B>{html_text(t)}</B>" if i == 0 else html_text(t) for i, t in enumerate(lines)]
    rows = "".join(f"<TR><TD>{cell}</TD></TR>" for cell in cells)
    return f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">{rows}</TABLE>>'


def _check_mlp(mlp: object) -> None:
    if not isinstance(mlp, MLP):
        raise TypeError(f"expected an nn.MLP, got {type(mlp).__name__}: {mlp!r:.60}")

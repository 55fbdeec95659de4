"""The pictures a teacher projects, rendered by graphviz-pure (the renderer users get) and read
back: an MLP's graph fits a slide and reads in lecture order, its numbers and explain's are the
closed form's, and a 16x16 network diagram stays readable."""

from __future__ import annotations

import html
import math
import re

import numpy as np
import pytest
from dot_structure import VALUE, parse, svg_places, svg_width, title_lines

import nn
from engine import Value, film_strip
from nn.closed_form import backprop
from nn.draw import BACKGROUND, draw_network
from nn.losses import mse


@pytest.fixture(autouse=True)
def shipped_renderer(monkeypatch):
    """Render with graphviz-pure even where a system ``dot`` is installed."""
    from engine.pictures.render import find_renderer

    monkeypatch.setenv("DELTAGRAD_DOT", find_renderer("graphviz-pure"))


def lecture_net(sizes=(3, 1), nin=2, expanded=False, seed=1):
    mlp = nn.MLP(nin, list(sizes), seed=seed, expanded=expanded)
    x = [0.5, -1.0, 0.25][:nin]
    y = [1.0] * sizes[-1]
    C = mse([mlp(x)], [y])
    C.backward()
    return mlp, x, y, C


def by_name(dot):
    return {dot.fields(n)[0]: n for n, a in dot.nodes.items() if a["shape"] == VALUE}


# -- an MLP's graph -------------------------------------------------------------------------------


def test_a_2_3_1_graph_fits_a_slide_collapsed_or_not():
    mlp, _, _, C = lecture_net()
    assert svg_width(nn.draw_graph(C, mlp).svg()) <= 1500  # about 3,000 before
    assert svg_width(nn.draw_graph(C, mlp, collapse=True).svg()) <= 800  # 2,600 before


@pytest.mark.parametrize(("sizes", "nin", "expanded"), [((3, 1), 2, False), ((2, 2, 1), 3, False),
                                                        ((4, 3, 1), 3, False), ((3, 2), 2, True)])
def test_the_graph_reads_in_lecture_order(sizes, nin, expanded):
    mlp, _, _, C = lecture_net(sizes, nin, expanded)
    drawing = nn.draw_graph(C, mlp)
    ids = by_name(parse(drawing.source))
    at = {name: svg_places(drawing.svg())[node] for name, node in ids.items()}

    def top_to_bottom(names):
        ys = [at[n][1] for n in names]
        return ys == sorted(ys) and len(set(ys)) == len(ys)

    assert top_to_bottom([f"x[{k}]" for k in range(1, nin + 1)])
    widths = (nin, *sizes)
    for ly, n in enumerate(sizes, 1):
        for j in range(1, n + 1):  # inside a neuron: w_1 .. w_n, then b
            params = [f"W{ly}[{j},{k}]" for k in range(1, widths[ly - 1] + 1)]
            assert top_to_bottom(params if expanded else [*params, f"b{ly}[{j}]"])
        assert top_to_bottom([f"z{ly}[{j}]" for j in range(1, n + 1)])  # neurons 1 .. n
        if ly > 1:  # layers side by side, each right of the one before
            assert min(at[f"W{ly}[1,{k}]"][0] for k in range(1, widths[ly - 1] + 1)) > max(
                at[f"z{ly - 1}[{j}]"][0] for j in range(1, widths[ly - 1] + 1))
    assert max(at[f"x[{k}]"][0] for k in range(1, nin + 1)) < at["W1[1,1]"][0]  # x beside


def test_collapsed_neurons_read_top_to_bottom():
    mlp, _, _, C = lecture_net((4, 1))
    drawing = nn.draw_graph(C, mlp, collapse=True)
    at = svg_places(drawing.svg())
    ys = [at[f"c0_{j}"][1] for j in range(4)]
    assert ys == sorted(ys)
    assert parse(drawing.source).fields("c2")[0] == "loss (3 values)"  # e, y and C


def test_every_number_on_the_graph_is_the_closed_forms():
    mlp, x, y, C = lecture_net()
    closed = backprop(mlp, [x], [y])
    dot = parse(nn.draw_graph(C, mlp).source)
    ids = by_name(dot)

    def shown(name):
        return dot.fields(ids[name])[1:]

    for ly, layer in enumerate(mlp.layers):
        for j, neuron in enumerate(layer.neurons):
            for k, w in enumerate(neuron.w):
                assert shown(f"W{ly + 1}[{j + 1},{k + 1}]") == [
                    f"data {w.data:.4f}", f"grad {closed.dW[ly][j, k]:.4f}"]
            assert shown(f"b{ly + 1}[{j + 1}]")[1] == f"grad {closed.db[ly][j]:.4f}"
            assert shown(f"z{ly + 1}[{j + 1}]") == [f"data {closed.z[ly][j, 0]:.4f}",
                                                   f"grad {closed.delta[ly][j, 0]:.4f}"]
    a2 = closed.a[2][0, 0]
    assert shown("e[1]")[0] == f"data {a2 - y[0]:.4f}"  # the error a_L - y
    assert shown("C")[0] == f"data {closed.loss:.4f}"
    assert dot.cluster_labels[dot.cluster_of[ids["e[1]"]][0]] == "loss"


def test_the_loss_is_named_and_its_constants_have_no_grad():
    mlp = nn.MLP(2, [2, 2], seed=3)
    C = mse([mlp([0.5, -1.0]), mlp([1.0, 2.0])], [[1.0, 0.0], [0.0, 1.0]])
    C.backward()
    dot = parse(nn.draw_graph(C, mlp).source)
    ids = by_name(dot)
    assert {"y[1]", "y[2]#2", "e[2]", "e[1]#2", "e[2]^2#2", "c", "c#2", "sum c", "C"} <= set(ids)
    (half,) = [n for n, a in dot.nodes.items() if a["shape"] == VALUE
               and dot.fields(n) == ["data 0.5000"]]  # the mean's 1/N: a number, no grad
    assert dot.nodes[half]["fillcolor"] == "#eeeeee"
    assert not any(name.startswith("#") or "sum(" in name for name in ids)


def test_one_sample_with_one_output_adds_no_sum_or_times_one_node():
    mlp = nn.MLP(2, [1], seed=0)
    out = mlp([0.5, -1.0])
    C = mse([out], [0.25])
    e = out[0] - 0.25
    assert C.op == "*" and C.parents[0] is C.parents[1] and C.parents[0].op == "-"
    assert C.data == pytest.approx(e.data ** 2, rel=1e-15)
    mean = mse([mlp([0.5, -1.0]), mlp([1.0, 1.0])], [0.25, 0.0])
    assert mean.op == "*" and mean.parents[1].data == 0.5  # the mean of two adds 1/N


# -- explain and the film strip ----------------------------------------------------------------


def test_explain_names_the_models_values_and_its_numbers_are_the_hand_derivation():
    mlp, x, y, C = lecture_net()
    closed = backprop(mlp, [x], [y])
    w = mlp.layers[0].neurons[1].w[0]  # W1[2,1]
    e = nn.explain(C, w, mlp)
    text = e.text()
    lines = text.splitlines()
    assert lines[0] == f"dC/dW1[2,1] = {closed.dW[0][1, 0]:.4f}: the sum over 2 paths from " \
                       "W1[2,1] to C."
    assert "  path 1: W1[2,1] -> z1[2] -> a1[2] -> z2[1] -> e[1] -> C [operand 1]" in lines
    assert "#" not in text and "sum(" not in text
    # by hand: C = e * e, e = z2 - y, z2 = W2 . a1 + b2, a1[2] = tanh(z1[2]), z1[2] = W1[2,:] x
    err = closed.a[2][0, 0] - y[0]
    a12 = closed.a[1][1, 0]
    factors = [err, 1.0, mlp.layers[1].neurons[0].w[1].data, 1 - a12 ** 2, x[0]]
    path = " x ".join(f"{f:.4f}" for f in factors)
    product = math.prod(factors)
    assert lines.count(f"    = {path} = {product:.4f}") == 2  # through e's two operand slots
    assert 2 * product == pytest.approx(closed.dW[0][1, 0], rel=1e-12)
    assert e.total == pytest.approx(w.grad, rel=1e-15) and e.agrees()
    html = e.html()
    assert "<table" in html and "<code" in html and "<pre" not in html
    assert html.count("<tr>") == 1 + 2 + 3  # header, two paths, three checks
    drawn = parse(e.drawing().source)  # the drawing names them too, inside the MLP's boxes
    assert drawn.cluster_labels["cluster_2"] == "loss"
    assert {"W1[2,1]", "e[1]", "C", "a1[2]"} <= set(by_name(drawn))


def test_the_drawings_title_is_the_whole_first_sentence():
    mlp, _, _, C = lecture_net()
    e = nn.explain(C, mlp.layers[1].neurons[0].b, mlp)
    source = e.drawing().source
    title = title_lines(source)[0]
    assert title.startswith("dC/db2[1] = ") and title.endswith("on their edges")


def test_the_film_strip_says_a_constant_has_no_gradient():
    u = Value(3.0, "u")
    v = u * 2.0
    v.label = "v"
    strip = film_strip(v)
    assert strip.caption(1).splitlines()[-1] == "  2 is a constant: no gradient"
    assert "2.grad" not in strip.text()
    dot = parse(strip.drawing(1).source)
    (two,) = [n for n, a in dot.nodes.items() if a["shape"] == VALUE
              and dot.fields(n) == ["data 2.0000"]]  # no grad field in the frame either
    assert dot.nodes[two].get("color") != "#d7191c"  # and not on the red path


# -- the network diagram at 16 x 16 ---------------------------------------------------------------


def wide_net():
    mlp = nn.MLP(2, [16, 16, 1], seed=0)
    return mlp, [0.5, -1.0], [1.0]


def test_a_dense_layer_has_no_arrowheads_or_labels_and_fades_small_weights():
    mlp, x, y = wide_net()
    dot = parse(draw_network(mlp, x, y, weights=True, weight_grads=True).source)
    dense = [(t, h, a) for t, h, a in dot.edges if h.startswith(("n2_", "n3_"))]
    assert len(dense) == 16 * 16 + 16
    labels = [n for n in dot.nodes if re.fullmatch(r"w\d+_\d+_\d+", n)]  # a weight's numbers
    assert all(a.get("arrowhead") == "none" for _, _, a in dense)
    assert not [n for n in labels if n.startswith(("w2_", "w3_"))]
    sparse = [a for t, h, a in dot.edges if h.startswith("n1_")]  # 2 in, but 16 out of x
    assert all("arrowhead" not in a for a in sparse) and not labels
    small = parse(draw_network(nn.MLP(2, [3, 2], seed=1), x, [1.0, 0.0], weights=True).source)
    assert all("arrowhead" not in a for _, h, a in small.edges if h != "loss")
    assert {f"w1_{j}_{k}" for j in (1, 2, 3) for k in (1, 2)} | {
        f"w2_{j}_{k}" for j in (1, 2) for k in (1, 2, 3)} <= set(small.nodes)
    faded = sorted((abs(mlp.layers[1].neurons[int(h[3:]) - 1].w[int(t[3:]) - 1].data),
                    int(a["color"][-2:], 16)) for t, h, a in dense if h.startswith("n2_"))
    assert [alpha for _, alpha in faded] == sorted(alpha for _, alpha in faded)
    assert faded[0][1] < 40 < 200 < faded[-1][1]


def test_focus_draws_one_neurons_weights_and_writes_the_closed_forms_numbers():
    mlp, x, y = wide_net()
    closed = backprop(mlp, [x], [y])
    drawing = draw_network(mlp, x, y, weights=True, weight_grads=True, focus=(2, 5))
    dot = parse(drawing.source)
    coloured = {(t, h) for t, h, a in dot.edges if a["color"] not in (BACKGROUND, "#555555")}
    assert coloured == {(f"n1_{k}", "n2_5") for k in range(1, 17)} | {("n2_5", "n3_1")}
    assert dot.nodes["n2_5"]["color"] == "#d7191c"
    for k in range(1, 17):  # each weight into neuron 5, in the box at its other end
        w = mlp.layers[1].neurons[4].w[k - 1].data
        label = dot.nodes[f"n1_{k}"]["label"]
        assert f"<TD>W2[5,{k}] {w:.4f}</TD>" in label
        assert f"<TD>dC/dW {closed.dW[1][4, k - 1]:.4f}</TD>" in label
        assert f"<TD>delta {closed.delta[0][k - 1, 0]:.4f}</TD>" in label
    out = mlp.layers[2].neurons[0].w[4].data
    assert f"<TD>W3[1,5] {out:.4f}</TD>" in dot.nodes["n3_1"]["label"]
    assert dot.nodes["n1_1"]["label"].count("W2[") == 1  # only the focused neuron's
    assert not any("headlabel" in a for _, _, a in dot.edges)  # written in the boxes instead
    assert not [n for n in dot.nodes if re.fullmatch(r"w\d+_\d+_\d+", n)]
    assert np.isclose(float(re.search(r"<TD>delta (\S+)</TD>", dot.nodes["n2_5"]["label"])[1]),
                      closed.delta[1][4, 0], atol=5e-5)
    assert drawing.png()[:8] == b"\x89PNG\r\n\x1a\n"


def test_focus_must_name_a_neuron():
    mlp, x, y = wide_net()
    with pytest.raises(ValueError, match="focus layer 4"):
        draw_network(mlp, x, y, focus=(4, 1))
    with pytest.raises(ValueError, match="focus neuron 17 is not a neuron of layer 2"):
        draw_network(mlp, x, y, focus=(2, 17))
    with pytest.raises(TypeError, match="focus must be"):
        draw_network(mlp, x, y, focus=2)


def _svg_clusters(svg: str) -> dict[str, tuple[tuple[float, ...], tuple[float, ...], str]]:
    """Each cluster's box and its title's box (x0, y0, x1, y1) and text, from a rendered SVG."""
    found = {}
    for name, body in re.findall(r'<g id="clust\d+" class="cluster">\s*<title>(\w+)</title>'
                                 r"(.*?)</g>", svg, flags=re.S):
        xy = [tuple(map(float, p.split(","))) for p in re.findall(r"-?[\d.]+,-?[\d.]+", body)]
        text = re.search(r'<text[^>]* x="([-\d.]+)" y="([-\d.]+)"[^>]*>([^<]*)</text>', body)
        x, y, title = float(text[1]), float(text[2]), text[3]
        width = len(title) * 6.7
        found[name] = ((min(p[0] for p in xy), min(p[1] for p in xy), max(p[0] for p in xy),
                        max(p[1] for p in xy)), (x - width / 2, y - 11, x + width / 2, y + 2),
                       title)
    return found


def _inside(point, box, margin=0.0) -> bool:
    return (box[0] + margin < point[0] < box[2] - margin
            and box[1] + margin < point[1] < box[3] - margin)


def test_the_inputs_edges_enter_each_neuron_from_the_left_crossing_no_title():
    """Edges from x once looped through the neuron boxes and across their titles, because an
    edge into a box cannot pass the column of the box's weights outside it: they now enter
    through a point in that column, and no point of theirs is in another neuron's box or in
    any box's title."""
    mlp = nn.MLP(2, [3, 1], seed=1)
    C = mse([mlp([0.5, -1.0])], [1.0])
    C.backward()
    drawing = nn.draw_graph(C, mlp)
    dot = parse(drawing.source)
    ids = by_name(dot)
    xs = {ids["x[1]"], ids["x[2]"]}
    into = [(t, h) for t, h, _ in dot.edges if t in xs]
    assert len(into) == 2 * 3 and all(h.endswith(("in2", "in3")) for _, h in into)
    svg = drawing.svg()
    clusters = _svg_clusters(svg)
    neurons = {n: c for n, c in clusters.items() if c[2].startswith("layer 1 / neuron")}
    assert len(neurons) == 3
    checked = 0
    for title, path in re.findall(r'<g id="edge\d+" class="edge">\s*<title>(.*?)</title>\s*'
                                  r'<path[^>]* d="([^"]+)"', svg):
        tail, head = html.unescape(title).split("->")
        if tail not in xs:
            continue
        own = next(n for n in neurons if head in
                   [m for m, c in dot.cluster_of.items() if n in c])
        points = [tuple(map(float, p.split(","))) for p in re.findall(r"-?[\d.]+,-?[\d.]+", path)]
        for point in points[1:-1]:  # the ends touch the boxes they join
            for name, (box, title_box, _) in clusters.items():
                assert not _inside(point, title_box), (tail, head, name)
                if name in neurons and name != own:
                    assert not _inside(point, box, margin=2), (tail, head, name)
        checked += 1
    assert checked == 6


@pytest.mark.parametrize("sizes", [[3, 1], [4, 1], [3, 2, 1]])
def test_the_film_strip_and_explain_keep_the_neurons_in_lecture_order(sizes):
    """With local derivatives on the edges the column of neuron boxes once came out upside
    down: neuron 1 is on top in the frames and in explain's drawing too."""
    mlp = nn.MLP(2, sizes, seed=1)
    C = mse([mlp([0.5, -1.0])], [[1.0] * sizes[-1]] if sizes[-1] > 1 else [1.0])
    C.backward()
    for drawing in (nn.film_strip(C, mlp).drawing(3),
                    nn.explain(C, mlp.layers[0].neurons[0].w[0], mlp).drawing()):
        dot = parse(drawing.source)
        at = svg_places(drawing.svg())
        ids = by_name(dot)
        heights = [at[ids[f"z1[{j}]"]][1] for j in range(1, sizes[0] + 1)]
        assert heights == sorted(heights)  # y grows downwards: z1[1] first

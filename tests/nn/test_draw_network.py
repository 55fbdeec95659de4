"""The MLP side of drawing: clusters per layer and neuron, the network diagram, and explain's
lecture-notes form, checked against the closed-form (matrix) backpropagation."""

from __future__ import annotations

import re

import numpy as np
import pytest
from dot_structure import VALUE, parse, svg_counts

import nn
from engine import Value, explain
from nn.closed_form import backprop
from nn.draw import (
    NEGATIVE,
    POSITIVE,
    draw_network,
    graph_clusters,
    graph_names,
    network_numbers,
    neuron_passes,
)
from nn.losses import mse


def loss_of(mlp, x, y):
    out = mlp(x)
    C = mse([out], [y])
    C.label = "C"
    return C


@pytest.mark.parametrize("expanded", [False, True], ids=["one-node", "expanded"])
def test_clusters_follow_layers_and_neurons(expanded):
    mlp = nn.MLP(2, [3, 2], seed=1, expanded=expanded)
    C = loss_of(mlp, [0.5, -1.0], [1.0, 0.0])
    clusters = graph_clusters(mlp, C)
    assert [c.label for c in clusters] == ["layer 1", "layer 2", "loss"]
    assert [[n.label for n in c.clusters] for c in clusters] == [
        ["layer 1 / neuron 1", "layer 1 / neuron 2", "layer 1 / neuron 3"],
        ["layer 2 / neuron 1", "layer 2 / neuron 2"], []]
    neuron = mlp.layers[0].neurons[1]
    (run,) = neuron_passes(mlp, C)[neuron]
    members = set(clusters[0].clusters[1].values)
    assert members == {*neuron.w, neuron.b, run.z, run.a, *run.products}
    assert len(run.products) == (2 if expanded else 0)
    assert run.a.op == "tanh" and run.z.op == ("sum" if expanded else "affine")
    last = mlp.layers[1].neurons[0]
    assert neuron_passes(mlp, C)[last][0].a is neuron_passes(mlp, C)[last][0].z  # linear


def test_the_drawing_nests_neuron_clusters_in_layer_clusters():
    mlp = nn.MLP(2, [3, 2], seed=1)
    C = loss_of(mlp, [0.5, -1.0], [1.0, 0.0])
    dot = parse(nn.draw_graph(C, mlp).source)
    assert dot.cluster_labels["cluster_0"] == "layer 1"
    assert dot.cluster_labels["cluster_1_0"] == "layer 2 / neuron 1"
    assert dot.clusters["cluster_1_0"] == ["cluster_1"]
    names = {dot.fields(n)[0]: n for n, a in dot.nodes.items() if a["shape"] == VALUE}
    assert dot.cluster_of[names["W1[2,1]"]] == ["cluster_0", "cluster_0_1"]
    assert dot.cluster_of[names["z1[2]"]] == ["cluster_0", "cluster_0_1"]
    assert dot.cluster_of[names["a1[2]"]] == ["cluster_0", "cluster_0_1"]
    assert dot.cluster_of[names["z1[2]"] + "op"] == ["cluster_0", "cluster_0_1"]  # affine
    assert dot.cluster_of[names["x[1]"]] == ["cluster_0"]  # beside layer 1's neurons
    assert dot.cluster_of[names["C"]] == ["cluster_2"] and dot.cluster_labels["cluster_2"] == "loss"
    assert dot.nodes[names["W1[2,1]"]]["fillcolor"] == "#fdb863"  # parameters


def test_a_2_16_16_1_mlp_collapses_to_one_node_per_neuron_or_per_layer():
    mlp = nn.MLP(2, [16, 16, 1], seed=0)
    C = loss_of(mlp, [0.5, -1.0], 1.0)
    full = nn.draw_graph(C, mlp, max_nodes=None)
    neurons = nn.draw_graph(C, mlp, collapse=True)
    layers = nn.draw_graph(C, mlp, collapse=1)
    dot = parse(neurons.source)
    summaries = [n for n in dot.nodes if n.startswith("c")]
    assert len(summaries) == 16 + 16 + 1 + 1  # and the loss
    assert full.nodes > 400 and neurons.nodes < 60 and parse(layers.source).nodes.keys() >= {
        "c0", "c1", "c2"}
    assert dot.fields("c1_4")[0] == "neuron 5 (19 values)"  # 16 weights, b, z, a
    a = neuron_passes(mlp, C)[mlp.layers[1].neurons[4]][0].a
    assert dot.fields("c1_4")[1:] == [f"data {a.data:.4f}", f"grad {a.grad:.4f}"]
    # every neuron of layer 1 feeds every neuron of layer 2: 256 edges were one black bar;
    # they are one edge between the layers, saying so (the 16 into layer 3 stay single)
    between = [a for t, h, a in dot.edges if t.startswith("c0_") and h.startswith("c1_")]
    assert len(between) == 1 and between[0]["ltail"] == "cluster_0"
    assert between[0]["lhead"] == "cluster_1"
    pairs = len(mlp.layers[0].neurons) * len(mlp.layers[1].neurons)
    assert between[0]["label"].startswith(f"16 x 16 = {pairs} edges")
    assert len([1 for t, h, _ in dot.edges if t.startswith("c1_") and h == "c2_0"]) == 16
    assert svg_counts(neurons.svg()) == (neurons.nodes, neurons.edges)


def test_a_batch_puts_every_pass_in_its_neurons_cluster():
    mlp = nn.MLP(2, [2, 1], seed=4)
    C = mse([mlp([0.5, -1.0]), mlp([1.0, 2.0])], [1.0, -1.0])
    passes = neuron_passes(mlp, C)
    assert all(len(runs) == 2 for runs in passes.values())
    names = set(graph_names(mlp, C).values())
    assert {"z1[1]", "z1[1]#2", "a1[2]#2", "x[2]#2", "W2[1,2]"} <= names


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid", "leaky_relu"])
def test_network_numbers_are_the_engines_and_equal_the_closed_form(activation):
    mlp = nn.MLP(3, [4, 3, 2], activation=activation, seed=7)
    x, y = [0.3, -0.8, 1.2], [0.5, -0.25]
    numbers = network_numbers(mlp, x, y)
    closed = backprop(mlp, [x], [y])
    for ly in range(3):
        assert np.allclose(numbers.z[ly], closed.z[ly][:, 0], rtol=1e-12, atol=1e-12)
        assert np.allclose(numbers.a[ly], closed.a[ly + 1][:, 0], rtol=1e-12, atol=1e-12)
        assert np.allclose(numbers.delta[ly], closed.delta[ly][:, 0], rtol=1e-10, atol=1e-12)
        assert np.allclose(numbers.dW[ly], closed.dW[ly], rtol=1e-10, atol=1e-12)
        assert np.allclose(numbers.db[ly], closed.db[ly], rtol=1e-10, atol=1e-12)
    assert numbers.loss == pytest.approx(closed.loss, rel=1e-12)


def test_the_network_diagram_shows_z_a_delta_per_neuron_with_the_closed_forms_numbers():
    mlp = nn.MLP(2, [3, 2], seed=1)
    x, y = [0.5, -1.0], [1.0, 0.0]
    closed = backprop(mlp, [x], [y])
    drawing = draw_network(mlp, x, y)
    dot = drawing.source
    for ly in range(2):
        for j in range(mlp.sizes[ly + 1]):
            label = re.search(rf'n{ly + 1}_{j + 1} \[label=<(.*?)>\s', dot)[1]
            for name, value in (("z", closed.z[ly][j, 0]), ("a", closed.a[ly + 1][j, 0]),
                                ("delta", closed.delta[ly][j, 0])):
                assert f"<TD>{name} {value:.4f}</TD>" in label
    assert f"{closed.loss:.4f}" in dot


def test_the_network_diagram_structure():
    mlp = nn.MLP(2, [3, 2], seed=1)
    grads_before = [p.grad for p in mlp.parameters()]
    drawing = draw_network(mlp, [0.5, -1.0], [1.0, 0.0], weights=True, weight_grads=True)
    dot = parse(drawing.source)
    boxes = [n for n, a in dot.nodes.items() if a.get("shape") != "plaintext"
             and not n.startswith("w")]
    assert sorted(boxes) == ["loss", "n1_1", "n1_2", "n1_3", "n2_1", "n2_2", "x1", "x2"]
    weight_edges = [(t, h, a) for t, h, a in dot.edges if h != "loss"]
    assert len(weight_edges) == 2 * 3 + 3 * 2 and drawing.edges == 12 + 2
    for t, h, a in weight_edges:
        k, j = int(t[-1]), int(h[-1])
        layer = 1 if t.startswith("x") else 2
        w = mlp.layers[layer - 1].neurons[j - 1].w[k - 1]
        assert a["color"] == (POSITIVE if w.data >= 0 else NEGATIVE)
        label = dot.nodes[f"w{layer}_{j}_{k}"]["label"]  # a box of its own on the edge
        assert f"w {w.data:.4f}" in label and "dC/dw" in label
    widths = sorted((abs(mlp.layers[int(h[1]) - 1].neurons[int(h[-1]) - 1].w[int(t[-1]) - 1]
                         .data), float(a["penwidth"])) for t, h, a in weight_edges)
    assert [p for _, p in widths] == sorted(p for _, p in widths)  # wider for larger |w|
    y = {n: float(dot.nodes[n]["pos"].split(",")[1].rstrip("!")) for n in boxes}
    assert y["n1_1"] > y["n1_2"] > y["n1_3"] and y["x1"] > y["x2"]  # neuron 1 on top
    assert [p.grad for p in mlp.parameters()] == grads_before  # the model is left as it was
    assert draw_network(mlp, [0.5, -1.0], [1.0, 0.0], weights=True,
                        weight_grads=True).source == drawing.source
    assert svg_counts(drawing.svg())[0] == len(dot.nodes)


def test_the_plain_network_and_bad_input():
    mlp = nn.MLP(2, [3, 1], seed=2)
    dot = parse(draw_network(mlp).source)
    assert "delta" not in draw_network(mlp).source and "loss" not in dot.nodes
    assert "delta" not in draw_network(mlp, [1.0, 2.0]).source
    with pytest.raises(TypeError, match=r"nn\.MLP"):
        draw_network("mlp")
    with pytest.raises(ValueError, match="weight_grads needs a target"):
        draw_network(mlp, [1.0, 2.0], weight_grads=True)
    with pytest.raises(ValueError, match="needs an input x"):
        draw_network(mlp, y=1.0)


def test_explain_an_mlp_weight_in_the_lecture_notes_form():
    mlp = nn.MLP(2, [3, 2], seed=5)
    x, y = [0.5, -1.0], [1.0, 0.0]
    closed = backprop(mlp, [x], [y])
    C = loss_of(mlp, x, y)
    C.backward()
    w = mlp.layers[1].neurons[1].w[2]  # W2[2,3]
    e = nn.explain(C, w, mlp)
    (delta, a), = e.delta_form.terms
    assert delta == pytest.approx(closed.delta[1][1, 0], rel=1e-12)
    assert a == pytest.approx(closed.a[1][2, 0], rel=1e-15)
    assert e.delta_form.value == pytest.approx(closed.dW[1][1, 2], rel=1e-12)
    assert e.agrees() and e.text().endswith("All agree.")
    assert "dC/dW2[2,3] = delta2[2] * a1[3] with delta2[2] = dC/dz2[2]" in e.text()
    assert e.text().startswith("dC/dW2[2,3] = ")
    b = nn.explain(C, mlp.layers[0].neurons[0].b, mlp)
    assert b.delta_form.value == pytest.approx(closed.db[0][0], rel=1e-12) and b.agrees()
    assert explain(C, mlp.layers[0].neurons[0].w[0]).delta_form is None  # engine.explain: no MLP
    red = [n for n, at in parse(e.drawing(collapse=True).source).nodes.items()
           if at.get("color") == "#d7191c"]
    assert "c1_1" in red and "c0_0" not in red  # neuron 2 of layer 2 is on the path


def test_film_strip_of_a_neuron_names_its_values():
    mlp = nn.MLP(2, [1], output_activation="tanh", seed=3)
    out = mlp([Value(0.5, "x1"), Value(-1.0, "x2")])[0]
    strip = nn.film_strip(out, mlp)
    assert strip.caption(1).startswith("step 1 of 2: the gradient of a1[1] (op tanh)")
    assert "z1[1].grad += da1[1]/dz1[1]" in strip.caption(1)
    assert "W1[1,2].grad +=" in strip.caption(2)
    dot = parse(strip.drawing(2).source)
    assert dot.cluster_labels["cluster_0_0"] == "layer 1 / neuron 1"


def _svg_boxes(svg: str) -> dict[str, tuple[float, float, float, float]]:
    """Each node's bounding box in a rendered SVG, by DOT id."""
    boxes = {}
    for name, body in re.findall(r'<g id="node\d+" class="node">\s*<title>(\w+)</title>(.*?)</g>',
                                 svg, flags=re.S):
        points = [tuple(map(float, p.split(","))) for poly in
                  re.findall(r'(?:points|d)="([^"]+)"', body)
                  for p in re.findall(r"-?[\d.]+,-?[\d.]+", poly)]
        if points:
            xs, ys = [x for x, _ in points], [y for _, y in points]
            boxes[name] = (min(xs), min(ys), max(xs), max(ys))
    return boxes


def test_weight_labels_sit_on_a_white_ground_of_their_own_and_meet_nothing():
    """draw_network(weights=True, weight_grads=True) once put each label on its own edge's line
    (struck through); now each is a box on a white ground, drawn over the edges, overlapping no
    neuron and no other label, with the closed form's dC/dw."""
    mlp = nn.MLP(2, [3, 1], seed=1)
    x, y = [0.5, -1.0], [1.0]
    closed = backprop(mlp, [x], [y])
    drawing = draw_network(mlp, x, y, weights=True, weight_grads=True)
    dot = parse(drawing.source)
    assert "outputorder=edgesfirst" in drawing.source  # boxes over the edges
    labels = {n: a for n, a in dot.nodes.items() if re.fullmatch(r"w\d+_\d+_\d+", n)}
    assert len(labels) == 2 * 3 + 3 * 1
    for name, a in labels.items():
        ly, j, k = map(int, name[1:].split("_"))
        w = mlp.layers[ly - 1].neurons[j - 1].w[k - 1]
        assert f"w {w.data:.4f}" in a["label"]
        assert f"dC/dw {closed.dW[ly - 1][j - 1, k - 1]:.4f}" in a["label"]
        assert a["fillcolor"].startswith("#ffffff") and a["style"] == "rounded,filled"
    boxes = _svg_boxes(drawing.svg())
    names = sorted(boxes)

    def meet(p, q):
        return p[0] < q[2] and q[0] < p[2] and p[1] < q[3] and q[1] < p[3]

    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if a in labels or b in labels:
                assert not meet(boxes[a], boxes[b]), (a, b)


def test_in_a_wider_network_no_weight_label_meets_a_box_or_another_label():
    mlp = nn.MLP(3, [4, 4, 2], seed=3)
    drawing = draw_network(mlp, [0.5, -1.0, 0.2], [1.0, 0.0], weights=True, weight_grads=True)
    boxes = _svg_boxes(drawing.svg())
    labels = [n for n in boxes if re.fullmatch(r"w\d+_\d+_\d+", n)]
    assert len(labels) >= 30  # of 36 weights: those that find a free place on their edge
    for a in labels:
        for b in boxes:
            if a != b:
                p, q = boxes[a], boxes[b]
                assert not (p[0] < q[2] and q[0] < p[2] and p[1] < q[3] and q[1] < p[3]), (a, b)

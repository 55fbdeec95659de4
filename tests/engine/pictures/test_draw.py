"""draw_graph: the structure of the DOT, its stability, and rendering through the chain."""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
from dot_structure import VALUE, parse, svg_counts, svg_texts, title_lines
from lecture import lecture_expression

from engine import Value, draw_graph
from engine import render as render_module
from engine.pictures.draw import COLOURS, HIGHLIGHT, MEANING, Cluster, Drawing
from engine.pictures.render import INSTALL_HINT, RendererNotFound, find_renderer


def expression() -> Value:
    """L = (a*b + c) * f, micrograd's lecture example, after backward."""
    return lecture_expression(backward=True)


def node_by_label(dot, label):
    """The id of the one record whose label field is ``label``."""
    (name,) = [n for n, a in dot.nodes.items()
               if a.get("shape") == VALUE and dot.fields(n)[0] == label]
    return name


# -- structure ----------------------------------------------------------------------------------


def test_expression_has_one_record_per_value_and_one_ellipse_per_operation():
    dot = parse(draw_graph(expression()).source)
    records = [n for n, a in dot.nodes.items() if a["shape"] == VALUE]
    ops = [n for n, a in dot.nodes.items() if a["shape"] == "ellipse"]
    assert len(records) == 7 and len(ops) == 3
    assert sorted(dot.nodes[n]["label"] for n in ops) == ["*", "*", "+"]
    assert len(dot.edges) == 6 + 3  # one per operand slot, one from each operation to its result


def test_records_are_label_data_grad():
    dot = parse(draw_graph(expression()).source)
    assert dot.fields(node_by_label(dot, "a")) == ["a", "data 2.0000", "grad 6.0000"]
    assert dot.fields(node_by_label(dot, "L")) == ["L", "data -8.0000", "grad 1.0000"]
    assert dot.fields(node_by_label(dot, "b")) == ["b", "data -3.0000", "grad -4.0000"]


def test_edges_follow_operand_slots_so_a_times_a_has_two():
    a = Value(3.0, "a")
    y = a * a
    dot = parse(draw_graph(y).source)
    a_id = node_by_label(dot, "a")
    (op,) = [n for n, at in dot.nodes.items() if at["shape"] == "ellipse"]
    assert dot.edge_count(a_id, op) == 2


def test_diamond_draws_the_shared_node_once_with_an_edge_per_use():
    x = Value(1.5, "x")
    u = x * 2
    v = x.exp()
    y = u + v
    dot = parse(draw_graph(y).source)
    x_id = node_by_label(dot, "x")
    assert sum(1 for t, _, _ in dot.edges if t == x_id) == 2
    assert len([n for n, a in dot.nodes.items() if a["shape"] == VALUE]) == 5  # x, 2, u, v, y


def test_a_constant_exponent_or_slope_is_written_into_the_operation():
    x = Value(2.0, "x")
    dot = parse(draw_graph((x ** 2).leaky_relu(0.1)).source)
    assert {a["label"] for a in dot.nodes.values() if a["shape"] == "ellipse"} == {
        "**2", "leaky_relu 0.1"}
    assert len([a for a in dot.nodes.values() if a["shape"] == VALUE]) == 3


def test_the_first_operand_of_a_non_commutative_operation_enters_from_above():
    a, b = Value(1.0, "a"), Value(2.0, "b")
    dot = parse(draw_graph(a - b).source)
    ports = {t: at.get("headport") for t, _, at in dot.edges}
    assert ports[node_by_label(dot, "a")] == "n" and ports[node_by_label(dot, "b")] == "s"
    dot = parse(draw_graph(a - b, rankdir="TB").source)
    assert {at.get("headport") for _, _, at in dot.edges} == {"w", "e", None}


def test_leaves_parameters_and_the_output_have_their_own_colours():
    w, x = Value(0.5, "w"), Value(2.0, "x")
    y = w * x + 1
    dot = parse(draw_graph(y, parameters=[w]).source)
    fill = {dot.fields(n)[0] or dot.fields(n)[1]: a["fillcolor"]
            for n, a in dot.nodes.items() if a["shape"] == VALUE}
    assert fill["w"] == COLOURS["parameter"]
    assert fill["x"] == COLOURS["input"]
    assert fill["data 1.0000"] == COLOURS["constant"]
    assert fill["data 2.0000"] == COLOURS["output"]
    assert len(set(COLOURS.values())) == len(COLOURS)


def test_show_grad_false_and_rankdir_tb():
    source = draw_graph(expression(), show_grad=False, rankdir="TB").source
    assert "grad" not in source and "rankdir=TB" in source
    dot = parse(source)
    a = node_by_label(dot, "a")
    assert dot.fields(a) == ["a", "data 2.0000"]
    assert dot.nodes[a]["label"].count("<TR>") == 1  # one row: side by side in TB


def test_highlight_marks_nodes_and_the_edges_between_them():
    a, b = Value(2.0, "a"), Value(3.0, "b")
    c = a * b
    c.label = "c"
    y = c + a
    dot = parse(draw_graph(y, highlight=[a, c]).source)
    marked = {n for n, at in dot.nodes.items() if at.get("color") == HIGHLIGHT}
    ids = {dot.fields(n)[0]: n for n, at in dot.nodes.items() if at["shape"] == VALUE}
    assert ids["a"] in marked and ids["c"] in marked and ids["b"] not in marked
    red = [(t, h) for t, h, at in dot.edges if at.get("color") == HIGHLIGHT]
    assert (ids["a"], ids["c"] + "op") in red and (ids["c"] + "op", ids["c"]) in red
    assert all(t != ids["b"] for t, _ in red) and len(red) == 2


def test_max_nodes_caps_the_drawing_and_says_how_many_are_left_out():
    x = Value(1.0, "x")
    y = x
    for _ in range(40):
        y = y.tanh()
    dot = parse(draw_graph(y, max_nodes=10).source)
    assert len([a for a in dot.nodes.values() if a["shape"] == VALUE]) == 10
    assert "31 more values" in dot.nodes["more"]["label"]
    assert any(t == "more" for t, _, _ in dot.edges)
    with pytest.raises(ValueError, match="max_nodes"):
        draw_graph(y, max_nodes=0)


def test_a_big_graph_is_capped_by_default():
    x = Value(0.1, "x")
    y = Value.sum([x * i for i in range(600)])
    dot = parse(draw_graph(y).source)
    assert len([a for a in dot.nodes.values() if a["shape"] == VALUE]) == 500


# -- clusters -----------------------------------------------------------------------------------


def two_neurons():
    x = Value(1.0, "x")
    w1, w2 = Value(0.5, "w1"), Value(-0.5, "w2")
    z1, z2 = w1 * x, w2 * x
    a1, a2 = z1.tanh(), z2.tanh()
    out = a1 + a2
    inner = (Cluster("layer 1 / neuron 1", (w1, z1, a1)), Cluster("layer 1 / neuron 2",
                                                                 (w2, z2, a2)))
    return out, [Cluster("layer 1", clusters=inner)]


def test_clusters_are_drawn_nested_and_labelled():
    out, clusters = two_neurons()
    dot = parse(draw_graph(out, clusters=clusters).source)
    assert dot.cluster_labels == {"cluster_0": "layer 1", "cluster_0_0": "layer 1 / neuron 1",
                                  "cluster_0_1": "layer 1 / neuron 2"}
    assert dot.clusters["cluster_0_0"] == ["cluster_0"]
    w1 = node_by_label(dot, "w1")
    assert dot.cluster_of[w1] == ["cluster_0", "cluster_0_0"]
    assert dot.cluster_of[node_by_label(dot, "x")] == []  # the input is outside
    ops_in_neuron = [n for n, c in dot.cluster_of.items()
                     if c[-1:] == ["cluster_0_0"] and dot.nodes[n]["shape"] == "ellipse"]
    assert len(ops_in_neuron) == 2  # the operations of z1 and a1 go with their results


def test_collapsing_draws_one_summary_node_per_cluster():
    out, clusters = two_neurons()
    dot = parse(draw_graph(out, clusters=clusters, collapse=True).source)
    summaries = [n for n in dot.nodes if n.startswith("c")]
    assert sorted(dot.fields(n)[0] for n in summaries) == [  # inside "layer 1"
        "neuron 1 (3 values)", "neuron 2 (3 values)"]
    s1 = next(n for n in summaries if "neuron 1" in dot.fields(n)[0])
    assert dot.fields(s1)[1:] == ["data 0.4621", "grad 0.0000"]  # the neuron's output a1
    assert not any(dot.fields(n)[0] == "w1" for n in dot.nodes if dot.nodes[n]["shape"] == VALUE
                   and not n.startswith("c"))
    x = node_by_label(dot, "x")
    assert dot.edge_count(x, s1) == 1
    layers = parse(draw_graph(out, clusters=clusters, collapse=1).source)
    assert [dot_fields[0] for dot_fields in (layers.fields(n) for n in layers.nodes
                                             if n.startswith("c"))] == ["layer 1 (6 values)"]
    by_label = parse(draw_graph(out, clusters=clusters, collapse="layer 1 / neuron 2").source)
    assert len([n for n in by_label.nodes if n.startswith("c")]) == 1
    with pytest.raises(ValueError, match="layer 9"):
        draw_graph(out, clusters=clusters, collapse=["layer 9"])


# -- stability ----------------------------------------------------------------------------------


def test_the_same_graph_gives_the_same_dot_every_time():
    assert draw_graph(expression()).source == draw_graph(expression()).source
    out, clusters = two_neurons()
    assert draw_graph(out, clusters=clusters).source == draw_graph(out, clusters=clusters).source


def test_the_dot_is_identical_across_processes_and_hash_seeds():
    here = Path(__file__).resolve()
    code = (f"import sys; sys.path[:0] = [{str(here.parent)!r}, {str(here.parents[2])!r}]; "
            "from test_draw import expression; "
            "from engine import draw_graph; print(draw_graph(expression()).source)")
    outputs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              check=True, env={"PYTHONHASHSEED": seed}).stdout
               for seed in ("1", "2")}
    assert len(outputs) == 1 and outputs.pop() == draw_graph(expression()).source + "\n"


def test_no_memory_address_in_any_text_output():
    drawing = draw_graph(expression())
    for text in (drawing.source, repr(drawing)):
        assert not re.search(r"0x[0-9a-fA-F]{4,}|at 0x", text)


def test_hostile_labels_are_escaped_and_render_as_written():
    label = 'x{y}|<z> "q" \\n end'
    v = Value(1.0, label)
    y = v * 2
    y.label = "<b>html?</b>"
    drawing = draw_graph(y)
    dot = parse(drawing.source)
    assert {dot.fields(n)[0] for n in dot.nodes if dot.nodes[n]["shape"] == VALUE} >= {
        label, "<b>html?</b>"}
    texts = [t.replace("\xa0", " ") for t in svg_texts(drawing.svg())]
    assert label in texts and "<b>html?</b>" in texts


def test_bad_input_gets_a_clear_error():
    with pytest.raises(TypeError, match=r"draw_graph needs an engine\.Value, got float"):
        draw_graph(3.0)
    with pytest.raises(TypeError, match="highlight"):
        draw_graph(Value(1.0), highlight=[1.0])
    with pytest.raises(ValueError, match="rankdir"):
        draw_graph(Value(1.0), rankdir="RL")
    with pytest.raises(TypeError, match="clusters"):
        draw_graph(Value(1.0), clusters=["layer 1"])


# -- rendering ----------------------------------------------------------------------------------


def graphviz_pure() -> str:
    found = render_module._executable("graphviz-pure")
    assert found, "graphviz-pure is a dependency of deltagrad: pip install -e ."
    return found


def test_svg_and_png_render_through_graphviz_pure():
    drawing = draw_graph(expression())
    svg = drawing.svg(renderer=graphviz_pure())
    assert svg_counts(svg) == (drawing.nodes, drawing.edges) == (10, 9)
    assert "data -8.0000" in svg_texts(svg)
    assert drawing.png(renderer=graphviz_pure()).startswith(b"\x89PNG\r\n\x1a\n")


def test_graphviz_pure_is_found_in_the_scripts_directory_without_path(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("DELTAGRAD_DOT", raising=False)
    assert find_renderer() == graphviz_pure()
    assert draw_graph(expression()).svg().lstrip().startswith("<?xml")


def test_the_environment_variable_overrides_the_chain(monkeypatch, tmp_path):
    monkeypatch.setenv("DELTAGRAD_DOT", graphviz_pure())
    assert find_renderer() == graphviz_pure()
    monkeypatch.setenv("DELTAGRAD_DOT", str(tmp_path / "no-such-dot"))
    with pytest.raises(RendererNotFound, match="no-such-dot"):
        find_renderer()


def test_save_picks_the_format_from_the_suffix(tmp_path):
    drawing = draw_graph(expression())
    assert drawing.save(tmp_path / "g.svg").read_text().count('class="node"') == 10
    assert drawing.save(tmp_path / "g.png").read_bytes()[:4] == b"\x89PNG"
    assert drawing.save(tmp_path / "g.gv").read_text() == drawing.source
    with pytest.raises(ValueError, match=r"g\.pdf"):
        drawing.save(tmp_path / "g.pdf")


def test_a_notebook_shows_inline_svg():
    bundle = draw_graph(expression())._repr_mimebundle_()
    assert bundle["image/svg+xml"].count('class="node"') == 10
    assert "0x" not in bundle["text/plain"]


@pytest.fixture
def no_renderer(monkeypatch):
    """No dot on PATH, no graphviz-pure anywhere, no override."""
    monkeypatch.delenv("DELTAGRAD_DOT", raising=False)
    monkeypatch.setattr(render_module, "_executable", lambda name: None)


def test_without_a_renderer_a_notebook_shows_the_source_and_a_hint(no_renderer):
    drawing = draw_graph(expression())
    bundle = drawing._repr_mimebundle_()
    assert "image/svg+xml" not in bundle
    assert bundle["text/plain"].startswith(INSTALL_HINT) and drawing.source in bundle["text/plain"]
    assert "pip install graphviz-pure" in bundle["text/markdown"]


def test_without_a_renderer_svg_png_and_save_raise_with_the_hint(no_renderer, tmp_path):
    drawing = draw_graph(expression())
    for call in (drawing.svg, drawing.png, lambda: drawing.save(tmp_path / "g.svg")):
        with pytest.raises(RendererNotFound, match="pip install graphviz-pure"):
            call()
    assert isinstance(drawing, Drawing) and drawing.save(tmp_path / "g.gv").exists()


def test_import_engine_and_nn_load_no_drawing_package():
    code = ("import sys, engine, nn; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'graphviz'))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"


# -- unlabelled graphs (micrograd-style code labels nothing) --------------------------------------


def test_every_leaf_a_gradient_reaches_shows_it_in_an_unlabelled_graph():
    a, b = Value(0.3), Value(0.4)  # the a = 3, b = 4 scaled: tanh not saturated
    c = (a * b).tanh() + a
    c.backward()
    dot = parse(draw_graph(c).source)
    t = math.tanh(0.12)
    by_data = {dot.fields(n)[0]: dot.fields(n) for n, at in dot.nodes.items()
               if at["shape"] == VALUE}
    # closed form: dc/da = b (1 - tanh(ab)^2) + 1, dc/db = a (1 - tanh(ab)^2)
    assert by_data["data 0.3000"] == ["data 0.3000", f"grad {0.4 * (1 - t * t) + 1:.4f}"]
    assert by_data["data 0.4000"] == ["data 0.4000", f"grad {0.3 * (1 - t * t):.4f}"]
    for n, at in dot.nodes.items():  # no empty name row on any box
        if at["shape"] == VALUE:
            assert all(dot.fields(n)), dot.fields(n)
            assert "<TD> </TD>" not in at["label"]
    assert "leaf" in title_lines(draw_graph(c).source)


def test_a_number_an_operation_was_given_is_a_constant_and_the_legend_says_so():
    x = Value(3.0)
    y = x * 2 + Value(0.5)  # the 2 is lifted by *, the 0.5 is a Value the user made
    y.backward()
    assert y.parents[0].parents[1].constant and not x.constant and not y.constant
    source = draw_graph(y).source
    dot = parse(source)
    fields = {dot.fields(n)[0]: (dot.fields(n), at["fillcolor"]) for n, at in dot.nodes.items()
              if at["shape"] == VALUE}
    assert fields["data 2.0000"] == (["data 2.0000"], COLOURS["constant"])  # data only
    assert fields["data 0.5000"] == (["data 0.5000", "grad 1.0000"], COLOURS["input"])
    assert fields["data 3.0000"] == (["data 3.0000", "grad 2.0000"], COLOURS["input"])
    legend = title_lines(source)
    assert legend == [MEANING[k] for k in ("output", "input", "constant", "value")]


def test_constants_stay_constants_through_pickle_copy_and_apply():
    import copy
    import pickle

    from engine import apply

    x = Value(1.0)
    y = apply("sum", x, 2.0) * 3
    two, three = y.parents[0].parents[1], y.parents[1]
    assert two.constant and three.constant
    again = pickle.loads(pickle.dumps(y))
    assert again.parents[1].constant and again.parents[0].parents[1].constant
    assert copy.deepcopy(y).parents[1].constant and not copy.deepcopy(y).parents[0].constant


def test_all_thirteen_weights_of_an_unlabelled_2_3_1_network_show_their_gradient():
    import random

    rng = random.Random(0)
    hidden = [([Value(rng.uniform(-1, 1)) for _ in range(2)], Value(0.0)) for _ in range(3)]
    out = ([Value(rng.uniform(-1, 1)) for _ in range(3)], Value(0.0))
    x = [0.5, -1.0]  # numbers: constants of the expression
    hs = [(sum((wi * xi for wi, xi in zip(w, x, strict=True)), b)).tanh() for w, b in hidden]
    y = sum((wi * hi for wi, hi in zip(out[0], hs, strict=True)), out[1])
    y.backward()
    weights = [v for w, b in [*hidden, out] for v in (*w, b)]
    assert len(weights) == 13
    dot = parse(draw_graph(y).source)
    shown = {n: dot.fields(n) for n, at in dot.nodes.items() if at["shape"] == VALUE}
    with_grad = [f for f in shown.values() if len(f) == 2 and f[1].startswith("grad")]
    for w in weights:
        assert [f"data {w.data:.4f}", f"grad {w.grad:.4f}"] in with_grad
    # the inputs 0.5 and -1.0 are numbers given to *: constants, data only
    assert ["data 0.5000"] in shown.values() and ["data -1.0000"] in shown.values()

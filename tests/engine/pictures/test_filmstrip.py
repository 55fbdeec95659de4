"""The backward film strip replays backward() exactly, frame by frame, and exports a player."""

from __future__ import annotations

import random
import re

import pytest
from dot_structure import VALUE, parse, unescape
from lecture import lecture_expression

from engine import Value, ancestors
from engine import render as render_module
from engine.derivatives import OPS
from engine.pictures.draw import HIGHLIGHT
from engine.pictures.filmstrip import FilmStrip, backward_order, film_strip, replay_backward
from engine.pictures.render import INSTALL_HINT
from engine.value import backward_order as engine_order


def every_operation() -> Value:
    """A graph with every operation of the table, shared nodes and a repeated operand."""
    x, y, w = Value(0.7, "x"), Value(-1.3, "y"), Value(0.4, "w")
    h = (x * y + w).tanh()
    t = h * h - x / (y ** 2) + (x ** w) + abs(y).sqrt().log() + (-x).exp()
    u = t.sigmoid() + t.relu() + t.leaky_relu(0.2) + Value.affine([w, x], [h, y], w)
    return Value.sum([u, h, 2.0 * u])


def random_graph(seed: int) -> Value:
    rng = random.Random(seed)
    pool = [Value(rng.uniform(-2, 2), f"x{i}") for i in range(4)]
    for _ in range(25):
        a, b = rng.choice(pool), rng.choice(pool)
        op = rng.choice(["+", "*", "-", "tanh", "sigmoid", "sum"])
        pool.append(a + b if op == "+" else a * b if op == "*" else a - b if op == "-" else
                    a.tanh() if op == "tanh" else b.sigmoid() if op == "sigmoid" else
                    Value.sum([a, b, a]))
    return Value.sum(pool[-6:])


GRAPHS = {"lecture": lecture_expression, "every operation": every_operation,
          **{f"random {s}": (lambda s=s: random_graph(s)) for s in range(5)}}


@pytest.mark.parametrize("make", GRAPHS.values(), ids=GRAPHS.keys())
def test_the_film_ends_with_exactly_the_gradients_of_backward(make):
    root = make()
    frames = replay_backward(root)
    nodes = ancestors(root)
    root.zero_grad()
    root.backward()
    assert {v: frames[-1].grads.get(v, 0.0) for v in nodes} == {v: v.grad for v in nodes}


@pytest.mark.parametrize("make", GRAPHS.values(), ids=GRAPHS.keys())
def test_frames_follow_the_engines_order_and_use_its_local_derivatives(make):
    root = make()
    frames = replay_backward(root)
    root.backward()
    assert [f.node for f in frames[1:]] == engine_order(root)
    for frame in frames[1:]:
        node = frame.node
        local = OPS[node.op].derivatives(*[p.data for p in node.parents], node.data)
        assert [s.local for s in frame.steps] == list(local)
        assert [s.parent for s in frame.steps] == list(node.parents)
        assert node in frame.done  # a node is processed only once its gradient is complete
        for s in frame.steps:
            assert s.after == s.before + s.local * s.upstream
            assert s.upstream == frame.grads[node] == frames[-1].grads[node]
    final = frames[-1].grads
    for frame in frames:  # once complete, a gradient never changes again
        assert all(frame.grads[v] == final[v] for v in frame.done)


def test_the_graph_is_not_modified():
    root = lecture_expression()
    root.backward()
    before = {v: v.grad for v in ancestors(root)}
    strip = film_strip(root)
    assert [f.node for f in strip.frames[1:]] == backward_order(root)
    assert {v: v.grad for v in ancestors(root)} == before


def test_a_repeated_operand_gets_two_steps_and_is_complete_after_the_second():
    h = Value(0.5, "h")
    y = h * h
    (frame,) = replay_backward(y)[1:]
    assert [s.parent for s in frame.steps] == [h, h]
    assert [s.complete for s in frame.steps] == [False, True]
    assert frame.grads[h] == 1.0


def test_captions_state_the_chain_rule_with_numbers():
    strip = film_strip(lecture_expression())
    assert len(strip) == 4
    assert len(strip) == 4  # the start and one step per node: "of 3" counts the steps
    assert strip.caption(0) == ("before step 1 of 3: the backward pass starts at L with "
                                "L.grad = 1.0000")
    lines = strip.caption(3).splitlines()
    assert lines[0].startswith("step 3 of 3: the gradient of e (op *) is complete, -2.0000")
    assert lines[1].strip() == ("a.grad += de/da x e.grad = -3.0000 x -2.0000  ->  6.0000 "
                                "(complete)")
    assert "0x" not in strip.text() and repr(strip).startswith("<FilmStrip: 4 frames")


def test_frame_drawings_show_progress_and_keep_one_layout():
    strip = film_strip(lecture_expression())
    dots = [parse(strip.drawing(k).source) for k in range(len(strip))]
    shapes = {(len(d.nodes), len(d.edges)) for d in dots}
    assert shapes == {(10, 9)}
    records = [n for n, a in dots[0].nodes.items() if a["shape"] == VALUE]
    for n in records:  # same text width in every frame: the layout does not jump
        assert len({len(re.sub(r"<[^>]*>", "", unescape(d.nodes[n]["label"]))) for d in dots}) == 1
    grads = {dots[0].fields(n)[0]: dots[0].fields(n)[2] for n in records}
    assert grads["L"] == "grad 1.0000" and grads["a"] == "grad ?"
    last = {dots[-1].fields(n)[0]: dots[-1].fields(n)[2] for n in records}
    assert last["a"] == "grad 6.0000" and last["b"] == "grad -4.0000"
    red = [(t, h) for t, h, a in dots[1].edges if a.get("color") == HIGHLIGHT]
    assert len(red) == 2 + 1  # the two operand edges of L's operation, and into L
    labels = sorted(a["label"] for _, _, a in dots[1].edges if "label" in a)
    assert labels == sorted(["-2.0000", "4.0000", "1.0000", "1.0000", "-3.0000", "2.0000"])


def test_a_partial_gradient_is_marked_until_its_last_contribution():
    x = Value(0.5, "x")
    y = x.tanh() + x
    strip = film_strip(y)
    dot = parse(strip.drawing(1).source)
    (xn,) = [n for n, a in dot.nodes.items() if a["shape"] == VALUE and dot.fields(n)[0] == "x"]
    assert dot.fields(xn)[2] == "grad 1.0000..."
    assert parse(strip.drawing(2).source).fields(xn)[2].startswith("grad 1.7864")


def test_the_html_player_is_self_contained(tmp_path):
    strip = film_strip(lecture_expression())
    page = strip.save_html(tmp_path / "film.html").read_text()
    assert page.count('class="dg-frame"') == 4 and page.count("<svg") == 4
    assert 'type="range"' in page and 'data-go="play"' in page and "<script>" in page
    assert not re.search(r"""(src|href)=["']?https?:""", page)
    assert set(re.findall(r'https?://[^"\s>]+', page)) <= {"http://www.w3.org/2000/svg",
                                                           "http://www.w3.org/1999/xlink"}
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids))  # frames do not clash
    assert page.count("<?xml") == 0 and "step 3 of 3" in page


def test_frames_export_as_svg_and_png(tmp_path):
    strip = film_strip(lecture_expression())
    svgs = strip.save_frames(tmp_path / "svg")
    pngs = strip.save_frames(tmp_path / "png", fmt="png")
    assert [p.name for p in svgs] == [f"frame_00{k}.svg" for k in range(4)]
    assert all(p.read_text().count('class="node"') == 10 for p in svgs)
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in pngs)


def test_a_notebook_shows_the_player_or_the_captions_without_a_renderer(monkeypatch):
    strip = film_strip(lecture_expression())
    assert strip._repr_mimebundle_()["text/html"].count('class="dg-frame"') == 4
    monkeypatch.delenv("DELTAGRAD_DOT", raising=False)
    monkeypatch.setattr(render_module, "_executable", lambda name: None)
    bundle = strip._repr_mimebundle_()
    assert set(bundle) == {"text/plain"}
    assert bundle["text/plain"].startswith(INSTALL_HINT) and "step 3 of 3" in bundle["text/plain"]


def test_guards_and_bad_input():
    x = Value(1.0, "x")
    y = x
    for _ in range(30):
        y = y.tanh()
    with pytest.raises(ValueError, match="30 steps"):
        film_strip(y, max_frames=10)
    with pytest.raises(TypeError, match=r"film_strip needs an engine\.Value"):
        film_strip([x])
    leaf = film_strip(x)
    assert isinstance(leaf, FilmStrip) and len(leaf) == 1 and leaf.grads == {x: 1.0}


def test_an_unlabelled_leaf_gets_its_gradient_and_only_a_number_given_to_an_op_is_a_constant():
    a, b = Value(2.0), Value(-3.0)
    L = (a * b + a) * 2
    strip = film_strip(L)
    text = strip.text()
    # dL/da = 2 (b + 1) = -4, dL/db = 2 a = 4: the leaves are v0, v1 (their places in the graph)
    assert "v0.grad += " in text and f"->  {2 * (-3.0 + 1):.4f} (complete)" in text
    assert "v1.grad += " in text and f"->  {2 * 2.0:.4f} (complete)" in text
    assert "2 is a constant: no gradient" in text and "v0 is a constant" not in text
    last = parse(strip.drawing(len(strip) - 1).source)
    names = {last.fields(n)[0]: last.fields(n) for n, at in last.nodes.items()
             if at["shape"] == VALUE}
    assert names["v0"] == ["v0", "data 2.0000", "grad -4.0000"]
    assert names["data 2.0000"] == ["data 2.0000"]  # the constant: data only


def _boxes_and_edge_texts(svg: str):
    """Each node's bounding box and each edge label's anchor, from a rendered SVG."""
    boxes, texts = [], []
    for kind, body in re.findall(r'<g id="\w+" class="(node|edge)">(.*?)</g>', svg, flags=re.S):
        if kind == "node":
            points = [tuple(map(float, p.split(","))) for poly in
                      re.findall(r'<polygon[^>]*points="([^"]+)"', body) for p in poly.split()]
            if points:
                xs, ys = [x for x, _ in points], [y for _, y in points]
                boxes.append((min(xs), min(ys), max(xs), max(ys)))
        else:
            texts += [(float(x), float(y), t) for x, y, t in
                      re.findall(r'<text[^>]* x="([-\d.]+)" y="([-\d.]+)"[^>]*>([^<]*)</text>',
                                 body)]
    return boxes, texts


def test_every_frame_has_the_same_size_and_no_edge_label_is_printed_over_a_box():
    import struct

    import nn
    from nn.losses import mse

    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    L = (a * b + a).tanh()
    strip = film_strip(L)
    found = render_module._executable("graphviz-pure")
    assert found
    pngs = [strip.drawing(k).png(renderer=found) for k in range(len(strip))]
    assert len({struct.unpack(">II", p[16:24]) for p in pngs}) == 1  # width, height
    mlp = nn.MLP(2, [3, 1], seed=1)
    mlp_strip = nn.film_strip(mse([mlp([0.5, -1.0])], [1.0]), mlp)
    svgs = [mlp_strip.drawing(k).svg(renderer=found) for k in (0, 5, len(mlp_strip) - 1)]
    sizes = {re.search(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"', s).groups() for s in svgs}
    assert len(sizes) == 1
    boxes, texts = _boxes_and_edge_texts(svgs[1])
    assert len(texts) >= 10  # the local derivatives are on the edges
    for x, y, t in texts:  # a label's anchor is never inside a Value's box
        assert not any(x0 + 2 < x < x1 - 2 and y0 + 2 < y < y1 - 2 for x0, y0, x1, y1 in boxes), t

"""explain(root, leaf): the gradient as a sum over paths of products of local derivatives."""

from __future__ import annotations

import math

import pytest
from dot_structure import VALUE, parse

from engine import Value
from engine import render as render_module
from engine.pictures.draw import HIGHLIGHT
from engine.pictures.explain import explain


def neuron_graph():
    x, w = Value(0.5, "x"), Value(-1.5, "w")
    h = (w * x).tanh()
    h.label = "h"
    y = h * h + x
    y.label = "y"
    y.backward()
    return x, w, h, y


def test_every_path_is_listed_with_its_product_and_the_sum_is_the_gradient():
    x, _w, _h, y = neuron_graph()
    e = explain(y, x)
    assert e.n_paths == len(e.paths) == 3  # two through h * h (one per operand slot), one direct
    assert [p.values for p in e.paths][-1] == (x, y)
    for p in e.paths:
        assert p.values[0] is x and p.values[-1] is y
        assert p.product == pytest.approx(math.prod(p.local), rel=1e-15)
    assert [p.slots[2] for p in e.paths[:2]] == [0, 1]
    assert math.fsum(p.product for p in e.paths) == pytest.approx(x.grad, rel=1e-12)
    assert e.total == x.grad == e.grad and e.agrees()


def test_local_derivatives_on_a_path_are_the_tables():
    x, w, h, y = neuron_graph()
    (p1, p2) = explain(y, w).paths
    t = 1 - h.data ** 2
    assert p1.local == (x.data, t, h.data, 1.0) and p2.local == (x.data, t, h.data, 1.0)
    assert p1.product + p2.product == pytest.approx(w.grad)


def test_the_text_shows_the_sum_the_products_and_agreement():
    x, _w, _h, y = neuron_graph()
    text = explain(y, x).text()
    lines = text.splitlines()
    assert lines[0].startswith(f"dy/dx = {x.grad:.4f}: the sum over 3 paths from x to y")
    assert "  path 3: x -> y" in lines
    assert "    = 1.0000 x -0.6351 x 0.5966 x -1.5000 = 0.5684" in lines
    assert "[operand 1]" in text and "[operand 2]" in text
    assert lines[-1] == "All agree." and "0x" not in text


def test_a_stale_leaf_grad_is_reported_not_hidden():
    x, _w, _h, y = neuron_graph()
    y.backward()  # leaf gradients accumulate: x.grad is now twice dy/dx
    e = explain(y, x)
    assert e.grad == 2 * e.total and not e.agrees()
    assert "zero_grad" in e.text() and e.text().endswith("They do NOT agree.")


def test_path_explosion_is_counted_exactly_but_listed_up_to_max_paths():
    a = Value(0.3, "a")
    v = a
    for _ in range(20):
        v = (v * v).tanh() + v  # each level triples the paths
    v.backward()
    e = explain(v, a, max_paths=5)
    assert e.n_paths == 3 ** 20 and len(e.paths) == 5
    assert f"and {3 ** 20 - 5} more paths, not listed (max_paths=5)" in e.text()
    assert e.total == a.grad and e.agrees()
    assert max(len(line) for line in e.text().splitlines()) < 400  # long paths are elided


def test_the_drawing_highlights_the_paths_with_their_local_derivatives():
    _x, w, _h, y = neuron_graph()
    dot = parse(explain(y, w).drawing().source)
    marked = {dot.fields(n)[0] for n, a in dot.nodes.items()
              if a.get("color") == HIGHLIGHT and a["shape"] == VALUE}
    assert marked == {"w", "w * x", "h", "h * h", "y"}  # unlabelled nodes named by expression
    red = [a for _, _, a in dot.edges if a.get("color") == HIGHLIGHT]
    assert sum(1 for a in red if "label" in a) == 5  # w, w*x, h twice, h*h: one per slot
    (x_id,) = [n for n, a in dot.nodes.items() if a["shape"] == VALUE
               and dot.fields(n)[0] == "x"]
    assert all(a.get("color") != HIGHLIGHT for t, _, a in dot.edges if t == x_id)


def test_a_notebook_shows_text_and_picture_or_text_and_hint(monkeypatch):
    x, _w, _h, y = neuron_graph()
    bundle = explain(y, x)._repr_mimebundle_()
    assert bundle["text/html"].startswith('<div class="dg-explain"')  # styled, not a <pre>
    assert "<code" in bundle["text/html"] and "dy/dx = " in bundle["text/html"]
    assert '<svg style="max-width:100%;height:auto"' in bundle["text/html"]
    monkeypatch.delenv("DELTAGRAD_DOT", raising=False)
    monkeypatch.setattr(render_module, "_executable", lambda name: None)
    bundle = explain(y, x)._repr_mimebundle_()
    assert set(bundle) == {"text/plain"} and "pip install graphviz-pure" in bundle["text/plain"]


def test_bad_input_gets_a_clear_error():
    x, _w, _h, y = neuron_graph()
    stranger = Value(1.0, "stranger")
    with pytest.raises(ValueError, match="stranger is not in the graph of the root y"):
        explain(y, stranger)
    with pytest.raises(TypeError, match="the leaf is a float"):
        explain(y, 1.0)
    with pytest.raises(TypeError, match="the root is a list"):
        explain([y], x)
    with pytest.raises(ValueError, match="max_paths"):
        explain(y, x, max_paths=0)
    assert explain(y, y).total == 1.0  # d y / d y


def test_nan_and_inf_gradients_agree_with_themselves():
    a, b = Value(float("nan"), "a"), Value(1e300, "b")
    c = a * b * b
    c.backward()
    e = explain(c, b)
    assert math.isnan(e.total) and math.isnan(b.grad) and e.agrees()
    assert explain(c, a).total == float("inf") == a.grad


def _explain_peak_bytes(depth: int) -> int:
    import tracemalloc

    x = Value(0.5, label="x")
    y = x
    for _ in range(depth):
        y = (y * 0.999 + 0.001).tanh()
    tracemalloc.start()
    try:
        str(explain(y, x))
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_explain_needs_memory_linear_in_the_graph():
    """explain used to keep a film strip's copy of every gradient per node: memory grew with the
    square of the depth (8 GB at 10^4). Twice as deep must cost about twice as much, not four
    times (tracemalloc counts bytes, so this does not depend on the machine's speed)."""
    small, large = _explain_peak_bytes(1000), _explain_peak_bytes(2000)
    assert large < 3 * small, (small, large)


def test_an_unlabelled_weight_is_named_v_k_not_by_its_value_and_products_multiply_out():
    w, x = Value(-0.489862), Value(1.5)
    y = (w * x).tanh() * 2 + w
    y.backward()
    e = explain(y, w)
    text = e.text()
    assert "-0.489862" not in text and "#" not in text
    assert text.startswith("d(")  # named by its expression and v<k>, its place in the drawing
    assert "/dv0 = " in text.splitlines()[0]
    for row in e.parts().rows:
        factors = [float(f) for f in row.numbers]
        shown = row.product.split()[0]
        # what is written multiplies out, or says that it is the product of unrounded numbers
        assert f"{math.prod(factors):.4f}" == shown or row.product.endswith(
            "(of the unrounded factors)")
    (long,) = [r for r in e.parts().rows if len(r.numbers) == 4]
    t = math.tanh(-0.489862 * 1.5)
    assert long.numbers == ["1.0000", "2.0000", f"{1 - t * t:.4f}", "1.5000"]
    assert long.product == f"{2 * (1 - t * t) * 1.5:.4f} (of the unrounded factors)"
    labels = [dot_fields[0] for dot_fields in (lambda d: [d.fields(n) for n, a in d.nodes.items()
                                                          if a["shape"] == VALUE])(
        parse(e.drawing().source))]
    assert "v0" in labels and "v1" in labels  # the names the text uses are on the boxes

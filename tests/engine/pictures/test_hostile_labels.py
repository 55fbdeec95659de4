"""Every picture and every output format escapes user text for itself: labels, titles, cluster
names, a loss's name and a registered operation's symbol that hold backslashes (Graphviz's
``\\N``), template words of the film-strip player, ``&<>"'``, control characters, blank lines
and lone surrogates come out as text (visible, escaped) and break nothing: SVG, DOT, the HTML
player, explain's and the trace's HTML, the trace's LaTeX and text, and the notebook reprs."""

from __future__ import annotations

import copy
import html
import json
import re
from html.parser import HTMLParser

import pytest
from dot_structure import VALUE, parse, svg_texts, title_lines
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nn
from engine import Value, apply, draw_graph, explain, film_strip, trace_table
from engine import render as render_module
from engine.derivatives import Op, register, unregister
from engine.pictures.draw import Cluster
from engine.pictures.notation import LONGEST, shown
from nn.losses import mse

HOSTILE = ["\\N", "\\G", "\\\\", "\\l", "\\", "&", "&amp;", "<", ">", '"', "'", "</TD>",
           "<script>alert(1)</script>", "SIZERS", "CAPTION0", "FRAMES", "UID", "LAST", "${uid}",
           "$", "\n", "\n\n", "\r", "\t", "\x00", "\x1b", "\x7f", "\x85", "\ud800", "\udfff",
           "{", "}", "%", "#", "_", "^", "~", "é", "∂", "😀", " "]
labels = st.lists(st.one_of(st.sampled_from(HOSTILE), st.text(max_size=4)),
                  min_size=1, max_size=6).map("".join).filter(bool)
SETTINGS = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def graphviz_pure() -> str:
    found = render_module._executable("graphviz-pure")
    assert found, "graphviz-pure is a dependency of deltagrad: pip install -e ."
    return found


def words(text: str) -> list[str]:
    """What must be seen of a label: its words as one line shows them."""
    return shown(text).split()


def seen_in(text: str, haystack: str) -> bool:
    """Every word of ``text`` is in ``haystack``, in order, whitespace aside (the trace writes
    ``x1`` as x with a subscript 1)."""
    return "".join(words(text)) in "".join(haystack.split())


def utf8_json(bundle: dict) -> bytes:
    """What a notebook does with a repr: JSON, sent as UTF-8 (a lone surrogate fails here)."""
    return json.dumps(bundle, ensure_ascii=False).encode("utf-8")


class Tags(HTMLParser):
    """The start tags of an HTML text, with their attributes, and its text."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def graph(label: str) -> tuple[Value, Value, Value]:
    x = Value(0.5, label=label)
    h = (x * 2).tanh()
    h.label = label
    y = h * x
    y.backward()
    return x, h, y


@SETTINGS
@given(label=labels)
def test_draw_graph_dot_and_svg(label):
    x, h, y = graph(label)
    drawing = draw_graph(y, title=label, clusters=[Cluster(label, (h,))])
    dot = parse(drawing.source)
    boxes = [dot.fields(n) for n, a in dot.nodes.items() if a["shape"] == VALUE]
    assert [shown(label).strip(), "data 0.5000", f"grad {x.grad:.4f}"] in boxes
    assert title_lines(drawing.source)[0] == shown(label.split("\n")[0]).strip() or not words(
        label.split("\n")[0])
    svg = drawing.svg(renderer=graphviz_pure())
    texts = "\n".join(svg_texts(svg))
    assert seen_in(label, texts.replace("\n", " ")) or not words(label)
    for line in label.split("\n"):  # the title, line by line
        assert seen_in(line, texts) or not words(line)
    utf8_json(drawing._repr_mimebundle_())


@SETTINGS
@given(label=labels)
def test_film_strip_player_frames_and_captions(label):
    _x, _h, y = graph(label)
    strip = film_strip(y)
    page = strip.html()
    tags = Tags(page)
    names = [t for t, _ in tags.tags]
    assert names.count("script") == 1 and names.count("style") == 1
    frames = [a for t, a in tags.tags if a.get("class") == "dg-frame"]
    assert len(frames) == len(strip)  # the player's own HTML was not spliced in anywhere
    assert [f["data-caption"] for f in frames] == [strip.caption(k) for k in range(len(strip))]
    assert seen_in(label, strip.caption(len(strip) - 1))
    assert "${" not in page.replace(html.escape("${"), "")  # every template field filled once
    utf8_json(strip._repr_mimebundle_())
    for k in (0, len(strip) - 1):
        parse(strip.drawing(k).source)  # readable DOT


@SETTINGS
@given(label=labels)
def test_explain_text_html_and_drawing(label):
    x, _h, y = graph(label)
    e = explain(y, x)
    assert seen_in(label, e.text())
    tags = Tags(e.html())
    assert {t for t, _ in tags.tags} <= {"div", "code", "table", "tr", "td", "th", "br"}
    assert seen_in(label, " ".join(tags.text))
    utf8_json(e._repr_mimebundle_())


@pytest.fixture(scope="module")
def hostile_ops():
    """A two-operand and a one-operand registered operation whose symbols each test sets."""
    register("hostile2", Op(lambda a, b: a * b, lambda a, b, out: (b, a), 2, symbol="?"))
    register("hostile1", Op(lambda a: -a, (-1.0,), 1, symbol="?"))
    yield
    unregister("hostile2")
    unregister("hostile1")


def latex_is_strict(latex: str) -> None:
    """What makes LaTeX uncompilable, checked without a TeX: a blank line or a control
    character, an unescaped & beyond the array's 3 per row, unbalanced braces, a stray %."""
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", latex)
    assert "\n\n" not in latex and not re.search(r"\n\s*\n", latex)
    for line in latex.splitlines():
        bare = re.sub(r"\\[&%$#_{}]|\\textbackslash\{\}", "", line)
        assert bare.count("&") in (0, 3), line
        assert "%" not in bare and "#" not in bare, line
        depth = 0
        for c in bare:
            depth += (c == "{") - (c == "}")
            assert depth >= 0, line
        assert depth == 0, line


@SETTINGS
@given(label=labels, symbol=labels)
def test_trace_table_html_latex_and_text_with_a_registered_symbol(hostile_ops, label, symbol):
    from engine.derivatives import OPS

    OPS["hostile2"].symbol = OPS["hostile1"].symbol = symbol
    x = Value(0.5, label=label)
    y = apply("hostile1", apply("hostile2", x, x * 3))
    trace = trace_table(y, inputs=[x])
    page = trace._repr_html_()
    tags = Tags(page)
    assert {t for t, _ in tags.tags} <= {"div", "table", "caption", "tr", "td", "i", "sub",
                                         "sup"}
    assert seen_in(symbol, " ".join(tags.text)) and seen_in(label, " ".join(tags.text))
    latex_is_strict(trace.to_latex())
    text = trace.text()
    assert len(text.splitlines()) == 2 + len(trace.forward) + len(trace.reverse) + 2
    assert seen_in(symbol, text)
    utf8_json({"text/html": page, "text/plain": text})


@SETTINGS
@given(label=labels)
def test_draw_network_with_a_loss_named_anything(label):
    mlp = nn.MLP(2, [2, 1], seed=1)
    loss = copy.copy(mse)
    loss.name = label
    drawing = nn.draw_network(mlp, [0.5, -1.0], [1.0], loss=loss, weights=True,
                              weight_grads=True)
    svg = drawing.svg(renderer=graphviz_pure())
    assert seen_in(f"C = {label}", " ".join(svg_texts(svg)))


def test_a_label_over_16_kib_is_cut_and_says_so():
    x = Value(1.0, label="x" * 20_000)
    drawing = draw_graph(x * x, title="t" * 20_000)
    svg = drawing.svg(renderer=graphviz_pure())
    assert f"{'x' * LONGEST}... ({20_000 - LONGEST} more characters)" in svg_texts(svg)

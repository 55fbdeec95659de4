"""The evaluation trace: the survey's example checked by hand, and every trace against backward().

The example is Baydin, Pearlmutter, Radul and Siskind (JMLR 2018), Tables 2 and 3:
f(x1, x2) = ln(x1) + x1 x2 - sin(x2) at (2, 5).
"""

from __future__ import annotations

import math
import re
from html.parser import HTMLParser

import pytest
from test_filmstrip import GRAPHS

from engine import Value, ancestors, backward_order, trace_table


def survey_example() -> tuple[Value, Value, Value]:
    """The survey's trace, one line per intermediate value, in its order."""
    x1, x2 = Value(2.0, "x1"), Value(5.0, "x2")
    v1 = x1.log()
    v2 = x1 * x2
    v3 = x2.sin()
    v4 = v1 + v2
    v5 = v4 - v3
    return v5, x1, x2


def squeezed(text: str) -> str:
    return re.sub(r" +", " ", text)


def test_the_forward_trace_is_the_surveys_table_2():
    f, _, _ = survey_example()
    trace = trace_table(f)
    by_index = {line.index: line.data for line in trace.forward}
    hand = {-1: 2.0, 0: 5.0, 1: math.log(2.0), 2: 10.0, 3: math.sin(5.0),
            4: math.log(2.0) + 10.0, 5: math.log(2.0) + 10.0 - math.sin(5.0)}
    assert by_index == pytest.approx(hand, abs=1e-15)
    printed = {-1: 2.0, 0: 5.0, 1: 0.693, 2: 10.0, 3: -0.959, 4: 10.693, 5: 11.652}  # the survey's
    assert by_index == pytest.approx(printed, abs=5e-4)
    text = squeezed(str(trace))
    for line in ["v_-1 = x1 = 2", "v_0 = x2 = 5", "v_1 = log(v_-1) = log(2) = 0.6931",
                 "v_2 = v_-1 * v_0 = 2 * 5 = 10", "v_3 = sin(v_0) = sin(5) = -0.9589",
                 "v_4 = v_1 + v_2 = 0.6931 + 10 = 10.6931",
                 "v_5 = v_4 - v_3 = 10.6931 - (-0.9589) = 11.6521"]:
        assert line in text


def test_the_reverse_trace_is_the_surveys_table_3():
    f, x1, x2 = survey_example()
    trace = trace_table(f)
    # the survey's adjoints, derived by hand: x1bar = 1/x1 + x2, x2bar = x1 - cos(x2)
    assert trace.grads[x1] == pytest.approx(1 / 2 + 5) == pytest.approx(5.5)
    assert trace.grads[x2] == pytest.approx(2 - math.cos(5.0))
    assert trace.grads[x2] == pytest.approx(1.716, abs=5e-4)
    steps = [(line.target, line.source, line.before is not None) for line in trace.reverse]
    assert steps == [(5, None, False), (4, 5, False), (3, 5, False), (1, 4, False), (2, 4, False),
                     (0, 3, False), (-1, 1, False), (-1, 2, True), (0, 2, True)]  # Table 3's
    text = squeezed(str(trace))
    for line in ["vbar_5 = 1", "vbar_3 = vbar_5 * dv_5/dv_3 = 1 * (-1) = -1",
                 "vbar_0 = vbar_3 * dv_3/dv_0 = -1 * 0.2837 = -0.2837",
                 "vbar_-1 = vbar_-1 + vbar_2 * dv_2/dv_-1 = 0.5 + 1 * 5 = 5.5",
                 "vbar_0 = vbar_0 + vbar_2 * dv_2/dv_0 = -0.2837 + 1 * 2 = 1.7163",
                 "x1bar = vbar_-1 = 5.5", "x2bar = vbar_0 = 1.7163"]:
        assert line in text
    assert [n for n in re.findall(r"^ *(\d+) ", str(trace), re.M)] == [
        str(k) for k in [*range(1, 8), *range(1, 12)]]  # every line numbered


@pytest.mark.parametrize("make", GRAPHS.values(), ids=GRAPHS.keys())
def test_the_reverse_trace_is_backward_in_its_order_with_its_numbers(make):
    root = make()
    trace = trace_table(root, inputs=[v for v in ancestors(root) if not v.parents])
    sources = [line.source for line in trace.reverse[1:]]
    visited = [trace.index[node] for node in backward_order(root)]
    assert [s for i, s in enumerate(sources) if i == 0 or s != sources[i - 1]] == visited
    root.zero_grad()
    root.backward()
    numbered = [v for v in ancestors(root) if v in trace.index]
    assert {v: trace.grads.get(v, 0.0) for v in numbered} == {v: v.grad for v in numbered}


def test_each_contribution_adds_upstream_times_local_to_the_running_adjoint():
    root = GRAPHS["every operation"]()
    trace = trace_table(root)
    running = {}
    for line in trace.reverse[1:]:
        assert line.before == running.get(line.target)
        assert line.after == (line.before or 0.0) + line.upstream * line.local
        running[line.target] = line.after


def test_constants_are_written_as_numbers_and_a_repeated_operand_accumulates():
    x = Value(3.0, "x")
    y = x * x * 2 + 1
    text = squeezed(str(trace_table(y)))
    assert "v_1 = v_0 * v_0 = 3 * 3 = 9" in text
    assert "v_2 = v_1 * 2 = 9 * 2 = 18" in text
    assert "vbar_0 = vbar_0 + vbar_1 * dv_1/dv_0 = 6 + 2 * 3 = 12" in text  # d(2x^2)/dx = 4x
    assert "xbar = vbar_0 = 12" in text


def test_the_exponent_of_a_power_is_a_constant_of_the_operation():
    x = Value(-2.0, "x")
    trace = trace_table(x ** 3)
    assert "v_1 = v_0 ** 3 = (-2) ** 3 = -8" in squeezed(str(trace))
    assert [(line.target, line.source) for line in trace.reverse] == [(1, None), (0, 1)]
    assert trace.grads[x] == 3 * (-2.0) ** 2


def test_unlabelled_leaves_are_all_inputs():
    a, b = Value(1.5), Value(-0.5)
    trace = trace_table((a * b).tanh())
    assert trace.index[a] == -1 and trace.index[b] == 0
    assert "v_2 = tanh(v_1)" in squeezed(str(trace))


class _Cells(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tables, self.open = [], []
        self.text = ""

    def handle_starttag(self, tag, attrs):
        self.open.append(tag)
        if tag == "table":
            self.tables.append(0)
        if tag == "tr":
            self.tables[-1] += 1

    def handle_endtag(self, tag):
        assert self.open.pop() == tag, f"</{tag}> closes another element"

    def handle_data(self, data):
        self.text += data


def test_html_is_two_well_formed_tables_with_a_row_per_line():
    f, _, _ = survey_example()
    trace = trace_table(f)
    cells = _Cells()
    cells.feed(trace._repr_html_())
    assert cells.open == [] and cells.tables == [7, 11]
    assert "Forward primal trace" in cells.text and "11.6521" in cells.text
    assert "\u22121.7163" not in cells.text and "\u22120.2837" in cells.text  # real minus signs


def test_latex_is_one_balanced_array_with_the_surveys_symbols():
    f, _, _ = survey_example()
    latex = trace_table(f).to_latex()
    assert latex.startswith("\\[\n\\begin{array}{rlll}") and latex.endswith("\\end{array}\n\\]")
    depth = 0
    for c in latex.replace("\\{", "").replace("\\}", ""):
        depth += (c == "{") - (c == "}")
        assert depth >= 0
    assert depth == 0
    rows = [line for line in latex.splitlines() if line.endswith("\\\\")]
    assert len(rows) == 2 + 7 + 11  # two headings and the lines
    assert all(row.count("&") == 3 for row in rows)
    assert r"v_{1} & = \ln v_{-1} & = \ln 2 & = 0.6931 \\" in latex
    assert (r"\bar{v}_{-1} & = \bar{v}_{-1} + \bar{v}_{2} \times \partial v_{2}/\partial "
            r"v_{-1} & = 0.5 + 1 \times 5 & = 5.5 \\") in latex
    assert r"\bar{x}_{2} & = \bar{v}_{0} &  & = 1.7163 \\" in latex


def test_bad_input_is_named():
    with pytest.raises(TypeError, match=r"needs an engine\.Value"):
        trace_table(3.0)
    x = Value(1.0, "x")
    y = x.exp()
    with pytest.raises(ValueError, match="not a leaf"):
        trace_table(y * 2, inputs=[y])
    with pytest.raises(TypeError, match="must be Values"):
        trace_table(y, inputs=[1.0])
    big = Value.sum([x * i for i in range(200)])
    with pytest.raises(ValueError, match="max_values"):
        trace_table(big)
    assert len(trace_table(big, max_values=1000).forward) == 202


def test_a_leaf_is_its_own_trace():
    x = Value(3.0)
    trace = trace_table(x, inputs=[])
    assert [line.index for line in trace.forward] == [0]
    assert squeezed(str(trace)).splitlines()[-1] == " 1 vbar_0 = 1"


def test_the_adjoint_trace_of_a_gradient_gives_the_second_derivative():
    """After create_graph, x.grad is a graph of its own; its reverse trace ends at d2y/dx2."""
    x = Value(2.0, label="x")
    y = x * x * x
    y.backward(create_graph=True)
    assert x.grad.data == 3 * 2.0 ** 2  # dy/dx = 3x^2, by hand
    trace = trace_table(x.grad)
    assert trace.grads[x] == 6 * 2.0  # d2y/dx2 = 6x, by hand
    assert trace.reverse[-1].after == 6 * 2.0

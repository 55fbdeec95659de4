"""The backward pass: random DAG programs against central differences, accumulation semantics,
depth, memory, and the no_grad / detect_anomaly modes."""

import asyncio
import gc
import math
import sys
import threading
import tracemalloc

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from engine import Value, ancestors, detect_anomaly, enable_grad, is_grad_enabled, no_grad
from engine.testing import numeric_grad

# -- random DAG programs ---------------------------------------------------------------------------
# A program is a list of instructions; instruction k makes node n_k from any earlier nodes (inputs
# included), so nodes are shared freely (diamonds). The output is the sum of all nodes, so every
# instruction matters and a failure shrinks to a small, readable program.

UNARY = {"tanh": Value.tanh, "sigmoid": Value.sigmoid, "neg": Value.__neg__,
         "exp∘tanh": lambda v: v.tanh().exp(), "square": lambda v: v ** 2}
BINARY = {"+": Value.__add__, "-": Value.__sub__, "*": Value.__mul__,
          "/ (1+y²)": lambda a, b: a / (1 + b * b)}


@st.composite
def programs(draw, n_inputs=3, max_steps=8):
    steps = []
    for k in range(draw(st.integers(1, max_steps))):
        available = n_inputs + k
        if draw(st.booleans()):
            operand = draw(st.integers(0, available - 1))
            steps.append((draw(st.sampled_from(sorted(UNARY))), operand))
        else:
            steps.append((draw(st.sampled_from(sorted(BINARY))),
                          draw(st.integers(0, available - 1)), draw(st.integers(0, available - 1))))
    return steps


def run(program, *inputs, use_nary_sum):
    nodes = list(inputs)
    for name, *args in program:
        f = UNARY.get(name) or BINARY[name]
        nodes.append(f(*[nodes[i] for i in args]))
    return Value.sum(nodes) if use_nary_sum else sum(nodes)


@given(programs(), st.lists(st.floats(-2, 2), min_size=3, max_size=3), st.booleans())
def test_dag_programs_match_central_differences(program, xs, use_nary_sum):
    leaves = [Value(x) for x in xs]
    out = run(program, *leaves, use_nary_sum=use_nary_sum)
    assume(math.isfinite(out.data) and abs(out.data) < 1e6)
    out.backward()
    numeric = numeric_grad(lambda *v: run(program, *v, use_nary_sum=use_nary_sum), *xs)
    for leaf, num in zip(leaves, numeric, strict=True):
        assert leaf.grad == pytest.approx(num, rel=1e-5, abs=1e-5), program


# -- accumulation semantics (PyTorch's) ------------------------------------------------------------


def test_reused_nodes_accumulate():
    a = Value(3.0)
    b = a * a  # two parents, both a
    c = b + b  # a shared interior node
    c.backward()
    assert a.grad == 12.0  # d(2a^2)/da


def test_backward_twice_gives_exactly_twice_the_leaf_grads():
    x = Value(2.0)
    h = x * 2  # interior node reused below: micrograd gives 72 instead of 48 here
    y = h * h
    y.backward()
    assert (x.grad, h.grad) == (16.0, 8.0)
    y.backward()
    assert x.grad == 32.0  # leaves accumulate
    assert h.grad == 8.0  # interior nodes hold this pass's gradient


def test_separate_graphs_accumulate_into_shared_leaves_and_zero_grad_resets():
    w = Value(1.5)
    (w * 2).backward()
    (w * 3).backward()
    assert w.grad == 5.0
    y = w * w
    y.zero_grad()
    assert w.grad == 0.0 and y.grad == 0.0


def test_backward_seed_scales_every_gradient():
    x = Value(0.3)
    y = (x * x).tanh()
    y.backward(2.5)
    g = x.grad
    x.grad = 0.0
    y.backward()
    assert g == pytest.approx(2.5 * x.grad)
    with pytest.raises(TypeError, match="backward's grad"):
        y.backward("1")


def test_backward_of_a_leaf_accumulates_the_seed():
    x = Value(1.0)
    x.backward()
    x.backward(2)
    assert x.grad == 3.0


def test_ancestors_in_topological_order():
    a, b = Value(1.0), Value(2.0)
    c = a * b
    d = c + a
    order = ancestors(d)
    assert set(order) == {a, b, c, d} and len(order) == 4
    for node in order:
        for parent in node.parents:
            assert order.index(parent) < order.index(node)


# -- depth and memory -----------------------------------------------------------------------------


@pytest.mark.slow
def test_million_node_chain_at_the_default_recursion_limit():
    assert sys.getrecursionlimit() <= 1000 + 100  # pytest may add a little
    x0 = Value(0.5)
    x = x0
    for _ in range(500_000):  # 10^6 nodes: each step makes one node and one constant leaf
        x = x * 1.0
    x.backward()
    assert x0.grad == 1.0
    del x  # freeing a 10^6-deep chain must not overflow the C stack either


def live_values():
    return sum(type(o) is Value for o in gc.get_objects())


def test_graph_is_freed_by_reference_counting_alone():
    def build():
        x = Value(0.5)
        c = Value(1.0001)
        for _ in range(20_000):
            x = (x * c).tanh()
        x.backward()
        return x

    gc.collect()
    gc.disable()  # nothing below may rely on the cycle collector
    try:
        baseline = live_values()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        root = build()
        built = tracemalloc.get_traced_memory()[0] - before
        assert live_values() == baseline + 40_002
        del root
        left = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        assert live_values() == baseline  # every node freed by reference counting
    finally:
        gc.enable()
    # bytes too, up to CPython's free lists (it keeps up to 2000 small tuples of each size)
    assert left < 0.05 * built, f"{left} of {built} bytes not freed without gc"


def test_bytes_per_node_stay_small():
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    x, c = Value(0.5), Value(1.0001)
    for _ in range(50_000):
        x = x * c
    per_node = (tracemalloc.get_traced_memory()[0] - before) / 50_000
    tracemalloc.stop()
    assert per_node <= 160, per_node  # CPython 3.11: 140, the Value, its data and its number


def test_a_node_of_one_or_two_operands_is_one_object_for_the_cycle_collector():
    """Python's cycle collector scans every live object that can hold others: a tuple of operands
    per node would double its work on a large graph (and W1's forward time, issue #10)."""
    x, c = Value(0.5), Value(1.0001)
    gc.collect()
    gc.disable()
    try:
        before = len(gc.get_objects())
        for _ in range(1000):
            x = (x * c).tanh()  # 2000 nodes
        added = len(gc.get_objects()) - before
    finally:
        gc.enable()
    assert added == 2000
    assert x.parents[0].parents == (x.parents[0].parents[0], c)


# -- modes -----------------------------------------------------------------------------------------


def test_no_grad_records_no_graph_and_nests():
    x = Value(2.0)
    with no_grad():
        assert not is_grad_enabled()
        y = x * 3 + 1
        with enable_grad():
            z = x * 3
        assert not is_grad_enabled()
    assert is_grad_enabled()
    assert (y.data, y.parents, y.op) == (7.0, (), "")
    assert z.parents[0] is x
    y.backward()
    assert x.grad == 0.0  # y is a leaf: nothing flows to x


def test_no_grad_as_a_decorator():
    @no_grad()
    def step(v):
        return v * 2

    assert step(Value(1.0)).parents == ()


def test_no_grad_is_per_thread():
    inside, outside = [], []
    entered, done = threading.Event(), threading.Event()

    def worker():
        with no_grad():
            entered.set()
            done.wait(5)
            inside.append(Value(1.0) * 2)

    t = threading.Thread(target=worker)
    t.start()
    entered.wait(5)
    outside.append(Value(1.0) * 2)  # this thread is not in no_grad
    done.set()
    t.join()
    assert outside[0].parents and not inside[0].parents


def test_no_grad_is_per_asyncio_task():
    async def in_no_grad(started, release):
        with no_grad():
            started.set()
            await release.wait()
            return Value(1.0) * 2

    async def recording(started, release):
        await started.wait()
        v = Value(1.0) * 2
        release.set()
        return v

    async def main():
        started, release = asyncio.Event(), asyncio.Event()
        return await asyncio.gather(in_no_grad(started, release), recording(started, release))

    quiet, recorded = asyncio.run(main())
    assert quiet.parents == () and len(recorded.parents) == 2


def test_detect_anomaly_names_the_forward_operation_and_inputs():
    x = Value(0.0, label="x")
    expected = r"log produced -inf from x = 0\.0"
    with detect_anomaly(), pytest.raises(FloatingPointError, match=expected):
        x.log()
    assert math.isinf(x.log().data)  # outside the block: IEEE values, no error


def test_detect_anomaly_names_the_backward_step():
    x = Value(0.0, label="x")
    y = x.sqrt()  # fine forward: sqrt(0) = 0; backward: d/dx = inf
    expected = r"backward through sqrt.*x = 0\.0"
    with detect_anomaly(), pytest.raises(FloatingPointError, match=expected):
        y.backward()


def test_detect_anomaly_is_quiet_for_finite_graphs():
    x = Value(0.5, label="x")
    with detect_anomaly():
        y = (x * x).tanh() / 2
        y.backward()
    assert x.grad == pytest.approx((1 - math.tanh(0.25) ** 2) * 0.5)


def test_a_graph_unpickled_in_a_new_process_keeps_its_order():
    """Creation numbers are per process: unpickled nodes are renumbered in the new process."""
    import pickle
    import subprocess

    x = Value(3.0, "x")
    for _ in range(1000):  # push this process's creation counter well past a fresh one's
        Value(0.0) * 1.0
    h = x * x
    script = ("import pickle, sys\n"
              "h = pickle.loads(sys.stdin.buffer.read())\n"
              "out = h * h + h  # h is shared: backward must sort, by creation order\n"
              "out.backward()\n"
              "print(h.parents[0].grad)\n")
    result = subprocess.run([sys.executable, "-c", script], input=pickle.dumps(h),
                            capture_output=True, check=True)
    assert float(result.stdout) == (2 * 9.0 + 1) * (2 * 3.0)  # d(h^2 + h)/dh * dh/dx


def test_copies_of_a_graph_are_numbered_after_their_parents():
    import copy

    x = Value(3.0)
    h = x * x
    out = copy.deepcopy(h * h + h)
    out.backward()
    assert out.parents[1].parents[0].grad == (2 * 9.0 + 1) * (2 * 3.0)


def test_backward_order_has_no_side_effects_and_puts_users_first():
    from engine import backward_order

    a = Value(1.0)
    b = a * 2
    c = b * b + b
    c.backward()
    grads = [v.grad for v in (a, b, c)]
    order = backward_order(c)
    assert [v.grad for v in (a, b, c)] == grads  # nothing reset
    assert order[0] is c and order[-1] is b and a not in order
    assert backward_order(a) == []  # a leaf: backward visits no node


def test_backward_order_puts_the_gradients_back_even_when_interrupted(monkeypatch):
    import engine.graph_order as graph_order
    from engine import backward_order

    a = Value(1.0)
    b = a.tanh()
    c = b * b
    c.backward()
    grads = [v.grad for v in (a, b, c)]

    def interrupted(node):  # the walk is cut short where it sorts (b is used twice)
        raise KeyboardInterrupt

    monkeypatch.setattr(graph_order, "created", interrupted)
    with pytest.raises(KeyboardInterrupt):
        backward_order(c)
    assert [v.grad for v in (a, b, c)] == grads


def test_a_walk_tells_its_own_zero_from_any_other_zero():
    """backward marks the nodes it finds by giving them its own 0: nodes whose grad is 0.0
    already (new nodes, or zeroed ones) must still be found."""
    from engine.graph_order import _new_zero, _PassZero

    assert _new_zero(0) is not _new_zero(0) and _new_zero(0) == 0.0  # this interpreter's
    assert _PassZero() is not _PassZero() and _PassZero() == 0.0  # what PyPy would use
    x = Value(0.5)
    h = x * 3.0
    for v in ancestors(h):
        v.grad = 0.0
    out = h * h + h.tanh()
    out.backward()
    assert x.grad == pytest.approx((2 * 1.5 + 1 - math.tanh(1.5) ** 2) * 3.0, rel=1e-12)
    assert all(type(v.grad) is float for v in ancestors(out))


def test_anomaly_mode_and_the_fast_loop_add_in_the_same_order():
    """A Value that is both an input and a later weight of one affine node gets its two terms
    in operand order (weights first) in every loop: the results agree to the last bit."""
    from engine.testing import gradcheck

    def f(p, q, r, b, c):
        return p * c + Value.affine([q, p], [p, r], b)  # p is x_1 and w_2

    values = (1.3292401940446954, -1.6274266723772841, 2.6716241733235337, 2.408564745668901,
              -2.816460101798679)  # where the two orders of adding p's three terms differ
    fast, checked = [Value(v) for v in values], [Value(v) for v in values]
    f(*fast).backward()
    with detect_anomaly():
        f(*checked).backward()
    assert [v.grad for v in fast] == [v.grad for v in checked]
    assert gradcheck(f, *values).ok


def test_an_operation_that_reuses_the_affine_rule_under_another_name():
    """Only nodes of an op with ``operands`` (affine) are stored as shared tuples; the rule is an
    ordinary table entry, which another operation may reuse, and which can be replaced (as tests
    do) once the op's own chain rule is set aside."""
    from engine import apply
    from engine.derivatives import OPS, Op, affine, affine_local, register, unregister

    register("my_affine", Op(affine, affine_local, None))
    try:
        w, x, b = Value(2.0), Value(3.0), Value(1.0)
        apply("my_affine", w, x, b).backward()
        assert (w.grad, x.grad, b.grad) == (3.0, 2.0, 1.0)
    finally:
        unregister("my_affine")
    entry = OPS["affine"]
    original, chain_rule = entry.local, entry.chain_rule
    entry.local = lambda *wxb_out: original(*wxb_out)  # the same rule, not the same object
    entry.chain_rule = None  # backward then runs its own loop over the spelled-out operands
    try:
        w, x, b = Value(2.0), Value(3.0), Value(1.0)
        Value.affine([w], [x], b).backward()
        assert (w.grad, x.grad, b.grad) == (3.0, 2.0, 1.0)
    finally:
        entry.local, entry.chain_rule = original, chain_rule
    assert OPS["affine"].local is affine_local


def test_rows_given_as_lists_are_not_changed_by_the_walk():
    from engine.value import affine_rows

    w, b, x = Value(2.0), Value(1.0), Value(3.0)
    row = [w, b]
    z = affine_rows([row], [x])[0]
    z.backward()
    z.backward()
    assert row == [w, b] and (w.grad, b.grad, x.grad) == (6.0, 2.0, 4.0)


def test_no_grad_decorates_async_functions_and_refuses_generators():
    @no_grad()
    async def double(v):
        await asyncio.sleep(0)
        return v * 2

    assert asyncio.run(double(Value(1.0))).parents == ()
    assert is_grad_enabled()
    with pytest.raises(TypeError, match="generator"):
        @no_grad()
        def values():
            yield Value(1.0) * 2


def test_detect_anomaly_in_one_thread_leaves_another_thread_quiet():
    entered, done, errors = threading.Event(), threading.Event(), []

    def worker():
        with detect_anomaly():
            entered.set()
            done.wait(5)

    t = threading.Thread(target=worker)
    t.start()
    entered.wait(5)
    try:
        y = Value(0.0).sqrt()  # inf gradient: only an anomaly block would raise
        y.backward()
    except FloatingPointError as e:  # pragma: no cover - the failure this test looks for
        errors.append(e)
    finally:
        done.set()
        t.join()
    assert not errors
    with detect_anomaly(), pytest.raises(FloatingPointError):
        Value(0.0).sqrt().backward()  # and a block in this thread still raises


# -- affine nodes store shared tuples: a neuron's (w, b) and its layer's inputs -----------------


def test_backward_through_affine_nodes_that_share_rows_and_inputs():
    """A layer's affine nodes share one inputs tuple and a neuron's row is shared by every call,
    and the walk visits each shared tuple once. Here the tuples hold interior nodes (tied
    weights, computed inputs) that are also used elsewhere: a node missed, visited twice or
    taken out of order would show against central differences."""
    from engine.testing import gradcheck
    from engine.value import affine_rows

    def f(u, v, s, t):
        w1, w2, b = u * s, v.tanh(), s + t
        rows = ((w1, w2, b), (w2, w1, t))  # reused below, as a layer reuses its neurons' rows
        h = affine_rows(rows, (s.exp(), t * u), "tanh")
        k = affine_rows(rows, h)
        return k[0] * k[1] + h[0] * w1 + Value.affine([w1], [h[1]], b)

    result = gradcheck(f, 0.3, -0.7, 0.5, 1.2)
    assert result.ok and len(result.rows) == 4

    def reached_late(u, w, b):  # only the shared tuples are shared, and z2 is found after h:
        inputs = (u.tanh(),)     # the walk must still put h after z2
        z1 = affine_rows(((w, b),), inputs)[0]
        z2 = affine_rows(((b, w),), inputs)[0]
        return z1 + (z2 * 2.0).exp()

    def row_reached_late(u, x, b):
        row = (u.tanh(), b)
        z1 = affine_rows((row,), (x,))[0]
        z2 = affine_rows((row,), (x * 3.0,))[0]
        return z1 + (z2 * 2.0).exp()

    assert gradcheck(reached_late, 0.4, -0.3, 0.2).ok
    assert gradcheck(row_reached_late, 0.4, -0.3, 0.2).ok


def test_affine_parents_are_spelled_out_and_survive_pickling_and_copying():
    import copy
    import pickle

    from nn import MLP

    mlp = MLP(3, [4, 2], seed=3)
    trace = mlp.trace([Value(0.5), Value(-1.0), Value(2.0)])
    z, neuron = trace[1].z[1], mlp.layers[1].neurons[1]
    assert z.parents == (*neuron.w, *trace[0].a, neuron.b)
    loss = trace[1].a[0] * trace[1].a[1]
    copies = [pickle.loads(pickle.dumps(loss)), copy.deepcopy(loss)]
    loss.backward()
    expected = sorted(p.grad for p in ancestors(loss) if not p.parents)
    for graph in copies:
        graph.backward()
        assert sorted(p.grad for p in ancestors(graph) if not p.parents) == expected


def test_a_graph_pickled_before_nodes_had_two_slots_still_loads_and_differentiates():
    """tests/data holds y = tanh(a b + c) + sum(a, b, c) + z a, z = w . x + bias, pickled by
    the engine whose nodes kept their operands in one tuple; the gradients are by hand."""
    import pickle
    from pathlib import Path

    blob = (Path(__file__).parents[1] / "data" / "graph-pickled-before-node-slots.pickle")
    y = pickle.loads(blob.read_bytes())
    nodes = {v.label: v for v in ancestors(y) if v.label}
    a, b, c = nodes["a"], nodes["b"], nodes["c"]
    z = next(v for v in ancestors(y) if v.op == "affine")
    w1, w2, x1, x2, bias = z.parents
    assert [v.data for v in (w1, w2, x1, x2, bias)] == [0.3, -0.7, 1.1, 0.4, 0.2]
    zz = 0.2 + 0.3 * 1.1 + -0.7 * 0.4
    assert y.data == pytest.approx(math.tanh(0.5 * -1.5 + 2.0) + 1.0 + zz * 0.5, abs=1e-15)
    y.backward()
    s = 1 - math.tanh(0.5 * -1.5 + 2.0) ** 2
    assert a.grad == pytest.approx(s * -1.5 + 1 + zz, abs=1e-12)
    assert b.grad == pytest.approx(s * 0.5 + 1, abs=1e-12)
    assert c.grad == pytest.approx(s + 1, abs=1e-12)
    assert (w1.grad, x2.grad, bias.grad) == pytest.approx((1.1 * 0.5, -0.7 * 0.5, 0.5))

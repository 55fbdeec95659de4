"""``.grad`` holds a gradient and nothing else, at every moment another thread or a pickler can
see it: a float, or a Value after ``create_graph=True``. So passes in several threads on shared
parameters give the right answers, and graphs pickle and copy after any pass.

Oracles: closed forms derived by hand (tanh's derivatives), and for the MLP a float backward
pass on a separate copy of the model.
"""

from __future__ import annotations

import copy
import math
import pickle
import random
import sys
import threading

import pytest

import engine
from engine import Value
from nn import MLP

THREADS, CALLS = 4, 100


def f(w: Value, b: Value, x: float) -> Value:
    return (w * x + b).tanh() ** 2


def by_hand(w: float, b: float, x: float) -> tuple[float, float, float]:
    """d f/dw, d f/db and d2 f/dw2 of f = tanh(w x + b)^2: with t = tanh(z),
    df/dz = 2 t (1 - t^2) and d2f/dz2 = 2 (1 - t^2)(1 - 3 t^2)."""
    t = math.tanh(w * x + b)
    d1, d2 = 2 * t * (1 - t * t), 2 * (1 - t * t) * (1 - 3 * t * t)
    return d1 * x, d1, d2 * x * x


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def in_threads(work) -> list[str]:
    """Run ``work(k)`` in THREADS threads at once, switching as often as Python allows, while a
    watcher reads the shared parameters' grads; the problems all of them found."""
    problems: list[str] = []
    done = threading.Event()
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)

    def run(k: int) -> None:
        try:
            problems.extend(work(k))
        except Exception as error:  # reported as a problem, not lost in a thread
            problems.append(f"thread {k}: {type(error).__name__}: {error}")

    def watch() -> None:
        while not done.is_set():
            for p in (W, B):
                if type(p.grad) not in (float, Value):
                    problems.append(f"a grad held a {type(p.grad).__name__}")

    threads = [threading.Thread(target=run, args=(k,)) for k in range(THREADS)]
    watcher = threading.Thread(target=watch)
    try:
        watcher.start()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        done.set()
        watcher.join()
        sys.setswitchinterval(old)
    return problems


W, B = Value(0.7, label="w"), Value(-0.2, label="b")  # the parameters the threads share


def test_engine_grad_in_threads_on_shared_parameters_is_right_and_leaves_grad_alone():
    W.grad, B.grad = 0.25, -1.5  # what a user's own backward left: engine.grad keeps out

    def work(k: int) -> list[str]:
        rng, wrong = random.Random(k), []
        for _ in range(CALLS):
            x = rng.uniform(-2, 2)
            dw, db, dww = by_hand(W.data, B.data, x)
            if rng.random() < 0.5:
                got = engine.grad(f(W, B, x), [W, B])
                if not (close(got[0], dw) and close(got[1], db)):
                    wrong.append(f"engine.grad at x={x}: {got}, by hand {(dw, db)}")
            else:
                gw, gb = engine.grad(f(W, B, x), [W, B], create_graph=True)
                second = engine.grad(gw, [W])[0]
                if not (close(gw.data, dw) and close(gb.data, db) and close(second, dww)):
                    wrong.append(f"create_graph at x={x}: {gw.data, gb.data, second}")
        return wrong

    assert in_threads(work) == []
    assert (W.grad, B.grad) == (0.25, -1.5)


def test_backward_with_create_graph_in_threads_adds_every_threads_gradient():
    W.grad, B.grad = 0.0, 0.0
    xs = [[random.Random(100 + k).uniform(-2, 2) for _ in range(CALLS)] for k in range(THREADS)]

    def work(k: int) -> list[str]:
        for x in xs[k]:
            f(W, B, x).backward(create_graph=True)
        return []

    assert in_threads(work) == []
    want = [sum(by_hand(W.data, B.data, x)[i] for row in xs for x in row) for i in (0, 1)]
    assert type(W.grad) is Value and type(B.grad) is Value
    assert math.isclose(W.grad.data, want[0], rel_tol=1e-9)
    assert math.isclose(B.grad.data, want[1], rel_tol=1e-9)
    second = engine.grad(W.grad, [W])[0]  # the sum of every call's d2f/dw2
    assert math.isclose(second, sum(by_hand(W.data, B.data, x)[2] for r in xs for x in r),
                        rel_tol=1e-9)


@pytest.mark.parametrize("copier", [lambda v: pickle.loads(pickle.dumps(v)), copy.deepcopy],
                         ids=["pickle", "deepcopy"])
def test_a_graph_ten_thousand_deep_pickles_after_a_create_graph_pass(copier):
    x = Value(0.3, label="x")
    v = x
    for _ in range(10_000):
        v = v * 1.0 + 0.0
    y = v * v  # y = x^2: dy/dx = 2x, d2y/dx2 = 2
    y.backward(create_graph=True)
    x2, y2 = copier([x, y])
    assert type(x2.grad) is Value and x2.grad.data == 2 * 0.3
    assert engine.grad(x2.grad, [x2]) == (2.0,)
    assert x2 in engine.ancestors(y2)


def test_an_mlp_pickles_and_copies_after_a_create_graph_pass_on_four_samples():
    samples = [([0.5, -1.0], 1.0), ([-0.3, 0.8], -1.0), ([1.2, 0.1], 1.0), ([-0.7, -0.4], -1.0)]

    def loss_of(mlp: MLP) -> Value:
        return Value.sum([(mlp(x)[0] - y) ** 2 for x, y in samples])

    mlp, plain = MLP(2, [16, 16, 1], seed=3), MLP(2, [16, 16, 1], seed=3)
    loss_of(mlp).backward(create_graph=True)
    loss_of(plain).backward()  # the oracle: a float pass on a separate copy of the model
    for back in (pickle.loads(pickle.dumps(mlp)), copy.deepcopy(mlp)):
        grads = [p.grad for p in back.parameters()]
        assert all(type(g) is Value for g in grads)
        assert [g.data for g in grads] == pytest.approx([p.grad for p in plain.parameters()],
                                                        rel=1e-12, abs=1e-15)
        assert [p.data for p in back.parameters()] == [p.data for p in mlp.parameters()]

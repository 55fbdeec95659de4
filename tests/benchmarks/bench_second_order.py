"""Second-order benchmark: a Hessian-vector product against one gradient, and a deep chain.

Run on demand (never in CI):

    python tests/benchmarks/bench_second_order.py [--rounds N]

1. The 2-16-16-1 MLP's mean squared error over 100 two-moons points, as a function of its 337
   parameters (tanh hidden layers, one ``affine`` node per neuron). "One gradient" is
   ``engine.grad(f(*theta), theta)`` on fresh leaves; the Hessian-vector product is
   ``engine.hvp(f, theta, v)``, which builds the same graph, runs ``backward(create_graph=True)``
   and differentiates ``g . v`` once more. The cheap-gradient principle says the ratio is a
   small constant, whatever the number of parameters; the target is at most 5x. Rounds alternate
   the two and the ratio is the median of per-round ratios (the drift of a shared machine
   cancels). Garbage collection stays on, as users have it. The plain ``loss.backward()`` (no
   saving and restoring of ``.grad``) is timed too, for reference.
2. A chain of 10^5 ``tanh`` nodes differentiated twice (``backward(create_graph=True)``, then
   ``x.grad.backward()``): no recursion, whatever the depth; its second derivative is checked
   against central differences of the first.
"""

from __future__ import annotations

import argparse
import itertools
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import engine
from engine import Value, affine_rows
from nn import data

SIZES = [2, 16, 16, 1]
DEPTH = 100_000


def mlp_loss(points, targets):
    """f(*theta): the MLP's mean squared error, theta = each neuron's weights then its bias."""
    def f(*theta):
        k, rows_of = 0, []
        for n_in, n_out in itertools.pairwise(SIZES):
            rows = []
            for _ in range(n_out):
                rows.append(tuple(theta[k:k + n_in + 1]))
                k += n_in + 1
            rows_of.append(rows)
        errors = []
        for x, t in zip(points, targets, strict=True):
            a = [Value(v) for v in x]
            for depth, rows in enumerate(rows_of):
                last = depth == len(rows_of) - 1
                a = affine_rows(rows, a, None if last else "tanh")
            errors.append((a[0] - t) ** 2)
        return Value.sum(errors) * (1.0 / len(errors))
    return f


def parameter_count():
    return sum((n_in + 1) * n_out for n_in, n_out in itertools.pairwise(SIZES))


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_hvp(rounds):
    X, y = data.moons(100, noise=0.1, seed=42)
    f = mlp_loss([[float(a), float(b)] for a, b in X], [2.0 * t - 1.0 for t in y])
    rng = random.Random(0)
    theta = [rng.uniform(-1, 1) for _ in range(parameter_count())]
    v = [rng.uniform(-1, 1) for _ in theta]

    def gradient():
        leaves = [Value(t) for t in theta]
        return engine.grad(f(*leaves), leaves)

    def plain_backward():
        leaves = [Value(t) for t in theta]
        f(*leaves).backward()

    def product():
        return engine.hvp(f, theta, v)

    # the product agrees with central differences of the gradient along v
    h = 1e-5
    plus = [Value(t + h * d) for t, d in zip(theta, v, strict=True)]
    minus = [Value(t - h * d) for t, d in zip(theta, v, strict=True)]
    g_plus, g_minus = engine.grad(f(*plus), plus), engine.grad(f(*minus), minus)
    numeric = [(a - b) / (2 * h) for a, b in zip(g_plus, g_minus, strict=True)]
    hv = product()
    worst = max(abs(a - b) / max(1.0, abs(b)) for a, b in zip(hv, numeric, strict=True))
    assert worst < 1e-5, worst

    leaves = [Value(t) for t in theta]
    start = Value(0.0).created  # creation numbers count the nodes made in between
    loss = f(*leaves)
    middle = Value(0.0).created
    engine.grad(loss, leaves, create_graph=True)
    made = Value(0.0).created - middle - 1, middle - start - 1

    ratios, plain_ratios, t_grad, t_hvp = [], [], [], []
    for _ in range(rounds):
        tg, th, tp = timed(gradient), timed(product), timed(plain_backward)
        t_grad.append(tg)
        t_hvp.append(th)
        ratios.append(th / tg)
        plain_ratios.append(th / tp)
    print(f"MLP {'-'.join(map(str, SIZES))}, {len(theta)} parameters, 100 points, "
          f"{rounds} rounds")
    print(f"  nodes: {made[1]} in the loss's graph, {made[0]} more in its gradient's graph")
    print(f"  one gradient (engine.grad):    {statistics.median(t_grad) * 1e3:8.1f} ms")
    print(f"  Hessian-vector product (hvp):  {statistics.median(t_hvp) * 1e3:8.1f} ms")
    print(f"  hvp / gradient:                {statistics.median(ratios):8.2f}x (target <= 5x)")
    print(f"  hvp / plain loss.backward():   {statistics.median(plain_ratios):8.2f}x")
    print(f"  hvp vs central differences of the gradient: max rel. error {worst:.1e}")
    return statistics.median(ratios)


def bench_deep_chain():
    x = Value(0.3, label="x")
    y = x
    for _ in range(DEPTH):
        y = (y * 0.9999).tanh()
    start = time.perf_counter()
    y.backward(create_graph=True)
    first = x.grad
    x.grad = 0.0
    first.backward()
    seconds = time.perf_counter() - start
    second = x.grad

    def slope(at):
        leaf = Value(at)
        out = leaf
        for _ in range(DEPTH):
            out = (out * 0.9999).tanh()
        out.backward()
        return leaf.grad

    h = 1e-4
    numeric = (slope(0.3 + h) - slope(0.3 - h)) / (2 * h)
    print(f"chain of {DEPTH} tanh nodes, differentiated twice: {seconds:.2f} s "
          f"(recursion limit {sys.getrecursionlimit()})")
    print(f"  d2y/dx2 = {second:.6e}, central differences of dy/dx: {numeric:.6e}")
    assert abs(second - numeric) <= 1e-4 * abs(numeric) + 1e-12


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    ratio = bench_hvp(args.rounds)
    bench_deep_chain()
    if ratio > 5:
        print(f"hvp costs {ratio:.2f} gradients: above the target of 5")
        sys.exit(1)


if __name__ == "__main__":
    main()

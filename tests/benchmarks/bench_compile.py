"""engine.compile benchmark: the compiled programs against the interpreted engine, NumPy's closed
form and PyTorch, in one run (ratios measured side by side: the machine may be shared).

Run on demand (never in CI):

    OMP_NUM_THREADS=1 python tests/benchmarks/bench_compile.py [--quick]

1. W1n (the peer benchmark's workload, reproduced here: MLP 2-16-16-1, tanh then linear, 100
   two-moons points, MSE, SGD lr 0.05, weights uniform(-1, 1) from seed 0): one training step
   interpreted (forward, backward, SGD, zero_grad), through ``fit(compiled=True)`` (an epoch of
   one full batch: what a user gets), compiled on arrays (``step.gradients`` and ``theta -= lr
   * G``, fit's inner loop), compiled through the Values (``step.backward(X, Y)``,
   ``optim.SGD``, ``zero_grad``), the NumPy closed form, and the one-sample program run on the
   100 samples one after the other (``step.backward(X, Y, exact=True)``).
2. MNIST-size (784-128-10, tanh, softmax cross-entropy on one-hot targets, batch 128, random
   data): one SGD step compiled (arrays; Values) against PyTorch float64 on one thread.
3. Digits (``bench_torch.py``'s workload: MLP(64, [32, 10]) xavier, softmax cross-entropy, SGD
   lr 0.1, batches of 32, 1,348 images): one epoch through ``fit(compiled=True)`` (as
   ``bench_compiled_fit.py`` times it) and a bare loop over ``step.gradients``, against PyTorch.

An epoch of ``fit(compiled=True)`` is timed as (``fit`` for 1 + K epochs minus ``fit`` for 1
epoch) / K: what an epoch costs once the programs exist (``fit`` compiles at every call).
4. Trace and code generation (compile and the first batch program) for the digits MLP and the
   MNIST-size one, and the memory the MNIST-size program takes (tracemalloc peak).
"""

from __future__ import annotations

import argparse
import gc
import itertools
import math
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np
import torch
from bench_compiled_fit import fitted  # the digits through fit, defined once

import engine
from engine import Value
from nn import MLP, data, losses, optim, train

torch.set_num_threads(1)


# -- the W1n workload, as the peer benchmark builds it ----------------------------------------


def make_moons(n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n_out, n_in = n // 2, n - n // 2
    t_out, t_in = np.linspace(0, math.pi, n_out), np.linspace(0, math.pi, n_in)
    X = np.vstack([np.column_stack([np.cos(t_out), np.sin(t_out)]),
                   np.column_stack([1 - np.cos(t_in), 1 - np.sin(t_in) - 0.5])])
    y = np.hstack([-np.ones(n_out), np.ones(n_in)])
    X = X + rng.normal(scale=noise, size=X.shape)
    perm = rng.permutation(n)
    return X[perm], y[perm]


def init_weights(sizes: list[int], seed: int) -> tuple[list, list]:
    rng = np.random.default_rng(seed)
    Ws, bs = [], []
    for nin, nout in itertools.pairwise(sizes):
        Ws.append(rng.uniform(-1, 1, size=(nout, nin)))
        bs.append(rng.uniform(-1, 1, size=(nout,)))
    return Ws, bs


def w1n_mlp(Ws, bs) -> MLP:
    mlp = MLP(2, [16, 16, 1])
    flat = np.concatenate([np.hstack([W, b[:, None]]).ravel() for W, b in zip(Ws, bs,
                                                                                strict=True)])
    for p, x in zip(mlp.parameters(), flat, strict=True):
        p.data = float(x)
    return mlp


def median_time(step, repeats: int) -> float:
    step()  # warm up (and build what is built on first use)
    times = []
    gc.collect()
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def interleaved(steps: dict, rounds: int, repeats: int) -> dict[str, float]:
    """Median seconds per call of each step, timed in turns so that drift hits all alike. A
    step that is a :class:`PerEpoch` is timed by :func:`epoch_time`."""
    found: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(rounds):
        for name, step in steps.items():
            found[name].append(epoch_time(step) if isinstance(step, PerEpoch) else
                               median_time(step, repeats))
    return {name: statistics.median(ts) for name, ts in found.items()}


@dataclass
class PerEpoch:
    """``fit(epochs)``, a call of ``train.fit``, timed per epoch by ``interleaved``; ``extra``
    epochs should take far longer than compiling (whose time varies from call to call)."""

    fit: Callable[[int], None]
    extra: int


def epoch_time(step: PerEpoch) -> float:
    """Seconds per epoch of ``fit``: (1 + ``extra`` epochs minus 1 epoch) / ``extra``."""
    gc.collect()
    start = time.perf_counter()
    step.fit(1)
    one = time.perf_counter() - start
    gc.collect()
    start = time.perf_counter()
    step.fit(1 + step.extra)
    return (time.perf_counter() - start - one) / step.extra


def w1n(rounds: int) -> dict[str, float]:
    X, Y = make_moons(100, 0.1, 42)
    Ws, bs = init_weights([2, 16, 16, 1], 0)
    n, lr = len(Y), 0.05
    interpreted = w1n_mlp(Ws, bs)
    Xv = [[Value(float(v)) for v in row] for row in X]
    Yneg = [-float(y) for y in Y]
    sgd_i = optim.SGD(interpreted.parameters(), lr=lr)

    def interpreted_step():
        sq = []
        for x, yn in zip(Xv, Yneg, strict=True):
            d = interpreted(x)[0] + yn
            sq.append(d * d)
        loss = sum(sq) * (1.0 / n)
        loss.backward()
        sgd_i.step()
        interpreted.zero_grad()

    compiled = w1n_mlp(Ws, bs)
    params = compiled.parameters()
    step = engine.compile(lambda x, y: (compiled(x)[0] - y) ** 2 * (1.0 / n), [0.0, 0.0], 0.0,
                          params=params)
    sgd_c = optim.SGD(params, lr=lr)

    def compiled_values():
        step.backward(X, Y)
        sgd_c.step()
        compiled.zero_grad()

    theta = step.parameter_array()

    def compiled_arrays():
        nonlocal theta
        _, G = step.gradients(X, Y, theta=theta)
        theta -= lr * G

    def one_sample_program():  # sample after sample, the same bits as backward() on each
        step.backward(X, Y, exact=True)
        sgd_c.step()
        compiled.zero_grad()

    Wn, bn = [W.copy() for W in Ws], [b.copy() for b in bs]

    def fit_compiled(epochs: int) -> None:  # an epoch is one full-batch step
        mlp = w1n_mlp(Ws, bs)
        train.fit(mlp, Xl, Yl, losses.mse, epochs=epochs, batch_size=n, shuffle=False,
                  progress=False, compiled=True, optimizer=optim.SGD(mlp.parameters(), lr=lr))

    Xl, Yl = X.tolist(), Y.tolist()

    def numpy_closed_form():  # the peer benchmark's reference: the lecture's formulas by hand
        a = X.T
        As, Zs = [a], []
        for k in range(3):
            z = Wn[k] @ a + bn[k][:, None]
            a = np.tanh(z) if k < 2 else z
            Zs.append(z)
            As.append(a)
        delta = (2.0 / n) * (As[-1] - Y[None, :])
        for k in range(2, -1, -1):
            dW, db = delta @ As[k].T, delta.sum(axis=1)
            if k > 0:
                delta = (Wn[k].T @ delta) * (1 - As[k] * As[k])
            Wn[k] -= lr * dW
            bn[k] -= lr * db

    # the compiled gradient against the interpreted one, before timing
    loss = sum((interpreted(x)[0] + yn) ** 2 for x, yn in zip(Xv, Yneg, strict=True)) * (1 / n)
    loss.backward()
    _, G = step.gradients(X, Y)
    difference = max(abs(p.grad - g) for p, g in zip(interpreted.parameters(), G, strict=True))
    interpreted.zero_grad()
    print(f"W1n: compiled gradient vs backward(): max abs difference {difference:.2e}")
    return interleaved({"interpreted": interpreted_step,
                        "fit(compiled=True)": PerEpoch(fit_compiled, 1000),
                        "compiled, arrays": compiled_arrays,
                        "compiled, Values": compiled_values,
                        "one-sample program": one_sample_program,
                        "numpy closed form": numpy_closed_form},
                       rounds, 5)


# -- MNIST-size and digits: softmax cross-entropy on one-hot targets ---------------------------


def softmax_cross_entropy(mlp: MLP):
    def loss(x, y):  # nn's own loss of one sample, its target the one-hot row (an input)
        return losses.softmax_cross_entropy.sample(mlp(x), y)
    return loss


def torch_model(mlp: MLP):
    module = mlp.to_torch()
    return module, torch.optim.SGD(module.parameters(), lr=0.1), torch.nn.CrossEntropyLoss()


def mnist_size(rounds: int) -> tuple[dict[str, float], float, float]:
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, size=(128, 784))
    labels = rng.integers(0, 10, size=128)
    Y = np.eye(10)[labels]
    mlp = MLP(784, [128, 10], init="xavier", seed=0)
    module, sgd_t, criterion = torch_model(mlp)
    T, L = torch.tensor(X), torch.tensor(labels)
    params = mlp.parameters()
    tracemalloc.start()  # the memory the program takes: a compile and a step, traced
    traced = engine.compile(softmax_cross_entropy(mlp), X[0].tolist(), Y[0].tolist(),
                            params=params)
    traced.gradients(X, Y)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del traced
    gc.collect()
    start = time.perf_counter()  # the time, untraced (tracemalloc slows every allocation)
    step = engine.compile(softmax_cross_entropy(mlp), X[0].tolist(), Y[0].tolist(),
                          params=params)
    step.gradients(X[:2], Y[:2])  # builds the batch program
    seconds = time.perf_counter() - start
    theta = step.parameter_array()
    sgd = optim.SGD(params, lr=0.1)

    def torch_step():
        sgd_t.zero_grad()
        criterion(module(T), L).backward()
        sgd_t.step()

    def compiled_arrays():
        nonlocal theta
        _, G = step.gradients(X, Y, theta=theta)
        theta -= (0.1 / len(X)) * G

    def compiled_values():
        step.backward(X, Y)
        for p in params:
            p.grad *= 1.0 / len(X)
        sgd.step()
        mlp.zero_grad()

    return (interleaved({"pytorch f64, 1 thread": torch_step, "compiled, arrays": compiled_arrays,
                         "compiled, Values": compiled_values}, rounds, 5), seconds, peak)


def digits(rounds: int) -> tuple[dict[str, float], float]:
    (X, y), _ = data.digits()
    X, y = np.array(X), list(y)
    Y = np.eye(10)[y]
    batches = [slice(s, min(s + 32, len(X))) for s in range(0, len(X), 32)]
    mlp = MLP(64, [32, 10], init="xavier", seed=0)
    start = time.perf_counter()
    step = engine.compile(softmax_cross_entropy(mlp), X[0].tolist(), Y[0].tolist(),
                          params=mlp.parameters())
    step.gradients(X[:2], Y[:2])
    seconds = time.perf_counter() - start
    module, sgd_t, criterion = torch_model(MLP(64, [32, 10], init="xavier", seed=0))
    T, labels = torch.tensor(X), torch.tensor(y)

    def torch_epoch():
        for b in batches:
            sgd_t.zero_grad()
            criterion(module(T[b]), labels[b]).backward()
            sgd_t.step()

    theta = step.parameter_array()

    def compiled_epoch():
        nonlocal theta
        for b in batches:
            _, G = step.gradients(X[b], Y[b], theta=theta)
            theta -= (0.1 / (b.stop - b.start)) * G

    def fit_compiled(epochs: int) -> None:  # bench_compiled_fit's run: the same workload
        fitted(Xl, y, epochs, compiled=True)

    Xl = X.tolist()
    return interleaved({"pytorch f64, 1 thread": torch_epoch,
                        "fit(compiled=True)": PerEpoch(fit_compiled, 30),
                        "compiled, arrays": compiled_epoch}, rounds, 3), seconds


def report(title: str, times: dict[str, float], against: str) -> None:
    print(f"\n{title}")
    for name, t in times.items():
        print(f"  {name:<24} {t * 1e3:10.3f} ms   {times[against] / t:8.2f}x faster than "
              f"{against} ({t / times[against]:.2f}x its time)" if name != against else
              f"  {name:<24} {t * 1e3:10.3f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a smoke test)")
    rounds = 1 if parser.parse_args().quick else 3
    times = w1n(rounds)
    report("W1n step (2-16-16-1, 100 moons, MSE, SGD)", times, "interpreted")
    closed = times["numpy closed form"]
    print(f"  against the numpy closed form: fit(compiled=True) "
          f"{times['fit(compiled=True)'] / closed:.2f}x its time, arrays "
          f"{times['compiled, arrays'] / closed:.2f}x, Values "
          f"{times['compiled, Values'] / closed:.2f}x")
    print("  targets: fit(compiled=True) at least 100x faster than interpreted, within 2x of "
          "the closed form's time")
    mnist, seconds, peak = mnist_size(rounds)
    report("MNIST-size step (784-128-10, batch 128)", mnist, "pytorch f64, 1 thread")
    print("  target: compiled (arrays) no slower than PyTorch")
    epoch, digits_seconds = digits(rounds)
    report("digits epoch (64-32-10, 43 batches of 32)", epoch, "pytorch f64, 1 thread")
    print("  target: fit(compiled=True) at most 0.5x PyTorch's time")
    print("\ntrace and code generation (compile and the batch program)")
    print(f"  digits MLP 64-32-10:      {digits_seconds * 1e3:8.1f} ms (target < 100 ms)")
    print(f"  MNIST-size 784-128-10:    {seconds * 1e3:8.1f} ms (target < 2 s)")
    print(f"  MNIST-size program memory (tracemalloc peak): {peak / 1e6:.1f} MB (target < 200 MB)")


if __name__ == "__main__":
    main()

"""Digits benchmark: one training epoch of the same MLP in deltagrad, MatrixTrainer and PyTorch.

Run on demand (never in CI), after ``pip install -e ".[test]"`` (torch and scikit-learn):

    python tests/benchmarks/bench_torch.py [--quick]

The workload: ``MLP(64, [32, 10])`` (tanh, then linear logits), ``softmax_cross_entropy``,
plain SGD (lr 0.1) on mini-batches of 32, one epoch over the 1,348 training images of
``nn.data.digits()`` (43 steps), from the same initial weights. Three ways, side by side:

1. deltagrad's engine: ``train.fit`` for one epoch (forward, loss, backward, ``optim.SGD``);
2. ``nn.closed_form.MatrixTrainer``: the lecture's matrix formulas with NumPy, one ``step`` per
   mini-batch (NumPy's BLAS may use several threads; ``OMP_NUM_THREADS=1`` to forbid it);
3. PyTorch: ``mlp.to_torch()``, float64, CPU, ``torch.set_num_threads(1)``, ``torch.optim.SGD``
   and ``nn.CrossEntropyLoss``.

Each round times one epoch of each, in turn, so a shared machine's drift hits all three alike;
the table gives the median over the rounds and each one's ratio to PyTorch.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np
import torch

from nn import MLP, data, losses, optim, train
from nn.closed_form import MatrixTrainer

BATCH, LR = 32, 0.1


def batches(n: int) -> list[list[int]]:
    return [list(range(start, min(start + BATCH, n))) for start in range(0, n, BATCH)]


def engine_epoch(X: list, y: list) -> float:
    mlp = MLP(64, [32, 10], init="xavier", seed=0)
    sgd = optim.SGD(mlp.parameters(), lr=LR)
    start = time.perf_counter()
    train.fit(mlp, X, y, loss=losses.softmax_cross_entropy, optimizer=sgd, epochs=1,
              batch_size=BATCH, shuffle=False, progress=False)
    return time.perf_counter() - start


def matrix_epoch(X: list, y: list) -> float:
    trainer = MatrixTrainer(MLP(64, [32, 10], init="xavier", seed=0),
                            loss=losses.softmax_cross_entropy, lr=LR)
    X_np = np.array(X)
    Y_np = trainer.targets(y)
    start = time.perf_counter()
    for batch in batches(len(X)):
        trainer.step(X_np[batch], Y_np[batch])
    return time.perf_counter() - start


def torch_epoch(X: list, y: list) -> float:
    module = MLP(64, [32, 10], init="xavier", seed=0).to_torch()
    sgd = torch.optim.SGD(module.parameters(), lr=LR)
    criterion = torch.nn.CrossEntropyLoss()
    T, labels = torch.tensor(X, dtype=torch.float64), torch.tensor(y)
    start = time.perf_counter()
    for batch in batches(len(X)):
        sgd.zero_grad()
        criterion(module(T[batch]), labels[batch]).backward()
        sgd.step()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a smoke test)")
    rounds = 2 if parser.parse_args().quick else 5
    torch.set_num_threads(1)
    (X, y), _ = data.digits()
    sides = {"deltagrad engine (train.fit)": engine_epoch,
             "MatrixTrainer (NumPy)": matrix_epoch,
             "PyTorch (float64, CPU, 1 thread)": torch_epoch}
    for run in sides.values():  # warm up: imports, caches, torch's first-call set-up
        run(X[:64], y[:64])
    times: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(rounds):
        for name, run in sides.items():
            times[name].append(run(X, y))
    reference = statistics.median(times["PyTorch (float64, CPU, 1 thread)"])
    print(f"One epoch of MLP(64, [32, 10]) on {len(X)} digits, SGD on batches of {BATCH} "
          f"({len(batches(len(X)))} steps); median of {rounds} rounds, Python "
          f"{sys.version.split()[0]}, torch {torch.__version__}, numpy {np.__version__}")
    print(f"| {'':34} | epoch     | x PyTorch's time |")
    print(f"|{'-' * 36}|-----------|------------------|")
    for name, seconds in times.items():
        median = statistics.median(seconds)
        print(f"| {name:34} | {median * 1e3:6.1f} ms | {median / reference:15.1f}x |")


if __name__ == "__main__":
    main()

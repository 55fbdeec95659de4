"""Engine benchmark: per-op forward and backward cost, memory per node, and depth, as ratios.

Run on demand (never in CI):

    pip install micrograd==0.1.0        # optional: the reference engine for the ratios
    python tests/benchmarks/bench_engine.py [--quick]

Timings alternate between the engines (A, B, A, B, ...) and the report gives the median of the
per-pair ratios, so the machine's drift (large on shared VMs) cancels out. The same workloads
as ../shared/bench/peers.py W2, W4 and W5; run that script for the full side-by-side table.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from engine import Value


def forward_seconds(V, n):
    """n times d = a*b + c (two operations), garbage of each iteration freed as it goes."""
    a, b, c = V(1.5), V(2.5), V(0.5)
    t = time.perf_counter()
    for _ in range(n):
        d = a * b + c  # noqa: F841
    return time.perf_counter() - t


def backward_seconds(V, n):
    """d.backward() on n prebuilt small expressions d = a*b + c."""
    a, b, c = V(1.5), V(2.5), V(0.5)
    ds = [a * b + c for _ in range(n)]
    t = time.perf_counter()
    for d in ds:
        d.backward()
    return time.perf_counter() - t


def interleaved_ratio(measure, ours, theirs, n, reps):
    """Median over reps of theirs/ours for one (A, B) pair measured back to back."""
    ratios, our_times = [], []
    for _ in range(reps):
        gc.collect()
        t_theirs = measure(theirs, n)
        gc.collect()
        t_ours = measure(ours, n)
        ratios.append(t_theirs / t_ours)
        our_times.append(t_ours / n)
    return statistics.median(ratios), statistics.median(our_times)


def bytes_per_node(V, n):
    """tracemalloc bytes per node of a chain x = x * c, and the share freed without the gc."""
    gc.collect()
    gc.disable()
    try:
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        x, c = V(0.5), V(1.0001)
        for _ in range(n):
            x = x * c
        built = tracemalloc.get_traced_memory()[0] - before
        del x
        left = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
    finally:
        gc.enable()
    return built / (n + 2), 1 - left / built


def deep_chain_works(V, n):
    """A chain of 2n operations x = x * 0.999 + 0.001, then backward."""
    x0 = x = V(0.5)
    try:
        for _ in range(n):
            x = x * 0.999 + 0.001
        x.backward()
    except RecursionError:
        return False
    return x0.grad != 0.0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke test")
    args = parser.parse_args()
    n, reps = (2_000, 3) if args.quick else (50_000, 9)
    try:
        from micrograd.engine import Value as Micrograd
    except ImportError:
        Micrograd = None

    print(f"python {sys.version.split()[0]}, recursion limit {sys.getrecursionlimit()}")
    if Micrograd is None:
        print("micrograd not installed: absolute figures only (pip install micrograd==0.1.0)")
        for name, measure in (("forward a*b+c", forward_seconds),
                              ("backward() per call", backward_seconds)):
            t = statistics.median(measure(Value, n) / n for _ in range(reps))
            print(f"{name:22s} {t * 1e6:8.3f} us")
    else:
        print(f"{'workload':22s} {'deltagrad':>12s} {'vs micrograd':>14s}")
        for name, measure, per in (("forward per op", forward_seconds, 2),
                                   ("backward() per call", backward_seconds, 1)):
            ratio, ours = interleaved_ratio(measure, Value, Micrograd, n, reps)
            print(f"{name:22s} {ours / per * 1e6:9.3f} us {ratio:13.2f}x")
    per_node, freed = bytes_per_node(Value, 10 * n)
    print(f"{'bytes per node':22s} {per_node:9.0f} B  freed by refcount alone: {freed:.1%}")
    if Micrograd is not None:
        mg_node, mg_freed = bytes_per_node(Micrograd, 10 * n)
        print(f"{'  micrograd':22s} {mg_node:9.0f} B  freed by refcount alone: {mg_freed:.1%}")
    depth = 10_000 if args.quick else 1_000_000
    t = time.perf_counter()
    ok = deep_chain_works(Value, depth // 2)
    name = f"chain of {depth} nodes"
    print(f"{name:22s} {'works' if ok else 'FAILS':>12s}"
          f" ({time.perf_counter() - t:.1f} s)")
    if Micrograd is not None:
        mg_ok = deep_chain_works(Micrograd, 1_000)
        print(f"{'  micrograd, 2000 nodes':22s} {'works' if mg_ok else 'RecursionError':>12s}")


if __name__ == "__main__":
    main()

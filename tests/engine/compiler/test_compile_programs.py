"""engine.compile on random programs of every operation of the table (hypothesis): the one-sample
program gives backward()'s bits, the batch program backward() summed over the samples to 1e-12
relative to the gradients' scale (NumPy's exp, tanh, log may differ from libm in the last bit,
and the batch adds the chain rule's terms in another order)."""

from __future__ import annotations

import math
import warnings

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import engine
from engine import Value
from engine.derivatives import local_derivatives
from engine.modes import TracerWarning
from engine.testing.strategies import graphs, points


def split(program, k):
    """The program as a function of one sample: its first ``k`` inputs are parameters (Values
    read through a closure), the others the sample's numbers (at least one)."""
    params = [Value(float(v)) for v in program.point[:k]]

    def f(x):
        return program(*params, *x)

    return f, params


def backward_at(f, params, x):
    """(output, gradients, scale): backward()'s, and for each gradient the sum over the chain
    rule's paths of |the product of local derivatives|, which bounds how much a different order
    of additions may change it (cancellation: 1 + t - 1 is 0 or t)."""
    for p in params:
        p.grad = 0.0
    out = f([Value(v) for v in x])
    out.backward()
    size = {out: 1.0}
    for node in engine.backward_order(out):
        for operand, local in local_derivatives(node):
            size[operand] = size.get(operand, 0.0) + abs(local) * size.get(node, 0.0)
    return out.data, [p.grad for p in params], [size.get(p, 0.0) for p in params]


def same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


@st.composite
def programs_and_samples(draw):
    program = draw(graphs(inputs=st.integers(2, 4), max_nodes=8))
    k = draw(st.integers(1, program.n_inputs - 1))
    samples = [draw(points(program))[k:] for _ in range(draw(st.integers(1, 4)))]
    return program, k, samples


def compiled(program, k):
    f, params = split(program, k)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TracerWarning)  # no op branches on Values; be sure
        step = engine.compile(f, list(program.point[k:]), params=params)
    return f, params, step


@given(programs_and_samples())
def test_the_one_sample_program_gives_the_bits_of_backward(drawn):
    program, k, samples = drawn
    f, params, step = compiled(program, k)
    for x in samples:
        expected_out, expected, _ = backward_at(f, params, x)
        for p in params:
            p.grad = 0.0
        out = step.backward(list(x))
        assert same(out, expected_out), step.source
        assert all(map(same, [p.grad for p in params], expected)), step.source
        assert same(step(list(x)), expected_out)


@given(programs_and_samples())
def test_the_batch_program_is_backward_summed_over_the_samples(drawn):
    program, k, samples = drawn
    f, params, step = compiled(program, k)
    outputs, total, scale = [], np.zeros(len(params)), np.zeros(len(params))
    for x in samples:
        out, g, size = backward_at(f, params, x)
        outputs.append(out)
        total += g
        scale += size
    for p in params:
        p.grad = 0.0
    got = step.backward(np.array(samples))
    assert close(got, np.array(outputs), np.abs(outputs)), step.batch_source
    assert close(np.array([p.grad for p in params]), total, scale), step.batch_source


def close(got, expected, scale) -> bool:
    """Within 1e-12 of ``scale`` where finite; the same inf or nan elsewhere (as backward())."""
    finite = np.isfinite(expected) & np.isfinite(scale)
    with np.errstate(invalid="ignore"):
        near = np.abs(got - expected) <= 1e-12 * scale + 1e-300
    same = (got == expected) | (np.isnan(got) & np.isnan(expected))
    return bool(np.all(np.where(finite, near, same)))

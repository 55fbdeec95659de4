"""Where deltagrad differs from PyTorch on numerical edges, and where it was made to agree: one
test per row of the table "Where deltagrad and PyTorch differ" in docs/conventions.md.

Expected values come from IEEE 754 / C99 (``pow``, ``0 * inf = nan``) and the derivative rules;
the PyTorch 2.13 float64 value (measured, ``torch`` is not needed here) is in a comment."""

from __future__ import annotations

import math

import pytest

from engine import Value


def grads(make, *xs, upstream=1.0):
    vs = [Value(x) for x in xs]
    out = make(*vs)
    out.backward(upstream)
    return out.data, tuple(v.grad for v in vs)


def same(a, b):
    """Equal as floats, nan equal to nan, and the sign of a zero counts."""
    return all((math.isnan(x) and math.isnan(y)) or (x == y and math.copysign(1, x)
                                                     == math.copysign(1, y)) for x, y in zip(
        a, b, strict=True))


@pytest.mark.parametrize("make, x", [(lambda x: x.relu(), -1.0), (lambda x: x ** 0, 2.0)],
                         ids=["relu(-1)", "x ** 0"])
@pytest.mark.parametrize("upstream", [math.inf, math.nan])
def test_a_zero_local_derivative_times_an_inf_or_nan_upstream_is_nan(make, x, upstream):
    _, (g,) = grads(make, x, upstream=upstream)
    assert math.isnan(g)  # 0 * inf = nan (IEEE); PyTorch masks these two to 0.0


def test_relu_derivative_at_nan_is_one_as_pytorch():
    data, (g,) = grads(lambda x: x.relu(), math.nan, upstream=2.0)
    assert math.isnan(data) and g == 2.0  # relu'(nan) = 1: the upstream passes (PyTorch: 1)


def test_abs_derivative_at_nan_is_nan():
    data, (g,) = grads(abs, math.nan)
    assert math.isnan(data) and math.isnan(g)  # sign(nan) = nan; PyTorch gives 0.0


def test_the_exponents_gradient_at_base_0_with_a_nan_exponent_is_nan_as_pytorch():
    data, (gx, gy) = grads(lambda x, y: x ** y, 0.0, math.nan)
    assert math.isnan(data) and math.isnan(gx) and math.isnan(gy)  # PyTorch: (nan, nan)


def test_the_exponents_gradient_at_base_0_stays_masked_for_exponents_0_and_up():
    for y in (0.0, 2.0, math.inf):
        _, (_, gy) = grads(lambda x, y: x ** y, 0.0, y)
        assert gy == 0.0  # PyTorch: 0.0 (out * log(0) would be 0 * -inf)


@pytest.mark.parametrize("x, c, value, grad", [
    (-0.0, 0.5, 0.0, math.inf),  # PyTorch x ** 0.5 is sqrt: -0.0 and -inf; torch.pow(x, y): ours
    (-math.inf, 0.5, math.inf, 0.0),  # PyTorch x ** 0.5: nan, nan; torch.pow(x, y): inf, 0
    (-math.inf, -0.5, 0.0, 0.0),  # PyTorch x ** -0.5 is rsqrt: nan, -0; torch.pow(x, y): 0, -0
    # (the local derivative is -0.5 * pow(-inf, -1.5) = -0.0; a leaf's grad adds it to +0.0)
    (-0.0, 0.5000001, 0.0, math.inf),  # PyTorch agrees here: only 0.5 and -0.5 are special
])
def test_powers_follow_c99_pow_for_every_exponent(x, c, value, grad):
    data, (g,) = grads(lambda v: v ** c, x)
    assert same((data, g), (value, grad))  # C99 pow; the derivative c * pow(x, c - 1)
    data2, (g2, _) = grads(lambda v, w: v ** w, x, c)
    assert same((data2, g2), (value, grad))  # the same with a Value exponent

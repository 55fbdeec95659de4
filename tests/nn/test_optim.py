"""nn.optim: SGD and Adam against hand-written update rules; updates build no graph."""

import math

import pytest
from ctrl_c import ctrl_c_at
from hypothesis import given
from hypothesis import strategies as st

from engine import Value
from nn import MLP, optim


def quadratic_grads(params, targets):
    """Set p.grad to d/dp of sum (p - t)^2 = 2 (p - t), without the engine."""
    for p, t in zip(params, targets, strict=True):
        p.grad = 2.0 * (p.data - t)


@given(st.lists(st.floats(-5, 5), min_size=1, max_size=4), st.floats(0, 0.99), st.floats(0, 0.1))
def test_sgd_matches_the_update_rule_written_out(start, momentum, decay):
    params = [Value(x) for x in start]
    opt = optim.SGD(params, lr=0.1, momentum=momentum, weight_decay=decay)
    ref, velocity = list(start), [0.0] * len(start)
    targets = [1.0] * len(start)
    for _ in range(5):
        quadratic_grads(params, targets)
        opt.step()
        for i, x in enumerate(ref):
            g = 2.0 * (x - 1.0) + decay * x
            velocity[i] = momentum * velocity[i] + g
            ref[i] = x - 0.1 * velocity[i]
    assert [p.data for p in params] == pytest.approx(ref, rel=1e-12, abs=1e-12)


def test_plain_sgd_step_by_hand():
    p = Value(3.0)
    p.grad = 2.0
    optim.SGD([p], lr=0.5).step()
    assert p.data == 2.0


def test_sgd_minimizes_a_quadratic_built_with_the_engine():
    p, q = Value(4.0), Value(-3.0)
    opt = optim.SGD([p, q], lr=0.1, momentum=0.5)
    for _ in range(200):
        loss = (p - 1) ** 2 + (q + 2) ** 2
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert p.data == pytest.approx(1.0, abs=1e-9) and q.data == pytest.approx(-2.0, abs=1e-9)


def adam_reference(start, grads_of, steps, lr, b1, b2, eps, decay):
    """Adam as in Kingma & Ba, Algorithm 1 (with L2 decay added to the gradient)."""
    x, m, v = list(start), [0.0] * len(start), [0.0] * len(start)
    for t in range(1, steps + 1):
        g = [gi + decay * xi for gi, xi in zip(grads_of(x), x, strict=True)]
        m = [b1 * mi + (1 - b1) * gi for mi, gi in zip(m, g, strict=True)]
        v = [b2 * vi + (1 - b2) * gi * gi for vi, gi in zip(v, g, strict=True)]
        m_hat = [mi / (1 - b1**t) for mi in m]
        v_hat = [vi / (1 - b2**t) for vi in v]
        x = [xi - lr * mh / (math.sqrt(vh) + eps) for xi, mh, vh in zip(x, m_hat, v_hat,
                                                                          strict=True)]
    return x


@given(st.lists(st.floats(-5, 5), min_size=1, max_size=4), st.sampled_from([0.0, 0.01]))
def test_adam_matches_the_paper(start, decay):
    params = [Value(x) for x in start]
    opt = optim.Adam(params, lr=0.01, betas=(0.8, 0.99), eps=1e-8, weight_decay=decay)
    for _ in range(7):
        quadratic_grads(params, [0.5] * len(start))
        opt.step()
    want = adam_reference(start, lambda x: [2.0 * (xi - 0.5) for xi in x], 7, 0.01, 0.8, 0.99,
                          1e-8, decay)
    assert [p.data for p in params] == pytest.approx(want, rel=1e-12, abs=1e-12)


def written_out(kind, start, grads, steps, lr, momentum_or_b1, b2, decay):
    """SGD or Adam written out on one float at a time, in the order PyTorch computes them."""
    x, m, v = list(start), [0.0] * len(start), [0.0] * len(start)
    for t in range(1, steps + 1):
        for i, (xi, gi) in enumerate(zip(x, grads(x), strict=True)):
            gi = gi + decay * xi if decay else gi
            if kind == "sgd":
                if momentum_or_b1:
                    gi = m[i] = momentum_or_b1 * m[i] + gi
                x[i] = xi - lr * gi
            else:
                b1 = momentum_or_b1
                m[i] = b1 * m[i] + (1.0 - b1) * gi
                v[i] = b2 * v[i] + (1.0 - b2) * gi * gi
                x[i] = xi - lr * (m[i] / (1.0 - b1**t)) / (math.sqrt(v[i] / (1.0 - b2**t)) + 1e-8)
    return x, m, v


@given(st.lists(st.floats(-5, 5), min_size=1, max_size=6), st.sampled_from(["sgd", "adam"]),
       st.sampled_from([0.0, 0.5, 0.9]), st.sampled_from([0.0, 0.01]))
def test_step_and_array_updates_give_the_rule_written_out_bit_for_bit(start, kind, beta, decay):
    """The rule runs on arrays; IEEE rounds each operation as it does on a float, so step()
    and array_updates (fit's compiled route) give the float loop's very numbers."""
    import numpy as np

    def grads(x):
        return [2.0 * (xi - 0.5) + math.sin(3.0 * xi) for xi in x]

    def make(params):
        if kind == "sgd":
            return optim.SGD(params, lr=0.1, momentum=beta, weight_decay=decay)
        return optim.Adam(params, lr=0.05, betas=(beta, 0.99), eps=1e-8, weight_decay=decay)

    params = [Value(x) for x in start]
    opt = make(params)
    for _ in range(4):
        for p, g in zip(params, grads([p.data for p in params]), strict=True):
            p.grad = g
        opt.step()
    want, m, v = written_out(kind, start, grads, 4, 0.1 if kind == "sgd" else 0.05, beta, 0.99,
                             decay)
    assert [p.data for p in params] == want
    arrays = make([Value(x) for x in start])
    x, state = np.array(start), arrays.array_state()
    for _ in range(4):
        x, state = arrays.array_updates(x, np.array(grads(x.tolist())), state)
    assert x.tolist() == want
    arrays.load_state(state)
    if kind == "adam":
        assert (arrays.m, arrays.v, arrays.t) == (m, v, 4) == (opt.m, opt.v, opt.t)
    elif beta:
        assert arrays.velocity == m == opt.velocity


def test_adams_first_step_moves_each_parameter_by_about_lr():
    params = [Value(1.0), Value(1.0)]
    params[0].grad, params[1].grad = 1e-3, -50.0
    optim.Adam(params, lr=0.1).step()
    assert params[0].data == pytest.approx(0.9, rel=1e-5)
    assert params[1].data == pytest.approx(1.1, rel=1e-5)


@pytest.mark.parametrize("make", [lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9),
                                  lambda ps: optim.Adam(ps, lr=0.1)])
def test_updates_build_no_graph_and_zero_grad_resets(make):
    mlp = MLP(2, [3, 1], seed=0)
    params = mlp.parameters()
    opt = make(params)
    mlp([1.0, 2.0])[0].backward()
    opt.step()
    assert all(type(p.data) is float and not p.parents and p.op == "" for p in params)
    assert any(p.grad for p in params)
    opt.zero_grad()
    assert all(p.grad == 0.0 for p in params)


def test_bad_arguments():
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="parameter 1 must be a Value, not float"):
        optim.SGD([Value(1.0), 2.0], lr=0.1)
    with pytest.raises(ValueError, match="lr must be a finite number >= 0"):
        optim.SGD([Value(1.0)], lr=-0.1)
    with pytest.raises(ValueError, match="beta2 must be a finite number in \\[0, 1\\)"):
        optim.Adam([Value(1.0)], betas=(0.9, 1.0))


@pytest.mark.parametrize("betas", [0.9, (0.9,), (0.9, 0.99, 0.999), "ab"])
def test_adam_betas_must_be_a_pair(betas):
    with pytest.raises(ValueError, match="betas must be a pair"):
        optim.Adam([Value(1.0)], betas=betas)


@pytest.mark.parametrize("make", [optim.SGD, optim.Adam])
def test_a_parameter_listed_twice_is_refused(make):
    params = MLP(2, [3, 1], seed=0).parameters()
    with pytest.raises(ValueError, match="parameter 13 is parameter 0 again"):
        make(params * 2)
    w = Value(1.0)
    make([w, Value(1.0)])  # equal numbers, different Values: fine
    with pytest.raises(ValueError, match="parameter 1 is parameter 0 again"):
        make([w, w])


# -- a step is whole: Value grads, bad grads, Ctrl-C ---------------------------------------------


def second_order_setup(make):
    """A model, its optimizer, and grads left by backward(create_graph=True) (Values)."""
    mlp = MLP(2, [3, 1], seed=0)
    out = mlp([0.5, -1.0])[0]
    (out * out).backward(create_graph=True)
    return mlp, make(mlp.parameters())


@pytest.mark.parametrize("make", [lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9),
                                  lambda ps: optim.Adam(ps, lr=0.1)])
def test_a_value_grad_steps_by_its_number_as_pytorch_does(make):
    mlp, opt = second_order_setup(make)
    numbers = [p.grad.data for p in mlp.parameters()]
    twin = MLP(2, [3, 1], seed=0)  # the same model, stepped with float grads
    twin_opt = make(twin.parameters())
    for p, g in zip(twin.parameters(), numbers, strict=True):
        p.grad = g
    for _ in range(2):
        opt.step()
        twin_opt.step()
    assert all(type(p.data) is float for p in mlp.parameters())
    assert [p.data for p in mlp.parameters()] == [p.data for p in twin.parameters()]


@pytest.mark.parametrize("make", [lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9),
                                  lambda ps: optim.Adam(ps, lr=0.1)])
@pytest.mark.parametrize(("field", "bad"), [("grad", "0.5"), ("grad", None), ("grad", 10**400),
                                            ("data", Value(2.0))],
                         ids=["str grad", "None grad", "huge int grad", "Value data"])
def test_a_grad_or_data_that_is_no_number_is_refused_before_anything_changes(make, field, bad):
    mlp = MLP(2, [3, 1], seed=0)
    opt = make(mlp.parameters())
    mlp([0.5, -1.0])[0].backward()
    opt.step()

    def state():
        return [p.data for p in mlp.parameters()], {k: list(v) if isinstance(v, list) else v
                                                    for k, v in vars(opt).items()}

    before = state()
    setattr(mlp.parameters()[7], field, bad)
    with pytest.raises(TypeError, match=f"parameter 7's {field} is .*no parameter was changed"):
        opt.step()
    mlp.parameters()[7].data = before[0][7]
    assert state() == before


@pytest.mark.parametrize("make", [optim.SGD, lambda ps: optim.Adam(ps, lr=0.1)])
@pytest.mark.parametrize("line", [1, 2, 6, 9, 12])
def test_ctrl_c_during_a_step_leaves_it_whole(make, line):
    mlp = MLP(2, [3, 1], seed=0)
    opt = make(mlp.parameters())
    mlp([0.5, -1.0])[0].backward()
    twin = MLP(2, [3, 1], seed=0)
    twin_opt = make(twin.parameters())
    for p, q in zip(mlp.parameters(), twin.parameters(), strict=True):
        q.grad = p.grad
    twin_opt.step()  # where a whole step lands
    before = [p.data for p in mlp.parameters()]
    with ctrl_c_at(type(opt).step.__code__, line), pytest.raises(KeyboardInterrupt):
        opt.step()
    after = [p.data for p in mlp.parameters()]
    assert after in (before, [p.data for p in twin.parameters()])  # none or all stepped

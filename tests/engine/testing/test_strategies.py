"""engine.strategies: what they draw (good points, diamonds, user ops), how it prints and shrinks,
and the main property: every drawn program's gradients pass gradcheck on the real engine.

The volume run (documented in docs/testing.md) is this file's first test with more examples:
DELTAGRAD_PROFILE=thorough DELTAGRAD_MAX_EXAMPLES=100000 python -m pytest \
    tests/engine/testing/test_strategies.py -k random_graphs --hypothesis-show-statistics
"""

import math
import os
import re

import pytest
from hypothesis import HealthCheck, assume, find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument, NoSuchExample

import nn
from engine import Value, apply
from engine.derivatives import OPS, POSITIVE, Op
from engine.testing import assert_grads_match_numeric, numeric_grad, registered
from engine.testing.programs import Constant
from engine.testing.strategies import (
    PROFILES,
    expressions,
    finite_floats,
    graphs,
    leaves,
    op_names,
    points,
    register_profiles,
)
from nn.strategies import datasets, mlps

# -- the main property --------------------------------------------------------------------------


@given(graphs())
def test_random_graphs_pass_gradcheck(program):
    assert_grads_match_numeric(program)


@given(expressions())
def test_random_expressions_pass_gradcheck(program):
    assert_grads_match_numeric(program)


@given(st.data())
def test_other_points_of_a_program_pass_gradcheck(data):
    program = data.draw(graphs(max_nodes=5))
    xs = data.draw(points(program))
    assert program.problem_at(xs) is None
    assert_grads_match_numeric(program, *xs)


# -- what the strategies draw -------------------------------------------------------------------


@given(graphs(ops=["relu", "abs", "leaky_relu", "log", "sqrt", "/", "pow", "-"]))
def test_every_intermediate_is_good_at_the_drawn_point(program):
    # zeros, equal pairs (x - x) and tiny floats are hypothesis' favourites: none may reach a
    # kink or the edge of a domain
    assert program.problem_at(program.point) is None
    values = program.evaluate(*program.point)
    for k, ins in enumerate(program.instructions, start=program.n_inputs):
        op = OPS[ins.op]
        args = [a.value if isinstance(a, Constant) else values[a] for a in ins.operands]
        if op.kinks:
            assert all(abs(args[0] - kink) >= 0.01 for kink in op.kinks), program
        for j, domain in enumerate(op.domain):
            if domain == POSITIVE and j not in op.constants:
                assert args[j] >= 0.01, program
        assert math.isfinite(values[k]) and abs(values[k]) <= 1e3


def _paths_of_different_lengths(program):
    """Is some interior node reached from the output by paths of two different lengths?"""
    users = {k: [] for k in range(program.size)}
    for k, ins in enumerate(program.instructions, start=program.n_inputs):
        for a in ins.operands:
            if not isinstance(a, Constant):
                users[a].append(k)
    lengths = {}
    for k in reversed(range(program.size)):  # users come after their operands
        own = {1} if program.output is None else ({0} if k == program.output else set())
        lengths[k] = own | {n + 1 for u in users[k] for n in lengths[u]}
    return any(len(lengths[k]) > 1 for k in range(program.n_inputs, program.size))


def test_graphs_often_have_diamonds_and_trees_never_do():
    seen = {"graphs": [], "expressions": []}

    @settings(max_examples=200, derandomize=True, database=None)
    @given(graphs(), expressions())
    def collect(graph, tree):
        seen["graphs"].append(_paths_of_different_lengths(graph))
        seen["expressions"].append(_paths_of_different_lengths(tree))

    collect()
    assert sum(seen["graphs"]) >= 0.3 * len(seen["graphs"])
    assert not any(seen["expressions"])


def test_shrinking_gives_a_minimal_diamond():
    program = find(graphs(), _paths_of_different_lengths,
                   settings=settings(database=None, derandomize=True, max_examples=1000))
    assert len(program.instructions) == 2, program


def test_a_registered_op_is_drawn_inside_its_domain_and_away_from_its_kink():
    # x^1.5 needs x > 0; declare a kink at 1 to see it avoided as well
    op = Op(lambda x: x ** 1.5, lambda x, out: (1.5 * math.sqrt(x),), 1, (POSITIVE,),
            kinks=(1.0,))
    with registered("pow_three_halves", op):
        assert "pow_three_halves" in op_names() and "pow_three_halves" not in op_names(kinks=False)

        def uses_it(program):
            values = program.evaluate(*program.point)
            for ins in program.instructions:
                if ins.op == "pow_three_halves":
                    x = values[ins.operands[0]]
                    assert x >= 0.01 and abs(x - 1.0) >= 0.01
                    return True
            return False

        found = find(graphs(ops=["pow_three_halves", "+"]), uses_it,
                     settings=settings(database=None, derandomize=True))
        assert_grads_match_numeric(found)
    assert "pow_three_halves" not in op_names()


def test_ops_that_finite_differences_cannot_check_are_left_out():
    step = Op(lambda x: float(math.floor(x)), (0.0,), 1, smooth=False)
    with registered("floor", step):
        assert "floor" not in op_names()


@given(finite_floats(-1.0, 1.0, avoid=(0.0, 0.5), margin=0.05))
def test_finite_floats_are_finite_normal_and_away_from_avoided_points(x):
    assert -1.0 <= x <= 1.0 and math.isfinite(x)
    assert x == 0 or abs(x) >= 2.2250738585072014e-308
    assert abs(x) >= 0.05 and abs(x - 0.5) >= 0.05


@pytest.mark.parametrize(("lo", "hi", "avoid", "margin"), [
    (0.0, 0.02, (0.0,), 0.01),  # only the right side fits
    (-0.02, 0.005, (0.0,), 0.01),  # only the left side fits
    (-1.0, 0.02, (0.0, 0.015), 0.01),  # pushed left from 0.015, a draw must not land near 0
    (-1.0, 1.0, (0.1, 0.3), 0.01),  # 0.1 + 0.01 rounds to a number under 0.01 from 0.1
])
def test_pushed_out_draws_stay_in_range_and_away_from_every_avoided_point(lo, hi, avoid, margin):
    def bad(x):
        return not lo <= x <= hi or any(abs(x - a) < margin for a in avoid)

    with pytest.raises(NoSuchExample):
        find(finite_floats(lo, hi, avoid=avoid, margin=margin), bad,
             settings=settings(database=None, derandomize=True, max_examples=300))
    assert not bad(find(finite_floats(lo, hi, avoid=avoid, margin=margin), lambda x: True))


def test_a_range_with_nothing_far_enough_from_avoid_is_refused_when_built():
    with pytest.raises(InvalidArgument) as caught:
        finite_floats(0.0, 0.005, avoid=[0.0])
    assert str(caught.value).startswith(
        "finite_floats(lo=0.0, hi=0.005, avoid=(0.0,), margin=0.01) can draw nothing")
    with pytest.raises(InvalidArgument, match="can draw nothing"):  # two stretches that touch
        finite_floats(-0.005, 0.025, avoid=[0.0, 0.019])
    with pytest.raises(ValueError, match="finite margin >= 0"):
        finite_floats(avoid=[0.0], margin=-1.0)


@given(leaves(label="w"))
def test_leaves_are_labelled_leaf_values(w):
    assert type(w) is Value and w.label == "w" and not w.parents and -2 <= w.data <= 2


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="finite_floats needs lo < hi"):
        finite_floats(1.0, 0.0)
    with pytest.raises(ValueError, match="unknown operations \\['nope'\\]"):
        find(graphs(ops=["nope"]), bool)
    with pytest.raises(ValueError, match="task must be 'regression' or 'binary'"):
        find(datasets(task="ranking"), bool)


@pytest.mark.parametrize("strategy", [graphs, expressions])
@pytest.mark.parametrize("ops", ["+-", "tanh"])
def test_a_str_of_ops_is_refused_not_split_into_characters(strategy, ops):
    # "+-" split into characters is the two valid ops + and -: it used to be accepted
    with pytest.raises(TypeError, match=rf"ops must be a list of operation names, not the str "
                                        rf"'{re.escape(ops)}' \(write ops=\['"):
        find(strategy(ops=ops), bool)


@pytest.mark.parametrize(("argument", "names"), [("activations", "tanh"),
                                                 ("output_activations", "relu"),
                                                 ("inits", "he")])
def test_mlps_refuse_a_str_of_names_and_unknown_names(argument, names):
    with pytest.raises(TypeError, match=f"{argument} must be a list of names, not the str"):
        mlps(**{argument: names})
    with pytest.raises(ValueError, match=rf"{argument}: unknown names \['{names[0]}', "):
        mlps(**{argument: list(names)})
    mlp = find(mlps(**{argument: [names]}), lambda m: True)
    assert isinstance(mlp, nn.MLP)


# -- how programs print ---------------------------------------------------------------------------


def _namespace(point):
    ns = {name: (lambda n: lambda *args: apply(n, *args))(name) for name in OPS}
    ns["abs"] = abs
    ns.update({f"x{i}": Value(x) for i, x in enumerate(point)})
    return ns


@given(graphs())
def test_the_repr_is_python_that_computes_the_same_value(program):
    *definitions, expression = program.expression.split("; ")
    ns = _namespace(program.point)
    for line in definitions:
        exec(line, ns)
    value = eval(expression, ns).data
    assert value == pytest.approx(program(*program.point).data, rel=1e-12, abs=1e-12)
    assert repr(program).endswith("  where " + ", ".join(
        f"x{i} = {x!r}" for i, x in enumerate(program.point)))


@given(expressions())
def test_a_tree_prints_as_one_expression(program):
    assert ";" not in program.expression
    value = eval(program.expression, _namespace(program.point)).data
    assert value == pytest.approx(program(*program.point).data, rel=1e-12, abs=1e-12)


# -- networks and data ----------------------------------------------------------------------------


def _loss(mlp, data):
    return Value.sum((out - y) ** 2 for x, y in zip(data.X, data.y, strict=True)
                     for out in mlp(x))


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mlp_gradients_match_numeric_ones(data):
    mlp = data.draw(mlps(widths=st.lists(st.integers(1, 3), min_size=1, max_size=2)))
    dataset = data.draw(datasets(nin=mlp.nin, n=st.integers(1, 3)))
    for x in dataset.X:  # keep every pre-activation a margin away from relu's kink
        assume(all(abs(z.data) >= 0.01 for layer in mlp.trace(x) for z in layer.z))
    params = mlp.parameters()
    _loss(mlp, dataset).backward()
    checked = data.draw(st.lists(st.integers(0, len(params) - 1), min_size=1, max_size=4,
                                 unique=True))
    for i in checked:
        p, original = params[i], params[i].data

        def loss_at(v, p=p):  # the loss as a function of this one parameter's data
            p.data = v.data
            return _loss(mlp, dataset)

        (numeric,) = numeric_grad(loss_at, original)
        p.data = original
        assert p.grad == pytest.approx(numeric, rel=1e-3, abs=1e-5), (mlp, i)


@given(datasets(nin=2, task="binary"))
def test_binary_datasets(dataset):
    assert all(len(x) == 2 for x in dataset.X) and set(dataset.y) <= {0, 1}
    assert 1 <= len(dataset.X) == len(dataset.y) <= 8


@given(mlps(nin=2))
def test_mlps_take_the_drawn_number_of_inputs(mlp):
    assert isinstance(mlp, nn.MLP) and mlp.nin == 2 and len(mlp([0.5, -0.5])) >= 1


# -- settings profiles ----------------------------------------------------------------------------


@pytest.fixture
def restore_profiles(monkeypatch):
    yield monkeypatch
    monkeypatch.undo()
    register_profiles(load=False)  # the profiles as the environment of the run asks


def test_profiles_are_chosen_by_environment(restore_profiles):
    env = restore_profiles
    env.setenv("DELTAGRAD_PROFILE", "thorough")
    env.delenv("DELTAGRAD_MAX_EXAMPLES", raising=False)
    assert register_profiles(load=False) == "thorough"
    assert settings.get_profile("thorough").max_examples == PROFILES["thorough"]["max_examples"]
    env.setenv("DELTAGRAD_MAX_EXAMPLES", "123")
    register_profiles(load=False)
    assert settings.get_profile("thorough").max_examples == 123
    ci = settings.get_profile("ci")
    assert ci.derandomize and ci.deadline is None and ci.database is None
    env.delenv("DELTAGRAD_PROFILE")
    env.setenv("CI", "true")
    env.delenv("DELTAGRAD_MAX_EXAMPLES")
    assert register_profiles(load=False) == "ci"


def test_unknown_profiles_are_named(restore_profiles):
    restore_profiles.setenv("DELTAGRAD_PROFILE", "fast")
    with pytest.raises(ValueError, match="DELTAGRAD_PROFILE='fast' is not a profile"):
        register_profiles(load=False)
    restore_profiles.setenv("DELTAGRAD_PROFILE", "ci")
    restore_profiles.setenv("DELTAGRAD_MAX_EXAMPLES", "many")
    with pytest.raises(ValueError, match="DELTAGRAD_MAX_EXAMPLES must be a positive integer"):
        register_profiles(load=False)


def test_this_run_uses_a_registered_profile():
    assert os.environ.get("DELTAGRAD_PROFILE", "ci") in PROFILES

"""The bug zoo: tests of the tests.

Each classic backward-pass bug is planted as a mutant of the real engine, and the strategies plus
gradcheck must catch it within a bounded number of examples, with the right kind of failure, and
for a wrong local derivative a culprit that names the mutated op. Mutants are made from the
engine's current source with ``ast`` (located by structure, not by line numbers) and applied in a
context manager that always puts the real engine back. If the engine is rewritten so that a
mutation site no longer exists, the mutant fails loudly and names what it looked for.
"""

import __future__

import ast
import contextlib
import inspect
import math
import textwrap

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.stateful import run_state_machine_as_test

import engine.value as value_module
from engine import Value, apply
from engine.derivatives import OPS, Op
from engine.testing import (
    MISMATCH,
    MISSING_CHAIN_RULE,
    STALE_INTERIOR_GRADS,
    GradcheckError,
    gradcheck,
    registered,
)
from engine.testing.stateful import GraphMachine
from engine.testing.strategies import expressions, graphs

# -- making mutants -------------------------------------------------------------------------------


class MutationSiteNotFound(AssertionError):
    pass


def _is_grad(node):
    return isinstance(node, ast.Attribute) and node.attr == "grad"


def _is_chain_rule(node):
    """``<x>.grad += <a> * <b>``: the chain-rule line of the backward pass."""
    return (isinstance(node, ast.AugAssign) and isinstance(node.op, ast.Add)
            and _is_grad(node.target) and isinstance(node.value, ast.BinOp)
            and isinstance(node.value.op, ast.Mult))


class Mutation(ast.NodeTransformer):
    looks_for = ""
    sites = 0


class Overwrite(Mutation):
    looks_for = "the chain rule `<parent>.grad += <local derivative> * g` (an AugAssign)"

    def visit_AugAssign(self, node):
        if not _is_chain_rule(node):
            return node
        self.sites += 1
        target = ast.Attribute(node.target.value, "grad", ast.Store())
        return ast.copy_location(ast.Assign([target], node.value), node)


class NoUpstream(Mutation):
    looks_for = "the multiply `<local derivative> * <upstream gradient>` in the chain rule"

    def visit_AugAssign(self, node):
        if not _is_chain_rule(node):
            return node
        self.sites += 1  # keep the local derivative (written first), drop the upstream gradient
        node.value = node.value.left
        return node


class BreadthFirst(Mutation):
    looks_for = "the topological sort (`nodes.sort(...)` or `sorted(...)`) of the backward pass"

    def visit_Expr(self, node):
        call = node.value
        if (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                and call.func.attr == "sort"):
            self.sites += 1
            return ast.copy_location(ast.Pass(), node)
        return node

    def visit_Call(self, node):
        self.generic_visit(node)
        if isinstance(node.func, ast.Name) and node.func.id == "sorted" and node.args:
            self.sites += 1
            return ast.copy_location(ast.Call(ast.Name("list", ast.Load()), [node.args[0]], []),
                                     node)
        return node


class StaleInteriorGrads(Mutation):
    looks_for = ("the walk of the backward pass, `walk(self)`, which resets interior gradients "
                 "(the mutant calls backward_order, which puts them back)")

    def visit_Call(self, node):
        self.generic_visit(node)
        if isinstance(node.func, ast.Name) and node.func.id == "walk":
            self.sites += 1
            node.func = ast.copy_location(ast.Name("backward_order", ast.Load()), node.func)
        return node


MUTATIONS = {"overwrite": Overwrite, "no_upstream": NoUpstream, "breadth_first": BreadthFirst,
             "stale_interior_grads": StaleInteriorGrads}


PASS_MODULES = {value_module.__name__, "engine.graph_order"}  # backward, and the walk it runs


def _backward_pass_functions():
    """Where the backward pass lives: Value.backward and the functions of engine.value it calls,
    directly or not (found through the names their code uses)."""
    backward = Value.__dict__["backward"]
    found, seen = [(Value, "backward", backward)], {"backward"}
    names = _names_used(backward.__code__)
    while names:
        name = names.pop()
        obj = vars(value_module).get(name)
        if name in seen or not inspect.isfunction(obj) or obj.__module__ not in PASS_MODULES:
            continue
        seen.add(name)
        found.append((value_module, name, obj))
        names |= _names_used(obj.__code__)
    return found


def _names_used(code):
    names = set(code.co_names)
    for const in code.co_consts:  # nested functions and comprehensions
        if inspect.iscode(const):
            names |= _names_used(const)
    return names


def _mutated(function, mutation):
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    tree = ast.fix_missing_locations(mutation.visit(tree))
    if not mutation.sites:
        return None
    code = compile(tree, f"<mutant {type(mutation).__name__} of {function.__qualname__}>", "exec",
                   flags=__future__.annotations.compiler_flag, dont_inherit=True)
    namespace = {}
    exec(code, function.__globals__, namespace)  # globals: the engine module, as the original
    if function.__name__ not in namespace:
        raise MutationSiteNotFound(
            f"the source read for {function.__qualname__} does not define it: was "
            f"{inspect.getsourcefile(function)} edited while the tests ran?")
    return namespace[function.__name__]


@contextlib.contextmanager
def mutant(name):
    """The engine with one planted bug: a MUTATIONS name, or ``"rule:<op>"`` (wrong rule)."""
    patches = []
    try:
        if name.startswith("rule:"):
            op = name.removeprefix("rule:")
            patches.append((OPS[op], "local", OPS[op].local))  # the entry every node reads
            OPS[op].local = WRONG_RULES[op]
        else:
            sites = 0
            for owner, attr, function in list(_backward_pass_functions()):
                mutation = MUTATIONS[name]()
                new = _mutated(function, mutation)
                if new is not None:
                    patches.append((owner, attr, function))
                    setattr(owner, attr, new)
                    sites += mutation.sites
            if not sites:
                raise MutationSiteNotFound(
                    f"mutant {name!r}: could not find {MUTATIONS[name].looks_for} in "
                    "Value.backward or the functions of engine.value; update the bug zoo")
        yield
    finally:
        for owner, attr, original in reversed(patches):
            setattr(owner, attr, original)


WRONG_RULES = {  # each a classic slip, next to the right rule in the comment
    "tanh": lambda x, out: (1.0 - out,),  # 1 - out²
    "sigmoid": lambda x, out: (out,),  # out * (1 - out)
    "*": lambda x, y, out: (y, y),  # (y, x)
    "/": lambda x, y, out: (1.0 / y, out / y),  # (1/y, -out/y)
    "exp": lambda x, out: (x,),  # out
    "log": lambda x, out: (-1.0 / x,),  # 1/x
    "pow": lambda x, y, out: (y * x ** (y - 1), out * x),  # (.., out * log x)
    "leaky_relu": lambda x, slope, out: (1.0 if x > 0 else 0.0, 0.0),  # slope below 0
    "sqrt": lambda x, out: (0.5 / x,),  # 0.5 / out
}


# -- catching them --------------------------------------------------------------------------------

BOUND = 200  # examples within which every mutant must be caught


def caught(strategy, check=gradcheck):
    """Run ``check`` on programs drawn from ``strategy`` until one fails; return (error, the
    number of examples up to the first failure, the shrunk program)."""
    count = {"examples": 0, "first_failure": None}
    shrunk = []

    @settings(max_examples=BOUND, derandomize=True, database=None, deadline=None,
              report_multiple_bugs=False, phases=[Phase.generate, Phase.shrink],
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def run(program):
        count["examples"] += 1
        shrunk[:] = [program]
        try:
            check(program, *program.point)
        except GradcheckError:
            if count["first_failure"] is None:
                count["first_failure"] = count["examples"]
            raise

    with pytest.raises(GradcheckError) as error:
        run()
    return error.value, count["first_failure"], shrunk[0]


@pytest.mark.parametrize("op", sorted(WRONG_RULES))
def test_a_wrong_local_derivative_is_caught_and_named(op):
    with mutant(f"rule:{op}"):
        error, first, program = caught(graphs())
    result = error.result
    assert first <= BOUND and MISMATCH in result.kinds
    assert result.culprit.op == op, str(result)
    assert f"check {op}'s local derivative" in str(result.culprit)
    assert len(program.instructions) <= 2, program  # shrunk to a small program


def test_a_wrong_rule_of_a_user_op_is_caught_and_named():
    softplus = Op(lambda x: math.log1p(math.exp(x)), lambda x, out: (1 / (1 + math.exp(x)),), 1)
    with registered("softplus", softplus):  # the planted slip: sigmoid(-x) instead of sigmoid(x)
        error, _, program = caught(graphs())
    assert error.result.culprit.op == "softplus"
    assert str(error.result.culprit).endswith("check softplus's local derivative")
    assert [ins.op for ins in program.instructions] == ["softplus"]


def test_overwriting_instead_of_accumulating_is_caught():
    with mutant("overwrite"):
        error, first, program = caught(graphs())
    # shrinks to a lone input: the second backward pass overwrites its gradient
    assert first <= BOUND and error.result.kinds == [STALE_INTERIOR_GRADS]
    assert "(= instead of +=)" in str(error.result)
    assert "adds (+=) the contribution of every use" in str(error.result.culprit)

    def mismatches_only(program, *xs):  # one pass misses every use of a node but the last
        result = gradcheck(program, *xs, raise_exception=False)
        if MISMATCH in result.kinds:
            raise GradcheckError(result)

    with mutant("overwrite"):
        error, first, program = caught(graphs(), check=mismatches_only)
    assert first <= BOUND and len(program.instructions) == 1, program
    assert "adds (+=) the contribution of every use" in str(error.result.culprit)


def test_a_breadth_first_backward_is_caught_by_graphs_but_not_by_trees():
    with mutant("breadth_first"):
        error, first, program = caught(graphs())
        assert first <= BOUND and MISMATCH in error.result.kinds
        assert "after all nodes that use it" in str(error.result.culprit)
        assert len(program.instructions) == 2, program  # the minimal diamond

        @settings(max_examples=BOUND, derandomize=True, database=None, deadline=None)
        @given(expressions())
        def trees_pass(program):  # no shared interior node: the order never matters
            gradcheck(program, *program.point)

        trees_pass()


def test_a_missing_multiply_by_the_upstream_gradient_is_caught():
    with mutant("no_upstream"):
        error, first, _ = caught(graphs())
    assert first <= BOUND and MISSING_CHAIN_RULE in error.result.kinds
    assert error.result.culprit is not None


def test_interior_grads_not_reset_are_caught():
    with mutant("stale_interior_grads"):
        error, first, _ = caught(graphs())
    assert first <= BOUND and error.result.kinds == [STALE_INTERIOR_GRADS]
    assert "reset interior gradients to 0" in str(error.result.culprit)


@pytest.mark.parametrize("name", [*sorted(MUTATIONS), "rule:tanh"])
def test_the_state_machine_catches_each_backward_mutant(name):
    with mutant(name), pytest.raises(AssertionError):
        run_state_machine_as_test(GraphMachine, settings=settings(
            max_examples=BOUND, derandomize=True, database=None, deadline=None,
            stateful_step_count=20, phases=[Phase.generate], report_multiple_bugs=False,
            suppress_health_check=list(HealthCheck)))


# -- the mutants are alive, and always undone ------------------------------------------------------


def _diamond():
    x = Value(0.5)
    a = x.tanh()
    out = Value.sum([x, a, a.tanh()])
    return x, out


def test_each_mutant_really_breaks_the_engine():
    # by hand: d/dx of x*x at 3 is 6; of x + t + tanh(t), t = tanh(x): 1 + t'(x) (1 + t'(t))
    with mutant("overwrite"):
        x = Value(3.0)
        (x * x).backward()
        assert x.grad == 3.0
    with mutant("breadth_first"):
        x, out = _diamond()
        out.backward()
        t = math.tanh(0.5)
        assert x.grad != pytest.approx(1 + (1 - t * t) * (1 + 1 - math.tanh(t) ** 2))
    with mutant("no_upstream"):
        x = Value(0.5)
        x.tanh().backward(2.0)
        assert x.grad == pytest.approx(1 - math.tanh(0.5) ** 2)
    with mutant("stale_interior_grads"):
        x = Value(0.5)
        out = (x * 2).tanh()
        out.backward()
        out.backward()
        assert x.grad != pytest.approx(2 * 2 * (1 - math.tanh(1.0) ** 2))
    with mutant("rule:tanh"):
        x = Value(1.0)
        x.tanh().backward()
        assert x.grad == pytest.approx(1 - math.tanh(1.0))


def _engine_is_real():
    x, out = _diamond()
    out.backward()
    out.backward()
    t = math.tanh(0.5)
    assert x.grad == pytest.approx(2 * (1 + (1 - t * t) * (2 - math.tanh(t) ** 2)), rel=1e-15)
    y = Value(3.0)
    apply("*", y, y).backward(2.0)
    assert y.grad == 12.0


@pytest.mark.parametrize("name", [*sorted(MUTATIONS), "rule:*"])
def test_a_mutant_is_undone_even_when_the_test_fails(name):
    originals = (Value.__dict__["backward"], dict(vars(value_module)),
                 {name: op.local for name, op in OPS.items()})
    with pytest.raises(ZeroDivisionError), mutant(name):
        raise ZeroDivisionError("a test failing while the mutant is applied")
    assert Value.__dict__["backward"] is originals[0]
    assert all(vars(value_module)[k] is v for k, v in originals[1].items())
    assert {name: op.local for name, op in OPS.items()} == originals[2]
    _engine_is_real()


def test_a_missing_mutation_site_fails_loudly(monkeypatch):
    def backward(self, grad=1.0):  # an engine rewritten beyond recognition
        raise NotImplementedError

    monkeypatch.setattr(Value, "backward", backward)
    monkeypatch.setattr(value_module, "backward_order", lambda root: [root])
    with pytest.raises(MutationSiteNotFound, match="could not find the chain rule"), \
            mutant("overwrite"):
        pass


def test_the_real_engine_passes_everything_the_zoo_runs():
    _engine_is_real()
    for strategy in (graphs(), expressions()):
        @settings(max_examples=BOUND, derandomize=True, database=None, deadline=None)
        @given(strategy)
        def passes(program):
            gradcheck(program, *program.point)

        passes()

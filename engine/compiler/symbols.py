"""The local derivatives of the table as text: each op's own rule run on symbols.

A :class:`Symbol` is an expression being written (``1.0 - a * a``): arithmetic on it writes
the operation instead of doing it, with the parentheses that keep Python's order of operations
(so the text computes the same floats, in the same order, as the rule on numbers). The rules
branch on their operands (``0.0 if x <= 0 else 1.0``): a comparison of a symbol is a condition,
and :func:`derived` runs the rule once per way through its branches, joining the results with
``where(condition, if_true, if_false)``. ``where`` is one function on floats and ``np.where`` on
arrays, so one text serves the one-sample program and the batch program.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from engine.derivatives import ATOM, POWER, PREFIX, PRODUCT, SUM

COMPARISON = 0  # binds less tightly than any arithmetic
MAX_BRANCHES = 8  # comparisons a rule may make on one way through it


class NotSymbolic(Exception):
    """The rule did something that cannot be written as an expression (math.exp on a symbol)."""


class Symbol:
    """An expression's text and how tightly it binds (``ATOM`` for a name or a call)."""

    __slots__ = ("text", "precedence")
    __hash__ = None  # type: ignore[assignment]  # == writes a condition

    def __init__(self, text: str, precedence: int = ATOM) -> None:
        self.text = text
        self.precedence = precedence

    # the helpers of engine.derivatives call these on anything that is not a float
    @property
    def data(self) -> Symbol:
        return self

    def log(self) -> Symbol: return call("log", self)
    def sin(self) -> Symbol: return call("sin", self)
    def cos(self) -> Symbol: return call("cos", self)
    def exp(self) -> Symbol: return call("exp", self)
    def tanh(self) -> Symbol: return call("tanh", self)
    def sqrt(self) -> Symbol: return call("sqrt", self)

    def __add__(self, o): return infix(self, "+", o, SUM)
    def __radd__(self, o): return infix(o, "+", self, SUM)
    def __sub__(self, o): return infix(self, "-", o, SUM)
    def __rsub__(self, o): return infix(o, "-", self, SUM)
    def __mul__(self, o): return infix(self, "*", o, PRODUCT)
    def __rmul__(self, o): return infix(o, "*", self, PRODUCT)
    def __truediv__(self, o): return call("div", self, o)  # IEEE: x/0 is inf, not an error
    def __rtruediv__(self, o): return call("div", o, self)
    def __pow__(self, o):  # x ** 1.0 is x, bit for bit (IEEE pow): the rule of x ** 2 reads 2.0 * x
        return self if type(o) is float and o == 1.0 else call("power", self, o)
    def __rpow__(self, o): return call("power", o, self)
    def __neg__(self): return Symbol("-" + operand(self, PREFIX, right=True), PREFIX)
    def __pos__(self): return self
    def __abs__(self): return call("abs", self)

    def __lt__(self, o): return Condition(infix(self, "<", o, COMPARISON).text)
    def __le__(self, o): return Condition(infix(self, "<=", o, COMPARISON).text)
    def __gt__(self, o): return Condition(infix(self, ">", o, COMPARISON).text)
    def __ge__(self, o): return Condition(infix(self, ">=", o, COMPARISON).text)
    def __eq__(self, o): return Condition(infix(self, "==", o, COMPARISON).text)  # type: ignore
    def __ne__(self, o): return Condition(infix(self, "!=", o, COMPARISON).text)  # type: ignore

    def __bool__(self) -> bool:  # ``if x``: x != 0
        return bool(Condition(infix(self, "!=", 0, COMPARISON).text))

    def __float__(self) -> float:
        raise NotSymbolic("float() of a symbol")

    def __index__(self) -> int:
        raise NotSymbolic("int() of a symbol")

    def __repr__(self) -> str:
        return self.text


class Condition(Symbol):
    """A comparison: its truth is decided by the branch being explored (see :func:`derived`)."""

    __slots__ = ()

    def __init__(self, text: str) -> None:
        super().__init__(text, COMPARISON)

    def __bool__(self) -> bool:
        return _BRANCHES.decide(self.text)


def literal(x: object) -> Symbol:
    """A number as Python text that reads back as the same float (``inf`` and ``nan`` are names
    in the programs' namespaces)."""
    if isinstance(x, Symbol):
        return x
    if isinstance(x, bool):
        x = float(x)
    if not isinstance(x, int | float):
        raise NotSymbolic(f"a {type(x).__name__} in a rule")
    x = float(x)
    if math.isnan(x):
        return Symbol("nan")
    if math.isinf(x):
        return Symbol("inf" if x > 0 else "-inf", PREFIX)
    text = repr(x)
    return Symbol(text, PREFIX if text.startswith("-") else ATOM)


def operand(x: object, precedence: int, right: bool = False) -> str:
    """``x``'s text as an operand of an operation that binds as ``precedence``: in parentheses
    if it binds less tightly, or as tightly on the right (``a - (b - c)``: floats do not
    reassociate)."""
    s = literal(x)
    if s.precedence < precedence or (right and s.precedence == precedence):
        return f"({s.text})"
    return s.text


def infix(x: object, symbol: str, y: object, precedence: int) -> Symbol:
    if precedence == POWER:  # right-associative: a ** b ** c is a ** (b ** c)
        return Symbol(f"{operand(x, POWER + 1)} ** {operand(y, POWER)}", POWER)
    return Symbol(f"{operand(x, precedence)} {symbol} {operand(y, precedence, right=True)}",
                  precedence)


def call(name: str, *args: object) -> Symbol:
    return Symbol(f"{name}({', '.join(literal(a).text for a in args)})")


class _Branches:
    """The decisions of the branch being explored: the first ``len(script)`` comparisons get
    the scripted answers; the next one stops the run (``_Undecided``) so both answers are tried."""

    def __init__(self) -> None:
        self.script: list[bool] = []
        self.made = 0

    def decide(self, condition: str) -> bool:
        if self.made < len(self.script):
            self.made += 1
            return self.script[self.made - 1]
        raise _Undecided(condition)


class _Undecided(Exception):
    pass


_BRANCHES = _Branches()


def derived(rule: Callable[..., object], args: Sequence[object]) -> tuple[Symbol, ...]:
    """The local derivatives ``rule(*args)`` as expressions, ``args`` symbols (operands computed
    by the program) and numbers (constants); a rule that branches on a symbol gives
    ``where(...)`` expressions. Raises :class:`NotSymbolic` if the rule cannot run on symbols."""
    return _explore(rule, args, [])


def _explore(rule: Callable[..., object], args: Sequence[object],
             script: list[bool]) -> tuple[Symbol, ...]:
    if len(script) > MAX_BRANCHES:
        raise NotSymbolic(f"more than {MAX_BRANCHES} comparisons on one way through the rule")
    saved = _BRANCHES.script, _BRANCHES.made
    _BRANCHES.script, _BRANCHES.made = script, 0
    try:
        result = rule(*args)
    except _Undecided as undecided:
        condition = undecided.args[0]
    except NotSymbolic:
        raise
    except Exception as error:  # math.exp(symbol), a type check...: not a formula of symbols
        raise NotSymbolic(f"{type(error).__name__}: {error}") from error
    else:
        if not isinstance(result, tuple | list):
            raise NotSymbolic(f"the rule returned a {type(result).__name__}, not a tuple")
        return tuple(literal(x) for x in result)
    finally:
        _BRANCHES.script, _BRANCHES.made = saved
    if_true = _explore(rule, args, [*script, True])
    if_false = _explore(rule, args, [*script, False])
    if len(if_true) != len(if_false):
        raise NotSymbolic("the rule's branches give different numbers of derivatives")
    return tuple(a if a.text == b.text else call("where", Symbol(condition), a, b)
                 for a, b in zip(if_true, if_false, strict=True))

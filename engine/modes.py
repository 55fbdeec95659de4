"""Modes that change how operations are recorded: ``no_grad`` and ``detect_anomaly``.

The mode lives in a context variable, so each thread and each asyncio task has its own: a
``no_grad()`` block in one task never stops another task from recording its graph.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import threading
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class Mode(NamedTuple):
    record: bool  # operations store their op and parents (False: results are leaves)
    anomaly: bool  # the first nan or inf produced raises FloatingPointError
    tracing: bool = False  # engine.compile is tracing: a branch on a Value's number warns


RECORDING = Mode(record=True, anomaly=False)
MODE: contextvars.ContextVar[Mode] = contextvars.ContextVar("deltagrad_mode", default=RECORDING)

_OPEN_TOKENS: contextvars.ContextVar[tuple[contextvars.Token[Mode], ...]] = \
    contextvars.ContextVar("deltagrad_open_mode_blocks", default=())
"""The tokens of the blocks open in this thread or task, innermost last: each ``with`` puts back
its own state, even when one block object is entered by several threads or tasks at once."""

OPEN_ANOMALY_BLOCKS = [0]
"""How many detect_anomaly blocks are open in any thread or task: while it is 0, the backward
pass skips reading MODE (a measurable share of a small backward). MODE still decides."""
_count_lock = threading.Lock()


class ModeBlock:
    """A block (``with``) or a function (decorator) that runs with some mode settings changed.

    As a decorator it works on plain and ``async`` functions. A generator cannot be decorated:
    its body runs piecemeal, interleaved with its caller's code; put the ``with`` block inside.
    """

    def __init__(self, **changes: bool) -> None:
        self.changes = changes

    def __enter__(self) -> None:
        if self.changes.get("anomaly"):
            with _count_lock:
                OPEN_ANOMALY_BLOCKS[0] += 1
        token = MODE.set(MODE.get()._replace(**self.changes))
        _OPEN_TOKENS.set((*_OPEN_TOKENS.get(), token))

    def __exit__(self, *exc_info: object) -> None:
        *outer, token = _OPEN_TOKENS.get()  # this thread's or task's innermost block: this one
        _OPEN_TOKENS.set(tuple(outer))
        MODE.reset(token)
        if self.changes.get("anomaly"):
            with _count_lock:
                OPEN_ANOMALY_BLOCKS[0] -= 1

    def __call__(self, function: F) -> F:
        changes = self.changes
        if inspect.isgeneratorfunction(function) or inspect.isasyncgenfunction(function):
            raise TypeError(f"{function.__qualname__} is a generator: use the mode as a `with` "
                            "block inside it, around the code it applies to")
        if inspect.iscoroutinefunction(function):
            @functools.wraps(function)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                with ModeBlock(**changes):  # a fresh block per call: calls may overlap
                    return await function(*args, **kwargs)
            return run_async  # type: ignore[return-value]

        @functools.wraps(function)
        def run(*args: Any, **kwargs: Any) -> Any:
            with ModeBlock(**changes):
                return function(*args, **kwargs)
        return run  # type: ignore[return-value]


class TracerWarning(UserWarning):
    """``engine.compile`` traced a branch on data: its program keeps the way this example took."""


def warn_traced_branch(v: Any) -> None:
    """Warn that code being traced by ``engine.compile`` compares a Value or tests its truth
    (an ``if`` on data): the program keeps the branch taken for the example, for every input."""
    import warnings

    what = repr(v.label) if v.label else f"the {v.op or 'leaf'} node of data {v.data!r}"
    warnings.warn(f"engine.compile: the traced code branches on the number of {what} (a "
                  "comparison or a truth test): the program keeps the branch this example took, "
                  "for every input. Check other inputs with check_inputs=[...], or write the "
                  "branch as an operation (relu, abs, ...)", TracerWarning, stacklevel=4)


def no_grad() -> ModeBlock:
    """Operations inside record no graph: their results are leaves (inference, optimizer steps).

    Use as ``with no_grad(): ...`` or as a decorator ``@no_grad()``.
    """
    return ModeBlock(record=False)


def enable_grad() -> ModeBlock:
    """Record the graph again inside a ``no_grad()`` block."""
    return ModeBlock(record=True)


def detect_anomaly() -> ModeBlock:
    """Raise ``FloatingPointError`` at the first operation or backward step giving nan or inf.

    The error names the operation and its inputs' values and labels. Slower: use it to find
    where a nan comes from, then leave it.
    """
    return ModeBlock(anomaly=True)


def is_grad_enabled() -> bool:
    """Whether operations record their graph here (False inside ``no_grad()``)."""
    return MODE.get().record

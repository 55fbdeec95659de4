"""Modes that change how operations are recorded: ``no_grad`` and ``detect_anomaly``.

The mode lives in a context variable, so each thread and each asyncio task has its own: a
``no_grad()`` block in one task never stops another task from recording its graph.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple


class Mode(NamedTuple):
    record: bool  # operations store their op and parents (False: results are leaves)
    anomaly: bool  # the first nan or inf produced raises FloatingPointError


RECORDING = Mode(record=True, anomaly=False)
MODE: contextvars.ContextVar[Mode] = contextvars.ContextVar("deltagrad_mode", default=RECORDING)


@contextmanager
def _set(**changes: bool) -> Iterator[None]:
    token = MODE.set(MODE.get()._replace(**changes))
    try:
        yield
    finally:
        MODE.reset(token)


def no_grad() -> contextlib.AbstractContextManager[None]:
    """Operations inside record no graph: their results are leaves (inference, optimizer steps).

    Use as ``with no_grad(): ...`` or as a decorator ``@no_grad()``.
    """
    return _set(record=False)


def enable_grad() -> contextlib.AbstractContextManager[None]:
    """Record the graph again inside a ``no_grad()`` block."""
    return _set(record=True)


def detect_anomaly() -> contextlib.AbstractContextManager[None]:
    """Raise ``FloatingPointError`` at the first operation or backward step giving nan or inf.

    The error names the operation and its inputs' values and labels. Slower: use it to find
    where a nan comes from, then leave it.
    """
    return _set(anomaly=True)


def is_grad_enabled() -> bool:
    return MODE.get().record

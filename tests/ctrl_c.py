"""Ctrl-C at a chosen line: a trace function that sends SIGINT while a given function runs, so a
test can interrupt an optimizer step or a training loop at an exact point, every time."""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import CodeType


@contextmanager
def ctrl_c_at(code: CodeType, line: int, call: int = 1) -> Iterator[None]:
    """Send SIGINT at the ``line``-th line event of the ``call``-th run of ``code``."""
    calls = 0

    def tracer(frame, event, arg):
        nonlocal calls
        if frame.f_code is not code:
            return None
        calls += 1
        if calls != call:
            return None
        count = 0

        def local(frame, event, arg):
            nonlocal count
            if event == "line":
                count += 1
                if count == line:
                    signal.raise_signal(signal.SIGINT)
            return local

        return local

    sys.settrace(tracer)
    try:
        yield
    finally:
        sys.settrace(None)

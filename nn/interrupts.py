"""Ctrl-C held back for a few lines: a block that changes many things at once finishes whole.

An optimizer step writes every parameter; a KeyboardInterrupt between two of those writes would
leave a model that no step ever made. Inside :func:`interrupts_deferred` a Ctrl-C is noted, and
delivered, to whatever handler was there before, as soon as the block ends.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["interrupts_deferred"]


@contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Run the block with SIGINT noted instead of handled, then deliver it if one came.

    Only the main thread receives signals, so in any other thread this does nothing (nor when
    the handler was not set from Python, and so could not be put back).
    """
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is None):
        yield
        return
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received:
            signal.raise_signal(signal.SIGINT)  # the previous handler runs now

"""Stopping on ``kill`` as cleanly as on Ctrl-C.

Python ends at once on SIGTERM, so a run stopped by ``kill``, a job scheduler or a container
runtime would leave its candidates running and its state unsaved. Within
:func:`sigterm_interrupts`, SIGTERM raises :class:`KeyboardInterrupt` in the main thread instead:
the same path as Ctrl-C (candidates ended, the journal closed, how to continue printed).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

__all__ = ["sigterm_interrupts"]


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"stopped by signal {signal.Signals(signum).name}")


@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """Within the block, SIGTERM interrupts the main thread as Ctrl-C does (elsewhere: no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)

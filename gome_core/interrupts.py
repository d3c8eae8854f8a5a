"""Stopping on ``kill`` as cleanly as on Ctrl-C.

Python ends at once on SIGTERM, so a run stopped by ``kill``, a job scheduler or a container
runtime would leave its candidates running and its state unsaved. Within
:func:`sigterm_interrupts`, SIGTERM raises :class:`KeyboardInterrupt` in the main thread instead:
the same path as Ctrl-C (candidates ended, the journal closed, how to continue printed).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from types import FrameType

__all__ = ["interrupts_deferred", "sigterm_interrupts"]


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


@contextlib.contextmanager
def interrupts_deferred() -> Iterator[list[int]]:
    """Within the block, Ctrl-C and SIGTERM are noted (the list yielded), not raised: a run that
    is already stopping finishes saving its state instead of being cut off half-way by a second
    one. A signal whose handler was the system's default (terminate) is sent again at the end, so
    the process still ends as asked. Elsewhere than in the main thread: no-op."""
    noted: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield noted
        return

    def note(signum: int, _frame: FrameType | None) -> None:
        noted.append(signum)

    previous = {sig: signal.signal(sig, note) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield noted
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for sig in dict.fromkeys(noted):
            if previous[sig] == signal.SIG_DFL:
                os.kill(os.getpid(), sig)

"""Stopping signals: SIGTERM as Ctrl-C, and further signals held while a run saves its state."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from gome_core.interrupts import interrupts_deferred, sigterm_interrupts


@pytest.fixture(autouse=True)
def _ctrl_c_raises():
    # Where the tests run as a background job, SIGINT starts ignored: give it Python's handler.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def _deliver(signum: int) -> None:
    """Send ``signum`` to this process and give Python the moment to run its handler."""
    os.kill(os.getpid(), signum)
    for _ in range(1000):
        pass


def test_sigterm_interrupts_as_ctrl_c_does():
    with sigterm_interrupts(), pytest.raises(KeyboardInterrupt, match="SIGTERM"):
        _deliver(signal.SIGTERM)


def test_signals_while_stopping_are_noted_not_raised():
    with sigterm_interrupts():
        with interrupts_deferred() as noted:
            _deliver(signal.SIGINT)
            _deliver(signal.SIGTERM)
        assert noted == [signal.SIGINT, signal.SIGTERM]
        with pytest.raises(KeyboardInterrupt):  # afterwards, as before
            _deliver(signal.SIGINT)


def test_outside_the_main_thread_nothing_changes():
    seen: list[object] = []

    def worker():
        with interrupts_deferred() as noted:
            seen.append(noted)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen == [[]] and signal.getsignal(signal.SIGINT) is signal.default_int_handler

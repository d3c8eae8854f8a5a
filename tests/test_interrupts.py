"""Stopping signals: SIGTERM as Ctrl-C, and further signals held while a run saves its state."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
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


def test_a_signal_that_was_to_end_the_process_still_does(tmp_path):
    script = (
        "import os, signal, time\n"
        "from gome_core.interrupts import interrupts_deferred\n"
        "with interrupts_deferred():\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    time.sleep(0.2)\n"
        "    print('saved', flush=True)\n"
        "print('not reached', flush=True)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == -signal.SIGTERM and done.stdout == "saved\n"


def test_outside_the_main_thread_nothing_changes():
    seen: list[object] = []

    def worker():
        with interrupts_deferred() as noted:
            seen.append(noted)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen == [[]] and signal.getsignal(signal.SIGINT) is signal.default_int_handler

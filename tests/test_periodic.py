import threading
import time

from gome_core.periodic import Periodic


def test_calls_at_start_then_every_period_until_the_block_ends():
    calls: list[float] = []
    with Periodic(0.05, lambda: calls.append(time.monotonic()), name="t", at_start=True):
        time.sleep(0.3)
    ended = len(calls)
    time.sleep(0.15)
    assert ended >= 2 and len(calls) == ended  # at once, then again; nothing after the block
    assert not any(t.name == "t" for t in threading.enumerate())


def test_a_period_of_zero_never_calls():
    calls: list[int] = []
    with Periodic(0, lambda: calls.append(1), name="never", at_start=True):
        time.sleep(0.05)
    assert calls == []

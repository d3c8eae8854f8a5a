"""A function called every so often on a background thread while a ``with`` block runs: GPU
readings during a candidate's run, progress lines during a study."""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import TracebackType
from typing import Self

__all__ = ["Periodic"]


class Periodic:
    """Calls ``fn`` every ``period_s`` seconds on a daemon thread from the start of the ``with``
    block to its end (first call at once when ``at_start``); ``period_s <= 0`` never calls it.
    Leaving the block waits for a call in progress to finish. Subclass it to keep what the calls
    gather."""

    def __init__(
        self, period_s: float, fn: Callable[[], None], *, name: str, at_start: bool = False
    ) -> None:
        self.period_s = period_s
        self._fn = fn
        self._at_start = at_start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def __enter__(self) -> Self:
        if self.period_s > 0:
            self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _loop(self) -> None:
        if self._at_start:
            self._fn()
        while not self._stop.wait(self.period_s):
            self._fn()

"""The built-in ``local`` cell runner: a pool of worker processes on this machine."""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from attrs import field, frozen

from gome_core.interfaces import CellRunner, LostCell

__all__ = ["LocalCellRunner", "LocalCellRunnerConfig"]

#: What every cell imports (no threads are started by importing them: safe to fork from). This
#: module too: a worker unpickles its entry point from here, and should get the version the study
#: started with, not a file edited on disk since.
_PRELOAD = ("gome_core.engine.launch", "gome_core.study.cell", "gome_core.study.local")

_Item = TypeVar("_Item")
_Result = TypeVar("_Result")


def _non_negative(_instance: object, attribute: object, value: int) -> None:
    if value < 0:
        raise ValueError(f"workers must be 0 (one per CPU) or more, got {value}")


@frozen
class LocalCellRunnerConfig:
    """Settings of the local cell runner."""

    #: Cells run at once; 0: one per CPU core.
    workers: int = field(default=0, validator=_non_negative)


class LocalCellRunner(CellRunner):
    """Runs each cell in a fresh worker process (at most ``workers`` at once).

    A fresh process per cell keeps cells independent (plugin caches, leaked threads, memory) and
    confines a crash to its cell: a worker that dies without a result (killed, out of memory) is
    yielded as a :class:`~gome_core.interfaces.LostCell`. Processes are started with
    ``forkserver`` where the platform has it (cheap, and safe in a parent that has threads), else
    with ``spawn``. When the iteration is dropped early (an error, Ctrl-C, a kill of the study),
    cells not yet started never start and cells in flight get SIGTERM, which ends their runs as
    Ctrl-C would.
    """

    def __init__(self, config: LocalCellRunnerConfig | None = None) -> None:
        config = config or LocalCellRunnerConfig()
        self.workers = config.workers or os.cpu_count() or 1
        self._context: Any = None
        self._running: dict[int, Any] = {}

    def _ctx(self) -> Any:
        if self._context is None:
            method = "forkserver" if sys.platform != "win32" else "spawn"
            self._context = multiprocessing.get_context(method)
            if method == "forkserver":
                # Imported once in the fork server rather than in every cell's fresh process.
                self._context.set_forkserver_preload(list(_PRELOAD))
        return self._context

    def map(
        self, fn: Callable[[_Item], _Result], items: Sequence[_Item]
    ) -> Iterator[_Result | LostCell[_Item]]:
        ctx = self._ctx()
        results = ctx.Queue()
        pending = list(enumerate(items))
        done = 0

        def start_more() -> None:
            # Before each yield too: cells keep running while the caller handles a result.
            while pending and len(self._running) < self.workers:
                index, item = pending.pop(0)
                process = ctx.Process(target=_call, args=(fn, item, index, results))
                process.start()
                self._running[index] = process

        dead: set[int] = set()  # workers seen dead, their result perhaps still in the pipe
        try:
            start_more()
            while done < len(items):
                index, outcome, value = _next_result(results, self._running, dead)
                if index not in self._running:  # already given up as lost: too late
                    continue
                self._running.pop(index).join()
                done += 1
                start_more()
                if outcome == _RAISED:
                    raise value
                yield LostCell(items[index], value) if outcome == _LOST else value
        finally:
            self._interrupt()
            results.close()

    def _interrupt(self) -> None:
        for process in self._running.values():
            if process.is_alive():
                process.terminate()
        for process in self._running.values():
            process.join()
        self._running.clear()

    def close(self) -> None:
        self._interrupt()


#: How an item ended, as sent back by its worker (or seen by the parent, for a dead worker).
_RETURNED, _RAISED, _LOST = "returned", "raised", "lost"


def _call(fn: Callable[[Any], Any], item: Any, index: int, results: Any) -> None:
    """In the worker: run one cell and send ``(index, outcome, value)`` back."""
    try:
        results.put((index, _RETURNED, fn(item)))
    except BaseException as exc:  # sent back and raised in the parent, as a pool would
        results.put((index, _RAISED, exc))


def _next_result(results: Any, running: dict[int, Any], dead: set[int]) -> tuple[int, str, Any]:
    """The next finished cell's outcome. A worker that has died is given one more poll for its
    result to come through the pipe (it may have sent one and then crashed on the way out);
    after that it is ``_LOST``."""
    while True:
        try:
            return results.get(timeout=1.0)  # type: ignore[no-any-return]
        except queue.Empty:
            for index, process in running.items():
                if process.is_alive():
                    continue
                if index in dead:
                    return index, _LOST, _death(process.exitcode)
                dead.add(index)


def _death(exitcode: int) -> str:
    """How a worker process ended, in words (a negative exit code is the signal that killed it)."""
    if exitcode == 0:  # a result that cannot be pickled is dropped on the way, silently
        return "the cell's process exited without a result (was the result picklable?)"
    if exitcode > 0:
        return f"the cell's process exited with code {exitcode} before reporting a result"
    try:
        name = signal.Signals(-exitcode).name
    except ValueError:
        name = f"signal {-exitcode}"
    hint = " (out of memory? the kernel's OOM killer sends SIGKILL)" if name == "SIGKILL" else ""
    return f"the cell's process was killed by {name}{hint}"

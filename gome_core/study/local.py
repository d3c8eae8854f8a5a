"""The built-in ``local`` cell runner: a pool of worker processes on this machine."""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from typing import TypeVar

from attrs import field, frozen

from gome_core.interfaces import CellRunner

__all__ = ["LocalCellRunner", "LocalCellRunnerConfig"]

#: What every cell imports (no threads are started by importing them: safe to fork from).
_PRELOAD = ("gome_core.engine.launch", "gome_core.study.cell")

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
    confines a crash to its cell. Processes are started with ``forkserver`` where the platform has
    it (cheap, and safe in a parent that has threads), else with ``spawn``.
    """

    def __init__(self, config: LocalCellRunnerConfig | None = None) -> None:
        config = config or LocalCellRunnerConfig()
        self.workers = config.workers or os.cpu_count() or 1
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            method = "forkserver" if sys.platform != "win32" else "spawn"
            context = multiprocessing.get_context(method)
            if method == "forkserver":
                # Imported once in the fork server rather than in every cell's fresh process.
                context.set_forkserver_preload(list(_PRELOAD))
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=context, max_tasks_per_child=1
            )
        return self._pool

    def map(self, fn: Callable[[_Item], _Result], items: Sequence[_Item]) -> Iterator[_Result]:
        pool = self._executor()
        futures: list[Future[_Result]] = [pool.submit(fn, item) for item in items]
        return self._as_finished(futures)

    @staticmethod
    def _as_finished(futures: list[Future[_Result]]) -> Iterator[_Result]:
        try:
            for future in as_completed(futures):
                yield future.result()
        finally:
            # Dropped early (an error, Ctrl-C): cells not yet started are not started.
            for future in futures:
                future.cancel()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

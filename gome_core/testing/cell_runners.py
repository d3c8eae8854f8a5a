"""The cell runner conformance suite: what every cell runner plugin must do with a study's cells.

Subclass :class:`CellRunnerSuite` in your plugin's tests and override the ``runner`` fixture with
a runner that can run at least two cells at once::

    class TestMyCellRunner(CellRunnerSuite):
        @pytest.fixture
        def runner(self):
            with MyCellRunner(MyConfig(workers=2)) as runner:
                yield runner

The cells here are the module-level functions below (a runner must be able to unpickle them in
its workers): they sleep, report their process, raise, or kill their own process.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from gome_core.interfaces import CellRunner, LostCell

__all__ = ["CellRunnerSuite"]


def nap(seconds: float) -> tuple[float, int]:
    """A cell that sleeps, then says for how long and in which process."""
    time.sleep(seconds)
    return seconds, os.getpid()


def refuse(value: int) -> int:
    """A cell that raises (a bug in the cell function, not a failed agent run)."""
    raise ValueError(f"cell {value} refused")


def die_or_nap(seconds: float) -> tuple[float, int]:
    """-1: the cell's process kills itself with SIGKILL, as the kernel's out-of-memory killer
    would; -2: it exits at once with status 0 and no result; else :func:`nap`."""
    if seconds == -1:
        os.kill(os.getpid(), signal.SIGKILL)
    if seconds == -2:
        os._exit(0)
    return nap(seconds)


class CellRunnerSuite:
    """Checks a cell runner: results in completion order, each cell in a fresh process, a
    raising cell function raised, a cell whose process dies yielded as a ``LostCell`` while the
    other cells finish."""

    @pytest.fixture
    def runner(self) -> CellRunner:
        """The runner under test, able to run two cells at once (abstract: override it)."""
        raise NotImplementedError("override the `runner` fixture to return your cell runner")

    def test_it_is_a_cell_runner(self, runner: CellRunner) -> None:
        assert isinstance(runner, CellRunner)

    def test_results_come_in_completion_order(self, runner: CellRunner) -> None:
        # Both run at once: the quick cell is yielded first.
        results = list(runner.map(nap, [3.0, 0.0]))
        assert [seconds for seconds, _ in results] == [0.0, 3.0]

    def test_every_cell_runs_in_a_fresh_process(self, runner: CellRunner) -> None:
        pids = [pid for _, pid in runner.map(nap, [0.0] * 4)]
        assert len(set(pids)) == 4, "cells shared a process: plugin state would leak between them"
        assert os.getpid() not in pids

    def test_an_error_in_the_cell_function_is_raised(self, runner: CellRunner) -> None:
        with pytest.raises(ValueError, match="cell 7 refused"):
            list(runner.map(refuse, [7]))

    def test_a_cell_whose_process_dies_is_lost_and_the_others_finish(
        self, runner: CellRunner
    ) -> None:
        outcomes = list(runner.map(die_or_nap, [1.0, -1.0, -2.0, 0.0]))
        lost = [o for o in outcomes if isinstance(o, LostCell)]
        assert len(outcomes) == 4
        assert sorted(o.item for o in lost) == [-2.0, -1.0]
        assert all(isinstance(o.reason, str) and o.reason for o in lost)
        assert sorted(o[0] for o in outcomes if not isinstance(o, LostCell)) == [0.0, 1.0]

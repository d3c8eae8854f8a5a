"""The Ray cell runner on the local Ray instance: cells as tasks, yielded as they finish."""

from __future__ import annotations

import os
import time

import pytest
from gome_ray import RayCellRunner, RayCellRunnerConfig

from gome_core.plugins import load_plugins

pytestmark = pytest.mark.ray


def nap_then_report(seconds: float) -> tuple[float, int]:
    """A cell: sleeps, then says how long and in which process."""
    time.sleep(seconds)
    return seconds, os.getpid()


def refuse(value: int) -> int:
    raise ValueError(f"cell {value} refused")


def test_cells_come_back_in_completion_order_each_in_its_own_process(ray_instance):
    with RayCellRunner(RayCellRunnerConfig(num_cpus=1)) as runner:
        # Both run at once (one CPU each of two): the short one is yielded first.
        results = list(runner.map(nap_then_report, [3.0, 0.0]))
    assert [seconds for seconds, _ in results] == [0.0, 3.0]
    assert len({pid for _, pid in results}) == 2 and os.getpid() not in {p for _, p in results}
    assert ray_instance.is_initialized()  # the shared instance is not the runner's to end


def test_a_cell_that_raises_raises_its_own_error(ray_instance):
    with RayCellRunner() as runner, pytest.raises(ValueError, match="cell 7 refused"):
        list(runner.map(refuse, [7]))


def test_the_runner_is_registered_under_its_name():
    registry = load_plugins()
    assert "ray" in registry.names("cell_runner") and "ray" in registry.names("executor")

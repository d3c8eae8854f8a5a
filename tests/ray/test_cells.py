"""The Ray cell runner on the local Ray instance: cells as tasks, yielded as they finish."""

from __future__ import annotations

import pytest
from gome_ray import RayCellRunner, RayCellRunnerConfig

from gome_core.plugins import load_plugins
from gome_core.testing import CellRunnerSuite
from gome_core.testing.cell_runners import nap

pytestmark = pytest.mark.ray


class TestRayCellRunner(CellRunnerSuite):
    @pytest.fixture
    def runner(self, ray_instance):
        with RayCellRunner(RayCellRunnerConfig(num_cpus=1)) as runner:
            yield runner


def test_the_shared_ray_instance_is_not_the_runners_to_end(ray_instance):
    with RayCellRunner() as runner:
        assert [seconds for seconds, _ in runner.map(nap, [0.0])] == [0.0]
    assert ray_instance.is_initialized()


def test_the_runner_is_registered_under_its_name():
    registry = load_plugins()
    assert "ray" in registry.names("cell_runner") and "ray" in registry.names("executor")

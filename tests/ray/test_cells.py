"""The Ray cell runner on the local Ray instance: cells as tasks, yielded as they finish."""

from __future__ import annotations

import threading
import types

import pytest
from gome_ray import RayCellRunner, RayCellRunnerConfig
from gome_ray.cells import cell_environment
from gome_ray.session import unschedulable

from gome_core.errors import UsageError
from gome_core.plugins import load_plugins
from gome_core.testing import CellRunnerSuite
from gome_core.testing.cell_runners import nap
from tests.ray.cell_fns import environment_of_a_cell

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


def _within(seconds: float, fn):
    """``fn()``'s result or exception, failing the test if it takes longer than ``seconds`` (a
    Ray task no node can hold waits for good)."""
    outcome: dict[str, object] = {}

    def target():
        try:
            outcome["value"] = fn()
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still waiting after {seconds} s"
    return outcome


def test_cells_no_node_can_hold_are_refused_at_once(ray_instance):
    # The shared instance has 2 CPUs: a cell reserving 3 could never start.
    with RayCellRunner(RayCellRunnerConfig(num_cpus=3)) as runner:
        outcome = _within(30, lambda: list(runner.map(nap, [0.0])))
    error = outcome.get("error")
    assert isinstance(error, UsageError), outcome
    message = str(error)
    assert "no node of the Ray cluster has 3 CPU for one study cell" in message
    assert "(1 node: 2 CPU" in message and "runner.num_cpus" in message


def test_a_local_instance_too_small_for_a_cell_says_which_setting_to_change():
    # As `[runner] local_num_cpus = 1, num_cpus = 2`: the runner's own instance has 1 CPU.
    alive = {"Alive": True, "Resources": {"CPU": 1.0, "memory": 2.0**30}}
    fake_ray = types.SimpleNamespace(nodes=lambda: [alive, {"Alive": False, "Resources": {}}])
    runner = RayCellRunner(RayCellRunnerConfig(num_cpus=2, local_num_cpus=1))
    runner._session.owned = True  # as after it started its local instance
    with pytest.raises(UsageError) as info:
        runner._check_fits(fake_ray)
    message = str(info.value)
    assert "has 2 CPU for one study cell (1 node: 1 CPU)" in message
    assert "runner.num_cpus" in message and "runner.local_num_cpus" in message
    RayCellRunner(RayCellRunnerConfig(num_cpus=1))._check_fits(fake_ray)  # fits: no error


def test_the_executor_and_the_cell_runner_share_the_check():
    nodes = [{"CPU": 4.0, "GPU": 0.0, "memory": 8.0 * 2**30}]
    assert unschedulable(nodes, {"CPU": 4, "GPU": 0, "memory": 2**30}, what="x", fix="y") is None
    message = unschedulable(nodes, {"CPU": 1, "GPU": 1, "memory": 0}, what="one candidate", fix="f")
    assert message == (
        "no node of the Ray cluster has 1 CPU, 1 GPU for one candidate (1 node: 4 CPU, 0 GPU); f"
    )
    # Each node is shown with its own amounts: neither node has both 8 CPUs and a GPU.
    nodes = [
        {"CPU": 8.0, "GPU": 0.0, "memory": 16.0 * 2**30},
        {"CPU": 1.0, "GPU": 1.0, "memory": 4.0 * 2**30},
    ]
    message = unschedulable(nodes, {"CPU": 8, "GPU": 1, "memory": 2**30}, what="x", fix="y")
    assert message == (
        "no node of the Ray cluster has 8 CPU, 1 GPU, 1024 MB memory for x "
        "(2 nodes: 8 CPU, 0 GPU, 16384 MB memory; 1 CPU, 1 GPU, 4096 MB memory); y"
    )


def test_cells_find_competitions_and_data_where_the_driver_does(
    ray_instance, monkeypatch, tmp_path
):
    """The worker processes were started before these variables were set, as on a cluster whose
    nodes have environments of their own: the cells still see the driver's directories."""
    monkeypatch.setenv("GOME_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GOME_COMPETITIONS_DIR", "comps")  # relative: the driver's directory
    monkeypatch.chdir(tmp_path)
    (tmp_path / "comps").mkdir()
    monkeypatch.setenv("GOME_TEST_PASSED", "yes")
    names = ("GOME_TEST_PASSED", "GOME_TEST_NOT_SET", "GOME_TEST_NOT_PASSED")
    monkeypatch.setenv("GOME_TEST_NOT_PASSED", "no")
    config = RayCellRunnerConfig(num_cpus=1, pass_env=("GOME_TEST_PASSED", "GOME_TEST_NOT_SET"))
    with RayCellRunner(config) as runner:
        [seen] = list(runner.map(environment_of_a_cell, [names]))
    assert seen["data_dir"] == str((tmp_path / "data").resolve())
    assert seen["competitions_dirs"][0] == str((tmp_path / "comps").resolve())
    assert seen["env"] == {
        "GOME_TEST_PASSED": "yes",
        "GOME_TEST_NOT_SET": None,
        "GOME_TEST_NOT_PASSED": None,
    }

    monkeypatch.delenv("GOME_COMPETITIONS_DIR")  # the driver's: the bundled ones only
    assert cell_environment()["GOME_COMPETITIONS_DIR"] == ""


def test_the_runner_config_reads_pass_env_from_a_spec():
    from gome_core.config import _converter

    registry = load_plugins()
    config = _converter(registry).structure(
        {"num_cpus": 2, "pass_env": ["GOME_MLFLOW_TRACKING_URI"]}, RayCellRunnerConfig
    )
    assert config.pass_env == ("GOME_MLFLOW_TRACKING_URI",)

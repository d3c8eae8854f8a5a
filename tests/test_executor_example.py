"""The example executor plugin: conformance, its own suite, discovery once installed."""

import json

import pytest

from gome_core.testing import PluginSuite
from tests.conftest import EXAMPLE_EXECUTOR, import_example, pip_install_example, run_example_tests


@pytest.fixture(scope="module")
def example_module():
    with import_example(EXAMPLE_EXECUTOR, "gome_venv_executor") as module:
        yield module


class TestExampleExecutorPluginConforms(PluginSuite):
    @pytest.fixture
    def plugin(self, example_module):
        return example_module


@pytest.mark.slow
def test_the_example_executor_passes_the_executor_suite():
    """Its own tests hold gome_core.testing.ExecutorSuite."""
    result = run_example_tests(EXAMPLE_EXECUTOR)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout and "failed" not in result.stdout


@pytest.mark.slow
def test_an_installed_executor_plugin_is_found_and_configured(gome, tmp_path):
    site = pip_install_example(EXAMPLE_EXECUTOR, tmp_path / "site")
    env = {"PYTHONPATH": str(site)}
    listed = gome("plugins", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    plugins = {p["name"]: p for p in json.loads(listed.stdout)}
    assert plugins["venv_executor"]["distribution"] == "gome-venv-executor"
    assert plugins["venv_executor"]["provides"] == {"executor": ["venv"]}

    shown = gome(
        "config",
        "show",
        "--json",
        "--set",
        "executor=venv",
        "--set",
        "executor.sandbox.timeout_s=60",
        env=env,
    )
    assert shown.returncode == 0, shown.stderr
    executor = json.loads(shown.stdout)["config"]["executor"]
    assert executor["name"] == "venv" and executor["sandbox"]["timeout_s"] == 60.0

    bad = gome(
        "config", "show", "--set", "executor=venv", "--set", "executor.sandbox.timout=1", env=env
    )
    assert bad.returncode == 2 and "$.executor.sandbox.timout: unknown key" in bad.stderr

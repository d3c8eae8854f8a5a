"""The example LLM backend plugin: its own suite, and real discovery once installed."""

from __future__ import annotations

import json

import pytest

from gome_core.testing import PluginSuite
from tests.conftest import import_example, pip_install_example, run_example_tests
from tests.llm.conftest import EXAMPLE_LLM_PLUGIN


@pytest.fixture(scope="module")
def example_module():
    with import_example(EXAMPLE_LLM_PLUGIN, "gome_http_llm") as module:
        yield module


class TestExampleConforms(PluginSuite):
    @pytest.fixture
    def plugin(self, example_module):
        return example_module


@pytest.mark.slow
def test_the_example_plugins_own_tests_pass():
    """Its tests run LLMBackendSuite against its backend, as a plugin author's would."""
    result = run_example_tests(EXAMPLE_LLM_PLUGIN)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_an_installed_backend_plugin_is_listed(gome, tmp_path):
    target = pip_install_example(EXAMPLE_LLM_PLUGIN, tmp_path / "site")
    env = {"PYTHONPATH": str(target)}
    listed = gome("plugins", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    plugins = {p["name"]: p for p in json.loads(listed.stdout)}
    assert plugins["http_llm"]["distribution"] == "gome-http-llm"
    assert plugins["http_llm"]["provides"] == {"llm": ["http-chat"]}

    shown = gome(
        "config", "show", "--json", "--set", "llm=http-chat", "--set", "llm.model=qwen3", env=env
    )
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["config"]["llm"]["model"] == "qwen3"

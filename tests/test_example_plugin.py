"""The example third-party plugin: its own suite, and real discovery once installed."""

import json

import pytest

from gome_core.testing import PluginSuite
from tests.conftest import EXAMPLE_PLUGIN, import_example, pip_install_example, run_example_tests


@pytest.fixture(scope="module")
def example_module():
    with import_example(EXAMPLE_PLUGIN, "gome_runtime_limit") as module:
        yield module


class TestExamplePluginConforms(PluginSuite):
    @pytest.fixture
    def plugin(self, example_module):
        return example_module


def test_the_example_plugins_own_tests_pass():
    result = run_example_tests(EXAMPLE_PLUGIN)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def installed_example(tmp_path_factory):
    """The example plugin pip-installed as its own distribution into a separate folder."""
    return pip_install_example(EXAMPLE_PLUGIN, tmp_path_factory.mktemp("site"))


@pytest.mark.slow
def test_an_installed_plugin_appears_without_any_change_in_gome(gome, installed_example, tmp_path):
    env = {"PYTHONPATH": str(installed_example)}
    listed = gome("plugins", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    plugins = {p["name"]: p for p in json.loads(listed.stdout)}
    assert plugins["runtime_limit"]["distribution"] == "gome-runtime-limit"
    assert plugins["runtime_limit"]["version"] == "1.0.0"
    assert plugins["runtime_limit"]["provides"] == {"validator": ["runtime-limit"]}

    config = tmp_path / "run.toml"
    config.write_text('[[validators]]\nname = "runtime-limit"\nmax_wall_s = 60\n')
    shown = gome("config", "show", "--json", "-c", str(config), env=env)
    assert shown.returncode == 0, shown.stderr
    described = json.loads(shown.stdout)
    assert described["config"]["validators"] == [{"name": "runtime-limit", "max_wall_s": 60.0}]
    assert any("gome-runtime-limit 1.0.0" in c["provider"] for c in described["components"])

    bad = gome(
        "config", "show", "--set", 'validators=[{name="runtime-limit", max_wall=1}]', env=env
    )
    assert bad.returncode == 2 and "$.validators[0].max_wall: unknown key" in bad.stderr

    disabled = gome("plugins", "--json", env={**env, "GOME_DISABLE_PLUGINS": "runtime_limit"})
    assert "runtime_limit" not in {p["name"] for p in json.loads(disabled.stdout)}

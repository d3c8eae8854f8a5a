"""The example third-party plugin: its own suite, and real discovery once installed."""

import json
import shlex

import pytest
from click.testing import CliRunner

from gome_core.cli.config import config
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


def _usage_line(module, start: str) -> str:
    """The one line of the module's documented usage that starts with ``start``."""
    (line,) = [
        line.strip() for line in module.__doc__.splitlines() if line.strip().startswith(start)
    ]
    return line


def _validators(*args: str) -> list[dict]:
    shown = CliRunner().invoke(config, ["show", "--json", *args])
    assert shown.exit_code == 0, shown.output
    return json.loads(shown.output)["config"]["validators"]


def test_the_documented_usage_adds_the_validator_after_the_preset_s_runs(
    example_module, gome_plugin, tmp_path
):
    registry = gome_plugin(example_module)  # what `gome config show` loads once it is installed
    preset_chain = _validators("--preset", "gome")
    (documented_set,) = shlex.split(_usage_line(example_module, "--set "))[1:]
    config_file = tmp_path / "run.toml"
    config_file.write_text(_usage_line(example_module, "validators = ") + "\n")

    for usage in (["--set", documented_set], ["-c", str(config_file)]):
        chain = _validators("--preset", "gome", *usage)
        assert chain == [*preset_chain, {"name": "runtime-limit", "max_wall_s": 60.0}], usage
    # It checks measurements, so it must run after every validator that runs the candidate.
    levels = {v["name"]: registry.create("validator", v["name"]).level for v in chain}
    assert levels.pop("runtime-limit") > max(levels.values())


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

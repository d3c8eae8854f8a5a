import json
import types

import pytest

from gome_core import hookimpl
from gome_core.errors import (
    ComponentNotFoundError,
    DuplicateComponentError,
    PluginLoadError,
)
from gome_core.executors.local import LocalExecutor
from gome_core.plugins import get_registry, load_plugins
from gome_core.testing import PluginSuite
from tests.plugin_dists import BROKEN_PLUGIN, DUPLICATE_PLUGIN, HELLO_PLUGIN, make_distribution


@pytest.fixture
def site(tmp_path, monkeypatch):
    path = tmp_path / "site"
    path.mkdir()
    monkeypatch.syspath_prepend(str(path))
    return path


def test_core_defaults_are_plugins_too():
    registry = load_plugins(entry_points=False, env={})
    core = next(p for p in registry.plugins if p.name == "core")
    assert core.builtin and core.distribution == "gome"
    local = registry.get("executor", "local")
    assert local.plugin == core
    assert isinstance(local.create(), LocalExecutor)


def test_an_installed_distribution_is_found_through_its_entry_point(site):
    make_distribution(
        site, "gome-hello", "2.3.4", {"hello": "gome_hello"}, {"gome_hello.py": HELLO_PLUGIN}
    )
    registry = load_plugins(env={})
    info = next(p for p in registry.plugins if p.name == "hello")
    assert (info.distribution, info.version, info.builtin) == ("gome-hello", "2.3.4", False)
    assert registry.get("validator", "hello").plugin == info
    assert registry.provided_by(info) == {
        "executor": ["hello-local"],
        "validator": ["hello"],
        "preset": ["hello-preset"],
    }
    assert registry.get("executor", "hello-local").description.startswith("The local executor")
    assert registry.get("validator", "hello").description == "Passes everything, politely."


def test_a_plugin_that_fails_to_import_names_itself_and_the_fix(site):
    make_distribution(
        site, "gome-broken", "0.0.1", {"broken": "gome_broken"}, {"gome_broken.py": BROKEN_PLUGIN}
    )
    with pytest.raises(PluginLoadError) as info:
        load_plugins(env={})
    message = str(info.value)
    assert "'broken'" in message and "gome-broken 0.0.1" in message
    assert "ModuleNotFoundError" in message
    assert "GOME_DISABLE_PLUGINS=broken" in message


def test_disable_and_allowlist(site):
    make_distribution(
        site, "gome-broken", "0.0.1", {"broken": "gome_broken"}, {"gome_broken.py": BROKEN_PLUGIN}
    )
    make_distribution(
        site, "gome-hello", "1.0", {"hello": "gome_hello"}, {"gome_hello.py": HELLO_PLUGIN}
    )
    names = {p.name for p in load_plugins(env={"GOME_DISABLE_PLUGINS": "broken"}).plugins}
    assert {"core", "hello"} <= names and "broken" not in names
    names = {p.name for p in load_plugins(env={"GOME_LOAD_PLUGINS": "hello"}).plugins}
    assert names == {"core", "hello"}
    names = {
        p.name
        for p in load_plugins(
            env={"GOME_LOAD_PLUGINS": " ", "GOME_DISABLE_PLUGINS": "broken,hello"}
        ).plugins
    }
    assert "hello" not in names and "broken" not in names


def test_two_plugins_registering_one_name_is_an_error_naming_both(site):
    make_distribution(
        site, "gome-dup", "0.1", {"dup": "gome_dup"}, {"gome_dup.py": DUPLICATE_PLUGIN}
    )
    with pytest.raises(DuplicateComponentError) as info:
        load_plugins(env={})
    message = str(info.value)
    assert "executor 'local'" in message
    assert "core (gome " in message and "dup (gome-dup 0.1)" in message


def test_a_registration_that_raises_is_a_load_error_of_that_plugin():
    plugin = types.SimpleNamespace()

    @hookimpl
    def register_validators(register):
        register(object(), name="not callable")

    plugin.register_validators = register_validators
    with pytest.raises(PluginLoadError, match="plugin 'bad'.*not callable"):
        load_plugins(extra=[("bad", plugin)], entry_points=False, env={})


def test_unknown_names_suggest_close_ones():
    registry = load_plugins(entry_points=False, env={})
    with pytest.raises(ComponentNotFoundError, match="Did you mean 'local'"):
        registry.get("executor", "locl")
    with pytest.raises(ComponentNotFoundError, match="no preset named 'nope'"):
        registry.preset("nope")


def test_gome_plugin_fixture_installs_a_plugin_for_one_test(gome_plugin):
    class Presets:
        @hookimpl
        def register_presets(self, register):
            register({"seed": 7}, name="seven", description="Seed seven.", source="here")

    registry = gome_plugin(Presets())
    assert get_registry() is registry
    assert registry.preset("seven").plugin.name == "Presets"


def test_fixture_state_does_not_leak():
    assert "seven" not in get_registry().presets


def test_cli_reports_a_broken_plugin_without_traceback(gome, site):
    make_distribution(
        site, "gome-broken", "0.0.1", {"broken": "gome_broken"}, {"gome_broken.py": BROKEN_PLUGIN}
    )
    env = {"PYTHONPATH": str(site)}
    result = gome("plugins", env=env)
    assert result.returncode == 2
    assert "plugin 'broken' from distribution gome-broken 0.0.1 failed to load" in result.stderr
    assert "Traceback" not in result.stderr
    debug = gome("--debug", "plugins", env=env)
    assert debug.returncode != 0 and "Traceback" in debug.stderr
    ok = gome("plugins", "--json", env={**env, "GOME_DISABLE_PLUGINS": "broken"})
    assert ok.returncode == 0, ok.stderr
    names = [p["name"] for p in json.loads(ok.stdout)]
    assert "core" in names and "broken" not in names


def test_the_plugin_suite_knows_the_interface_of_every_component_kind():
    from gome_core.plugins import COMPONENT_KINDS
    from gome_core.testing.suites import INTERFACES

    assert set(INTERFACES) == set(COMPONENT_KINDS)


class CellRunnerPlugin:
    """A third-party plugin that registers a cell runner (the local one, under its own name)."""

    @hookimpl
    def register_cell_runners(self, register):
        from gome_core.study.local import LocalCellRunner, LocalCellRunnerConfig

        register(LocalCellRunner, name="cells-elsewhere", config=LocalCellRunnerConfig)


class TestACellRunnerPluginConforms(PluginSuite):
    @pytest.fixture
    def plugin(self):
        return CellRunnerPlugin()

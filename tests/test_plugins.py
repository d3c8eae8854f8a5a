import json
import types

import pytest
from click.testing import CliRunner

from gome_core import hookimpl
from gome_core.cli.info import plugins as plugins_command
from gome_core.errors import (
    ComponentNotFoundError,
    DuplicateComponentError,
    PluginLoadError,
)
from gome_core.executors.local import LocalExecutor
from gome_core.plugins import get_registry, load_plugins
from gome_core.testing import PluginSuite
from tests.plugin_dists import BROKEN_PLUGIN, DUPLICATE_PLUGIN, HELLO_PLUGIN, make_distribution


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


TYPO_PLUGIN = '''
    import gome_core

    class PassAll(gome_core.Validator):
        """Passes everything."""
        def validate(self, node, context):
            return gome_core.ValidationReport.ok("pass-all")

    @gome_core.hookimpl
    def register_validator(register):  # the hook is register_validators
        register(PassAll, name="pass-all")
'''


def test_a_misspelt_hook_stops_loading_and_names_the_plugin_the_hook_and_the_fix(site):
    make_distribution(
        site, "gome-typo", "0.0.1", {"typo": "gome_typo"}, {"gome_typo.py": TYPO_PLUGIN}
    )
    with pytest.raises(PluginLoadError) as info:
        load_plugins(env={})
    message = str(info.value)
    assert "plugin 'typo' from distribution gome-typo 0.0.1 failed to load" in message
    assert "unknown hook 'register_validator' (did you mean 'register_validators'?)" in message
    assert "GOME_DISABLE_PLUGINS=typo" in message
    names = {p.name for p in load_plugins(env={"GOME_DISABLE_PLUGINS": "typo"}).plugins}
    assert "core" in names and "typo" not in names


def test_a_hook_that_no_gome_has_is_refused_unless_marked_optional():
    @hookimpl
    def checkpoint_saved(run, path):
        pass

    @hookimpl(optionalhook=True)
    def run_paused(run):  # a hook of a newer gome, say
        pass

    with pytest.raises(PluginLoadError) as info:
        load_plugins(
            extra=[("later", types.SimpleNamespace(checkpoint_saved=checkpoint_saved))],
            entry_points=False,
            env={},
        )
    message = str(info.value)
    # No close name to suggest: list the hooks, and how to keep a hook of a newer gome.
    assert "unknown hook 'checkpoint_saved' (the hooks are journal_event, register_" in message
    assert "@gome_core.hookimpl(optionalhook=True)" in message

    plugin = types.SimpleNamespace(run_paused=run_paused)
    registry = load_plugins(extra=[("newer", plugin)], entry_points=False, env={})
    assert "newer" in {p.name for p in registry.plugins}


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


def test_plugins_table_shows_the_hooks_of_a_plugin_that_registers_nothing(gome_plugin):
    class Observer:
        @hookimpl
        def run_finished(self, run, status):
            pass

    gome_plugin(Observer())
    table = CliRunner().invoke(plugins_command, [])
    assert table.exit_code == 0, table.output
    assert "hooks: run_finished" in next(
        line for line in table.output.splitlines() if "Observer" in line
    )
    listed = CliRunner().invoke(plugins_command, ["--json"])
    rows = {row["name"]: row for row in json.loads(listed.output)}
    assert rows["Observer"]["provides"] == {} and rows["Observer"]["hooks"] == ["run_finished"]
    assert "register_executors" in rows["core"]["hooks"]


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

"""Conformance suites: subclass one in your plugin's tests and override its abstract fixture."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from gome_core import interfaces
from gome_core.plugins import PluginRegistry, Registration, unknown_hooks
from gome_core.testing.registries import registry_with

__all__ = ["PLACEHOLDER_API_KEY", "PluginSuite"]

#: What the suite puts in a backend's ``api_key_env`` variable when it is unset, so that building
#: a backend from its default config needs no real key.
PLACEHOLDER_API_KEY = "sk-gome-suite-placeholder"

INTERFACES: dict[str, type] = {
    "llm": interfaces.LLMBackend,
    "executor": interfaces.Executor,
    "validator": interfaces.Validator,
    "gradient_estimator": interfaces.GradientEstimator,
    "momentum": interfaces.Momentum,
    "trace_coordinator": interfaces.TraceCoordinator,
    "implementer": interfaces.Implementer,
    "optimizer": interfaces.Optimizer,
    "cell_runner": interfaces.CellRunner,
}


class PluginSuite:
    """Checks any gome plugin: it loads, its hooks exist, its components are described (a
    docstring or ``description=``) and build from defaults, their configs round-trip (also
    through TOML), and its presets resolve (also with an LLM).

    Override :meth:`plugin` to return the plugin object (usually the module named by your entry
    point). The plugin may or may not be installed; both work. Only the plugin under test is
    checked: another installed plugin that is broken is left out, with a warning.
    """

    @pytest.fixture
    def plugin(self) -> object:
        """The plugin under test (abstract: override in your test class)."""
        raise NotImplementedError("override the `plugin` fixture to return your plugin module")

    @pytest.fixture
    def registry(self, plugin: object) -> PluginRegistry:
        """The core, the installed plugins (``GOME_DISABLE_PLUGINS`` and ``GOME_LOAD_PLUGINS``
        apply) and the plugin under test. An installed plugin that fails to load is left out
        with a warning: only the plugin under test is held to account."""
        return registry_with([("plugin-under-test", plugin)])

    @pytest.fixture
    def registrations(self, registry: PluginRegistry, plugin: object) -> list[Registration]:
        name = self._plugin_name(registry, plugin)
        return [
            reg
            for regs in registry.components.values()
            for reg in regs.values()
            if reg.plugin.name == name
        ]

    @staticmethod
    def _plugin_name(registry: PluginRegistry, plugin: object) -> str:
        """The plugin's name in ``registry``: its entry point's when it is installed."""
        name = registry.manager.get_name(plugin)
        assert name is not None, "the plugin under test is not in the registry"
        return name

    def test_implements_known_hooks_only(self, registry: PluginRegistry, plugin: object) -> None:
        """A misspelt hook name would silently never be called: it is an error here. Only the
        plugin under test is checked; other installed plugins answer for themselves."""
        for name, close in unknown_hooks(registry.manager, plugin):
            hint = f" (did you mean {close!r}?)" if close else ""
            pytest.fail(f"the plugin implements {name!r}, which is no gome hook{hint}")

    def test_provides_something(self, registry: PluginRegistry, plugin: object) -> None:
        name = self._plugin_name(registry, plugin)
        impls = registry.manager.get_hookcallers(registry.manager.get_plugin(name)) or []
        assert impls, "the plugin implements no gome hook"

    def test_components_are_described(self, registrations: list[Registration]) -> None:
        for reg in registrations:
            assert reg.description, f"{reg.kind} {reg.name!r} has no description (docstring)"

    def test_configs_have_defaults_and_round_trip(
        self, registry: PluginRegistry, registrations: list[Registration]
    ) -> None:
        from gome_core.config import _converter

        conv = _converter(registry)
        for reg in registrations:
            if reg.config is None:
                continue
            default = self._default_config(reg)
            # Nested component specs fill in their own defaults on the first pass, so compare
            # the second round trip with the first.
            once = conv.structure(conv.unstructure(default), reg.config)
            twice = conv.structure(conv.unstructure(once), reg.config)
            assert twice == once, f"{reg.name}: config round-trip"
            assert attrs.has(reg.config)

    def test_configs_are_written_as_toml_and_read_back(
        self, registry: PluginRegistry, registrations: list[Registration], tmp_path: Path
    ) -> None:
        """``gome config show`` prints a configuration as TOML and each run writes one: a value
        TOML cannot hold (a set, say) would fail there. A component that a run names at its top
        level goes the way of a run's config (``gome config show``, read back with ``-c``);
        another goes as its own table."""
        from gome_core.config import _converter, resolve

        conv = _converter(registry)
        for reg in registrations:
            if reg.config is None:
                continue
            where = f"{reg.kind} {reg.name!r}"
            # As in the round trip above, compare the second reading with the first.
            if reg.kind in _RUN_SECTIONS:
                section = _RUN_SECTIONS[reg.kind]
                named = resolve(
                    settings={section: [reg.name] if section == "validators" else reg.name},
                    registry=registry,
                )
                first = _run_config_through_toml(named, tmp_path / "first.toml", where)
                second = _run_config_through_toml(first, tmp_path / "second.toml", where)
                once, twice = first.config, second.config
            else:
                once = _through_toml(self._default_config(reg), reg.config, conv, where)
                twice = _through_toml(once, reg.config, conv, where)
            assert twice == once, f"{where}: its config reads back from TOML as another one"

    def test_components_build_from_default_config(self, registrations: list[Registration]) -> None:
        """Built as a run builds them. A backend's key variable (``api_key_env``) that is unset
        holds :data:`PLACEHOLDER_API_KEY` meanwhile: building needs no real key."""
        with pytest.MonkeyPatch.context() as env:
            for reg in registrations:
                if reg.config is not None:
                    for variable in _key_variables(self._default_config(reg)):
                        if variable not in os.environ:
                            env.setenv(variable, PLACEHOLDER_API_KEY)
            for reg in registrations:
                component: Any = reg.create()
                try:
                    assert isinstance(component, INTERFACES[reg.kind]), (
                        f"{reg.kind} {reg.name!r} built a {type(component).__name__}, "
                        f"not a {INTERFACES[reg.kind].__name__}"
                    )
                finally:
                    close = getattr(component, "close", None)
                    if callable(close):
                        close()

    def test_presets_resolve(self, registry: PluginRegistry, plugin: object) -> None:
        """Each preset resolves, and prints as ``gome config show --preset NAME`` prints it; its
        ``with_llm`` overlay too, under an LLM that resolving needs no key or network for."""
        from gome_core.config import resolve

        name = self._plugin_name(registry, plugin)
        llms = registry.names("llm")
        llm = "replay" if "replay" in llms else next(iter(llms), None)
        for preset in registry.presets.values():
            if preset.plugin.name != name:
                continue
            resolved = resolve(preset=preset.name, registry=registry)
            assert resolved.config.preset == preset.name
            _as_toml(f"preset {preset.name!r}", resolved.to_toml)
            if preset.with_llm and llm is not None:
                with_llm = resolve(preset=preset.name, overrides=[f"llm={llm}"], registry=registry)
                assert with_llm.config.preset == preset.name
                _as_toml(f"preset {preset.name!r} with an LLM", with_llm.to_toml)

    @staticmethod
    def _default_config(reg: Registration) -> Any:
        assert reg.config is not None
        try:
            return reg.config()
        except TypeError as exc:
            pytest.fail(f"{reg.kind} {reg.name!r}: every config field needs a default ({exc})")


#: Kind -> the section of a run's config that names a component of that kind.
_RUN_SECTIONS = {
    "executor": "executor",
    "llm": "llm",
    "optimizer": "optimizer",
    "validator": "validators",  # a list
}


def _run_config_through_toml(resolved: Any, path: Path, where: str) -> Any:
    """``resolved`` as ``gome config show`` prints it, read back as ``-c path`` reads it."""
    from gome_core.config import resolve

    path.write_text(_as_toml(where, resolved.to_toml))
    return resolve(files=[path], registry=resolved.registry)


def _through_toml(config: Any, cls: type, conv: Any, where: str) -> Any:
    """``config`` written as a TOML table the way a run's config writes it, and read back."""
    import tomli_w

    from gome_core.config import _drop_none

    text = _as_toml(where, lambda: tomli_w.dumps(_drop_none(conv.unstructure(config))))
    return conv.structure(tomllib.loads(text), cls)


def _as_toml(where: str, write: Callable[[], str]) -> str:
    """``write()``: TOML text. A value TOML cannot hold fails the test, naming ``where``."""
    try:
        return write()
    except (TypeError, ValueError) as exc:
        problem = f"{where}: the configuration cannot be written as TOML ({exc})"
    pytest.fail(problem)  # out of the except block: the writer's traceback would bury this


def _key_variables(value: Any) -> Iterator[str]:
    """The ``api_key_env`` values in a config, nested configs included."""
    if isinstance(value, (list, tuple)):
        for item in value:
            yield from _key_variables(item)
    elif attrs.has(type(value)) and not isinstance(value, PluginRegistry):
        for a in attrs.fields(type(value)):
            item = getattr(value, a.name)
            if a.name == "api_key_env" and isinstance(item, str) and item:
                yield item
            else:
                yield from _key_variables(item)

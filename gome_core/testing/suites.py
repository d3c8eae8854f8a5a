"""Conformance suites: subclass one in your plugin's tests and override its abstract fixture."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from gome_core import interfaces
from gome_core.plugins import PluginRegistry, Registration, load_plugins

__all__ = ["PluginSuite"]

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
    """Checks any gome plugin: it loads, its hooks exist, its components build from defaults,
    their configs round-trip, and its presets resolve.

    Override :meth:`plugin` to return the plugin object (usually the module named by your entry
    point). The plugin may or may not be installed; both work.
    """

    @pytest.fixture
    def plugin(self) -> object:
        """The plugin under test (abstract: override in your test class)."""
        raise NotImplementedError("override the `plugin` fixture to return your plugin module")

    @pytest.fixture
    def registry(self, plugin: object) -> PluginRegistry:
        installed = load_plugins(env={})
        module = getattr(plugin, "__name__", type(plugin).__module__)
        if any(p.module.split(":")[0] == module for p in installed.plugins):
            return installed
        return load_plugins(extra=[("plugin-under-test", plugin)], env={})

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
        name = registry.manager.get_name(plugin)
        if name is None:  # loaded from an entry point: the manager holds the same module
            module = getattr(plugin, "__name__", type(plugin).__module__)
            name = next(p.name for p in registry.plugins if p.module.split(":")[0] == module)
        return name

    def test_implements_known_hooks_only(self, registry: PluginRegistry) -> None:
        """A misspelt hook name would silently never be called: it is an error here."""
        registry.manager.check_pending()

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
            try:
                default = reg.config()
            except TypeError as exc:
                pytest.fail(f"{reg.kind} {reg.name!r}: every config field needs a default ({exc})")
            # Nested component specs fill in their own defaults on the first pass, so compare
            # the second round trip with the first.
            once = conv.structure(conv.unstructure(default), reg.config)
            twice = conv.structure(conv.unstructure(once), reg.config)
            assert twice == once, f"{reg.name}: config round-trip"
            assert attrs.has(reg.config)

    def test_components_build_from_default_config(self, registrations: list[Registration]) -> None:
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
        from gome_core.config import resolve

        name = self._plugin_name(registry, plugin)
        for preset in registry.presets.values():
            if preset.plugin.name == name:
                resolved = resolve(preset=preset.name, registry=registry)
                assert resolved.config.preset == preset.name

"""pytest fixtures of the gome test kit (loaded through the ``pytest11`` entry point)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from gome_core.plugins import PluginRegistry, reset_registry
from gome_core.testing.llm_suite import llm_server  # noqa: F401 - a fixture of the test kit
from gome_core.testing.registries import registry_with


@pytest.fixture
def gome_registry_factory() -> Callable[..., PluginRegistry]:
    """Build an isolated registry: the core's plugins plus the given ``plugin`` objects.

    Call it as ``make(my_module, other=obj, entry_points=False)``; positional plugins are named
    after their module or class. Installed entry points are left out unless
    ``entry_points=True``, so the result does not depend on what else is installed. With them, a
    given plugin that is also installed is the one its entry point loaded, and another installed
    plugin that fails to load is left out with a warning.
    """

    def make(*plugins: object, entry_points: bool = False, **named: object) -> PluginRegistry:
        extra = [(_plugin_name(p), p) for p in plugins] + list(named.items())
        return registry_with(extra, entry_points=entry_points, env={})

    return make


@pytest.fixture
def gome_plugin(
    gome_registry_factory: Callable[..., PluginRegistry],
) -> Iterator[Callable[..., PluginRegistry]]:
    """Register plugins for one test: ``registry = gome_plugin(my_module)``.

    The returned registry (core plugins + installed entry points + these) is also installed as the
    process-wide one, and the previous state is restored after the test. A plugin that is also
    installed (after ``pip install -e .``) is the one its entry point loaded.
    """

    def install(*plugins: object, **named: object) -> PluginRegistry:
        registry = gome_registry_factory(*plugins, entry_points=True, **named)
        reset_registry(registry)
        return registry

    try:
        yield install
    finally:
        reset_registry(None)


def _plugin_name(plugin: object) -> str:
    name = getattr(plugin, "__name__", None) or type(plugin).__name__
    return str(name).rsplit(".", 1)[-1]

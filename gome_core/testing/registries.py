"""Registries built around the plugins under test, for the fixtures and :class:`PluginSuite`.

:func:`registry_with` loads plugins the way :func:`gome_core.plugins.load_plugins` does, with two
differences, so that only the plugins under test are held to account:

* a plugin under test that is also installed (the usual state after ``pip install -e .``) is the
  one its entry point loaded, under the entry point's name: pluggy refuses one object twice;
* another installed plugin that fails to load, or registers a name that a third one has, is left
  out with a warning, as ``GOME_DISABLE_PLUGINS`` would leave it out.
"""

from __future__ import annotations

import importlib.metadata
import os
import sys
import warnings
from collections.abc import Mapping, Sequence

from gome_core import hookspecs
from gome_core.errors import DuplicateComponentError, PluginLoadError
from gome_core.plugins import BUILTIN_PLUGINS, PluginRegistry, load_plugins

__all__ = ["registry_with"]

_DENY = "GOME_DISABLE_PLUGINS"


def registry_with(
    plugins: Sequence[tuple[str, object]],
    *,
    entry_points: bool = True,
    env: Mapping[str, str] | None = None,
) -> PluginRegistry:
    """The core's plugins, the installed entry points (with ``entry_points``), and ``plugins``:
    ``(name, plugin)`` pairs, each a module or an object with hook implementations.

    ``env`` (``os.environ`` when ``None``) is read for ``GOME_LOAD_PLUGINS`` and
    ``GOME_DISABLE_PLUGINS``. Errors of the plugins under test, and name clashes that involve
    them, are raised as :func:`~gome_core.plugins.load_plugins` raises them.
    """
    env = dict(os.environ if env is None else env)
    left_out: list[str] = []
    while True:
        deny = ",".join(filter(None, [env.get(_DENY, ""), *left_out]))
        try:
            return _load(plugins, entry_points, {**env, _DENY: deny})
        except (PluginLoadError, DuplicateComponentError) as exc:
            culprit = _other_culprit(exc, plugins)
            if culprit is None or culprit in left_out:
                raise
            warnings.warn(
                f"left out the installed plugin {culprit!r}, which is not under test: {exc}",
                stacklevel=2,
            )
            left_out.append(culprit)


def _load(
    plugins: Sequence[tuple[str, object]], entry_points: bool, env: Mapping[str, str]
) -> PluginRegistry:
    if not entry_points:
        return load_plugins(extra=plugins, entry_points=False, env=env)
    # A plugin under test that an entry point loads too is that entry point's (pluggy refuses
    # one object twice, and a second plugin of the same name is an error): add only the others.
    installed = load_plugins(entry_points=True, env=env)
    rest = [(name, p) for name, p in plugins if not installed.manager.is_registered(p)]
    return load_plugins(extra=rest, entry_points=True, env=env) if rest else installed


def _other_culprit(
    exc: PluginLoadError | DuplicateComponentError, plugins: Sequence[tuple[str, object]]
) -> str | None:
    """The installed plugin, not under test and not the core's, that ``exc`` is about."""
    ours = {name for name, _ in plugins} | _entry_point_names([p for _, p in plugins])
    ours |= {name for name, _ in BUILTIN_PLUGINS}
    if isinstance(exc, PluginLoadError):
        return exc.plugin if exc.plugin not in ours else None
    # A clash that involves a plugin under test (or the core) is that plugin's to fix.
    first, second = (label.split(" (", 1)[0] for label in (exc.first, exc.second))
    return second if first not in ours and second not in ours else None


def _entry_point_names(plugins: Sequence[object]) -> set[str]:
    """The names of the entry points that load one of ``plugins``."""
    names = set()
    for ep in importlib.metadata.entry_points(group=hookspecs.PROJECT):
        module = sys.modules.get(ep.module)
        target = module if ep.attr is None else getattr(module, ep.attr, None)
        if module is not None and any(target is p for p in plugins):
            names.add(ep.name)
    return names

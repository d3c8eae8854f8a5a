"""gome: an SDK for machine-learning-engineering agents.

The core knows interfaces, value types, plugins and configuration; optimizers, LLM vendors and
executors beyond the local one are plugins. ``import gome_core`` stays cheap: it imports no ML
library, and the plugin and configuration machinery load on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from gome_core import errors, interfaces, types
from gome_core.errors import *  # noqa: F403
from gome_core.interfaces import *  # noqa: F403
from gome_core.types import *  # noqa: F403

__version__ = "0.1.0"

#: Loaded on first access: name -> (module, attribute).
_LAZY: dict[str, tuple[str, str]] = {
    "hookimpl": ("gome_core.hookspecs", "hookimpl"),
    # The types of the ``register`` argument of the registration hooks (docs/plugins.md).
    "RegisterComponent": ("gome_core.hookspecs", "RegisterComponent"),
    "RegisterPreset": ("gome_core.hookspecs", "RegisterPreset"),
    "get_registry": ("gome_core.plugins", "get_registry"),
    "load_plugins": ("gome_core.plugins", "load_plugins"),
    "PluginRegistry": ("gome_core.plugins", "PluginRegistry"),
    "resolve_config": ("gome_core.config", "resolve"),
    "RunConfig": ("gome_core.config", "RunConfig"),
    "ResolvedConfig": ("gome_core.config", "ResolvedConfig"),
}

__all__ = ["__version__", *types.__all__, *interfaces.__all__, *errors.__all__, *_LAZY]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'gome_core' has no attribute {name!r}")
    module, attribute = _LAZY[name]
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:  # pragma: no cover - the lazy names, for type checkers and IDEs
    from gome_core.config import ResolvedConfig, RunConfig
    from gome_core.config import resolve as resolve_config
    from gome_core.hookspecs import RegisterComponent, RegisterPreset, hookimpl
    from gome_core.plugins import PluginRegistry, get_registry, load_plugins

"""Finding plugins and the components they register.

:func:`load_plugins` builds a :class:`PluginRegistry`: the core's own plugins first, then every
entry point of the ``gome`` group (filtered by ``GOME_LOAD_PLUGINS`` / ``GOME_DISABLE_PLUGINS``),
then each registration hook is called once per plugin so that every component is known with the
plugin, distribution and version that provides it. A plugin that fails to import, implements a hook
that does not exist or fails while registering stops the loading with a
:class:`~gome_core.errors.PluginLoadError` naming it. :func:`get_registry` caches the result for
the process.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType, ModuleType
from typing import Any

import attrs
import pluggy
from attrs import field, frozen

from gome_core import hookspecs
from gome_core.errors import (
    ComponentNotFoundError,
    DuplicateComponentError,
    PluginLoadError,
    UsageError,
)
from gome_core.logs import get_logger

__all__ = [
    "BUILTIN_PLUGINS",
    "COMPONENT_KINDS",
    "PluginInfo",
    "PluginRegistry",
    "Preset",
    "Registration",
    "get_registry",
    "load_plugins",
    "notify_observers",
    "reset_registry",
    "unknown_hooks",
]

log = get_logger(__name__)

#: Component kind -> (registration hook, human name). A run component's kind is also its config
#: section name; a study's cell runner is chosen by ``study.runner`` in the study spec.
COMPONENT_KINDS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "llm": ("register_llm_backends", "LLM backend"),
        "executor": ("register_executors", "executor"),
        "validator": ("register_validators", "validator"),
        "gradient_estimator": ("register_gradient_estimators", "gradient estimator"),
        "momentum": ("register_momentum", "momentum"),
        "trace_coordinator": ("register_trace_coordinators", "trace coordinator"),
        "implementer": ("register_implementers", "implementer"),
        "optimizer": ("register_optimizers", "optimizer"),
        "cell_runner": ("register_cell_runners", "cell runner"),
    }
)

#: The core's default components, registered through the same hooks as any plugin.
BUILTIN_PLUGINS: tuple[tuple[str, str], ...] = (("core", "gome_core.builtin"),)

_ENV_ALLOW = "GOME_LOAD_PLUGINS"
_ENV_DENY = "GOME_DISABLE_PLUGINS"


@frozen
class PluginInfo:
    """A loaded plugin: its name (the entry point's), module, distribution and version."""

    name: str
    module: str
    distribution: str | None = None
    version: str | None = None
    builtin: bool = False

    @property
    def label(self) -> str:
        dist = f" ({self.distribution} {self.version})" if self.distribution else ""
        return f"{self.name}{dist}"


@frozen
class Registration:
    """One registered component: its kind, name, factory, config class and provider."""

    kind: str
    name: str
    factory: Callable[..., Any]
    config: type | None
    description: str
    plugin: PluginInfo

    def create(self, config: Any = None) -> Any:
        """Build the component from ``config`` (the default config when ``None``)."""
        if self.config is None:
            return self.factory()
        return self.factory(config if config is not None else self.config())


@frozen
class Preset:
    """A named partial configuration."""

    name: str
    settings: Mapping[str, Any] = field(converter=lambda m: MappingProxyType(dict(m)))
    description: str
    source: str
    plugin: PluginInfo
    #: Laid over ``settings`` when the run has an LLM backend.
    with_llm: Mapping[str, Any] = field(
        factory=dict, converter=lambda m: MappingProxyType(dict(m or {}))
    )


@attrs.define
class PluginRegistry:
    """What the loaded plugins provide. Built by :func:`load_plugins`."""

    manager: pluggy.PluginManager
    plugins: list[PluginInfo] = attrs.Factory(list)
    components: dict[str, dict[str, Registration]] = attrs.Factory(
        lambda: {kind: {} for kind in COMPONENT_KINDS}
    )
    presets: dict[str, Preset] = attrs.Factory(dict)

    def names(self, kind: str) -> list[str]:
        """Registered names of ``kind``, sorted."""
        return sorted(self.components[kind])

    def get(self, kind: str, name: str, *, path: str | None = None) -> Registration:
        """The registration of ``name``; an unknown name suggests the closest ones."""
        try:
            return self.components[kind][name]
        except KeyError:
            raise ComponentNotFoundError(
                COMPONENT_KINDS[kind][1], name, self.names(kind), path=path
            ) from None

    def create(self, kind: str, name: str, config: Any = None) -> Any:
        """Build component ``name`` of ``kind`` from ``config`` (its defaults when ``None``)."""
        return self.get(kind, name).create(config)

    def preset(self, name: str) -> Preset:
        """The preset ``name``; an unknown name suggests the closest ones."""
        try:
            return self.presets[name]
        except KeyError:
            raise ComponentNotFoundError("preset", name, list(self.presets)) from None

    def provided_by(self, plugin: PluginInfo) -> dict[str, list[str]]:
        """Kind -> names that ``plugin`` registered (presets under ``"preset"``)."""
        out: dict[str, list[str]] = {}
        for kind, regs in self.components.items():
            names = sorted(n for n, r in regs.items() if r.plugin == plugin)
            if names:
                out[kind] = names
        presets = sorted(n for n, p in self.presets.items() if p.plugin == plugin)
        if presets:
            out["preset"] = presets
        return out

    def hooks(self, plugin: PluginInfo) -> list[str]:
        """Names of the hooks that ``plugin`` implements, sorted."""
        loaded = self.manager.get_plugin(plugin.name)
        return sorted(caller.name for caller in self.manager.get_hookcallers(loaded) or [])


# --------------------------------------------------------------------------- loading


def _split_env(value: str | None) -> set[str] | None:
    if value is None or not value.strip():
        return None
    return {part.strip() for part in value.split(",") if part.strip()}


def _entry_points() -> list[importlib.metadata.EntryPoint]:
    seen: set[str] = set()
    found = []
    for ep in importlib.metadata.entry_points(group=hookspecs.PROJECT):
        # One distribution visible twice on sys.path (editable + installed) yields duplicates.
        if ep.name in seen:
            continue
        seen.add(ep.name)
        found.append(ep)
    return sorted(found, key=lambda ep: ep.name)


def load_plugins(
    *,
    extra: Iterable[tuple[str, object]] = (),
    entry_points: bool = True,
    builtins: bool = True,
    env: Mapping[str, str] | None = None,
) -> PluginRegistry:
    """Load plugins and collect everything they register.

    ``extra`` adds ``(name, plugin)`` pairs (a module or an object with hook implementations),
    registered after the entry points: the test kit uses it. ``env`` defaults to ``os.environ``.
    """
    env = os.environ if env is None else env
    allow, deny = _split_env(env.get(_ENV_ALLOW)), _split_env(env.get(_ENV_DENY)) or set()
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    registry = PluginRegistry(manager=manager)
    infos: dict[str, PluginInfo] = {}

    def add(name: str, plugin: object, info: PluginInfo) -> None:
        if manager.has_plugin(name):
            first = infos[name]
            raise UsageError(
                f"two plugins are named {name!r}: {first.label} and {info.label}. "
                f"Uninstall one, or disable it with {_ENV_DENY}={name}."
            )
        try:
            manager.register(plugin, name=name)
            _check_hooks_are_known(manager, plugin)
        except pluggy.PluginValidationError as exc:
            raise PluginLoadError(name, info.distribution, info.version, exc) from exc
        infos[name] = info
        registry.plugins.append(info)
        log.debug(
            "plugin loaded", plugin=name, distribution=info.distribution, version=info.version
        )

    if builtins:
        for name, module_name in BUILTIN_PLUGINS:
            if name in deny:
                continue
            module = importlib.import_module(module_name)
            from gome_core import __version__

            add(name, module, PluginInfo(name, module_name, "gome", __version__, builtin=True))

    if entry_points:
        for ep in _entry_points():
            if ep.name in deny or (allow is not None and ep.name not in allow):
                log.debug("plugin skipped", plugin=ep.name)
                continue
            dist = ep.dist.name if ep.dist is not None else None
            version = ep.dist.version if ep.dist is not None else None
            try:
                plugin = ep.load()
            except Exception as exc:
                raise PluginLoadError(ep.name, dist, version, exc) from exc
            add(ep.name, plugin, PluginInfo(ep.name, ep.value, dist, version))

    for name, plugin in extra:
        module = plugin.__name__ if isinstance(plugin, ModuleType) else type(plugin).__module__
        add(name, plugin, PluginInfo(name, module))

    _collect(registry, infos)
    return registry


def unknown_hooks(manager: pluggy.PluginManager, plugin: object) -> list[tuple[str, str | None]]:
    """The hooks ``plugin`` implements that gome does not have, each with the closest hook name
    gome has (``None`` when none is close). Hooks marked ``optionalhook=True`` are left out: they
    may be ones only a newer gome has."""
    out = []
    for caller in manager.get_hookcallers(plugin) or []:
        impls = [impl for impl in caller.get_hookimpls() if impl.plugin is plugin]
        if caller.has_spec() or all(impl.optionalhook for impl in impls):
            continue
        close = difflib.get_close_matches(caller.name, _known_hooks(), n=1)
        out.append((caller.name, close[0] if close else None))
    return out


def _known_hooks() -> list[str]:
    return sorted(name for name, spec in vars(hookspecs).items() if hasattr(spec, "gome_spec"))


def _check_hooks_are_known(manager: pluggy.PluginManager, plugin: object) -> None:
    """Refuse hook implementations that match no hook: pluggy accepts them, and a misspelt
    ``register_validator`` would then never be called, leaving its components unregistered."""
    found = unknown_hooks(manager, plugin)
    unknown = [f"{n!r}" + (f" (did you mean {c!r}?)" if c else "") for n, c in found]
    all_close = all(close for _, close in found)
    if not unknown:
        return
    problem = f"unknown hook{'s' if len(unknown) > 1 else ''} {', '.join(sorted(unknown))}"
    if not all_close:
        problem += (
            f" (the hooks are {', '.join(_known_hooks())}; mark a hook that only a newer gome "
            "has with @gome_core.hookimpl(optionalhook=True))"
        )
    raise pluggy.PluginValidationError(plugin, problem)


def _collect(registry: PluginRegistry, infos: Mapping[str, PluginInfo]) -> None:
    """Call every registration hook once per plugin, so each name is attributed to its plugin."""
    manager = registry.manager

    def call(hook_name: str, make_register: Callable[[PluginInfo], Callable[..., None]]) -> None:
        hook = getattr(manager.hook, hook_name)
        # Reversed: pluggy lists implementations last-registered first; keep load order.
        for impl in reversed(hook.get_hookimpls()):
            info = infos[impl.plugin_name]
            register = make_register(info)
            try:
                impl.function(*[{"register": register}[arg] for arg in impl.argnames])
            except UsageError:
                raise
            except Exception as exc:
                raise PluginLoadError(info.name, info.distribution, info.version, exc) from exc

    for kind, (hook_name, _human) in COMPONENT_KINDS.items():

        def make_register(info: PluginInfo, kind: str = kind) -> Callable[..., None]:
            def register(
                factory: Callable[..., Any],
                *,
                name: str,
                config: type | None = None,
                description: str = "",
            ) -> None:
                _check_registration(kind, name, factory, config, info)
                existing = registry.components[kind].get(name)
                if existing is not None:
                    raise DuplicateComponentError(
                        COMPONENT_KINDS[kind][1], name, existing.plugin.label, info.label
                    )
                if not description:
                    doc = (getattr(factory, "__doc__", None) or "").strip()
                    description = doc.splitlines()[0] if doc else ""
                registry.components[kind][name] = Registration(
                    kind, name, factory, config, description, info
                )

            return register

        call(hook_name, make_register)

    def make_preset_register(info: PluginInfo) -> Callable[..., None]:
        def register(
            settings: Mapping[str, Any],
            *,
            name: str,
            description: str,
            source: str = "",
            with_llm: Mapping[str, Any] | None = None,
        ) -> None:
            if not isinstance(settings, Mapping):
                raise TypeError(f"preset {name!r}: settings must be a mapping")
            if with_llm is not None and not isinstance(with_llm, Mapping):
                raise TypeError(f"preset {name!r}: with_llm must be a mapping")
            existing = registry.presets.get(name)
            if existing is not None:
                raise DuplicateComponentError("preset", name, existing.plugin.label, info.label)
            registry.presets[name] = Preset(
                name, settings, description, source, info, with_llm or {}
            )

        return register

    call("register_presets", make_preset_register)


def _check_registration(
    kind: str, name: str, factory: object, config: type | None, info: PluginInfo
) -> None:
    if not isinstance(name, str) or not name or any(c in name for c in ":= \t"):
        raise TypeError(
            f"{kind} name {name!r} must be a non-empty string without ':', '=' or spaces"
        )
    if not callable(factory):
        raise TypeError(f"{kind} {name!r}: factory {factory!r} is not callable")
    if config is not None and not attrs.has(config):
        raise TypeError(f"{kind} {name!r}: config {config!r} must be an attrs class")


# --------------------------------------------------------------------------- process-wide cache

_cached: PluginRegistry | None = None
_lock = threading.Lock()


def get_registry() -> PluginRegistry:
    """The process-wide registry, loaded on first use."""
    global _cached
    with _lock:
        if _cached is None:
            _cached = load_plugins()
        return _cached


def reset_registry(registry: PluginRegistry | None = None) -> None:
    """Forget (or replace) the cached registry, e.g. after installing a plugin at run time."""
    global _cached
    with _lock:
        _cached = registry


def notify_observers(hooks: Any, name: str, **kwargs: Any) -> None:
    """Call every implementation of the observer hook ``name`` (on ``hooks``, a plugin
    manager's ``.hook``), each on its own: one that raises is logged and the others still run.
    pluggy would stop at the first failure, and an observer must neither stop a run nor
    silence the observers after it."""
    caller = getattr(hooks, name)
    impls = caller.get_hookimpls()
    if any(impl.hookwrapper or impl.wrapper for impl in impls):
        # A wrapper needs pluggy's own call loop: then one failure skips the rest, as in pluggy.
        try:
            caller(**kwargs)
        except Exception:
            log.exception("observer hook failed", hook=name)
        return
    for impl in reversed(impls):  # pluggy's order: the last registered first
        try:
            impl.function(**{arg: kwargs[arg] for arg in impl.argnames})
        except Exception:
            log.exception("observer hook failed", hook=name, plugin=impl.plugin_name)

"""Configuration: TOML files, presets and ``--set key=value``, structured into attrs classes.

Layers, lowest first: :data:`DEFAULTS`, the preset, each ``-c`` file in order, each ``--set``.
Layers are merged as plain mappings, then structured once with cattrs into :class:`RunConfig`.
A component section is *tagged* by its ``name``: ``executor = "local"`` or
``[executor] name = "local"  timeout_s = 600``; the other keys structure into the config class
that the component registered, so a typo or a wrong type is an error with its path::

    $.executor.timeout_s: expected a number, got "ten"
"""

from __future__ import annotations

import collections.abc
import copy
import difflib
import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, get_args, get_origin

import attrs
import cattrs
from attrs import field, frozen
from attrs.validators import gt, optional
from cattrs.cols import homogenous_tuple_structure_factory, list_structure_factory
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError, IterableValidationError
from cattrs.gen import make_dict_structure_fn

from gome_core.engine.core import EngineSettings
from gome_core.errors import ComponentNotFoundError, ConfigError, UsageError
from gome_core.plugins import COMPONENT_KINDS, PluginInfo, PluginRegistry, get_registry

__all__ = [
    "DEFAULTS",
    "ComponentSpec",
    "ExecutorSpec",
    "GradientEstimatorSpec",
    "ImplementerSpec",
    "LLMSpec",
    "MomentumSpec",
    "OptimizerSpec",
    "ResolvedConfig",
    "RunConfig",
    "TraceCoordinatorSpec",
    "ValidatorSpec",
    "apply_override",
    "load_toml",
    "merge",
    "parse_override",
    "resolve",
]


# --------------------------------------------------------------------------- component specs


@frozen
class ComponentSpec:
    """A component chosen by name, with its structured config (``None``: it takes none)."""

    kind: ClassVar[str] = ""
    name: str
    config: Any = None
    #: The registry that structured this spec (:func:`resolve` binds it, defaults included):
    #: a component that builds its own parts (an optimizer's estimator or implementer) finds
    #: them where its configuration was checked, not only in the process-wide registry.
    registry: PluginRegistry | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)

    def create(self, registry: PluginRegistry | None = None) -> Any:
        """Build the component through ``registry``, else the registry that structured this
        spec, else the process-wide one."""
        registry = registry or self.registry or get_registry()
        return registry.get(self.kind, self.name).create(self.config)


def _spec_class(kind: str) -> type[ComponentSpec]:
    cls = type(f"{''.join(p.title() for p in kind.split('_'))}Spec", (ComponentSpec,), {})
    cls.kind = kind
    cls.__doc__ = f"A {COMPONENT_KINDS[kind][1]} chosen by name, with its config."
    cls.__module__ = __name__
    return cls


LLMSpec = _spec_class("llm")
ExecutorSpec = _spec_class("executor")
ValidatorSpec = _spec_class("validator")
GradientEstimatorSpec = _spec_class("gradient_estimator")
MomentumSpec = _spec_class("momentum")
TraceCoordinatorSpec = _spec_class("trace_coordinator")
ImplementerSpec = _spec_class("implementer")
OptimizerSpec = _spec_class("optimizer")


# --------------------------------------------------------------------------- the run config


@frozen
class BudgetConfig:
    """Run limits; whichever is reached first ends the run. Unset means unlimited."""

    steps: int | None = field(default=None, validator=optional(gt(0)))
    hours: float | None = field(default=None, validator=optional(gt(0)))
    tokens: int | None = field(default=None, validator=optional(gt(0)))
    usd: float | None = field(default=None, validator=optional(gt(0)))


@frozen
class RunConfig:
    """The whole configuration of a run."""

    executor: ExecutorSpec  # type: ignore[valid-type]
    task: str | None = None
    preset: str | None = None
    seed: int = 0
    budget: BudgetConfig = BudgetConfig()
    engine: EngineSettings = EngineSettings()
    llm: LLMSpec | None = None  # type: ignore[valid-type]
    optimizer: OptimizerSpec | None = None  # type: ignore[valid-type]
    validators: tuple[ValidatorSpec, ...] = field(default=(), converter=tuple)  # type: ignore[valid-type]
    run_dir: str | None = None


#: The lowest layer: what holds when nothing else says otherwise.
DEFAULTS: Mapping[str, Any] = {"executor": "local", "seed": 0}


@frozen
class ResolvedConfig:
    """A structured :class:`RunConfig` plus what produced it: plugin versions, layers."""

    config: RunConfig
    raw: Mapping[str, Any]
    registry: PluginRegistry = field(repr=False, eq=False)
    sources: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The configuration as plain data (``None`` values omitted, TOML-ready)."""
        return _drop_none(_converter(self.registry).unstructure(self.config))

    def _providers(self) -> Iterator[tuple[str, ComponentSpec, PluginInfo]]:
        """``(path, spec, plugin)`` for every component in the config."""
        for path, spec in _walk_specs(self.config, "$"):
            yield path, spec, self.registry.get(spec.kind, spec.name).plugin

    def components(self) -> list[tuple[str, str, str]]:
        """``(path, component name, provider)`` for every component in the config."""
        rows = []
        for path, spec, plugin in self._providers():
            version = f" {plugin.version}" if plugin.version else ""
            provider = f"{plugin.distribution or plugin.module}{version}"
            rows.append((path, spec.name, f"{provider} (plugin {plugin.name})"))
        return rows

    def versions(self) -> dict[str, str]:
        """``{distribution: version}`` of gome and of each plugin that provides a component.

        A plugin outside any distribution (a module on the path) is named by its module and has
        the version ``"unknown"``.
        """
        from gome_core import __version__

        versions = {"gome": __version__}
        for _path, _spec, plugin in self._providers():
            versions[plugin.distribution or plugin.module] = plugin.version or "unknown"
        return dict(sorted(versions.items()))

    def describe(self) -> dict[str, Any]:
        """Everything needed to reproduce the run's setup: config, sources, plugin versions."""
        from gome_core import __version__

        return {
            "gome_version": __version__,
            "sources": list(self.sources),
            "config": self.to_dict(),
            "components": [
                {"path": p, "name": n, "provider": prov} for p, n, prov in self.components()
            ],
            "plugins": [
                {"name": p.name, "distribution": p.distribution, "version": p.version}
                for p in self.registry.plugins
            ],
        }

    def to_toml(self) -> str:
        import tomli_w

        header = "".join(
            f"# {path[2:]} = {name!r}: {provider}\n" for path, name, provider in self.components()
        )
        return header + tomli_w.dumps(self.to_dict())


def _bind_registry(value: Any, registry: PluginRegistry) -> Any:
    """``value`` with every component spec in it bound to ``registry``: copies where something
    changed (a spec left to its class's default is shared, and must not be changed in place)."""
    if isinstance(value, (list, tuple)):
        items = [_bind_registry(item, registry) for item in value]
        changed = any(new is not old for new, old in zip(items, value, strict=True))
        return type(value)(items) if changed else value
    if not attrs.has(type(value)):
        return value
    changes = {}
    for a in attrs.fields(type(value)):
        if not a.init or a.name == "registry":
            continue
        old = getattr(value, a.name)
        new = _bind_registry(old, registry)
        if new is not old:
            changes[a.alias or a.name] = new
    if isinstance(value, ComponentSpec) and value.registry is not registry:
        changes["registry"] = registry
    return attrs.evolve(value, **changes) if changes else value


def _walk_specs(value: Any, path: str) -> Iterable[tuple[str, ComponentSpec]]:
    if isinstance(value, ComponentSpec):
        yield path, value
        value = value.config
    if attrs.has(type(value)):
        for a in attrs.fields(type(value)):
            yield from _walk_specs(getattr(value, a.name), f"{path}.{a.name}")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _walk_specs(item, f"{path}[{i}]")


def _drop_none(value: Any) -> Any:
    """Plain data for TOML: no ``None`` (TOML has no null) and no empty tables."""
    if isinstance(value, Mapping):
        out = {k: _drop_none(v) for k, v in value.items() if v is not None}
        return {k: v for k, v in out.items() if v != {}}
    if isinstance(value, (list, tuple)):
        return [_drop_none(v) for v in value]
    return value


# --------------------------------------------------------------------------- strict structuring


class _Mismatch(ValueError):
    """A value of the wrong type; the message is the user-facing explanation."""


def _describe(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, (list, tuple)):
        return "a list"
    return repr(value)


def _strict_int(value: Any, _: type) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise _Mismatch(f"expected an integer, got {_describe(value)}")


def _strict_float(value: Any, _: type) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise _Mismatch(f"expected a number, got {_describe(value)}")


def _strict_bool(value: Any, _: type) -> bool:
    if isinstance(value, bool):
        return value
    raise _Mismatch(f"expected true or false, got {_describe(value)}")


def _strict_str(value: Any, _: type) -> str:
    if isinstance(value, str):
        return value
    raise _Mismatch(f"expected a string, got {_describe(value)}")


def _converter(registry: PluginRegistry) -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
    conv.register_structure_hook(int, _strict_int)
    conv.register_structure_hook(float, _strict_float)
    conv.register_structure_hook(bool, _strict_bool)
    conv.register_structure_hook(str, _strict_str)
    conv.register_structure_hook(Path, lambda v, _: Path(_strict_str(v, str)))
    conv.register_unstructure_hook(Path, str)

    def structure_spec(value: Any, cls: type[ComponentSpec]) -> ComponentSpec:
        if isinstance(value, str):
            value = {"name": value}
        if not isinstance(value, Mapping):
            raise _Mismatch(
                f"expected a {COMPONENT_KINDS[cls.kind][1]} name or a table with a 'name' key, "
                f"got {_describe(value)}"
            )
        if "name" not in value:
            raise _Mismatch(
                f"missing 'name': which {COMPONENT_KINDS[cls.kind][1]}? "
                f"Registered: {', '.join(registry.names(cls.kind)) or 'none'}"
            )
        name = _strict_str(value["name"], str)
        reg = registry.components[cls.kind].get(name)
        if reg is None:
            raise _Mismatch(
                str(
                    ComponentNotFoundError(
                        COMPONENT_KINDS[cls.kind][1], name, registry.names(cls.kind)
                    )
                )
            )
        rest = {k: v for k, v in value.items() if k != "name"}
        if reg.config is None:
            if rest:
                raise ForbiddenExtraKeysError("", cls, set(rest))
            return cls(name=name)
        return cls(name=name, config=conv.structure(rest, reg.config))

    def unstructure_spec(spec: ComponentSpec) -> dict[str, Any]:
        body = conv.unstructure(spec.config) if spec.config is not None else {}
        return {"name": spec.name, **body}

    def structure_with_default_names(cls: type) -> Any:
        """Structures ``cls``, naming a component it defaults where a table gives only fields.

        The Gome optimizer's implementer is ``offline`` unless set, so
        ``optimizer.implementer.max_folds = 2`` sets that implementer's folds.
        """
        structure = make_dict_structure_fn(cls, conv)
        defaults = {
            a.name: a.default.name
            for a in attrs.fields(cls)
            if isinstance(a.default, ComponentSpec)
        }
        if not defaults:
            return structure

        def structure_named(value: Any, type_: type) -> Any:
            if isinstance(value, Mapping):
                value = {
                    key: {"name": defaults[key], **sub}
                    if key in defaults and isinstance(sub, Mapping) and "name" not in sub
                    else sub
                    for key, sub in value.items()
                }
            return structure(value, type_)

        return structure_named

    def structure_sequence(type_: Any) -> Any:
        """Lists and tuples, refusing a lone string (which would become its characters)."""
        origin = get_origin(type_)
        base = (
            homogenous_tuple_structure_factory(type_, conv)
            if origin is tuple
            else list_structure_factory(type_, conv)
        )

        def structure(value: Any, cl: Any) -> Any:
            if not isinstance(value, (list, tuple)):
                raise _Mismatch(f"expected a list, got {_describe(value)}")
            return base(value, cl)

        return structure

    conv.register_structure_hook_factory(_is_list_or_tuple, structure_sequence)
    conv.register_structure_hook_factory(attrs.has, structure_with_default_names)
    conv.register_structure_hook_func(
        lambda t: isinstance(t, type) and issubclass(t, ComponentSpec), structure_spec
    )
    conv.register_unstructure_hook_func(
        lambda t: isinstance(t, type) and issubclass(t, ComponentSpec), unstructure_spec
    )
    return conv


def _is_list_or_tuple(type_: Any) -> bool:
    origin = get_origin(type_)
    if origin is tuple:
        args = get_args(type_)
        return len(args) == 2 and args[1] is Ellipsis  # homogeneous: tuple[X, ...]
    return origin in (list, Sequence, collections.abc.Sequence)


def _known_keys(cls: type) -> list[str]:
    if isinstance(cls, type) and issubclass(cls, ComponentSpec):
        return ["name"]
    return [a.name for a in attrs.fields(cls)] if attrs.has(cls) else []


def _problems(exc: BaseException, path: str = "$") -> list[tuple[str, str]]:
    """Turn cattrs' nested validation errors into ``(path, message)`` pairs."""
    out: list[tuple[str, str]] = []
    if isinstance(exc, (ClassValidationError, IterableValidationError)):
        with_notes, without = exc.group_exceptions()
        for sub, note in with_notes:
            step = (
                f"[{note.index}]" if isinstance(exc, IterableValidationError) else f".{note.name}"
            )
            out.extend(_problems(sub, path + step))
        for sub in without:
            out.extend(_problems(sub, path))
    elif isinstance(exc, ForbiddenExtraKeysError):
        known = _known_keys(exc.cl)
        for key in sorted(exc.extra_fields):
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            out.append(
                (f"{path}.{key}", f"unknown key{hint} (known: {', '.join(known) or 'none'})")
            )
    elif isinstance(exc, KeyError):
        out.append((path, "required key missing"))
    elif isinstance(exc, _Mismatch):
        out.append((path, str(exc)))
    elif isinstance(exc, (ValueError, TypeError)):
        # An attrs validator's message starts with the field's name: point at that field.
        field_name = re.match(r"'(\w+)' (must|has to|is)", str(exc))
        if field_name:
            out.append((f"{path}.{field_name.group(1)}", str(exc).split(" ", 1)[1]))
        else:
            out.append((path, f"invalid value: {exc}"))
    else:
        raise exc
    return out


# --------------------------------------------------------------------------- layers


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML config file; syntax errors name the file and the line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"config file {path} does not exist.") from None
    except OSError as exc:
        raise UsageError(f"config file {path} cannot be read: {exc.strerror}.") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"config file {path} is not valid TOML: {exc}.") from None


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge ``override`` into a copy of ``base``.

    A component given by name (``"local"``) counts as ``{"name": "local"}``; switching a component
    to another name drops the old one's settings, which would not fit the new one.
    """
    out = copy.deepcopy(dict(base))
    for key, new in override.items():
        old = out.get(key)
        if isinstance(new, Mapping) and isinstance(old, (Mapping, str)):
            old_map = {"name": old} if isinstance(old, str) else old
            if "name" in new and old_map.get("name") not in (None, new["name"]):
                out[key] = copy.deepcopy(dict(new))
            else:
                out[key] = merge(old_map, new)
        elif isinstance(new, str) and isinstance(old, Mapping) and old.get("name") in (None, new):
            # The same component named again, or settings given before the name: keep them.
            out[key] = {**copy.deepcopy(dict(old)), "name": new}
        else:
            out[key] = copy.deepcopy(new)
    return out


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split ``a.b.c=value``; the value is read as TOML (``10``, ``true``, ``[1, 2]``), else as a
    plain string."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise UsageError(f"--set {text!r}: expected KEY=VALUE, e.g. --set executor.timeout_s=600.")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return key.split("."), value


def apply_override(config: Mapping[str, Any], text: str) -> dict[str, Any]:
    """``config`` with one ``--set`` applied."""
    keys, value = parse_override(text)
    patch: Any = value
    for key in reversed(keys):
        patch = {key: patch}
    return merge(config, patch)


def _preset_named_by(
    layers: Sequence[tuple[str, Mapping[str, Any]]], overrides: Sequence[str]
) -> str | None:
    """The ``preset`` key of the highest layer that sets one."""
    named = None
    for _source, layer in layers:
        named = layer.get("preset", named)
    for text in overrides:
        keys, value = parse_override(text)
        if keys == ["preset"]:
            named = value
    if named is not None and not isinstance(named, str):
        raise ConfigError([("$.preset", f"expected a preset name, got {_describe(named)}")])
    return named


def resolve(
    *,
    preset: str | None = None,
    files: Sequence[str | Path] = (),
    overrides: Sequence[str] = (),
    settings: Mapping[str, Any] | None = None,
    registry: PluginRegistry | None = None,
    fallback_preset: str | None = None,
) -> ResolvedConfig:
    """Build the run configuration from its layers and check it against the registered schemas.

    The preset is ``preset``, else the ``preset`` key of the highest layer that sets one (a file,
    ``settings`` or an override), else ``fallback_preset``. A layer naming another preset than
    ``preset`` is an error: the run would be labelled with a preset it does not run.
    """
    registry = registry or get_registry()
    user_layers = [(str(path), load_toml(path)) for path in files]
    if settings:
        user_layers.append(("settings", dict(settings)))
    named = _preset_named_by(user_layers, overrides)
    if preset is not None and named not in (None, preset):
        raise ConfigError(
            [
                (
                    "$.preset",
                    f"{named!r} differs from the preset given ({preset!r}); "
                    f"name one preset, with --preset or with the preset key",
                )
            ]
        )
    preset = preset or named or fallback_preset
    chosen = registry.preset(preset) if preset is not None else None

    def layered(with_llm: bool) -> tuple[dict[str, Any], list[str]]:
        raw: dict[str, Any] = dict(DEFAULTS)
        sources = ["defaults"]
        if chosen is not None:
            raw = merge(raw, chosen.settings)
            raw["preset"] = chosen.name
            sources.append(f"preset {chosen.name}")
            if with_llm:
                raw = merge(raw, chosen.with_llm)
                sources.append(f"preset {chosen.name} (with an LLM)")
        for source, layer in user_layers:
            raw = merge(raw, layer)
            sources.append(source)
        for text in overrides:
            raw = apply_override(raw, text)
            sources.append(f"--set {text}")
        return raw, sources

    raw, sources = layered(with_llm=False)
    # Whether the run has an LLM is known only once every layer is in.
    if chosen is not None and chosen.with_llm and raw.get("llm"):
        raw, sources = layered(with_llm=True)
    try:
        config = _converter(registry).structure(raw, RunConfig)
    except (ClassValidationError, IterableValidationError) as exc:
        raise ConfigError(_problems(exc)) from None
    return ResolvedConfig(_bind_registry(config, registry), raw, registry, tuple(sources))

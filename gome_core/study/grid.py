"""The grid: one cell per preset x model x competition x seed, and each cell's run settings."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

import attrs
from attrs import frozen

from gome_core.config import ComponentSpec, merge, parse_override, resolve
from gome_core.errors import ConfigError
from gome_core.plugins import PluginRegistry
from gome_core.study.spec import StudySpec

__all__ = ["Cell", "ModelLevel", "cell_settings", "expand_grid", "model_levels"]

#: The setting that stands in for model strength in offline components (``docs/offline.md``).
SKILL_FIELD = "skill"


@frozen
class ModelLevel:
    """One point of the model-strength axis: an offline skill, an LLM, or the preset's default.

    ``rank`` is its position on the axis (weakest first), the x of the crossover plot.
    """

    kind: str  # "skill" | "llm" | "default"
    value: float | str | None
    rank: int = 0

    @classmethod
    def skill(cls, value: float, rank: int = 0) -> ModelLevel:
        return cls("skill", float(value), rank)

    @classmethod
    def llm(cls, spec: str, rank: int = 0) -> ModelLevel:
        return cls("llm", spec, rank)

    @classmethod
    def preset_default(cls) -> ModelLevel:
        return cls("default", None, 0)

    @property
    def label(self) -> str:
        if self.kind == "skill":
            return f"skill={self.value:g}"
        if self.kind == "llm":
            return str(self.value)
        return "default"

    @property
    def slug(self) -> str:
        """The label as a directory name."""
        return re.sub(r"[^A-Za-z0-9._-]+", "-", self.label.replace("=", "-")).strip("-")


@frozen
class Cell:
    """One agent run of the study."""

    preset: str
    model: ModelLevel
    competition: str
    seed: int

    @property
    def key(self) -> str:
        """The cell's relative directory, e.g. ``gome/skill-0.25/penguins-mass/seed-0``."""
        return f"{self.preset}/{self.model.slug}/{self.competition}/seed-{self.seed}"

    @property
    def label(self) -> str:
        return f"{self.preset} {self.model.label} {self.competition} seed {self.seed}"


def model_levels(spec: StudySpec) -> list[ModelLevel]:
    """The model-strength axis, weakest first, as the spec lists it."""
    if spec.grid.skills:
        return [ModelLevel.skill(v, i) for i, v in enumerate(spec.grid.skills)]
    if spec.grid.llms:
        return [ModelLevel.llm(v, i) for i, v in enumerate(spec.grid.llms)]
    return [ModelLevel.preset_default()]


def expand_grid(spec: StudySpec) -> list[Cell]:
    """Every cell, in a stable order: preset, model, competition, seed."""
    return [
        Cell(preset, model, competition, seed)
        for preset in spec.grid.presets
        for model in model_levels(spec)
        for competition in spec.grid.competitions
        for seed in spec.grid.seeds
    ]


def run_order(spec: StudySpec) -> list[Cell]:
    """Every cell in the order a study runs them: seed by seed, and within a seed competition
    by competition, so a study stopped part-way has compared every preset and model on the
    seeds it finished rather than finished one preset alone."""
    return [
        Cell(preset, model, competition, seed)
        for seed in spec.grid.seeds
        for competition in spec.grid.competitions
        for model in model_levels(spec)
        for preset in spec.grid.presets
    ]


# --------------------------------------------------------------------------- run settings


def _nested(keys: list[str], value: Any) -> dict[str, Any]:
    out: Any = value
    for key in reversed(keys):
        out = {key: out}
    return out  # type: ignore[no-any-return]


def _components(value: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Any]]:
    """``(path, spec)`` of every component reachable through tables (not lists) of a config."""
    if isinstance(value, ComponentSpec):
        yield path, value
        value = value.config
    if attrs.has(type(value)):
        for a in attrs.fields(type(value)):
            yield from _components(getattr(value, a.name), (*path, a.name))


def _named_components(preset: str, registry: PluginRegistry) -> tuple[dict[str, Any], list]:
    """The preset's components named explicitly at their paths, and the paths taking a skill.

    A preset may leave a nested component to its default (the Gome optimizer's ``estimator``
    is ``offline`` unless set). The configuration names such a default itself when a table sets
    only its fields; the cells name it too, because their fingerprints cover these names and
    finished cells must keep matching. These are the components of a run without an LLM: a
    cell with one names none (:func:`cell_settings`).
    """
    resolved = resolve(preset=preset, registry=registry)
    named: dict[str, Any] = {}
    skill_paths = []
    for path, component in _components(resolved.config, ()):
        named = merge(named, _nested(list(path), {"name": component.name}))
        config_class = registry.get(component.kind, component.name).config
        if config_class is not None and SKILL_FIELD in attrs.fields_dict(config_class):
            skill_paths.append(path)
    return named, skill_paths


def _has_llm(spec: StudySpec, cell: Cell) -> bool:
    """Whether the cell runs with an LLM: an LLM cell, or a cell of the preset's default model
    whose spec's ``[set]`` gives one (a skill cell runs its offline components, always)."""
    if cell.model.kind == "llm":
        return True
    return cell.model.kind == "default" and bool(_overrides(spec).get("llm"))


def _overrides(spec: StudySpec) -> dict[str, Any]:
    """The spec's ``[set]`` as one nested configuration layer."""
    settings: dict[str, Any] = {}
    for key, value in spec.overrides.items():
        keys, _ = parse_override(f"{key}=0")  # the key's syntax only; the value is TOML already
        settings = merge(settings, _nested(keys, value))
    return settings


def cell_settings(spec: StudySpec, cell: Cell, registry: PluginRegistry) -> dict[str, Any]:
    """The configuration layer that makes ``cell`` of ``spec`` (on top of its preset).

    Layers, lowest first: the preset's components named explicitly (in a cell without an LLM),
    the spec's ``[set]``, then the cell's own axes (model, competition, seed) and the study's
    budget, which always win.
    """
    if not _has_llm(spec, cell):
        named, skill_paths = _named_components(cell.preset, registry)
    else:
        # With an LLM the preset's with_llm overlay chooses its components (Gome's estimator
        # and implementer become ``llm``): naming those of a run without one would undo it. The
        # cell resolves as ``gome run --preset P --llm BACKEND:MODEL`` does.
        named, skill_paths = {}, []
    settings = named
    for key, value in spec.overrides.items():
        keys, _ = parse_override(f"{key}=0")  # the key's syntax only; the value is TOML already
        settings = merge(settings, _nested(keys, value))
    if cell.model.kind == "skill":
        if not skill_paths:
            raise ConfigError(
                [
                    (
                        "$.grid.skills",
                        f"preset {cell.preset!r} has no component with a {SKILL_FIELD!r} "
                        f"setting (the offline reasoner's); use llms for it",
                    )
                ]
            )
        for path in skill_paths:
            settings = merge(settings, _nested([*path, SKILL_FIELD], cell.model.value))
    elif cell.model.kind == "llm":
        backend, _, model = str(cell.model.value).partition(":")
        settings = merge(settings, {"llm": {"name": backend, "model": model}})
    budget = {
        key: getattr(spec.study, key)
        for key in ("steps", "hours", "usd")
        if getattr(spec.study, key) is not None
    }
    settings = merge(settings, {"task": cell.competition, "seed": cell.seed})
    if budget:
        settings = merge(settings, {"budget": budget})
    return settings


def check_settings(
    preset: str, settings: Mapping[str, Any], registry: PluginRegistry, where: str
) -> None:
    """Resolve a cell's configuration now, so that a bad ``[set]`` fails before any cell runs."""
    try:
        resolve(preset=preset, settings=settings, registry=registry)
    except ConfigError as exc:
        raise ConfigError(exc.problems, source=where) from None


def fingerprint(preset: str, settings: Mapping[str, Any]) -> str:
    """A digest of what a cell runs: a finished cell whose settings changed is run again."""
    text = json.dumps({"preset": preset, "settings": settings}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]

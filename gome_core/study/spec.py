"""The study spec: a TOML file naming the grid of cells and how to run them.

::

    [study]
    name = "crossover-small"
    steps = 4                 # budget of every cell (hours, usd optional)
    workers = 2
    runner = "local"          # a registered cell runner
    [grid]
    presets = ["gome", "aide-greedy"]
    skills = [0.25, 1.0]      # offline reasoner skill; or llms = ["openai:gpt-5", ...]
    competitions = ["penguins-mass", "breast-cancer"]
    seeds = [0, 1]
    [set]                     # config overrides for every cell
    "engine.final_top_k" = 1
    [runner]                  # settings of the cell runner (its config class)

Mistakes are reported with their path, like run configurations are
(``$.grid.skills[1]: expected a number between 0 and 1, got 1.5``).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from attrs import field, frozen
from cattrs.errors import ClassValidationError, IterableValidationError

from gome_core.config import load_toml
from gome_core.errors import ConfigError
from gome_core.plugins import PluginRegistry

__all__ = ["GridSpec", "StudySettings", "StudySpec", "load_spec"]

#: Top-level tables of a spec, in the order the docs present them.
_TABLES = ("study", "grid", "set", "runner")


@frozen
class StudySettings:
    """The ``[study]`` table: the study's name, each cell's budget and how cells are run."""

    name: str
    steps: int | None = None
    hours: float | None = None
    usd: float | None = None
    #: Cells in flight at once (0: the runner decides, e.g. one per CPU core).
    workers: int = 0
    runner: str = "local"
    #: Seconds between progress lines on the cells in flight (their steps so far); 0: none.
    progress_s: float = 300.0
    #: Extra competitions directories and the data directory (relative to the spec file).
    competitions_dirs: tuple[str, ...] = ()
    data_dir: str | None = None


@frozen
class GridSpec:
    """The ``[grid]`` table: the axes whose product is the set of cells."""

    presets: tuple[str, ...]
    competitions: tuple[str, ...]
    seeds: tuple[int, ...] = (0,)
    #: Offline reasoner skills (model strength stand-in), weakest first.
    skills: tuple[float, ...] = ()
    #: LLMs as ``backend:model``, listed from weakest to strongest (the plots' x axis).
    llms: tuple[str, ...] = ()


@frozen
class StudySpec:
    """A whole study spec, checked against the registry (presets, LLM backends, runner)."""

    study: StudySettings
    grid: GridSpec
    #: Dotted config keys -> values, applied to every cell (``--set`` in TOML form).
    overrides: Mapping[str, Any] = field(factory=dict, converter=lambda m: MappingProxyType(m))
    #: Settings of the cell runner, structured into its registered config class.
    runner_settings: Mapping[str, Any] = field(
        factory=dict, converter=lambda m: MappingProxyType(m)
    )
    #: The file the spec was read from (relative paths in it are relative to its folder).
    source: Path | None = None

    @property
    def base_dir(self) -> Path:
        return self.source.parent if self.source is not None else Path.cwd()

    def competitions_dirs(self) -> list[str]:
        return [str((self.base_dir / d).resolve()) for d in self.study.competitions_dirs]

    def data_dir(self) -> str | None:
        if self.study.data_dir is None:
            return None
        return str((self.base_dir / self.study.data_dir).resolve())

    @classmethod
    def from_mapping(
        cls,
        data: Mapping[str, Any],
        registry: PluginRegistry,
        *,
        source: Path | None = None,
    ) -> StudySpec:
        """Check and structure a parsed spec; every problem is reported with its path."""
        from gome_core.config import _converter, _problems  # the run config's strict rules

        problems: list[tuple[str, str]] = []
        for key in data:
            if key not in _TABLES:
                close = difflib.get_close_matches(key, _TABLES, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                problems.append((f"$.{key}", f"unknown table{hint} (known: {', '.join(_TABLES)})"))
        converter = _converter(registry)
        parts: dict[str, Any] = {}
        for key, kind in (("study", StudySettings), ("grid", GridSpec)):
            if key not in data:
                problems.append((f"$.{key}", f"required table [{key}] missing"))
                continue
            try:
                parts[key] = converter.structure(data[key], kind)
            except (ClassValidationError, IterableValidationError) as exc:
                problems.extend(_problems(exc, f"$.{key}"))
        for key in ("set", "runner"):
            if key in data and not isinstance(data[key], Mapping):
                problems.append((f"$.{key}", f"expected a table, got {data[key]!r}"))
        if "study" in parts:
            problems.extend(_check_study(parts["study"], registry))
        if "grid" in parts:
            problems.extend(_check_grid(parts["grid"], registry))
        for key in data.get("set", {}) if isinstance(data.get("set"), Mapping) else ():
            if not key or any(not part for part in str(key).split(".")):
                problems.append((f"$.set.{key!r}", "expected a dotted key such as engine.workers"))
        if problems:
            raise ConfigError(problems, source=str(source) if source else None)
        return cls(
            parts["study"],
            parts["grid"],
            dict(data.get("set", {})),
            dict(data.get("runner", {})),
            source,
        )


def _duplicates(values: tuple[Any, ...], path: str) -> list[tuple[str, str]]:
    seen: set[Any] = set()
    out = []
    for i, value in enumerate(values):
        if value in seen:
            out.append((f"{path}[{i}]", f"{value!r} is listed twice"))
        seen.add(value)
    return out


def _unknown(name: str, known: list[str], what: str) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown {what} {name!r}{hint} (known: {', '.join(known) or 'none'})"


def _check_study(study: StudySettings, registry: PluginRegistry) -> list[tuple[str, str]]:
    problems = []
    if not study.name.strip() or "/" in study.name:
        problems.append(("$.study.name", "expected a non-empty name without '/'"))
    for key in ("steps", "hours", "usd"):
        value = getattr(study, key)
        if value is not None and value <= 0:
            problems.append((f"$.study.{key}", f"expected a positive budget, got {value}"))
    if study.workers < 0:
        problems.append(("$.study.workers", f"expected 0 or more, got {study.workers}"))
    if study.runner not in registry.components["cell_runner"]:
        problems.append(
            ("$.study.runner", _unknown(study.runner, registry.names("cell_runner"), "cell runner"))
        )
    return problems


def _check_grid(grid: GridSpec, registry: PluginRegistry) -> list[tuple[str, str]]:
    problems = []
    for key in ("presets", "competitions", "seeds"):
        if not getattr(grid, key):
            problems.append((f"$.grid.{key}", "expected at least one value"))
        problems.extend(_duplicates(getattr(grid, key), f"$.grid.{key}"))
    for i, preset in enumerate(grid.presets):
        if preset not in registry.presets:
            problems.append(
                (f"$.grid.presets[{i}]", _unknown(preset, list(registry.presets), "preset"))
            )
    if grid.skills and grid.llms:
        problems.append(("$.grid", "give skills or llms (the model-strength axis), not both"))
    problems.extend(_duplicates(grid.skills, "$.grid.skills"))
    for i, skill in enumerate(grid.skills):
        if not 0.0 <= skill <= 1.0:
            problems.append(
                (f"$.grid.skills[{i}]", f"expected a number between 0 and 1, got {skill}")
            )
    problems.extend(_duplicates(grid.llms, "$.grid.llms"))
    for i, llm in enumerate(grid.llms):
        backend, sep, model = llm.partition(":")
        if not sep or not backend or not model:
            problems.append(
                (f"$.grid.llms[{i}]", f"expected BACKEND:MODEL, e.g. openai:gpt-5, got {llm!r}")
            )
        elif backend not in registry.components["llm"]:
            problems.append(
                (f"$.grid.llms[{i}]", _unknown(backend, registry.names("llm"), "LLM backend"))
            )
    problems.extend(_same_directory(grid))
    return problems


def _same_directory(grid: GridSpec) -> list[tuple[str, str]]:
    """Models whose labels or cell directories would be one: their cells would overwrite each
    other (six significant digits of a skill; an LLM spec's characters outside [A-Za-z0-9._-])."""
    from gome_core.study.grid import ModelLevel

    axis, levels = (
        ("skills", [ModelLevel.skill(v, i) for i, v in enumerate(grid.skills)])
        if grid.skills
        else ("llms", [ModelLevel.llm(v, i) for i, v in enumerate(grid.llms)])
    )
    problems = []
    for i, level in enumerate(levels):
        # Folders differing in case alone are one on case-insensitive file systems.
        clash = (
            o for o in levels[:i] if o.label == level.label or o.slug.lower() == level.slug.lower()
        )
        other = next((o for o in clash if o.value != level.value), None)  # twice: said above
        if other is not None:
            problems.append(
                (
                    f"$.grid.{axis}[{i}]",
                    f"{level.value!r} and {other.value!r} would share the label or cell "
                    f"directory {level.slug!r}: make them differ",
                )
            )
    return problems


def load_spec(path: str | Path, registry: PluginRegistry) -> StudySpec:
    """Read and check the study spec at ``path``."""
    path = Path(path).resolve()
    return StudySpec.from_mapping(load_toml(path), registry, source=path)

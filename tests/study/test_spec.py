"""The study spec: structure, precise errors with paths, the grid and each cell's settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from gome_core.config import resolve
from gome_core.errors import ConfigError, UsageError
from gome_core.study.grid import cell_settings, check_settings, expand_grid, fingerprint
from gome_core.study.spec import StudySpec, load_spec


def _problems(data, registry):
    with pytest.raises(ConfigError) as info:
        StudySpec.from_mapping(data, registry)
    return dict(info.value.problems)


def _spec(**tables):
    base = {
        "study": {"name": "s", "steps": 2},
        "grid": {"presets": ["gome"], "competitions": ["penguins-mass"]},
    }
    for key, value in tables.items():
        base[key] = {**base.get(key, {}), **value}
    return base


def test_a_spec_file_loads_and_expands_to_every_cell(write_spec, registry):
    spec = load_spec(write_spec(), registry)
    assert spec.study.name == "unit" and spec.study.steps == 2 and spec.study.runner == "local"
    assert spec.grid.skills == (0.25, 1.0) and spec.grid.seeds == (0, 1)
    assert dict(spec.overrides) == {
        "engine.final_top_k": 1,
        "optimizer.implementer.max_folds": 2,
    }
    cells = expand_grid(spec)
    assert len(cells) == 16 and len({c.key for c in cells}) == 16
    assert cells[0].key == "gome/skill-0.25/penguins-mass/seed-0"
    assert cells[-1].key == "aide-greedy/skill-1/breast-cancer/seed-1"
    assert [c.model.rank for c in cells[:8:4]] == [0, 1]


def test_wrong_types_and_unknown_keys_are_reported_with_their_paths(registry):
    problems = _problems(
        _spec(study={"steps": "four", "workrs": 2}, grid={"seed": [0]}, extra={}), registry
    )
    assert problems["$.study.steps"] == 'expected an integer, got "four"'
    assert "did you mean 'workers'" in problems["$.study.workrs"]
    assert "did you mean 'seeds'" in problems["$.grid.seed"]
    assert problems["$.extra"].startswith("unknown table")


def test_names_are_checked_against_the_registry_with_suggestions(registry):
    problems = _problems(
        _spec(
            study={"runner": "locl"},
            grid={"presets": ["gome", "gmoe"], "llms": ["openai:gpt-5", "nope:x", "gpt"]},
        ),
        registry,
    )
    assert "did you mean 'gome'" in problems["$.grid.presets[1]"]
    assert "did you mean 'local'" in problems["$.study.runner"]
    assert problems["$.grid.llms[1]"].startswith("unknown LLM backend 'nope'")
    assert problems["$.grid.llms[2]"].startswith("expected BACKEND:MODEL")


def test_axis_values_are_checked(registry):
    problems = _problems(
        _spec(
            study={"steps": 0, "workers": -1},
            grid={"skills": [0.5, 1.5, 0.5], "llms": ["openai:a"], "seeds": [], "presets": []},
        ),
        registry,
    )
    assert problems["$.grid.skills[1]"] == "expected a number between 0 and 1, got 1.5"
    assert problems["$.grid.skills[2]"] == "0.5 is listed twice"
    assert problems["$.grid"].startswith("give skills or llms")
    assert problems["$.grid.seeds"] == problems["$.grid.presets"] == "expected at least one value"
    assert problems["$.study.steps"] == "expected a positive budget, got 0"
    assert problems["$.study.workers"] == "expected 0 or more, got -1"


@pytest.mark.parametrize(
    ("axis", "values"),
    [
        ("skills", [0.1234561, 0.1234564]),
        ("llms", ["openai:org/model-7b", "openai:org-model-7b"]),
        ("llms", ["openai:GPT-5", "openai:gpt-5"]),
    ],
)
def test_models_that_would_share_a_cell_directory_are_refused(registry, axis, values):
    problems = _problems(_spec(grid={axis: values}), registry)
    assert "would share the label or cell directory" in problems[f"$.grid.{axis}[1]"]


def test_missing_tables_are_named(registry):
    problems = _problems({"study": {"name": "s"}}, registry)
    assert problems == {"$.grid": "required table [grid] missing"}


def test_skill_reaches_every_offline_component_of_each_preset(write_spec, registry):
    spec = load_spec(write_spec(), registry)
    by_preset = {}
    for cell in expand_grid(spec):
        if cell.model.label == "skill=0.25" and cell.seed == 1:
            settings = cell_settings(spec, cell, registry)
            by_preset[cell.preset] = resolve(
                preset=cell.preset, settings=settings, registry=registry
            ).config
    gome, aide = by_preset["gome"], by_preset["aide-greedy"]
    # Gome's estimator and implementer are defaults the preset does not name: still reached.
    assert gome.optimizer.config.estimator.config.skill == 0.25
    assert gome.optimizer.config.implementer.config.skill == 0.25
    assert gome.optimizer.config.implementer.config.max_folds == 2
    assert gome.optimizer.config.traces == 3  # the preset's own settings are kept
    assert aide.optimizer.config.implementer.config.skill == 0.25
    assert aide.optimizer.config.ideas.config.skill == 0.25
    for config in (gome, aide):
        assert config.budget.steps == 2 and config.seed == 1
        assert config.engine.final_top_k == 1
        assert config.task in {"penguins-mass", "breast-cancer"}


def test_an_llm_axis_configures_the_backend(registry):
    spec = StudySpec.from_mapping(
        _spec(grid={"llms": ["openai:gpt-4o-mini", "openai:gpt-5"]}), registry
    )
    cells = expand_grid(spec)
    assert [c.model.label for c in cells] == ["openai:gpt-4o-mini", "openai:gpt-5"]
    assert cells[1].model.rank == 1 and cells[1].key == "gome/openai-gpt-5/penguins-mass/seed-0"
    config = resolve(
        preset="gome", settings=cell_settings(spec, cells[1], registry), registry=registry
    ).config
    assert config.llm.name == "openai" and config.llm.config.model == "gpt-5"


@pytest.mark.parametrize(
    ("preset", "llm_components"),
    [
        ("gome", ("estimator", "implementer")),
        ("aide-greedy", ("implementer", "ideas")),
    ],
)
def test_an_llm_cell_resolves_as_a_run_with_that_llm(registry, preset, llm_components):
    spec = StudySpec.from_mapping(
        _spec(grid={"presets": [preset], "llms": ["openai:gpt-5"]}), registry
    )
    [cell] = expand_grid(spec)
    config = resolve(
        preset=preset, settings=cell_settings(spec, cell, registry), registry=registry
    ).config
    optimizer = config.optimizer.config
    for name in llm_components:  # the preset's with_llm overlay: the model reasons
        assert getattr(optimizer, name).name == "llm", name
    # ... exactly as `gome run --preset P --llm openai:gpt-5` (with the study's task, seed, steps)
    run = resolve(
        preset=preset,
        overrides=["llm=openai", "llm.model='gpt-5'", "task=penguins-mass", "seed=0"]
        + ["budget.steps=2"],
        registry=registry,
    ).config
    assert config == run


def test_a_default_cell_with_an_llm_in_set_uses_the_llm_components(registry):
    spec = StudySpec.from_mapping(_spec(set={"llm": "openai", "llm.model": "gpt-5"}), registry)
    [cell] = expand_grid(spec)
    config = resolve(
        preset="gome", settings=cell_settings(spec, cell, registry), registry=registry
    ).config
    assert config.optimizer.config.estimator.name == "llm"
    assert config.optimizer.config.implementer.name == "llm"
    assert "llm-judge" in [v.name for v in config.validators]


def test_the_cells_of_committed_studies_are_still_finished(registry):
    """A cell's fingerprint covers its settings: cells of a finished study must keep matching
    theirs, or a resumed study would run them all again."""
    from gome_core.study.run import plan_study

    root = Path(__file__).resolve().parents[2]
    for name in ("offline-quality", "crossover-offline-pilot", "crossover-offline"):
        cells = root / "docs" / "results" / name
        if not (root / "studies" / f"{name}.toml").is_file() or not cells.is_dir():
            continue
        spec = load_spec(root / "studies" / f"{name}.toml", registry)
        plan = plan_study(spec, cells, registry=registry, prepare=False)
        assert len(plan.finished) == len(list(cells.glob("cells/*/*/*/*/cell.json"))), name


def test_a_bad_override_fails_before_any_cell_runs(registry):
    spec = StudySpec.from_mapping(_spec(set={"engine.final_top_kk": 1}), registry)
    cell = expand_grid(spec)[0]
    with pytest.raises(ConfigError) as info:
        check_settings(cell.preset, cell_settings(spec, cell, registry), registry, where="cell x")
    assert "$.engine.final_top_kk" in dict(info.value.problems)
    assert "in cell x" in str(info.value)


def test_the_fingerprint_follows_the_settings(registry):
    spec = StudySpec.from_mapping(_spec(), registry)
    other = StudySpec.from_mapping(_spec(study={"steps": 3}), registry)
    cell = expand_grid(spec)[0]
    same = fingerprint(cell.preset, cell_settings(spec, cell, registry))
    assert same == fingerprint(cell.preset, cell_settings(spec, cell, registry))
    assert same != fingerprint(cell.preset, cell_settings(other, cell, registry))


def test_an_unknown_competition_is_named_before_cells_run(registry, tmp_path):
    from gome_core.study.run import plan_study

    spec = StudySpec.from_mapping(
        _spec(grid={"competitions": ["penguins-mass", "no-such-task"]}), registry
    )
    with pytest.raises(ConfigError) as info:
        plan_study(spec, tmp_path / "out", registry=registry)
    [(path, message)] = info.value.problems
    assert path == "$.grid.competitions[1]"
    assert message.startswith("no competition named 'no-such-task'")
    # gome study has no --competitions-dir: the remedy is the spec's key
    assert "--competitions-dir" not in message and "$.study.competitions_dirs" in message


def test_a_missing_competitions_directory_is_named_by_its_key(registry, tmp_path, monkeypatch):
    from gome_core.study.run import plan_study

    (tmp_path / "comps").mkdir()
    data = _spec(study={"competitions_dirs": ["comps", "nope"]})
    spec = StudySpec.from_mapping(data, registry, source=tmp_path / "spec.toml")
    with pytest.raises(ConfigError) as info:
        plan_study(spec, tmp_path / "out", registry=registry, prepare=False)
    assert info.value.source == str(tmp_path / "spec.toml")
    [(path, message)] = info.value.problems
    assert path == "$.study.competitions_dirs[1]"
    assert str(tmp_path / "nope") in message and "--competitions-dir" not in message
    # Without the key, a missing directory comes from GOME_COMPETITIONS_DIR: it says so.
    monkeypatch.setenv("GOME_COMPETITIONS_DIR", str(tmp_path / "gone"))
    with pytest.raises(UsageError) as info:
        plan_study(StudySpec.from_mapping(_spec(), registry), tmp_path / "out", registry=registry)
    assert "GOME_COMPETITIONS_DIR" in str(info.value) and "--competitions-dir" not in str(
        info.value
    )
    assert "$.study.competitions_dirs" in str(info.value)

"""The local cell runner, and the study runner's scheduling: skip finished cells, retry failed
ones, rerun cells whose settings changed; tables and figures from whatever has finished."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import attrs
import pytest

import gome_core
from gome_core.errors import ConfigError, UsageError
from gome_core.study.cell import CELL_FILE
from gome_core.study.local import LocalCellRunner, LocalCellRunnerConfig
from gome_core.study.run import create_cell_runner, plan_study, run_study
from gome_core.study.spec import load_spec
from gome_core.testing import CellRunnerSuite
from tests.study import cells
from tests.study.conftest import SMALL_SPEC


class TestLocalCellRunner(CellRunnerSuite):
    @pytest.fixture
    def runner(self):
        with LocalCellRunner(LocalCellRunnerConfig(workers=2)) as runner:
            yield runner


def _run_every_cell(spec, out, registry, **options):
    """Plan ``spec`` in ``out`` and run every pending cell with the recorded stand-in cell."""
    plan = plan_study(spec, out, registry=registry, prepare=False)
    return run_study(plan, registry=registry, cell_fn=cells.recorded_cell, **options)


def _with_one_more_step(write_spec, registry):
    """The small study spec with one more step per cell: every cell's settings change."""
    text = write_spec().read_text().replace("steps = 2", "steps = 3")
    return load_spec(write_spec(text, name="longer.toml"), registry)


def test_the_local_runner_is_registered(registry):
    registration = registry.get("cell_runner", "local")
    runner = registration.create(registration.config(workers=3))
    assert isinstance(runner, LocalCellRunner) and runner.workers == 3


def test_workers_must_not_be_negative():
    with pytest.raises(ValueError, match="workers"):
        LocalCellRunnerConfig(workers=-1)


def test_runner_settings_and_workers_reach_the_runner_config(write_spec, registry):
    spec = load_spec(write_spec(), registry)
    runner = create_cell_runner(spec, registry, workers=3)
    assert isinstance(runner, LocalCellRunner) and runner.workers == 3
    assert create_cell_runner(spec, registry).workers == 2  # study.workers
    bad = load_spec(write_spec(cells_spec_with_runner_table()), registry)
    with pytest.raises(ConfigError) as info:
        create_cell_runner(bad, registry)
    assert [path for path, _ in info.value.problems] == ["$.runner.threads"]


def cells_spec_with_runner_table() -> str:
    return SMALL_SPEC + "[runner]\nthreads = 4\n"


def _calls(out: Path) -> list[str]:
    log = out / "calls.log"
    return log.read_text().split() if log.is_file() else []


def test_a_rerun_skips_finished_cells_and_runs_only_the_missing_ones(
    write_spec, registry, tmp_path
):
    spec = load_spec(write_spec(), registry)
    out = tmp_path / "study"
    lines: list[str] = []
    plan = plan_study(spec, out, registry=registry, prepare=False)
    assert len(plan.pending) == 16 and not plan.finished
    # Seed by seed: the first half compares every preset, skill and competition on seed 0.
    assert {t.cell["seed"] for t in plan.pending[:8]} == {0}
    assert len({(t.preset, t.cell["competition"]) for t in plan.pending[:8]}) == 4
    first = run_study(plan, registry=registry, report=lines.append, cell_fn=cells.recorded_cell)
    assert first.ran == 16 and first.skipped == 0 and not first.failed
    assert sorted(_calls(out)) == sorted(t.key for t in plan.pending)
    assert any(line.startswith("[16/16] ") for line in lines)

    # One cell's outputs are lost (an interrupted cell has no cell.json either).
    lost = out / "cells" / "aide-greedy" / "skill-1" / "penguins-mass" / "seed-0"
    (lost / CELL_FILE).unlink()
    kept = out / "cells" / "gome" / "skill-0.25" / "breast-cancer" / "seed-1" / CELL_FILE
    kept_mtime = kept.stat().st_mtime_ns
    (out / "calls.log").unlink()
    lines.clear()
    again = plan_study(spec, out, registry=registry, prepare=False)
    assert [t.key for t in again.pending] == ["aide-greedy/skill-1/penguins-mass/seed-0"]
    second = run_study(again, registry=registry, report=lines.append, cell_fn=cells.recorded_cell)
    assert _calls(out) == ["aide-greedy/skill-1/penguins-mass/seed-0"]
    assert (second.ran, second.skipped) == (1, 15)
    assert lines[0] == "15 of 16 cells already finished: skipped"
    assert kept.stat().st_mtime_ns == kept_mtime
    # The table covers all 16 cells again: 4 preset x model rows of 3 (2 competitions + all).
    assert len(second.rows) == 12 and all(row.seeds == 2 for row in second.rows)

    # Nothing left to do: nothing runs.
    (out / "calls.log").unlink()
    third = _run_every_cell(spec, out, registry)
    assert third.ran == 0 and not _calls(out)


@pytest.mark.parametrize(
    ("marks", "key", "error"),
    [
        (cells.FAIL_MARK_FILE, "gome/skill-1/breast-cancer/seed-1", "boom"),
        # The process dies among the first cells: the study goes on with the other fifteen.
        (
            cells.KILL_MARK_FILE,
            "aide-greedy/skill-0.25/penguins-mass/seed-0",
            "the cell's process was killed by SIGKILL",
        ),
    ],
    ids=["error", "process-killed"],
)
def test_failed_cells_are_recorded_and_retried(write_spec, registry, tmp_path, marks, key, error):
    spec = load_spec(write_spec(), registry)
    out = tmp_path / "study"
    out.mkdir()
    (out / marks).write_text(key)
    lines: list[str] = []
    result = _run_every_cell(spec, out, registry, report=lines.append)
    assert result.failed == (key,) and result.ran == 16
    assert (out / "cells" / key / "error.txt").read_text().startswith(error)
    assert any(f"{key}: ERROR: {error}" in line for line in lines)
    # The failed cell has no row data: its row has one seed.
    preset, model, competition, _ = key.split("/")
    row = next(
        r
        for r in result.rows
        if (r.preset, r.model, r.competition) == (preset, model.replace("-", "="), competition)
    )
    assert row.seeds == 1

    (out / marks).unlink()
    (out / "calls.log").unlink()
    retry = _run_every_cell(spec, out, registry)
    assert _calls(out) == [key] and not retry.failed
    assert not (out / "cells" / key / "error.txt").exists()


def test_a_part_of_the_study_runs_and_the_tables_cover_every_finished_cell(
    write_spec, registry, tmp_path
):
    spec = load_spec(write_spec(), registry)
    out = tmp_path / "study"
    plan = plan_study(spec, out, registry=registry, prepare=False)
    first = run_study(
        plan.only(competitions=["penguins-mass"], seeds=[0]),
        registry=registry,
        cell_fn=cells.recorded_cell,
    )
    assert first.ran == 4 and sorted(_calls(out)) == [
        f"{preset}/{model}/penguins-mass/seed-0"
        for preset in ("aide-greedy", "gome")
        for model in ("skill-0.25", "skill-1")
    ]
    rest = plan_study(spec, out, registry=registry, prepare=False)
    second = run_study(
        rest.only(presets=["gome"], models=["skill=1"]),
        registry=registry,
        cell_fn=cells.recorded_cell,
    )
    assert second.ran == 3 and second.skipped == 4  # gome skill=1's other three cells
    assert sum(row.cells for row in second.rows if row.competition != "all") == 7

    # Tables of a part: only the finished cells of seed 0, e.g. while other seeds still run.
    part = run_study(
        attrs.evolve(
            plan_study(spec, out, registry=registry, prepare=False).only(seeds=[0], tables=True),
            pending=(),
        ),
        registry=registry,
    )
    assert part.ran == 0 and part.skipped == 5  # penguins-mass: 4; gome skill=1 breast-cancer: 1
    rows = [row for row in part.rows if row.competition != "all"]
    assert sum(row.cells for row in rows) == 5 and {row.seeds for row in rows if row.cells} == {1}

    with pytest.raises(UsageError, match=r"competition 'penguin' is not in the study's grid"):
        plan.only(competitions=["penguin"])
    with pytest.raises(UsageError, match=r"model 'skill=0.5' .* \(it has: skill=0.25, skill=1\)"):
        plan.only(models=["skill=0.5"])


def test_the_time_to_run_is_judged_by_finished_cells_like_them(write_spec, registry, tmp_path):
    plan = plan_study(load_spec(write_spec(), registry), tmp_path, registry=registry, prepare=False)
    finished = {
        "gome/skill-1/penguins-mass/seed-0": 100.0,
        "gome/skill-0.25/penguins-mass/seed-0": 200.0,
        "aide-greedy/skill-1/penguins-mass/seed-0": 40.0,
    }
    by_key = {task.key: task for task in plan.pending}
    plan = attrs.evolve(
        plan,
        pending=tuple(t for t in plan.pending if t.key not in finished),
        finished={
            key: {"cell": dict(by_key[key].cell), "elapsed_s": s} for key, s in finished.items()
        },
    )
    seconds, unknown = plan.estimate_s()
    # penguins-mass, seed 1: two gome cells at 150 s (gome's mean), two aide-greedy at 40 s;
    # aide-greedy skill=0.25 seed 0 at 40 s too. breast-cancer's 8 cells: nothing to go by.
    assert seconds == pytest.approx(2 * 150 + 3 * 40) and unknown == 8
    # Without a finished cell of its own preset, a cell goes by its competition's mean.
    only_gome = attrs.evolve(
        plan, finished={k: v for k, v in plan.finished.items() if k.startswith("gome/")}
    )
    seconds, _ = only_gome.estimate_s()
    assert seconds == pytest.approx(2 * 150 + 3 * 150)


def test_cells_whose_settings_changed_are_run_again(write_spec, registry, tmp_path):
    out = tmp_path / "study"
    spec = load_spec(write_spec(), registry)
    _run_every_cell(spec, out, registry)
    longer = _with_one_more_step(write_spec, registry)
    plan = plan_study(longer, out, registry=registry, prepare=False)
    assert len(plan.pending) == 16
    # Until they have run again, their old summaries stay out of the tables (--summarize).
    summary = run_study(attrs.evolve(plan, pending=()), registry=registry)
    assert summary.ran == 0 and all(row.cells == 0 for row in summary.rows)


def test_a_model_listed_before_others_moves_their_finished_cells_along(
    write_spec, registry, tmp_path
):
    out = tmp_path / "study"
    _run_every_cell(load_spec(write_spec(), registry), out, registry)  # skills 0.25 and 1
    wider = write_spec().read_text().replace("[0.25, 1.0]", "[0.25, 0.5, 1.0]")
    summary = _run_every_cell(
        load_spec(write_spec(wider, name="wider.toml"), registry), out, registry
    )
    assert summary.ran == 8  # skill 0.5 only: the others are finished, with the same settings
    rows = [(r.preset, r.model, r.model_rank, r.competition) for r in summary.rows]
    assert len(rows) == len(set(rows)) == 2 * 3 * 2 + 2 * 3  # each model one row, plus "all"
    assert {(r.model, r.model_rank) for r in summary.rows} == {
        ("skill=0.25", 0),
        ("skill=0.5", 1),
        ("skill=1", 2),
    }
    assert all(r.seeds == 2 for r in summary.rows)


def test_tables_of_cells_run_on_different_versions_say_so(write_spec, registry, tmp_path):
    out = tmp_path / "study"
    spec = load_spec(write_spec(), registry)
    plan = plan_study(spec, out, registry=registry, prepare=False)
    run_study(plan, registry=registry, cell_fn=cells.recorded_cell)
    # Three cells ran on another release; one predates version records.
    paths = sorted(out.glob("cells/*/*/*/*/cell.json"))
    for path, versions in zip(paths, [{"gome": "0.2.0"}] * 3 + [None], strict=False):
        summary = json.loads(path.read_text())
        summary["versions"] = versions
        path.write_text(json.dumps(summary))
    lines: list[str] = []
    finished = plan_study(spec, out, registry=registry, prepare=False)
    result = run_study(attrs.evolve(finished, pending=()), registry=registry, report=lines.append)
    now = f"gome {gome_core.__version__}"
    assert result.versions == ((now, 12), ("gome 0.2.0", 3), ("not recorded", 1))
    [note] = [line for line in lines if line.startswith("note:")]
    assert f"{now} (12 cells); gome 0.2.0 (3 cells); not recorded (1 cells)" in note
    data = json.loads((out / "results" / "aggregate.json").read_text())
    assert data["versions"][1] == {"versions": "gome 0.2.0", "cells": 3}


def test_results_are_written_as_tables_and_non_empty_figures(write_spec, registry, tmp_path):
    out = tmp_path / "study"
    spec = load_spec(write_spec(), registry)
    result = _run_every_cell(spec, out, registry)
    names = sorted(p.name for p in result.files)
    assert names == [
        "aggregate.csv",
        "aggregate.json",
        "aggregate.md",
        "convergence.png",
        "crossover.png",
    ]
    for path in result.files:
        assert path.parent == out / "results" and path.stat().st_size > 0
    for figure in ("crossover.png", "convergence.png"):
        assert (out / "results" / figure).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads((out / "results" / "aggregate.json").read_text())
    pooled = [r for r in data["rows"] if r["competition"] == "all"]
    # recorded cells medal on seed 0 only: any medal 50% ± 50% over seeds 0 and 1
    assert {(r["any_medal"]["mean"], r["any_medal"]["se"]) for r in pooled} == {(0.5, 0.5)}
    assert (out / "results" / "aggregate.md").read_text() == result.markdown
    assert (out / "study.toml").read_text() == spec.source.read_text()


def test_cells_in_flight_are_interrupted_when_the_study_stops(tmp_path):
    runner = LocalCellRunner(LocalCellRunnerConfig(workers=2))
    results = runner.map(cells.sleeper, ["", str(tmp_path), str(tmp_path), str(tmp_path)])
    assert isinstance(next(results), int)  # the quick cell; two sleepers now run, one waits
    deadline = time.monotonic() + 60
    while len(list(tmp_path.glob("*.started"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    started = {int(p.stem) for p in tmp_path.glob("*.started")}
    assert len(started) == 2
    results.close()  # what an error, Ctrl-C or kill in the study does to the iteration
    runner.close()
    # Interrupted, not waited for: a sleeper that slept its 60 s out writes no .interrupted.
    assert {int(p.stem) for p in tmp_path.glob("*.interrupted")} == started
    assert len(list(tmp_path.glob("*.started"))) == 2  # the waiting cell never started


def test_cells_in_flight_report_their_progress(write_spec, registry, tmp_path):
    text = SMALL_SPEC.replace("[study]\n", "[study]\nprogress_s = 0.4\n", 1)
    text = text.replace("seeds = [0, 1]", "seeds = [0]").replace(
        'competitions = ["penguins-mass", "breast-cancer"]', 'competitions = ["penguins-mass"]'
    )
    spec = load_spec(write_spec(text), registry)
    plan = plan_study(spec, tmp_path / "study", registry=registry, prepare=False)
    lines: list[str] = []
    run_study(
        plan, workers=2, registry=registry, report=lines.append, cell_fn=cells.journaling_cell
    )
    progress = [line for line in lines if "in flight:" in line]
    assert progress, lines
    assert any(
        re.search(r"in flight: (gome|aide-greedy)/skill-[0-9.]+/penguins-mass/seed-0: 1/2 steps", p)
        for p in progress
    ), progress


def test_a_cell_that_ended_is_no_longer_reported_in_flight(write_spec, registry, tmp_path):
    text = SMALL_SPEC.replace("[study]\n", "[study]\nprogress_s = 0.3\n", 1)
    text = text.replace("seeds = [0, 1]", "seeds = [0]").replace(
        'competitions = ["penguins-mass", "breast-cancer"]', 'competitions = ["penguins-mass"]'
    )
    spec = load_spec(write_spec(text), registry)
    out = tmp_path / "study"
    out.mkdir()
    failing = "gome/skill-0.25/penguins-mass/seed-0"  # the first to run: it leaves a journal
    (out / cells.FAIL_MARK_FILE).write_text(failing)
    lines: list[str] = []
    run_study(
        plan_study(spec, out, registry=registry, prepare=False),
        workers=1,
        registry=registry,
        report=lines.append,
        cell_fn=cells.journaling_cell,
    )
    ended = next(i for i, line in enumerate(lines) if f"{failing}: ERROR" in line)
    assert any(f"in flight: {failing}" in line for line in lines[:ended])
    assert not any(f"in flight: {failing}" in line for line in lines[ended:]), lines[ended:]
    assert any("in flight:" in line for line in lines[ended:])  # the next cells were reported


def test_the_runner_settings_are_checked_when_the_study_is_planned(write_spec, registry, tmp_path):
    path = write_spec(cells_spec_with_runner_table())
    spec = load_spec(path, registry)
    with pytest.raises(ConfigError) as info:
        plan_study(spec, tmp_path / "study", registry=registry, prepare=False)
    assert info.value.source == str(path)
    assert [p for p, _ in info.value.problems] == ["$.runner.threads"]
    assert str(path) in str(info.value)
    # workers comes from [study] (or --workers), not [runner]
    bad = load_spec(write_spec(SMALL_SPEC + "[runner]\nworkers = 4\n", name="w.toml"), registry)
    with pytest.raises(ConfigError, match=r"\$\.runner\.workers: set it in \[study\]"):
        plan_study(bad, tmp_path / "study", registry=registry, prepare=False)


def test_a_summary_without_finished_cells_leaves_no_stale_figures(write_spec, registry, tmp_path):
    out = tmp_path / "study"
    spec = load_spec(write_spec(), registry)
    _run_every_cell(spec, out, registry)
    results = out / "results"
    assert (results / "crossover.png").is_file() and (results / "convergence.png").is_file()
    # A part with no finished cell (its cells' settings changed since): empty tables, and the
    # figures of the earlier summary do not stay beside them.
    longer = _with_one_more_step(write_spec, registry)
    plan = plan_study(longer, out, registry=registry, prepare=False).only(seeds=[0], tables=True)
    lines: list[str] = []
    result = run_study(attrs.evolve(plan, pending=()), registry=registry, report=lines.append)
    assert not result.rows and not (results / "crossover.png").exists()
    assert not (results / "convergence.png").exists()
    assert sorted(p.name for p in result.files) == [
        "aggregate.csv",
        "aggregate.json",
        "aggregate.md",
    ]
    header = (results / "aggregate.csv").read_text().splitlines()
    assert len(header) == 1 and header[0].startswith("preset,model,model_rank,competition,")
    assert any(line.startswith("no finished cells to summarise") for line in lines)


def test_the_headline_of_a_summary_runs_nothing(write_spec, registry, tmp_path):
    out = tmp_path / "study"
    spec = load_spec(write_spec(), registry)
    plan = plan_study(spec, out, registry=registry, prepare=False)
    run_study(plan.only(seeds=[0]), registry=registry, cell_fn=cells.recorded_cell)
    plan = plan_study(spec, out, registry=registry, prepare=False)
    assert plan.only(seeds=[1]).headline(unfinished=8) == (
        f"gome study unit: 16 cells, 8 finished, 8 to run; study directory {out}"
    )
    assert plan.only(competitions=["penguins-mass"]).headline(unfinished=8) == (
        f"gome study unit: 16 cells, 8 finished, 4 to run, 4 left for later; study directory {out}"
    )
    summary = plan.only(seeds=[0], tables=True).headline(summarize=True)
    assert "to run" not in summary and "8 finished of 8 cells (no cell runs)" in summary

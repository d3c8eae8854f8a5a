"""The shipped small study, for real: 16 agent runs, the table and the figures; then a re-run
after one cell's outputs are lost runs that cell only."""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import pytest

import gome_core

ROOT = Path(__file__).resolve().parents[2]
CI_SPEC = ROOT / "studies" / "ci-small.toml"


def test_the_docs_example_is_the_shipped_ci_spec():
    text = (ROOT / "docs" / "studies.md").read_text()
    example = re.search(r"```toml\n(# The smallest study.*?)```", text, flags=re.S)
    assert example is not None and example.group(1) == CI_SPEC.read_text()


def test_dry_run_lists_the_cells_without_running_them(gome, tmp_path):
    result = gome("study", str(CI_SPEC), "--out", str(tmp_path / "s"), "--dry-run")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 16 and all(line.startswith("to run  ") for line in lines)
    assert "16 cells, 0 finished, 16 to run" in result.stderr
    assert not (tmp_path / "s" / "cells").exists()


def test_a_dry_run_of_a_part_lists_the_rest_as_later(gome, tmp_path):
    result = gome(
        "study", str(CI_SPEC), "--out", str(tmp_path / "s"), "--dry-run",
        "--competition", "penguins-mass", "--seed", "1", "--preset", "gome",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "16 cells, 0 finished, 2 to run, 14 left for later" in result.stderr
    assert "time to run: no estimate yet" in result.stderr
    to_run = [line.split("  (")[0] for line in result.stdout.splitlines() if "to run" in line]
    assert to_run == [
        "to run  gome skill=0.25 penguins-mass seed 1",
        "to run  gome skill=1 penguins-mass seed 1",
    ]


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (
            ("skills = [0.25, 1.0]", "skills = [0.25, 2.0]"),
            "$.grid.skills[1]: expected a number between 0 and 1, got 2.0",
        ),
        # A dry run also finds the competitions (it prepares none).
        (
            ('"breast-cancer"', '"breast-cancr"'),
            "$.grid.competitions[1]: no competition named 'breast-cancr'. "
            "Did you mean 'breast-cancer'?",
        ),
        # A dry run checks the cell runner's settings too.
        (("[set]", "[runner]\nthreads = 4\n\n[set]"), "$.runner.threads: unknown key"),
        (
            ("[grid]", 'competitions_dirs = ["no-such-dir"]\n\n[grid]'),
            "$.study.competitions_dirs[0]: competitions directory",
        ),
    ],
    ids=["skill", "competition", "runner", "competitions-dir"],
)
def test_a_bad_spec_is_an_error_with_its_path(gome, tmp_path, wrong, message):
    spec = tmp_path / "bad.toml"
    spec.write_text(CI_SPEC.read_text().replace(*wrong))
    result = gome("study", str(spec), "--dry-run")
    assert result.returncode != 0
    assert message in result.stderr
    assert f"invalid configuration in {spec}" in result.stderr
    assert "--competitions-dir" not in result.stderr  # gome study has no such option


def test_a_missing_api_key_stops_the_study_before_any_cell_runs(gome, tmp_path):
    spec = tmp_path / "llm.toml"
    text = CI_SPEC.read_text().replace("skills = [0.25, 1.0]", 'llms = ["openai:gpt-5"]')
    # The LLM writes the code: the offline implementer's setting has no place in these cells.
    text = text.replace('"optimizer.implementer.max_folds" = 2', "")
    spec.write_text(text + '"llm.api_key_env" = "GOME_TEST_UNSET_KEY"\n')  # in [set]
    for extra in (["--dry-run"], []):
        result = gome("study", str(spec), "--out", str(tmp_path / "s"), *extra)
        assert result.returncode == 2, result.stderr
        assert "set the environment variable GOME_TEST_UNSET_KEY" in result.stderr
        assert not (tmp_path / "s" / "cells").exists()
        assert not (tmp_path / "s" / "cells").exists()


@pytest.mark.slow
def test_the_ci_study_runs_and_resumes(gome, tmp_path):
    out = tmp_path / "ci-small"
    result = gome("study", str(CI_SPEC), "--out", str(out), timeout=900)
    assert result.returncode == 0, result.stderr[-4000:]
    assert "ran 16 cells, skipped 0 finished ones" in result.stdout
    assert "| preset | model | competition |" in result.stdout
    results = out / "results"
    for name in (
        "aggregate.csv",
        "aggregate.json",
        "aggregate.md",
        "crossover.png",
        "convergence.png",
    ):
        assert (results / name).stat().st_size > 0, name
    rows = list(csv.DictReader((results / "aggregate.csv").open()))
    assert len(rows) == 12  # 2 presets x 2 skills x (2 competitions + all)
    assert {r["preset"] for r in rows} == {"gome", "aide-greedy"}
    assert all(r["seeds"] == "2" and 0.0 <= float(r["valid_rate"]) <= 1.0 for r in rows)
    cells = sorted(out.glob("cells/*/*/*/*/cell.json"))
    assert len(cells) == 16
    for path in cells:
        summary = json.loads(path.read_text())
        grading = summary["grading"]
        assert summary["status"] == "done" and summary["steps"] == 2
        # The code it ran on: gome itself and the plugins of its components.
        assert summary["versions"]["gome"] == gome_core.__version__
        # The per-cell grading report carries MLE-bench's fields.
        assert {"score", "any_medal", "gold_threshold", "valid_submission"} <= set(grading)
        graded = json.loads((path.parent / "run" / "grading.json").read_text())
        # ...with the submission's path relative to the cell: a study directory can be moved.
        assert grading.pop("submission_path") == "run/submission.csv"
        submitted = Path(graded.pop("submission_path")).resolve()
        assert submitted == path.parent.resolve() / "run" / "submission.csv"
        assert grading == graded
        assert len(summary["curve"]) == 2
        assert 0 <= summary["repeated_steps"] < summary["steps"]  # the first step is new

    lost = out / "cells" / "gome" / "skill-1" / "breast-cancer" / "seed-0"
    (lost / "cell.json").unlink()
    shutil.rmtree(lost / "run")
    before = {p: p.stat().st_mtime_ns for p in cells if p.parent != lost}
    again = gome("study", str(CI_SPEC), "--out", str(out), timeout=600)
    assert again.returncode == 0, again.stderr[-4000:]
    assert "15 of 16 cells already finished: skipped" in again.stderr
    assert "ran 1 cells, skipped 15 finished ones" in again.stdout
    assert "[16/16] gome/skill-1/breast-cancer/seed-0: " in again.stderr
    assert (lost / "cell.json").is_file()
    assert before == {p: p.stat().st_mtime_ns for p in before}

    # --summarize writes the tables and figures again from the finished cells, running none.
    shutil.rmtree(out / "results")
    (lost / "cell.json").unlink()
    summary = gome("study", str(CI_SPEC), "--out", str(out), "--summarize", timeout=120)
    assert summary.returncode == 0, summary.stderr[-4000:]
    assert "ran 0 cells, skipped 15 finished ones" in summary.stdout
    assert "tables and figures of the 15 finished of 16 cells (no cell runs)" in summary.stderr
    assert not (lost / "cell.json").exists()
    rows = list(csv.DictReader((out / "results" / "aggregate.csv").open()))
    assert {r["seeds"] for r in rows} == {"1", "2"}  # the lost cell's row has one seed left
    assert (out / "results" / "crossover.png").stat().st_size > 0

"""`gome tasks ...` and `gome grade ...` through click, with a user's MLE-bench-layout directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from gome_core.cli.tasks import grade, tasks
from gome_core.competitions import CompetitionNotFoundError, PrepareError
from gome_core.errors import UsageError


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def opts(user_competitions: Path, data_dir: Path) -> list[str]:
    return ["--competitions-dir", str(user_competitions), "--data-dir", str(data_dir)]


def test_list_json_includes_user_and_bundled(runner: CliRunner, opts: list[str]) -> None:
    result = runner.invoke(tasks, ["list", "--json", *opts])
    assert result.exit_code == 0, result.output
    rows = {r["id"]: r for r in json.loads(result.stdout)}
    assert rows["toy-mae"]["metric"] == "mae" and rows["toy-mae"]["bundled"] is False
    assert rows["toy-mae"]["lower_is_better"] is True and rows["toy-mae"]["prepared"] is False
    assert rows["digits-8x8"]["bundled"] is True and rows["digits-8x8"]["lower_is_better"] is False


def test_list_table(runner: CliRunner, opts: list[str]) -> None:
    result = runner.invoke(tasks, ["list", *opts], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "toy-mae" in result.output and "penguins-mass" in result.output


def test_environment_variables(runner: CliRunner, user_competitions: Path, data_dir: Path) -> None:
    env = {"GOME_COMPETITIONS_DIR": str(user_competitions), "GOME_DATA_DIR": str(data_dir)}
    result = runner.invoke(tasks, ["prepare", "toy-mae"], env=env)
    assert result.exit_code == 0, result.output
    assert (data_dir / "toy-mae" / "prepared" / "public" / "train.csv").is_file()


def test_show(runner: CliRunner, opts: list[str]) -> None:
    result = runner.invoke(tasks, ["show", "toy-mae", "--json", *opts])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["description"].startswith("# Toy toy-mae")
    assert info["leaderboard_summary"]["teams"] == 10
    assert info["leaderboard_summary"]["gold_threshold"] == 0.5
    text = runner.invoke(tasks, ["show", "toy-mae", *opts], terminal_width=200)
    assert text.exit_code == 0 and "Predict y" in text.output


def test_prepare_grade_flow(
    runner: CliRunner, opts: list[str], data_dir: Path, tmp_path: Path
) -> None:
    result = runner.invoke(tasks, ["prepare", "toy-mae", *opts])
    assert result.exit_code == 0, result.output
    assert "toy-mae: prepared" in result.output
    again = runner.invoke(tasks, ["prepare", "toy-mae", *opts])
    assert "already prepared" in again.output

    sample = data_dir / "toy-mae" / "prepared" / "public" / "sample_submission.csv"
    result = runner.invoke(grade, [str(sample), "--task", "toy-mae", "--json", *opts])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["valid_submission"] and report["score"] == 4.75 and not report["above_median"]

    answers = data_dir / "toy-mae" / "prepared" / "private" / "test.csv"
    result = runner.invoke(grade, [str(answers), "--task", "toy-mae", *opts], terminal_width=200)
    assert result.exit_code == 0 and "gold" in result.output

    bad = tmp_path / "bad.csv"
    bad.write_text("id,y\n1,2\n")
    result = runner.invoke(grade, [str(bad), "--task", "toy-mae", "--json", *opts])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["valid_submission"] is False

    lines = tmp_path / "subs.jsonl"
    lines.write_text(
        json.dumps({"competition_id": "toy-mae", "submission_path": str(answers)})
        + "\n"
        + json.dumps({"competition_id": "toy-mae", "submission_path": str(bad)})
        + "\n"
    )
    out = tmp_path / "reports"
    result = runner.invoke(grade, ["--submissions", str(lines), "--output-dir", str(out), *opts])
    assert result.exit_code == 0, result.output
    assert "total_gold_medals: 1" in result.output and "total_valid_submissions: 1" in result.output
    (report_file,) = out.glob("*_grading_report.json")
    assert json.loads(report_file.read_text())["total_runs"] == 2


def test_prepare_all_reports_failures_and_continues(
    runner: CliRunner, tmp_path: Path, data_dir: Path
) -> None:
    from .conftest import write_mlebench_competition

    root = tmp_path / "comps"
    write_mlebench_competition(root, "toy-ok", raw_data_dir=data_dir)
    write_mlebench_competition(root, "toy-noraw")
    # Only the user's directory is of interest: prepare just its two competitions by id.
    result = runner.invoke(
        tasks,
        [
            "prepare",
            "toy-ok",
            "toy-noraw",
            "--competitions-dir",
            str(root),
            "--data-dir",
            str(data_dir),
        ],
    )
    assert isinstance(result.exception, PrepareError)
    assert "1 of 2 competitions failed" in str(result.exception)
    assert (data_dir / "toy-ok" / "prepared" / "private" / "test.csv").is_file()


@pytest.mark.parametrize(
    ("command", "args", "error", "message"),
    [
        (tasks, ["prepare"], UsageError, "which ones? Name the competitions"),
        (tasks, ["prepare", "toy-mae", "--all"], UsageError, "both given: choose one"),
        (tasks, ["show", "toy"], CompetitionNotFoundError, "Did you mean 'toy-mae'"),
        (grade, ["x.csv"], UsageError, "--task ID"),
        (
            grade,
            ["x.csv", "--task", "toy-mae", "--submissions", "s.jsonl"],
            UsageError,
            "do not also",
        ),
        (grade, ["x.csv", "--task", "penguins-mas"], CompetitionNotFoundError, "penguins-mass"),
    ],
)
def test_usage_errors(runner: CliRunner, opts: list[str], command, args, error, message) -> None:  # noqa: ANN001
    result = runner.invoke(command, [*args, *opts])
    assert isinstance(result.exception, error), result.output
    assert isinstance(result.exception, UsageError)
    assert message in str(result.exception)

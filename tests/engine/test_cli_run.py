"""`gome run` on a competition outside the package (a user's MLE-bench-layout directory)."""

import json

import pytest

from tests.competitions.conftest import write_mlebench_competition


@pytest.mark.slow
def test_gome_run_on_a_user_competitions_dir(gome, tmp_path):
    competitions, data = tmp_path / "competitions", tmp_path / "data"
    competitions.mkdir()
    write_mlebench_competition(competitions, "toy-mae", raw_data_dir=data)
    run_dir = tmp_path / "run"
    result = gome(
        "run",
        "--preset",
        "quickstart",
        "--task",
        "toy-mae",
        "--steps",
        "2",
        "--traces",
        "1",
        "--competitions-dir",
        str(competitions),
        "--data-dir",
        str(data),
        "--run-dir",
        str(run_dir),
        "--set",
        "engine.final_top_k=1",
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "offline reasoner" in result.stderr  # the header says plainly which reasoning ran
    assert "graded: mae" in result.stdout and f"run directory: {run_dir}" in result.stdout
    grading = json.loads((run_dir / "grading.json").read_text())
    assert grading["competition_id"] == "toy-mae" and grading["valid_submission"]
    info = json.loads((run_dir / "run.json").read_text())
    assert info["competition_source"]["competitions_dirs"] == [str(competitions.resolve())]

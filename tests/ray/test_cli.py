"""`gome run` with the Ray executor, end to end: it joins the session's Ray instance by address."""

from __future__ import annotations

import json

import pytest

pytestmark = [pytest.mark.ray, pytest.mark.slow]


def test_gome_run_on_ray_completes(ray_instance, gome, tmp_path):
    run_dir = tmp_path / "run"
    result = gome(
        "run",
        "--preset",
        "quickstart",
        "--task",
        "penguins-mass",
        "--steps",
        "2",
        "--traces",
        "1",
        "--run-dir",
        str(run_dir),
        "--set",
        "executor=ray",
        "--set",
        "executor.address=auto",
        "--set",
        "engine.final_top_k=1",
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"run directory: {run_dir}" in result.stdout
    config = (run_dir / "config.toml").read_text()
    assert 'name = "ray"' in config
    assert (run_dir / "submission.csv").is_file()
    grading = json.loads((run_dir / "grading.json").read_text())
    assert grading["competition_id"] == "penguins-mass" and grading["valid_submission"]

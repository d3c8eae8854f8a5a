"""A folder with only train.csv and a sentence: `gome run --data` end to end, offline."""

import pytest


@pytest.mark.slow
def test_gome_run_on_a_folder_reports_held_out_score_against_baselines(gome, tmp_path):
    from sklearn.datasets import load_wine

    folder = tmp_path / "wine"
    folder.mkdir()
    load_wine(as_frame=True).frame.rename(columns={"target": "cultivar"}).to_csv(
        folder / "train.csv", index=False
    )
    run_dir = tmp_path / "run"
    result = gome(
        "run",
        "--data",
        str(folder),
        "--goal",
        "predict the cultivar",
        "--preset",
        "quickstart",
        "--steps",
        "1",
        "--traces",
        "1",
        "--run-dir",
        str(run_dir),
        env={"GOME_DATA_DIR": str(tmp_path / "data")},
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "held-out accuracy" in out and "baseline dummy" in out and "baseline standard" in out
    assert "no medals" in out
    assert "target: cultivar" in result.stderr and "override: --target COL" in result.stderr
    assert (run_dir / "competition" / "wine" / "config.yaml").is_file()
    assert (run_dir / "submission.csv").is_file() and (run_dir / "grading.json").is_file()

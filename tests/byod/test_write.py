"""Writing, preparing and grading competitions built from data folders, end to end."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from gome_core.byod import infer_task, is_byod, summarize_run, user_predictions, write_competition
from gome_core.competitions import CompetitionStore, grade_submission, score_submission
from gome_core.engine.launch import competition_ref, open_competition
from tests.byod.conftest import cancer_frame, write_digit_images


@pytest.fixture(scope="module")
def cancer_competition(tmp_path_factory):
    """The train.csv-only folder, written, prepared, its baselines scored (shared)."""
    root = tmp_path_factory.mktemp("byod")
    (root / "tumours").mkdir()
    cancer_frame().to_csv(root / "tumours" / "train.csv", index=False)
    task = infer_task(root / "tumours", "predict whether the tumour is malignant")
    folder = write_competition(task, root / "competitions", root / "data")
    return root, folder


def test_written_competition_is_mlebench_layout_without_medals(cancer_competition):
    root, folder = cancer_competition
    assert {p.name for p in folder.iterdir()} >= {
        "config.yaml",
        "description.md",
        "prepare.py",
        "grade.py",
        "leaderboard.csv",
        "leaderboard_readme.md",
        "byod.json",
    }
    config = yaml.safe_load((folder / "config.yaml").read_text())
    assert config["awards_medals"] is False and config["grader"]["name"] == "roc-auc"
    assert config["byod"]["target"] == "diagnosis"
    description = (folder / "description.md").read_text()
    assert "no medals are awarded" in description and str(root) not in description
    leaderboard = pd.read_csv(folder / "leaderboard.csv")
    assert leaderboard["score"].tolist()[-1] == 0.5  # the dummy, last
    assert leaderboard["score"].iloc[0] > 0.9  # gradient boosting, first


def test_open_competition_and_competition_ref_work(cancer_competition):
    root, folder = cancer_competition
    store, competition = open_competition(
        folder.name, competitions_dirs=[str(folder.parent)], data_dir=str(root / "data")
    )
    ref = competition_ref(competition)
    assert ref.metric.name == "roc-auc" and ref.metric.lower_is_better is False
    assert ref.sample_submission == "sample_submission.csv"
    assert competition.awards_medals is False and is_byod(competition)


def test_answers_stay_private_and_grade(cancer_competition, tmp_path):
    root, folder = cancer_competition
    competition = CompetitionStore((folder.parent,), root / "data").get(folder.name)
    public, private = competition.public_dir, competition.private_dir
    train, test = pd.read_csv(public / "train.csv"), pd.read_csv(public / "test.csv")
    answers = pd.read_csv(private / "test.csv")
    assert "diagnosis" not in test.columns and set(train["diagnosis"]) == {0, 1}
    assert len(train) + len(test) == 569 and not set(train["id"]) & set(test["id"])
    assert list(answers.columns) == ["id", "diagnosis"] and len(answers) == len(test)
    # The sample submission is the dummy's constant; the answers themselves score 1.
    assert score_submission(competition.sample_submission, competition).score == 0.5
    perfect = tmp_path / "perfect.csv"
    answers.to_csv(perfect, index=False)
    report = grade_submission(perfect, competition)
    assert report.score == 1.0 and report.valid_submission
    summary = summarize_run(competition, report.to_dict(), 0.99)
    assert "better than the best baseline (standard)" in summary and "no medals" in summary


def test_the_same_settings_prepare_the_same_split(cancer_competition, tmp_path):
    root, folder = cancer_competition
    store = CompetitionStore((folder.parent,), tmp_path / "again")
    again = store.prepare(folder.name)
    first = CompetitionStore((folder.parent,), root / "data").get(folder.name)
    for name in ("train.csv", "test.csv"):
        assert (again.public_dir / name).read_bytes() == (first.public_dir / name).read_bytes()


def test_unlabelled_test_rows_are_predicted_not_graded(wine_dir, tmp_path):
    task = infer_task(wine_dir, "predict the cultivar")
    folder = write_competition(task, tmp_path / "competitions", tmp_path / "data")
    competition = CompetitionStore((folder.parent,), tmp_path / "data").get(folder.name)
    test = pd.read_csv(competition.public_dir / "test.csv")
    answers = pd.read_csv(competition.private_dir / "test.csv")
    assert len(test) == 28 + 38 and answers["cultivar"].isna().sum() == 38
    assert list(test.columns)[0] == "wine_id"
    # Right on every graded row, nonsense on the user's rows: a perfect score.
    submission = answers.fillna({"cultivar": 2}).astype({"cultivar": int})
    path = tmp_path / "submission.csv"
    submission.to_csv(path, index=False)
    assert score_submission(path, competition).score == 1.0
    missing = tmp_path / "missing.csv"
    submission.iloc[:-1].to_csv(missing, index=False)
    assert score_submission(missing, competition).score is None
    mine = user_predictions(competition, path)
    original = pd.read_csv(wine_dir / "test.csv")
    assert mine["wine_id"].tolist() == original["wine_id"].tolist()
    assert list(mine.columns) == ["wine_id", "cultivar"]


def test_forecast_test_rows_are_later_than_training_rows(dated_dir, tmp_path):
    task = infer_task(dated_dir, "forecast disease progression")
    folder = write_competition(task, tmp_path / "competitions", tmp_path / "data")
    public = CompetitionStore((folder.parent,), tmp_path / "data").get(folder.name).public_dir
    train, test = pd.read_csv(public / "train.csv"), pd.read_csv(public / "test.csv")
    assert train["visit_date"].max() < test["visit_date"].min() and len(test) == 88


def test_image_competition_mirrors_the_digits_layout(digits_dir, tmp_path):
    task = infer_task(digits_dir, "recognise the handwritten digit")
    folder = write_competition(task, tmp_path / "competitions", tmp_path / "data")
    public = CompetitionStore((folder.parent,), tmp_path / "data").get(folder.name).public_dir
    train, test = pd.read_csv(public / "train.csv"), pd.read_csv(public / "test.csv")
    assert list(train.columns) == ["id", "label"] and list(test.columns) == ["id"]
    assert {p.name for p in (public / "train").iterdir()} == {f"{i}.png" for i in train["id"]}
    assert {p.name for p in (public / "test").iterdir()} == {f"{i}.png" for i in test["id"]}
    board = pd.read_csv(folder / "leaderboard.csv")
    assert "pixels" in board["teamName"].iloc[0] and board["score"].iloc[0] > 0.8


def test_competition_from_path_applies_edits(cancer_competition, tmp_path):
    from gome_core.cli.byod import competition_from_path

    root, folder = cancer_competition
    copy = tmp_path / "mine" / folder.name
    copy.mkdir(parents=True)
    for name in ("config.yaml", "description.md", "byod.json"):
        (copy / name).write_text((folder / name).read_text())
    config = yaml.safe_load((copy / "config.yaml").read_text())
    config["grader"]["name"] = "log-loss"
    (copy / "config.yaml").write_text(yaml.safe_dump(config))
    competitions, data, cid = competition_from_path(copy, tmp_path / "run")
    store, competition = open_competition(
        cid, competitions_dirs=[str(competitions)], data_dir=str(data)
    )
    assert competition_ref(competition).metric.lower_is_better is True
    assert (competitions / cid / "description.md").read_text().count("log loss") >= 1
    assert Path(competitions).is_relative_to(tmp_path / "run")


def test_image_tables_naming_train_and_test_folders_that_share_file_names(tmp_path):
    """Kaggle's layout: train/0001.png and test/0001.png, tables naming them by `id`."""
    import filecmp

    root = tmp_path / "kaggle"
    rows = write_digit_images(root / "train", 100)
    test_rows = write_digit_images(root / "test", 30, first=100)
    pd.DataFrame([(n[:-4], d) for n, d in rows], columns=["id", "digit"]).to_csv(
        root / "train.csv", index=False
    )
    pd.DataFrame({"id": [n[:-4] for n, _ in test_rows]}).to_csv(root / "test.csv", index=False)
    task = infer_task(root, "predict the digit")
    assert (task.image_column, task.image_folder, task.test_image_folder) == ("id", "train", "test")
    folder = write_competition(task, tmp_path / "competitions", tmp_path / "data")
    competition = CompetitionStore((folder.parent,), tmp_path / "data").get(folder.name)
    test = pd.read_csv(competition.public_dir / "test.csv")
    path = tmp_path / "submission.csv"
    test.assign(digit=7).to_csv(path, index=False)
    mine = user_predictions(competition, path)
    assert mine["id"].tolist() == [n[:-4] for n, _ in test_rows]
    mapping = pd.read_csv(competition.private_dir / "user_test.csv")
    for public_id, name in zip(mapping["public_id"], mapping["id"], strict=True):
        assert filecmp.cmp(
            competition.public_dir / "test" / f"{public_id}.png", root / "test" / f"{name}.png"
        )

"""Inference on real layouts: what gome guesses, why, and the errors that refuse to guess."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gome_core.byod import AmbiguityError, ByodError, infer_task
from gome_core.errors import UsageError
from tests.byod.conftest import cancer_frame, diabetes_frame, wine_frame, write_digit_images


def guess(task, what):
    return next(g for g in task.guesses if g.what == what)


def test_only_train_csv_binary_target_named_by_a_value_in_the_goal(cancer_dir):
    task = infer_task(cancer_dir, "predict whether the tumour is malignant")
    assert (task.target, task.task_type, task.split) == ("diagnosis", "binary", "holdout")
    assert task.positive_class == "malignant" and task.classes == ("0", "1")
    assert (task.metric, task.lower_is_better) == ("roc-auc", False)
    assert task.id_column is None and task.public_id_column == "id"
    held = guess(task, "held-out test set")
    assert held.value == "113 of 569 training rows"  # stratified: 42 + 71
    assert "stratified" in held.why and held.override_flag.startswith("--holdout")
    assert guess(task, "target").override_flag == "--target COL"
    assert all(str(g) for g in task.guesses)


def test_train_and_unlabelled_test_with_id(wine_dir):
    task = infer_task(wine_dir, "predict the grape variety")
    assert task.target == "cultivar"
    assert "the test table lacks" in guess(task, "target").why
    assert (task.id_column, task.task_type, task.metric) == ("wine_id", "multiclass", "accuracy")
    assert task.split == "holdout+unlabelled" and task.test_rows == 38
    assert task.classes == ("0", "1", "2")


def test_labelled_test_table_is_the_test_set(tmp_path):
    frame = wine_frame()
    frame.iloc[:140].to_csv(tmp_path / "train.csv", index=False)
    frame.iloc[140:].to_csv(tmp_path / "test.csv", index=False)
    task = infer_task(tmp_path, "predict the cultivar")
    assert task.split == "given" and task.test_rows == 38
    assert "with answers" in guess(task, "test set").value


def test_date_column_makes_a_forecast_split_by_time(dated_dir):
    task = infer_task(dated_dir, "forecast disease progression")
    assert (task.date_column, task.task_type, task.metric) == (
        "visit_date",
        "forecasting",
        "rmse",
    )
    assert "latest 20% by `visit_date`" in guess(task, "held-out test set").why
    off = infer_task(dated_dir, "forecast disease progression", date_column="none")
    assert (off.date_column, off.task_type) == (None, "regression")


def test_image_folder_with_a_labels_table(digits_dir):
    task = infer_task(digits_dir, "recognise the handwritten digit")
    assert (task.train_file, task.image_column, task.image_folder) == (
        "labels.csv",
        "filename",
        "images",
    )
    assert (task.target, task.task_type, task.metric) == ("label", "multiclass", "accuracy")
    assert task.is_image and task.public_id_column == "id"


def test_images_sorted_into_class_folders(tmp_path):
    write_digit_images(tmp_path / "train", 120, by_class=True)
    task = infer_task(tmp_path, "classify the digits")
    assert (task.image_layout, task.image_folder, task.target) == ("by-class", "train", "label")
    assert task.train_file is None and len(task.classes) == 10


def test_class_folders_with_a_folder_of_unlabelled_test_images(tmp_path):
    write_digit_images(tmp_path / "train", 120, by_class=True)
    write_digit_images(tmp_path / "test", 15, first=120)
    task = infer_task(tmp_path, "classify the digits")
    assert (task.test_image_folder, task.split, task.test_rows) == (
        "test",
        "holdout+unlabelled",
        15,
    )
    assert infer_task(tmp_path, "classify the digits", test_file="none").split == "holdout"


def test_parquet_table(parquet_dir):
    task = infer_task(parquet_dir, "predict the disease progression after one year")
    assert (task.train_file, task.target, task.task_type) == (
        "train.parquet",
        "progression",
        "regression",
    )


def test_parquet_without_an_engine_says_what_to_install(parquet_dir, monkeypatch):
    def no_engine(*args, **kwargs):
        raise ImportError("Unable to find a usable engine; tried using: 'pyarrow'")

    monkeypatch.setattr(pd, "read_parquet", no_engine)
    with pytest.raises(ByodError, match="pip install pyarrow"):
        infer_task(parquet_dir, "predict progression")


def test_a_column_called_target_id_is_an_id_not_the_target(tmp_path):
    frame = cancer_frame().rename(columns={"diagnosis": "malignant"})
    frame["malignant"] = (frame["malignant"] == "malignant").astype(int)
    frame.insert(0, "target_id", np.arange(len(frame)) * 7 + 3)
    frame.to_csv(tmp_path / "train.csv", index=False)
    task = infer_task(tmp_path, "the target: is the tumour malignant?")
    assert (task.target, task.id_column) == ("malignant", "target_id")


def test_a_label_column_is_not_the_target_when_the_goal_names_another(tmp_path):
    frame = diabetes_frame()
    frame["label"] = np.where(frame["sex"] > 0, "clinic-a", "clinic-b")
    frame.to_csv(tmp_path / "data.csv", index=False)
    task = infer_task(tmp_path, "estimate disease progression")
    assert (task.train_file, task.target, task.task_type) == (
        "data.csv",
        "progression",
        "regression",
    )


def test_generic_target_name_is_used_when_the_goal_names_no_column(tmp_path):
    from sklearn.datasets import load_breast_cancer

    load_breast_cancer(as_frame=True).frame.to_csv(tmp_path / "train.csv", index=False)
    task = infer_task(tmp_path, "spot the dangerous ones")
    assert task.target == "target" and task.positive_class == "1"
    assert "named like a target" in guess(task, "target").why


def test_overrides_win_and_are_checked(wine_dir):
    task = infer_task(
        wine_dir,
        "predict the cultivar",
        metric="multi-class-log-loss",
        id_column="none",
        holdout=0.3,
    )
    assert (task.metric, task.lower_is_better, task.id_column) == (
        "multi-class-log-loss",
        True,
        None,
    )
    regression = infer_task(wine_dir, "predict the cultivar", task_type="regression")
    assert regression.metric == "rmse"
    with pytest.raises(ByodError, match="scores binary tasks"):
        infer_task(wine_dir, "predict the cultivar", metric="roc-auc")
    with pytest.raises(ByodError, match="Did you mean `cultivar`"):
        infer_task(wine_dir, "predict it", target="cultivr")
    # The held-out share: above 0 and at most 0.9, as `--holdout` says.
    assert infer_task(wine_dir, "predict the cultivar", holdout=0.9).holdout == 0.9
    for share in (0.0, 0.95):
        with pytest.raises(ByodError, match="above 0 and at most 0.9"):
            infer_task(wine_dir, "predict the cultivar", holdout=share)


def test_integer_target_is_a_quantity_when_the_goal_asks_for_one(tmp_path):
    frame = wine_frame().drop(columns="cultivar")
    frame["bottles"] = (frame["alcohol"] * 3).round().astype(int) % 12
    frame.to_csv(tmp_path / "train.csv", index=False)
    assert infer_task(tmp_path, "predict bottles").task_type == "multiclass"
    assert infer_task(tmp_path, "predict how many bottles are sold").task_type == "regression"


# --------------------------------------------------------------------------- refusing to guess


def test_two_plausible_targets_is_an_error_listing_both(tmp_path):
    frame = diabetes_frame()
    frame["sales_2019"] = frame["progression"] * 2
    frame = frame.rename(columns={"progression": "sales_2020"})
    frame.to_csv(tmp_path / "train.csv", index=False)
    with pytest.raises(AmbiguityError) as error:
        infer_task(tmp_path, "predict sales")
    assert set(error.value.candidates) == {"sales_2019", "sales_2020"}
    assert "--target COL" in str(error.value) and isinstance(error.value, UsageError)


def test_a_goal_that_names_no_column_is_an_error(cancer_dir):
    with pytest.raises(AmbiguityError, match="cannot tell what to predict") as error:
        infer_task(cancer_dir, "make me rich")
    assert "diagnosis" in error.value.candidates


def test_an_id_column_that_is_not_unique_is_an_error(tmp_path):
    frame = wine_frame().drop(columns="wine_id")
    frame.insert(0, "id", np.arange(len(frame)) // 2)
    frame.to_csv(tmp_path / "train.csv", index=False)
    with pytest.raises(AmbiguityError, match="not unique") as error:
        infer_task(tmp_path, "predict the cultivar")
    assert "none" in error.value.candidates and "--id" in str(error.value)
    assert infer_task(tmp_path, "predict the cultivar", id_column="none").id_column is None
    with pytest.raises(AmbiguityError, match="not unique"):
        infer_task(tmp_path, "predict the cultivar", id_column="magnesium")


def test_ids_repeated_across_train_and_test_are_not_unique(wine_dir):
    test = pd.read_csv(wine_dir / "test.csv")
    test.loc[0, "wine_id"] = pd.read_csv(wine_dir / "train.csv").loc[0, "wine_id"]
    test.to_csv(wine_dir / "test.csv", index=False)
    task = infer_task(wine_dir, "predict the cultivar")
    assert task.id_column is None  # the only id-like column is not unique across both


def test_a_test_table_with_other_columns_is_an_error(wine_dir):
    test = pd.read_csv(wine_dir / "test.csv").rename(columns={"alcohol": "alcohol_pct"})
    test.to_csv(wine_dir / "test.csv", index=False)
    with pytest.raises(AmbiguityError, match="do not match") as error:
        infer_task(wine_dir, "predict the cultivar")
    assert "`alcohol_pct`" in str(error.value) and "--test" in str(error.value)
    assert infer_task(wine_dir, "predict the cultivar", test_file="none").split == "holdout"


def test_several_columns_missing_from_the_test_table_need_the_goal(wine_dir):
    train = pd.read_csv(wine_dir / "train.csv")
    train["price"] = train["alcohol"] * 2
    train.to_csv(wine_dir / "train.csv", index=False)
    with pytest.raises(AmbiguityError) as error:
        infer_task(wine_dir, "tell them apart")
    assert set(error.value.candidates) == {"cultivar", "price"}
    task = infer_task(wine_dir, "predict the cultivar")
    assert task.target == "cultivar" and task.train_only == ("price",)


def test_several_date_columns_is_an_error(dated_dir):
    frame = pd.read_csv(dated_dir / "train.csv")
    frame["signup_date"] = frame["visit_date"]
    frame.to_csv(dated_dir / "train.csv", index=False)
    with pytest.raises(AmbiguityError, match="several columns hold dates") as error:
        infer_task(dated_dir, "forecast progression")
    assert set(error.value.candidates) == {"visit_date", "signup_date", "none"}


def test_several_training_tables_is_an_error(tmp_path):
    frame = wine_frame()
    frame.to_csv(tmp_path / "wines.csv", index=False)
    frame.to_csv(tmp_path / "more_wines.csv", index=False)
    with pytest.raises(AmbiguityError, match="--train FILE"):
        infer_task(tmp_path, "predict the cultivar")
    task = infer_task(tmp_path, "predict the cultivar", train_file="wines.csv")
    assert task.train_file == "wines.csv"


def test_a_constant_target_is_an_error(cancer_dir):
    frame = pd.read_csv(cancer_dir / "train.csv").assign(grade="high")
    frame.to_csv(cancer_dir / "train.csv", index=False)
    with pytest.raises(ByodError, match="nothing to predict"):
        infer_task(cancer_dir, "predict it", target="grade")


def test_an_empty_folder_says_what_to_put_there(tmp_path: Path):
    with pytest.raises(ByodError, match="train.csv"):
        infer_task(tmp_path, "predict churn")

"""The data profile on tiny layouts of every kind, and on the bundled data when it is prepared."""

from __future__ import annotations

import pytest
from gome_offline.metrics import normalize_metric
from gome_offline.profile import ProfileError, profile_competition, profile_for


def _profile(competition):
    return profile_for(competition)


@pytest.mark.parametrize(
    ("name", "canonical", "lower", "output"),
    [
        ("accuracy", "accuracy", False, "label"),
        ("log-loss", "log_loss", True, "proba"),
        ("log_loss", "log_loss", True, "proba"),
        ("multi-class-log-loss", "log_loss", True, "proba"),
        ("multiclass_log_loss", "log_loss", True, "proba"),
        ("roc-auc", "roc_auc", False, "proba"),
        ("AUC", "roc_auc", False, "proba"),
        ("RMSE", "rmse", True, "value"),
        ("rmsle", "rmsle", True, "value"),
        ("Mean Absolute Error", "mae", True, "value"),
        ("quadratic-weighted-kappa", None, False, None),
    ],
)
def test_metric_names_are_normalised(name, canonical, lower, output):
    info = normalize_metric(name)
    assert (info.canonical, info.lower_is_better, info.output) == (canonical, lower, output)
    assert info.name == name


def test_the_competition_direction_wins_over_the_metric_default():
    assert normalize_metric("accuracy", lower_is_better=True).lower_is_better is True
    assert normalize_metric("my-loss", lower_is_better=True).lower_is_better is True


def test_binary_tabular(make_competition):
    p = _profile(make_competition("binary"))
    assert (p.task, p.output, p.target, p.id_column) == ("binary", "proba", "outcome", "id")
    assert p.classes == (0, 1) and abs(sum(p.class_shares) - 1) < 1e-6
    assert p.rows == 160 and p.test.rows == 40 and p.train.format == "csv"
    kinds = {c.name: c.kind for c in p.columns}
    assert kinds == {
        "x1": "numeric",
        "x2": "numeric",
        "x3": "numeric",
        "colour": "categorical",
        "city": "categorical",
        "signup": "date",
    }
    assert "x2" in p.with_missing(0.05)
    assert p.high_cardinality(20) == ("city",)
    assert "binary task on `outcome`" in p.summary()


def test_label_output_follows_the_metric(make_competition):
    p = _profile(make_competition("binary-label"))
    assert (p.task, p.output) == ("binary", "label")


def test_multiclass_probability_columns_find_the_label_column(make_competition):
    p = _profile(make_competition("multiclass-proba"))
    assert p.targets == ("N", "U", "Y") and p.target == "vote"
    assert (p.task, p.output, p.class_columns) == ("multiclass", "proba", True)
    assert p.classes == ("N", "U", "Y")


def test_regression_skew(make_competition):
    p = _profile(make_competition("regression"))
    assert (p.task, p.output) == ("regression", "value")
    assert p.target_skew is not None and p.target_skew > 1
    assert p.target_min is not None and p.target_min > 0 and p.target_integer


def test_text_columns(make_competition):
    p = _profile(make_competition("text"))
    assert p.text == ("text",) and p.categorical == ("critic",)


def test_images(make_competition):
    p = _profile(make_competition("images"))
    assert p.image is not None
    assert (p.image.count, p.image.width, p.image.height, p.image.channels) == (160, 8, 8, 1)
    assert p.image.test_dir == "test" and p.image.extension == ".png"
    assert p.tabular_features == ()


def test_parquet_tables(make_competition):
    p = _profile(make_competition("parquet"))
    assert p.train.file == "train.parquet" and p.train.format == "parquet"
    assert p.task == "regression"


def test_profiles_are_cached_per_directory(make_competition):
    competition = make_competition("binary")
    assert profile_for(competition) is profile_for(competition)


def test_missing_tables_and_targets_are_clear_errors(tmp_path):
    (tmp_path / "train.csv").write_text("id,x,y\n1,2,3\n")
    with pytest.raises(ProfileError, match="no test table"):
        profile_competition(tmp_path, "rmse")
    (tmp_path / "test.csv").write_text("id,x\n2,3\n")
    (tmp_path / "sample_submission.csv").write_text("id,A,B\n2,0.5,0.5\n")
    with pytest.raises(ProfileError, match="not in the training table"):
        profile_competition(tmp_path, "log-loss")


BUNDLED = {
    "breast-cancer": ("log-loss", "binary", "proba"),
    "chile-vote": ("multi-class-log-loss", "multiclass", "proba"),
    "computers-price": ("rmse", "regression", "value"),
    "diamonds-price": ("rmsle", "regression", "value"),
    "digits-8x8": ("accuracy", "multiclass", "label"),
    "hmda-denial": ("roc-auc", "binary", "proba"),
    "mnist-5k": ("accuracy", "multiclass", "label"),
    "penguins-mass": ("mae", "regression", "value"),
    "rt-sentiment": ("roc-auc", "binary", "proba"),
}


@pytest.mark.slow
@pytest.mark.parametrize("competition_id", sorted(BUNDLED))
def test_the_bundled_competitions_are_profiled_as_their_tasks(prepared_bundled, competition_id):
    public = prepared_bundled.get(competition_id).public_dir
    metric, task, output = BUNDLED[competition_id]
    p = profile_competition(public, metric)
    assert (p.task, p.output) == (task, output)
    if competition_id in ("digits-8x8", "mnist-5k"):
        assert p.image is not None and len(p.image.pixel_columns) == p.image.pixels
    if competition_id == "rt-sentiment":
        assert p.text == ("text",)
    if competition_id == "chile-vote":
        assert p.target == "vote" and p.class_columns

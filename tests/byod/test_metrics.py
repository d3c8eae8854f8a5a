"""The metric registry: names, directions, the two graders added here, the defaults."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gome_core.byod import METRICS, ByodError, default_metric, get_metric
from gome_core.competitions import InvalidSubmissionError


def test_registry_reuses_the_bundled_metric_names_with_their_directions():
    lower = {name for name, spec in METRICS.items() if spec.lower_is_better}
    assert lower == {"log-loss", "multi-class-log-loss", "rmse", "rmsle", "mae"}
    assert set(METRICS) == lower | {"accuracy", "f1", "roc-auc", "r2"}


@pytest.mark.parametrize(
    ("alias", "name"),
    [("AUC", "roc-auc"), ("roc_auc", "roc-auc"), ("logloss", "log-loss"), ("R2", "r2")],
)
def test_aliases(alias, name):
    assert get_metric(alias).name == name


def test_unknown_metric_lists_the_registry():
    with pytest.raises(ByodError, match="multi-class-log-loss .lower is better"):
        get_metric("kappa")
    with pytest.raises(ByodError, match="unknown metric 'accuracyy'. Did you mean 'accuracy'?"):
        get_metric("accuracyy")


def frames(truth, pred, column="y"):
    ids = np.arange(len(truth))
    return pd.DataFrame({"id": ids, column: pred}), pd.DataFrame({"id": ids, column: truth})


def test_f1_and_r2_agree_with_scikit_learn():
    from sklearn.metrics import f1_score, r2_score

    rng = np.random.default_rng(0)
    truth, pred = rng.integers(0, 2, 200), rng.integers(0, 2, 200)
    sub, ans = frames(truth, pred)
    assert get_metric("f1").grade(sub, ans, target_column="y") == pytest.approx(
        f1_score(truth, pred)
    )
    truth3, pred3 = rng.integers(0, 3, 200), rng.integers(0, 3, 200)
    sub, ans = frames(truth3, pred3)
    assert get_metric("f1").grade(sub, ans, target_column="y") == pytest.approx(
        f1_score(truth3, pred3, average="macro")
    )
    values, noisy = rng.normal(size=100), rng.normal(size=100)
    sub, ans = frames(values, values + noisy)
    assert get_metric("r2").grade(sub, ans, target_column="y") == pytest.approx(
        r2_score(values, values + noisy)
    )


def test_graders_check_the_submission():
    sub, ans = frames([1.0, 2.0], [1.0, np.nan])
    with pytest.raises(InvalidSubmissionError, match="missing"):
        get_metric("r2").grade(sub, ans, target_column="y")


def test_default_metric_by_task_type():
    from sklearn.datasets import load_diabetes

    progression = pd.Series(load_diabetes().target)
    assert default_metric("binary", None)[0].name == "roc-auc"
    assert default_metric("multiclass", None)[0].name == "accuracy"
    assert default_metric("regression", progression)[0].name == "rmse"  # skew 0.44
    spec, why = default_metric("forecasting", np.exp(progression / 40))
    assert spec.name == "rmsle" and "skew" in why
    assert default_metric("regression", progression - 200)[0].name == "rmse"

"""The shared metrics and submission checks used by the bundled graders."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from gome_core.competitions import InvalidSubmissionError
from gome_core.competitions.metrics import (
    grade_accuracy,
    grade_log_loss,
    grade_mae,
    grade_multiclass_log_loss,
    grade_rmse,
    grade_rmsle,
    grade_roc_auc,
    log_loss,
    multiclass_log_loss,
    roc_auc,
)

ANSWERS = pd.DataFrame({"id": [10, 11, 12, 13], "y": [1, 0, 1, 0]})


def sub(**columns: object) -> pd.DataFrame:
    return pd.DataFrame({"id": [10, 11, 12, 13], **columns})


# --- every kind of invalid submission ------------------------------------------------------

INVALID = [
    ("missing target column", sub(p=[0.5] * 4), "lacks the column"),
    ("missing id column", pd.DataFrame({"y": [0.5] * 4}), "lacks the column"),
    ("too few rows", sub(y=[0.5] * 4).iloc[:3], "has 3 rows; expected 4"),
    (
        "too many rows, one id repeated",
        pd.concat([sub(y=[0.5] * 4), sub(y=[0.5] * 4).iloc[:1]]),
        "has 5 rows; expected 4, one per row of test.csv. It repeats 1 id\\(s\\): 10",
    ),
    ("duplicate ids", pd.DataFrame({"id": [10, 10, 12, 13], "y": [0.5] * 4}), "repeats 1 id"),
    ("unknown ids", pd.DataFrame({"id": [10, 11, 12, 99], "y": [0.5] * 4}), "unknown id"),
    ("string ids", pd.DataFrame({"id": ["a", "b", "c", "d"], "y": [0.5] * 4}), "integer ids"),
    ("fractional ids", pd.DataFrame({"id": [10.5, 11, 12, 13], "y": [0.5] * 4}), "integer ids"),
    ("empty id", pd.DataFrame({"id": [10, None, 12, 13], "y": [0.5] * 4}), "empty values"),
    ("NaN prediction", sub(y=[0.5, np.nan, 0.5, 0.5]), "missing \\(NaN\\)"),
    ("non-numeric prediction", sub(y=[0.5, "high", 0.5, 0.5]), "must hold numbers"),
    ("probability above 1", sub(y=[0.5, 1.5, 0.5, 0.5]), "in \\[0, 1\\]"),
    ("negative probability", sub(y=[0.5, -0.1, 0.5, 0.5]), "in \\[0, 1\\]"),
    ("infinite prediction", sub(y=[0.5, np.inf, 0.5, 0.5]), "infinite|\\[0, 1\\]"),
    ("not a table", [[10, 0.5]], "must be a table"),
]


@pytest.mark.parametrize(("case", "submission", "message"), INVALID, ids=[c[0] for c in INVALID])
@pytest.mark.parametrize("grader", [grade_roc_auc, grade_log_loss], ids=["auc", "logloss"])
def test_invalid_probability_submissions(grader, case: str, submission, message: str) -> None:  # noqa: ANN001
    with pytest.raises(InvalidSubmissionError, match=message):
        grader(submission, ANSWERS, target_column="y")


REGRESSION_INVALID = [c for c in INVALID if "probability" not in c[0]]


@pytest.mark.parametrize(
    ("case", "submission", "message"), REGRESSION_INVALID, ids=[c[0] for c in REGRESSION_INVALID]
)
@pytest.mark.parametrize("grader", [grade_rmse, grade_mae, grade_rmsle, grade_accuracy])
def test_invalid_regression_and_label_submissions(
    grader, case: str, submission, message: str
) -> None:  # noqa: ANN001
    with pytest.raises(InvalidSubmissionError, match=message):
        grader(submission, ANSWERS, target_column="y")


def test_rmsle_rejects_negative_predictions() -> None:
    with pytest.raises(InvalidSubmissionError, match="non-negative"):
        grade_rmsle(sub(y=[1, -2, 1, 1]), ANSWERS, target_column="y")


def test_multiclass_checks() -> None:
    answers = pd.DataFrame({"id": [1, 2, 3], "vote": ["A", "N", "Y"]})
    ok = pd.DataFrame({"id": [1, 2, 3], "A": [1, 0, 0], "N": [0, 1, 0], "Y": [0, 0, 1]})
    assert (
        grade_multiclass_log_loss(ok, answers, target_column="vote", classes=["A", "N", "Y"])
        < 1e-12
    )
    with pytest.raises(InvalidSubmissionError, match="lacks the column"):
        grade_multiclass_log_loss(
            ok.drop(columns="Y"), answers, target_column="vote", classes=["A", "N", "Y"]
        )
    zero = ok.assign(A=[0, 0, 0], N=[0, 0, 0], Y=[0, 0, 0])
    with pytest.raises(InvalidSubmissionError, match="probability 0 to every class"):
        grade_multiclass_log_loss(zero, answers, target_column="vote", classes=["A", "N", "Y"])
    with pytest.raises(InvalidSubmissionError, match=r"\[0, 1\]"):
        grade_multiclass_log_loss(
            ok.assign(A=[2, 0, 0]), answers, target_column="vote", classes=["A", "N", "Y"]
        )


# --- valid submissions ---------------------------------------------------------------------


def test_rows_in_any_order_and_extra_columns_are_accepted() -> None:
    shuffled = pd.DataFrame({"id": [13, 12, 11, 10], "y": [0, 1, 0, 1], "note": list("abcd")})
    assert grade_accuracy(shuffled, ANSWERS, target_column="y") == 1.0
    assert grade_roc_auc(shuffled, ANSWERS, target_column="y") == 1.0


def test_float_ids_that_are_integers_are_accepted() -> None:
    floats = pd.DataFrame({"id": [10.0, 11.0, 12.0, 13.0], "y": [1, 0, 0, 0]})
    assert grade_accuracy(floats, ANSWERS, target_column="y") == 0.75


def test_string_labels() -> None:
    answers = pd.DataFrame({"id": [1, 2], "label": ["cat", "dog"]})
    assert (
        grade_accuracy(
            pd.DataFrame({"id": [1, 2], "label": ["cat", "cat"]}), answers, target_column="label"
        )
        == 0.5
    )


def test_regression_metrics_by_hand() -> None:
    answers = pd.DataFrame({"id": [1, 2, 3, 4], "y": [1.0, 2.0, 3.0, 4.0]})
    pred = pd.DataFrame({"id": [1, 2, 3, 4], "y": [2.0, 2.0, 3.0, 2.0]})
    assert grade_mae(pred, answers, target_column="y") == pytest.approx(0.75)
    assert grade_rmse(pred, answers, target_column="y") == pytest.approx(math.sqrt(5 / 4))
    expected = math.sqrt(np.mean((np.log1p([2, 2, 3, 2]) - np.log1p([1, 2, 3, 4])) ** 2))
    assert grade_rmsle(pred, answers, target_column="y") == pytest.approx(expected)


def test_metrics_agree_with_scikit_learn() -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    p = np.round(rng.random(500), 2)  # rounded: plenty of ties
    assert roc_auc(y, p) == pytest.approx(metrics.roc_auc_score(y, p), abs=1e-12)
    assert log_loss(y, p) == pytest.approx(
        metrics.log_loss(y, np.clip(p, 1e-15, 1 - 1e-15)), abs=1e-9
    )
    probs = rng.dirichlet([1, 1, 1, 1], 300)
    labels = rng.integers(0, 4, 300)
    assert multiclass_log_loss(labels, probs) == pytest.approx(
        metrics.log_loss(labels, probs, labels=[0, 1, 2, 3]), abs=1e-9
    )


def test_auc_needs_both_classes() -> None:
    with pytest.raises(ValueError):
        roc_auc([1, 1], [0.2, 0.3])

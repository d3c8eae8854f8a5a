"""Metrics and submission checks shared by the bundled graders (and usable by your own).

Each ``grade_*`` function takes the submission and answers DataFrames, checks the submission
(columns, row count, ids, numbers, probabilities) and returns the metric. Every problem of the
submission raises :class:`~gome_core.competitions.errors.InvalidSubmissionError` with a message
an agent can act on. Metrics are written with numpy alone, so grading needs no scikit-learn.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gome_core.competitions.errors import InvalidSubmissionError

__all__ = [
    "align_submission",
    "grade_accuracy",
    "grade_log_loss",
    "grade_mae",
    "grade_multiclass_log_loss",
    "grade_rmse",
    "grade_rmsle",
    "grade_roc_auc",
    "log_loss",
    "multiclass_log_loss",
    "numeric_column",
    "roc_auc",
]

#: Probabilities are clipped to [EPS, 1 - EPS] before logs, as Kaggle's log loss does.
EPS = 1e-15


def _examples(values: Sequence[Any], limit: int = 5) -> str:
    shown = ", ".join(repr(v) for v in list(values)[:limit])
    more = f" and {len(values) - limit} more" if len(values) > limit else ""
    return shown + more


def align_submission(
    submission: Any, answers: Any, *, id_column: str, columns: Sequence[str]
) -> Any:
    """Check the submission's shape and ids; return its ``columns`` in the answers' id order.

    Raises InvalidSubmissionError for missing columns, a wrong number of rows, missing,
    non-integer, duplicate, unknown or absent ids.
    """
    import numpy as np
    import pandas as pd

    if not isinstance(submission, pd.DataFrame):
        raise InvalidSubmissionError("the submission must be a table (a CSV with a header row).")
    expected = [id_column, *columns]
    missing = [c for c in expected if c not in submission.columns]
    if missing:
        raise InvalidSubmissionError(
            f"the submission lacks the column(s) {_examples(missing)}; expected the columns "
            f"{', '.join(expected)} (see sample_submission.csv), got "
            f"{', '.join(map(str, submission.columns)) or 'none'}."
        )
    if len(submission) != len(answers):
        repeated = submission[id_column][submission[id_column].duplicated()]
        shown = _examples(sorted(set(repeated.tolist()), key=str))
        why = f" It repeats {len(repeated)} id(s): {shown}." if len(repeated) else ""
        raise InvalidSubmissionError(
            f"the submission has {len(submission)} rows; expected {len(answers)}, one per row of "
            f"test.csv.{why}"
        )
    ids = submission[id_column]
    if ids.isna().any():
        raise InvalidSubmissionError(
            f"the `{id_column}` column has {int(ids.isna().sum())} empty values."
        )
    truth_ids = answers[id_column]
    if pd.api.types.is_numeric_dtype(truth_ids):
        numeric = pd.to_numeric(ids, errors="coerce")
        bad = ids[numeric.isna() | (numeric != np.round(numeric))]
        if len(bad):
            raise InvalidSubmissionError(
                f"the `{id_column}` column must hold the integer ids of test.csv; found "
                f"{_examples(bad.tolist())}."
            )
        ids = numeric.astype("int64")
    else:
        ids = ids.astype(str)
        truth_ids = truth_ids.astype(str)
    duplicated = ids[ids.duplicated()]
    if len(duplicated):
        raise InvalidSubmissionError(
            f"the submission repeats {len(duplicated)} id(s): "
            f"{_examples(sorted(set(duplicated.tolist())))}; give exactly one row per test id."
        )
    truth_set, sub_set = set(truth_ids.tolist()), set(ids.tolist())
    if truth_set != sub_set:
        unknown = sorted(sub_set - truth_set)
        absent = sorted(truth_set - sub_set)
        raise InvalidSubmissionError(
            f"the submission's ids do not match test.csv: {len(unknown)} unknown id(s) "
            f"({_examples(unknown)}) and {len(absent)} missing id(s) ({_examples(absent)})."
        )
    frame = submission[list(columns)].copy()
    frame.index = ids.to_numpy()
    return frame.loc[truth_ids.to_numpy()].reset_index(drop=True)


def numeric_column(frame: Any, column: str) -> Any:
    """The column as finite float64 values; non-numbers, NaN and infinities are invalid."""
    import numpy as np
    import pandas as pd

    values = pd.to_numeric(frame[column], errors="coerce")
    bad = frame[column][values.isna() & frame[column].notna()]
    if len(bad):
        raise InvalidSubmissionError(
            f"column `{column}` must hold numbers; found {_examples(bad.tolist())}."
        )
    array = values.to_numpy(dtype="float64")
    if np.isnan(array).any():
        raise InvalidSubmissionError(
            f"column `{column}` has {int(np.isnan(array).sum())} missing (NaN) values; every row "
            f"needs a prediction."
        )
    if not np.isfinite(array).all():
        raise InvalidSubmissionError(f"column `{column}` holds infinite values.")
    return array


def _probabilities(frame: Any, column: str) -> Any:
    values = numeric_column(frame, column)
    outside = values[(values < 0) | (values > 1)]
    if len(outside):
        raise InvalidSubmissionError(
            f"column `{column}` must hold probabilities in [0, 1]; found {len(outside)} values "
            f"outside, e.g. {_examples(outside.tolist())}."
        )
    return values


# --- metrics on arrays ----------------------------------------------------------------------


def roc_auc(y_true: Any, y_score: Any) -> float:
    """Area under the ROC curve (ties count one half), for labels in {0, 1}."""
    import numpy as np

    y_true = np.asarray(y_true, dtype=bool)
    y_score = np.asarray(y_score, dtype="float64")
    n_pos = int(y_true.sum())
    n_neg = len(y_true) - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError("ROC AUC needs both classes in the answers")
    order = np.argsort(y_score, kind="mergesort")
    sorted_scores = y_score[order]
    ranks = np.empty(len(y_score), dtype="float64")
    # Average ranks over ties (Mann-Whitney U).
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    avg = first + (counts - 1) / 2.0 + 1.0
    ranks[order] = np.repeat(avg, counts)
    u = ranks[y_true].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def log_loss(y_true: Any, p: Any) -> float:
    """Binary log loss with probabilities clipped to [EPS, 1-EPS]."""
    import numpy as np

    y = np.asarray(y_true, dtype="float64")
    p = np.clip(np.asarray(p, dtype="float64"), EPS, 1 - EPS)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def multiclass_log_loss(y_index: Any, probabilities: Any) -> float:
    """Multi-class log loss: rows clipped to [EPS, 1-EPS] then rescaled to sum to 1 (Kaggle)."""
    import numpy as np

    p = np.clip(np.asarray(probabilities, dtype="float64"), EPS, 1 - EPS)
    p = p / p.sum(axis=1, keepdims=True)
    idx = np.asarray(y_index, dtype="int64")
    return float(-np.mean(np.log(p[np.arange(len(idx)), idx])))


# --- graders --------------------------------------------------------------------------------


def grade_accuracy(
    submission: Any, answers: Any, *, target_column: str, id_column: str = "id"
) -> float:
    """Share of rows whose predicted label equals the true one."""
    import numpy as np
    import pandas as pd

    sub = align_submission(submission, answers, id_column=id_column, columns=[target_column])
    truth = answers[target_column]
    if pd.api.types.is_numeric_dtype(truth):
        pred = numeric_column(sub, target_column)
        return float(np.mean(pred == truth.to_numpy(dtype="float64")))
    pred = sub[target_column]
    if pred.isna().any():
        raise InvalidSubmissionError(
            f"column `{target_column}` has {int(pred.isna().sum())} missing values."
        )
    return float(np.mean(pred.astype(str).str.strip().to_numpy() == truth.astype(str).to_numpy()))


def grade_roc_auc(
    submission: Any, answers: Any, *, target_column: str, id_column: str = "id"
) -> float:
    """ROC AUC of the predicted probability of the positive class (answers hold 0/1)."""
    sub = align_submission(submission, answers, id_column=id_column, columns=[target_column])
    return roc_auc(answers[target_column].to_numpy(), _probabilities(sub, target_column))


def grade_log_loss(
    submission: Any, answers: Any, *, target_column: str, id_column: str = "id"
) -> float:
    """Binary log loss of the predicted probability of the positive class (answers hold 0/1)."""
    sub = align_submission(submission, answers, id_column=id_column, columns=[target_column])
    return log_loss(answers[target_column].to_numpy(), _probabilities(sub, target_column))


def grade_multiclass_log_loss(
    submission: Any,
    answers: Any,
    *,
    target_column: str,
    classes: Sequence[str],
    id_column: str = "id",
) -> float:
    """Multi-class log loss; the submission has one probability column per class."""
    import numpy as np

    sub = align_submission(submission, answers, id_column=id_column, columns=list(classes))
    probs = np.column_stack([_probabilities(sub, c) for c in classes])
    zero_rows = int((probs.sum(axis=1) == 0).sum())
    if zero_rows:
        raise InvalidSubmissionError(
            f"{zero_rows} row(s) give probability 0 to every class; each row must sum to 1."
        )
    lookup = {str(c): i for i, c in enumerate(classes)}
    index = [lookup[str(v)] for v in answers[target_column].tolist()]
    return multiclass_log_loss(index, probs)


def _regression(
    submission: Any, answers: Any, target_column: str, id_column: str
) -> tuple[Any, Any]:
    sub = align_submission(submission, answers, id_column=id_column, columns=[target_column])
    return numeric_column(sub, target_column), answers[target_column].to_numpy(dtype="float64")


def grade_rmse(
    submission: Any, answers: Any, *, target_column: str, id_column: str = "id"
) -> float:
    """Root mean squared error."""
    import numpy as np

    pred, truth = _regression(submission, answers, target_column, id_column)
    return float(np.sqrt(np.mean((pred - truth) ** 2)))


def grade_rmsle(
    submission: Any, answers: Any, *, target_column: str, id_column: str = "id"
) -> float:
    """Root mean squared logarithmic error; predictions must be non-negative."""
    import numpy as np

    pred, truth = _regression(submission, answers, target_column, id_column)
    negative = pred[pred < 0]
    if len(negative):
        raise InvalidSubmissionError(
            f"column `{target_column}` must be non-negative for RMSLE; found {len(negative)} "
            f"negative values, e.g. {_examples(negative.tolist())}."
        )
    return float(np.sqrt(np.mean((np.log1p(pred) - np.log1p(truth)) ** 2)))


def grade_mae(submission: Any, answers: Any, *, target_column: str, id_column: str = "id") -> float:
    """Mean absolute error."""
    import numpy as np

    pred, truth = _regression(submission, answers, target_column, id_column)
    return float(np.mean(np.abs(pred - truth)))

"""The registry of metrics a competition built from your data can use.

Each :class:`MetricSpec` knows its direction, the task types it fits, what a submission holds and
its grader. The graders are those of :mod:`gome_core.competitions.metrics` (the bundled
competitions' own), plus F1 and R² written on the same submission checks.

=======================  ==========  =================  ===============================
name                     better      task types         the submission holds
=======================  ==========  =================  ===============================
``accuracy``             higher      binary, multiclass the predicted label
``f1``                   higher      binary, multiclass the predicted label (F1 of class 1
                                                        for binary, macro F1 otherwise)
``roc-auc``              higher      binary             the probability of class 1
``log-loss``             lower       binary             the probability of class 1
``multi-class-log-loss`` lower       binary, multiclass one probability column per class
``rmse``                 lower       regression, fc.    the predicted value
``rmsle``                lower       regression, fc.    the predicted value (>= 0)
``mae``                  lower       regression, fc.    the predicted value
``r2``                   higher      regression, fc.    the predicted value
=======================  ==========  =================  ===============================
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence
from typing import Any

import attrs

from gome_core.byod.errors import ByodError
from gome_core.byod.tables import label_text
from gome_core.competitions import metrics as m
from gome_core.competitions.errors import InvalidSubmissionError

__all__ = [
    "METRICS",
    "TASK_TYPES",
    "MetricSpec",
    "default_metric",
    "get_metric",
    "grade_f1",
    "grade_r2",
]

#: The task types gome infers; forecasting is regression split by time.
TASK_TYPES = ("binary", "multiclass", "regression", "forecasting")
_CLASSIFICATION = ("binary", "multiclass")
_REGRESSION = ("regression", "forecasting")


def grade_f1(submission: Any, answers: Any, *, target_column: str, id_column: str = "id") -> float:
    """F1 of the predicted labels: of class 1 when the answers hold 0/1, else macro F1."""
    import numpy as np

    sub = m.align_submission(submission, answers, id_column=id_column, columns=[target_column])
    pred = sub[target_column]
    if pred.isna().any():
        raise InvalidSubmissionError(
            f"column `{target_column}` has {int(pred.isna().sum())} missing values."
        )
    pred = label_text(pred).to_numpy()
    truth = label_text(answers[target_column]).to_numpy()
    binary = set(truth.tolist()) <= {"0", "1"}
    labels = ["1"] if binary else sorted(set(truth.tolist()))
    scores = []
    for label in labels:
        tp = float(np.sum((pred == label) & (truth == label)))
        fp = float(np.sum((pred == label) & (truth != label)))
        fn = float(np.sum((pred != label) & (truth == label)))
        scores.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return float(np.mean(scores))


def grade_r2(submission: Any, answers: Any, *, target_column: str, id_column: str = "id") -> float:
    """Coefficient of determination, 1 - SS_res / SS_tot (0 for a constant at the mean)."""
    import numpy as np

    sub = m.align_submission(submission, answers, id_column=id_column, columns=[target_column])
    pred = m.numeric_column(sub, target_column)
    truth = answers[target_column].to_numpy(dtype="float64")
    total = float(np.sum((truth - truth.mean()) ** 2))
    if total == 0:
        raise ValueError("R² is undefined when every answer is the same")
    return float(1 - np.sum((truth - pred) ** 2) / total)


Grader = Callable[..., float]


@attrs.frozen
class MetricSpec:
    """One metric: name, direction, the task types it fits and what a submission holds.

    ``output`` is ``"label"``, ``"proba"`` (the probability of class 1), ``"class-proba"``
    (one probability column per class) or ``"value"``.
    """

    name: str
    lower_is_better: bool
    task_types: tuple[str, ...]
    output: str
    title: str
    formula: str
    _grader: Grader

    def grade(
        self,
        submission: Any,
        answers: Any,
        *,
        target_column: str,
        id_column: str = "id",
        classes: Sequence[str] = (),
    ) -> float:
        """The metric of ``submission`` against ``answers`` (raises InvalidSubmissionError)."""
        if self.output == "class-proba":
            return self._grader(
                submission,
                answers,
                target_column=target_column,
                classes=list(classes),
                id_column=id_column,
            )
        return self._grader(submission, answers, target_column=target_column, id_column=id_column)

    def columns(self, target: str, classes: Sequence[str]) -> list[str]:
        """The submission's columns besides the id."""
        return [str(c) for c in classes] if self.output == "class-proba" else [target]


def _spec(
    name: str,
    lower: bool,
    types: tuple[str, ...],
    output: str,
    title: str,
    formula: str,
    fn: Grader,
) -> MetricSpec:
    return MetricSpec(name, lower, types, output, title, formula, fn)


METRICS: dict[str, MetricSpec] = {
    s.name: s
    for s in (
        _spec("accuracy", False, _CLASSIFICATION, "label", "accuracy",
              "the share of rows whose predicted label is right", m.grade_accuracy),
        _spec("f1", False, _CLASSIFICATION, "label", "F1 score",
              "F1 of class 1 for a binary target, the mean F1 over classes (macro) otherwise",
              grade_f1),
        _spec("roc-auc", False, ("binary",), "proba", "area under the ROC curve",
              "ROC AUC of the predicted probability of class 1", m.grade_roc_auc),
        _spec("log-loss", True, ("binary",), "proba", "log loss",
              "-mean(y log p + (1 - y) log(1 - p)), p clipped to [1e-15, 1 - 1e-15]",
              m.grade_log_loss),
        _spec("multi-class-log-loss", True, _CLASSIFICATION, "class-proba",
              "multi-class log loss",
              "-mean(log p[true class]), rows clipped to [1e-15, 1 - 1e-15] and rescaled to sum "
              "to 1", m.grade_multiclass_log_loss),
        _spec("rmse", True, _REGRESSION, "value", "root mean squared error",
              "sqrt(mean((predicted - actual)^2))", m.grade_rmse),
        _spec("rmsle", True, _REGRESSION, "value", "root mean squared logarithmic error",
              "sqrt(mean((log(1 + predicted) - log(1 + actual))^2)); predictions must be >= 0",
              m.grade_rmsle),
        _spec("mae", True, _REGRESSION, "value", "mean absolute error",
              "mean(|predicted - actual|)", m.grade_mae),
        _spec("r2", False, _REGRESSION, "value", "coefficient of determination (R²)",
              "1 - sum((actual - predicted)^2) / sum((actual - mean(actual))^2)", grade_r2),
    )
}  # fmt: skip

_ALIASES = {
    "acc": "accuracy",
    "auc": "roc-auc",
    "rocauc": "roc-auc",
    "auroc": "roc-auc",
    "logloss": "log-loss",
    "binarylogloss": "log-loss",
    "crossentropy": "log-loss",
    "multiclasslogloss": "multi-class-log-loss",
    "mlogloss": "multi-class-log-loss",
    "f1score": "f1",
    "macrof1": "f1",
    "rootmeansquarederror": "rmse",
    "rootmeansquaredlogerror": "rmsle",
    "meanabsoluteerror": "mae",
    "r2score": "r2",
    "rsquared": "r2",
}


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def get_metric(name: str) -> MetricSpec:
    """The metric called ``name`` (case, dashes and common aliases ignored: ``AUC``,
    ``roc_auc``); :class:`ByodError` lists the registry for an unknown name."""
    key = _key(name)
    for spec in METRICS.values():
        if _key(spec.name) == key:
            return spec
    if key in _ALIASES:
        return METRICS[_ALIASES[key]]
    close = difflib.get_close_matches(name, list(METRICS), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ByodError(
        f"unknown metric {name!r}.{hint} Known metrics: "
        + ", ".join(
            f"{s.name} ({'lower' if s.lower_is_better else 'higher'} is better; "
            f"{'/'.join(s.task_types)})"
            for s in METRICS.values()
        )
        + ". Choose one with --metric NAME."
    )


def default_metric(task_type: str, target: Any) -> tuple[MetricSpec, str]:
    """The usual metric for a task type, and why.

    binary -> roc-auc; multiclass -> accuracy; regression and forecasting -> rmsle when every
    value is >= 0 and the distribution is right-skewed (skew > 1), else rmse.
    """
    if task_type == "binary":
        return METRICS["roc-auc"], "the usual metric of a binary target"
    if task_type == "multiclass":
        return METRICS["accuracy"], (
            "the usual metric of a multi-class target (multi-class-log-loss scores "
            "probabilities instead)"
        )
    values = target.dropna().astype("float64")
    skew = float(values.skew()) if len(values) > 2 else 0.0
    if len(values) and float(values.min()) >= 0 and skew > 1.0:
        return METRICS["rmsle"], (
            f"the target is non-negative and right-skewed (skew {skew:.2f}), so relative "
            f"errors matter"
        )
    return METRICS["rmse"], "the usual metric of a numeric target"

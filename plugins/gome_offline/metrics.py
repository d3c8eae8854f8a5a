"""Competition metric names, normalised: which metric a grader name means and what it needs.

Grader names vary (``log-loss``, ``multi-class-log-loss``, ``roc_auc``, ``AUC``); the offline
reasoner needs to know which score to compute in the generated program, whether the submission
holds probabilities or labels, and which way is better when the competition does not say.
"""

from __future__ import annotations

import re

from attrs import frozen

__all__ = ["MetricInfo", "normalize_metric"]

#: Canonical metric -> (what the submission holds, lower is better, task family).
_KNOWN: dict[str, tuple[str, bool, str]] = {
    "accuracy": ("label", False, "classification"),
    "f1": ("label", False, "classification"),
    "log_loss": ("proba", True, "classification"),
    "roc_auc": ("proba", False, "classification"),
    "rmse": ("value", True, "regression"),
    "mse": ("value", True, "regression"),
    "rmsle": ("value", True, "regression"),
    "mae": ("value", True, "regression"),
    "r2": ("value", False, "regression"),
}

_ALIASES: dict[str, str] = {
    "acc": "accuracy",
    "classification_accuracy": "accuracy",
    "categorization_accuracy": "accuracy",
    "f1_score": "f1",
    "macro_f1": "f1",
    "f1_macro": "f1",
    "mean_f1": "f1",
    "logloss": "log_loss",
    "binary_log_loss": "log_loss",
    "binary_logloss": "log_loss",
    "multiclass_log_loss": "log_loss",
    "multi_class_log_loss": "log_loss",
    "multiclass_logloss": "log_loss",
    "mlogloss": "log_loss",
    "cross_entropy": "log_loss",
    "binary_crossentropy": "log_loss",
    "categorical_crossentropy": "log_loss",
    "auc": "roc_auc",
    "roc": "roc_auc",
    "rocauc": "roc_auc",
    "auroc": "roc_auc",
    "roc_auc_score": "roc_auc",
    "area_under_roc_curve": "roc_auc",
    "root_mean_squared_error": "rmse",
    "mean_squared_error": "mse",
    "root_mean_squared_log_error": "rmsle",
    "root_mean_squared_logarithmic_error": "rmsle",
    "mean_absolute_error": "mae",
    "r_squared": "r2",
    "r2_score": "r2",
    "coefficient_of_determination": "r2",
}


@frozen
class MetricInfo:
    """A competition metric as the offline reasoner understands it.

    ``name`` is the competition's own name (the score file's column); ``canonical`` the metric the
    generated program computes, ``None`` when the name is unknown (then the task type decides a
    stand-in metric); ``output`` is ``"label"``, ``"proba"``, ``"value"`` or ``None`` (unknown).
    """

    name: str
    canonical: str | None
    lower_is_better: bool
    output: str | None

    @property
    def known(self) -> bool:
        return self.canonical is not None

    @property
    def family(self) -> str | None:
        """``"classification"`` or ``"regression"`` for known metrics, else ``None``."""
        return _KNOWN[self.canonical][2] if self.canonical else None


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")


def normalize_metric(name: str, lower_is_better: bool | None = None) -> MetricInfo:
    """Map a grader name to a :class:`MetricInfo`.

    ``lower_is_better`` from the competition always wins over the metric's usual direction.
    """
    key = _key(name)
    canonical = key if key in _KNOWN else _ALIASES.get(key)
    if canonical is None and key.replace("_", "") in {k.replace("_", "") for k in _ALIASES}:
        canonical = next(
            v for k, v in _ALIASES.items() if k.replace("_", "") == key.replace("_", "")
        )
    if canonical is None:
        direction = bool(lower_is_better) if lower_is_better is not None else False
        return MetricInfo(name=name, canonical=None, lower_is_better=direction, output=None)
    output, usual, _ = _KNOWN[canonical]
    direction = usual if lower_is_better is None else bool(lower_is_better)
    return MetricInfo(name=name, canonical=canonical, lower_is_better=direction, output=output)

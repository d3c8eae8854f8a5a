"""Grader of breast-cancer: log loss of the predicted probability that a tumour is malignant."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gome_core.competitions.metrics import grade_log_loss

if TYPE_CHECKING:
    from pandas import DataFrame


def grade(submission: DataFrame, answers: DataFrame) -> float:
    return grade_log_loss(submission, answers, target_column="malignant")

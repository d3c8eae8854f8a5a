"""Grader of hmda-denial: ROC AUC of the predicted probability that the application is denied."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gome_core.competitions.metrics import grade_roc_auc

if TYPE_CHECKING:
    from pandas import DataFrame


def grade(submission: DataFrame, answers: DataFrame) -> float:
    return grade_roc_auc(submission, answers, target_column="deny")

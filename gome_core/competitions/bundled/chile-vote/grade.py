"""Grader of chile-vote: multi-class log loss over the four vote intentions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gome_core.competitions.metrics import grade_multiclass_log_loss

if TYPE_CHECKING:
    from pandas import DataFrame

CLASSES = ["A", "N", "U", "Y"]


def grade(submission: DataFrame, answers: DataFrame) -> float:
    return grade_multiclass_log_loss(submission, answers, target_column="vote", classes=CLASSES)

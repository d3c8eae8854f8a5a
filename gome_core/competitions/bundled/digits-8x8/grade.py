"""Grader of digits-8x8: accuracy of the predicted `label`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gome_core.competitions.metrics import grade_accuracy

if TYPE_CHECKING:
    from pandas import DataFrame


def grade(submission: DataFrame, answers: DataFrame) -> float:
    return grade_accuracy(submission, answers, target_column="label")

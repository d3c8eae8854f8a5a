"""Grader of diamonds-price: RMSLE of the predicted `price`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gome_core.competitions.metrics import grade_rmsle

if TYPE_CHECKING:
    from pandas import DataFrame


def grade(submission: DataFrame, answers: DataFrame) -> float:
    return grade_rmsle(submission, answers, target_column="price")

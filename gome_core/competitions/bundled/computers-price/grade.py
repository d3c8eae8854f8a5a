"""Grader of computers-price: RMSE of the predicted `price`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gome_core.competitions.metrics import grade_rmse

if TYPE_CHECKING:
    from pandas import DataFrame


def grade(submission: DataFrame, answers: DataFrame) -> float:
    return grade_rmse(submission, answers, target_column="price")

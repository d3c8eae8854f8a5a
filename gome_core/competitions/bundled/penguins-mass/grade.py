"""Grader of penguins-mass: MAE of the predicted `body_mass_g`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gome_core.competitions.metrics import grade_mae

if TYPE_CHECKING:
    from pandas import DataFrame


def grade(submission: DataFrame, answers: DataFrame) -> float:
    return grade_mae(submission, answers, target_column="body_mass_g")

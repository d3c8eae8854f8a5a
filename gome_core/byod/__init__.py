"""Bring your own data: turn a folder with ``train.csv`` (and maybe ``test.csv``, Parquet
files or a folder of images) and a one-sentence goal into a competition in MLE-bench's layout.

>>> from gome_core.byod import infer_task, write_competition
>>> task = infer_task("churn/", "predict churn")                       # doctest: +SKIP
>>> print("\\n".join(task.report()))                                   # doctest: +SKIP
>>> write_competition(task, "competitions", "data")                    # doctest: +SKIP

The result is an ordinary competition (config.yaml, description.md, prepare.py, grade.py, a
leaderboard of gome's baselines, ``awards_medals: false``), so the store, the grader and the
engine use it unchanged. Importing this package imports neither pandas nor scikit-learn.
See docs/bring-your-own-data.md.
"""

from __future__ import annotations

from gome_core.byod.baselines import BaselineScore, baselines
from gome_core.byod.errors import AmbiguityError, ByodError
from gome_core.byod.infer import FLAGS, Guess, InferredTask, infer_task
from gome_core.byod.metrics import METRICS, MetricSpec, default_metric, get_metric
from gome_core.byod.report import is_byod, summarize_run, user_predictions
from gome_core.byod.write import competition_id_for, write_competition

__all__ = [
    "FLAGS",
    "METRICS",
    "AmbiguityError",
    "BaselineScore",
    "ByodError",
    "Guess",
    "InferredTask",
    "MetricSpec",
    "baselines",
    "competition_id_for",
    "default_metric",
    "get_metric",
    "infer_task",
    "is_byod",
    "summarize_run",
    "user_predictions",
    "write_competition",
]

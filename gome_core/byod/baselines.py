"""Baselines of a competition built from your data, and the leaderboard made of them.

Two models are trained on the public ``train.csv`` and scored on the private answers by the
competition's own grader:

- **dummy**: scikit-learn's ``DummyClassifier(strategy="prior")`` (the most frequent class as a
  label, the class shares as probabilities) or ``DummyRegressor(strategy="mean")``;
- **standard**: ``HistGradientBoostingClassifier`` / ``Regressor`` (``random_state=0``, library
  defaults) on the test table's columns (numbers as they are, categories with at most 50 values
  as categories, dates as calendar parts; free text left out), or, for images, a logistic
  (ridge for a numeric target) regression on the pixels in grey scale, at most 32x32.

They are what an agent's held-out score is compared with: no medals are awarded for your own data.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from gome_core.byod.build import public_id_column, read_config
from gome_core.byod.errors import ByodError
from gome_core.byod.metrics import MetricSpec, get_metric
from gome_core.byod.tables import is_date_column, label_text
from gome_core.logs import get_logger

__all__ = ["BaselineScore", "baselines", "leaderboard_rows", "write_leaderboard"]

log = get_logger(__name__)

_MAX_CATEGORIES = 50
_MAX_SIDE = 32
LEADERBOARD_HEADER = "scoreNullable,teamId,teamName,hasTeamName,submissionDate,score,hasScore"


@attrs.frozen
class BaselineScore:
    """One baseline's held-out score (``None`` when it failed, with ``reason``)."""

    name: str
    model: str
    score: float | None
    reason: str | None = None


def baselines(competition: Any) -> tuple[BaselineScore, ...]:
    """Train the dummy and the standard model on the public split of a prepared competition
    built from your data and score them on its private answers with its grader."""
    import pandas as pd

    from gome_core.competitions.grading import load_answers, score_dataframe

    _, settings = read_config(competition.competition_dir / "config.yaml")
    metric = get_metric(competition.metric_name)
    public = competition.public_dir
    train = pd.read_csv(public / "train.csv", low_memory=False)
    test = pd.read_csv(public / "test.csv", low_memory=False)
    answers = load_answers(competition)
    grade_fn = competition.load_grade_fn()
    idc = public_id_column(settings)
    from threadpoolctl import threadpool_limits  # a scikit-learn dependency

    results = []
    for name, fit in (("dummy", _dummy), ("standard", _standard)):
        try:
            # One thread: deterministic, and OpenMP's default of one thread per visible CPU
            # is many times slower than one on a machine whose cores are shared.
            with threadpool_limits(1):
                model, prediction = fit(train, test, settings, metric, public)
        except _Skipped as skip:
            results.append(BaselineScore(name, skip.model, None, str(skip)))
            continue
        submission = pd.concat([test[[idc]].reset_index(drop=True), prediction], axis=1)
        score, reason = score_dataframe(submission, answers, grade_fn)
        results.append(BaselineScore(name, model, score, reason))
        log.info("baseline scored", competition=competition.id, model=model, score=score)
    return tuple(results)


class _Skipped(Exception):
    def __init__(self, model: str, reason: str) -> None:
        super().__init__(reason)
        self.model = model


def _is_classification(settings: dict[str, Any]) -> bool:
    return settings["task_type"] in ("binary", "multiclass")


def _predict(model: Any, X: Any, settings: dict[str, Any], metric: MetricSpec) -> Any:
    """The submission's prediction columns for ``X``."""
    import numpy as np
    import pandas as pd

    target = settings["target"]
    if not _is_classification(settings):
        values = np.asarray(model.predict(X), dtype="float64")
        if metric.name == "rmsle":
            values = np.clip(values, 0, None)
        return pd.DataFrame({target: values})
    if metric.output == "label":
        return pd.DataFrame({target: model.predict(X)})
    proba = model.predict_proba(X)
    fitted = label_text(pd.Series(model.classes_)).tolist()
    if metric.output == "proba":
        column = proba[:, fitted.index("1")] if "1" in fitted else np.zeros(len(X))
        return pd.DataFrame({target: column})
    classes = [str(c) for c in settings["classes"]]
    out = pd.DataFrame(0.0, index=range(len(X)), columns=classes)
    for i, label in enumerate(fitted):
        if label in out.columns:
            out[label] = proba[:, i]
    return out


def _dummy(
    train: Any, test: Any, settings: dict[str, Any], metric: MetricSpec, public: Path
) -> tuple[str, Any]:
    import numpy as np
    from sklearn.dummy import DummyClassifier, DummyRegressor

    y = train[settings["target"]]
    if _is_classification(settings):
        model, name = DummyClassifier(strategy="prior"), "DummyClassifier(strategy='prior')"
    else:
        model, name = DummyRegressor(strategy="mean"), "DummyRegressor(strategy='mean')"
    model.fit(np.zeros((len(y), 1)), y)
    return name, _predict(model, np.zeros((len(test), 1)), settings, metric)


def _standard(
    train: Any, test: Any, settings: dict[str, Any], metric: MetricSpec, public: Path
) -> tuple[str, Any]:
    y = train[settings["target"]]
    if settings.get("image_folder"):
        return _image_model(train, test, y, settings, metric, public)
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    X_train, X_test, categorical = _tabular_features(train, test, settings)
    if _is_classification(settings):
        cls, name = HistGradientBoostingClassifier, "HistGradientBoostingClassifier"
    else:
        cls, name = HistGradientBoostingRegressor, "HistGradientBoostingRegressor"
    name += "(random_state=0)"
    if X_train.shape[1] == 0:
        raise _Skipped(name, "the test table has no column to learn from")
    model = cls(random_state=0, categorical_features=categorical or None)
    model.fit(X_train, y)
    return name, _predict(model, X_test, settings, metric)


def _tabular_features(
    train: Any, test: Any, settings: dict[str, Any]
) -> tuple[Any, Any, list[bool]]:
    """Numeric feature tables for train and test, built the same way, and which columns are
    categories."""
    import pandas as pd

    idc = public_id_column(settings)
    skip = {idc, settings["target"], *(settings.get("train_only") or [])}
    left, right, categorical = {}, {}, []
    for column in (c for c in test.columns if c not in skip and c in train.columns):
        a, b = train[column], test[column]
        if pd.api.types.is_numeric_dtype(a) or pd.api.types.is_bool_dtype(a):
            left[column] = a.astype("float64")
            right[column] = pd.to_numeric(b, errors="coerce").astype("float64")
            categorical.append(False)
        elif column == settings.get("date_column") or is_date_column(a):
            for part, values in _date_parts(a).items():
                left[f"{column}_{part}"] = values
                categorical.append(False)
            for part, values in _date_parts(b).items():
                right[f"{column}_{part}"] = values
        else:
            seen = a.dropna().astype(str)
            levels = sorted(seen.unique())
            if len(levels) > _MAX_CATEGORIES:
                continue  # free text or a near-identifier: left to the agent
            left[column] = _codes(a, levels)
            right[column] = _codes(b, levels)
            categorical.append(True)
    return pd.DataFrame(left), pd.DataFrame(right), categorical


def _codes(values: Any, levels: Sequence[str]) -> Any:
    import numpy as np
    import pandas as pd

    codes = pd.Categorical(values.astype("string"), categories=list(levels)).codes
    return pd.Series(np.where(codes < 0, np.nan, codes).astype("float64"))


def _date_parts(values: Any) -> dict[str, Any]:
    import pandas as pd

    when = pd.to_datetime(values, errors="coerce", format="mixed")
    return {
        "year": when.dt.year.astype("float64"),
        "month": when.dt.month.astype("float64"),
        "day": when.dt.day.astype("float64"),
        "weekday": when.dt.day_of_week.astype("float64"),
        "ordinal": (when - pd.Timestamp("1970-01-01")).dt.days.astype("float64"),
    }


def _image_model(
    train: Any, test: Any, y: Any, settings: dict[str, Any], metric: MetricSpec, public: Path
) -> tuple[str, Any]:
    from sklearn.linear_model import LogisticRegression, Ridge

    classification = _is_classification(settings)
    name = "LogisticRegression(max_iter=1000)" if classification else "Ridge()"
    name += " on grey-scale pixels"
    try:
        from PIL import Image  # noqa: F401
    except ImportError:
        raise _Skipped(name, "reading images needs Pillow (`pip install pillow`)") from None
    idc = public_id_column(settings)
    X_train = _pixels(public / "train", train[idc].tolist())
    X_test = _pixels(public / "test", test[idc].tolist(), like=X_train.shape[1])
    model = LogisticRegression(max_iter=1000) if classification else Ridge()
    model.fit(X_train, y)
    return name, _predict(model, X_test, settings, metric)


def _pixels(folder: Path, ids: list[Any], like: int | None = None) -> Any:
    import numpy as np
    from PIL import Image

    files = {p.stem: p for p in folder.iterdir()}
    rows = []
    size: tuple[int, int] | None = None
    if like is not None:
        side = int(math.isqrt(like))
        size = (side, side)
    for ident in ids:
        with Image.open(files[str(ident)]) as image:
            grey = image.convert("L")
            if size is None:
                side = min(_MAX_SIDE, max(grey.size))
                size = (side, side)
            rows.append(np.asarray(grey.resize(size), dtype="float32").reshape(-1) / 255.0)
    return np.stack(rows)


def leaderboard_rows(
    scores: Sequence[BaselineScore], lower_is_better: bool
) -> list[tuple[str, float]]:
    """``(team name, score)`` best first. When every score is equal, a row marked as a
    direction marker (not a team) is added one unit worse, so that the metric's direction can
    still be read from the leaderboard (first row better than the last)."""
    valid = [
        (f"baseline: {b.name} ({b.model})", float(b.score)) for b in scores if b.score is not None
    ]
    if not valid:
        reasons = "; ".join(f"{b.name}: {b.reason}" for b in scores)
        raise ByodError(f"no baseline could be scored ({reasons}).")
    valid.sort(key=lambda row: row[1], reverse=not lower_is_better)
    if valid[0][1] == valid[-1][1]:
        worse = valid[-1][1] + (1.0 if lower_is_better else -1.0)
        valid.append(
            (
                "direction marker, not a team: "
                + ("lower" if lower_is_better else "higher")
                + " is better",
                worse,
            )
        )
    return valid


def write_leaderboard(path: Path, rows: Sequence[tuple[str, float]]) -> None:
    """A leaderboard.csv in Kaggle's export layout (what MLE-bench reads)."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(LEADERBOARD_HEADER.split(","))
    for team, (name, score) in enumerate(rows, start=1):
        writer.writerow([round(score, 5), team, name, True, "", round(score, 5), True])
    path.write_text(out.getvalue(), encoding="utf-8")

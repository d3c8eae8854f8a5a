"""Grading submissions against a competition's private answers and leaderboard.

Reports carry MLE-bench's field names, so tools that read MLE-bench's grading reports read
gome's. A bad submission never raises: it yields ``valid_submission: false`` and a ``reason``.
Problems with the competition itself (not prepared, a git-LFS pointer for the answers or the
leaderboard) raise a :class:`~gome_core.competitions.errors.CompetitionError`.
"""

from __future__ import annotations

import inspect
import json
import math
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from gome_core.competitions.competition import Competition
from gome_core.competitions.errors import (
    CompetitionError,
    InvalidSubmissionError,
    NotPreparedError,
)
from gome_core.competitions.lfs import check_not_lfs_pointer, is_lfs_pointer
from gome_core.competitions.medals import medal_thresholds, rank_score, read_leaderboard_scores
from gome_core.logs import get_logger

if TYPE_CHECKING:
    from gome_core.competitions.store import CompetitionStore

__all__ = [
    "GradingReport",
    "ScoreResult",
    "aggregate_reports",
    "grade_jsonl",
    "grade_submission",
    "load_answers",
    "read_submissions_jsonl",
    "score_submission",
]

log = get_logger(__name__)


@attrs.frozen
class ScoreResult:
    """A submission's score (rounded to 5 places) or, when it is invalid, why."""

    score: float | None
    submission_exists: bool
    reason: str | None = None

    @property
    def valid(self) -> bool:
        return self.score is not None


@attrs.frozen
class GradingReport:
    """One competition's grading report, field for field MLE-bench's ``CompetitionReport``
    plus ``reason`` (why the submission is invalid; ``None`` when valid)."""

    competition_id: str
    score: float | None
    gold_threshold: float
    silver_threshold: float
    bronze_threshold: float
    median_threshold: float
    any_medal: bool
    gold_medal: bool
    silver_medal: bool
    bronze_medal: bool
    above_median: bool
    submission_exists: bool
    valid_submission: bool
    is_lower_better: bool
    created_at: datetime
    submission_path: str
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with MLE-bench's keys (``created_at`` in ISO 8601) and ``reason``."""
        return {
            "competition_id": self.competition_id,
            "score": None if self.score is None else float(self.score),
            "gold_threshold": float(self.gold_threshold),
            "silver_threshold": float(self.silver_threshold),
            "bronze_threshold": float(self.bronze_threshold),
            "median_threshold": float(self.median_threshold),
            "any_medal": bool(self.any_medal),
            "gold_medal": bool(self.gold_medal),
            "silver_medal": bool(self.silver_medal),
            "bronze_medal": bool(self.bronze_medal),
            "above_median": bool(self.above_median),
            "submission_exists": bool(self.submission_exists),
            "valid_submission": bool(self.valid_submission),
            "is_lower_better": bool(self.is_lower_better),
            "created_at": self.created_at.isoformat(),
            "submission_path": self.submission_path,
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GradingReport:
        """Inverse of :meth:`to_dict`; also reads MLE-bench's reports (no ``reason``)."""
        fields = {f.name for f in attrs.fields(cls)}
        values = {k: v for k, v in data.items() if k in fields}
        values["created_at"] = datetime.fromisoformat(values["created_at"])
        values.setdefault("reason", None)
        return cls(**values)


# --- reading files ------------------------------------------------------------------------

_answers_cache: dict[tuple[Path, float], Any] = {}


def _read_csv(path: Path) -> Any:
    import pandas as pd

    # Floats must read back exactly as written (MLE-bench asks for "round_trip"); pandas 3
    # does so by default and deprecates the option.
    options = {"float_precision": "round_trip"} if int(pd.__version__.split(".")[0]) < 3 else {}
    try:
        return pd.read_csv(path, **options)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


def load_answers(competition: Competition) -> Any:
    """The private answers (a DataFrame for ``.csv``, a list of dicts for ``.jsonl``)."""
    path = competition.answers
    if not path.is_file():
        raise NotPreparedError(competition.id, path)
    check_not_lfs_pointer(path, "answers file")
    key = (path.resolve(), path.stat().st_mtime)
    if key in _answers_cache:
        return _answers_cache[key].copy()
    if path.suffix == ".csv":
        answers = _read_csv(path)
    elif path.suffix == ".jsonl":
        answers = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    else:
        raise CompetitionError(
            f"answers file {path} of competition {competition.id!r} is neither .csv nor .jsonl; "
            f"fix dataset.answers in {competition.competition_dir / 'config.yaml'}."
        )
    _answers_cache.clear()  # keep one competition's answers, not all of them
    _answers_cache[key] = answers
    return answers.copy()


# --- scoring ------------------------------------------------------------------------------


def _is_invalid_submission_error(exc: BaseException) -> bool:
    # Graders written for MLE-bench raise `mlebench.grade_helpers.InvalidSubmissionError`.
    return isinstance(exc, InvalidSubmissionError) or any(
        cls.__name__ == "InvalidSubmissionError" for cls in type(exc).__mro__
    )


def _where(fn: Any) -> str:
    try:
        return f"{inspect.getfile(fn)}:{inspect.getsourcelines(fn)[1]}"
    except (TypeError, OSError):
        return repr(fn)


def score_dataframe(
    submission: Any, answers: Any, grade_fn: Any
) -> tuple[float | None, str | None]:
    """Run ``grade_fn`` on a submission DataFrame; ``(score rounded to 5 places, None)`` or
    ``(None, reason)``. Never raises for a bad submission or a failing grader."""
    try:
        raw = grade_fn(submission, answers)
    except Exception as exc:
        if _is_invalid_submission_error(exc):
            return None, str(exc)
        log.error("grader failed", error=repr(exc), grader=_where(grade_fn))
        return None, (
            f"the grader failed with {type(exc).__name__}: {exc} (in {_where(grade_fn)}); "
            f"the submission is counted as invalid, as MLE-bench does."
        )
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None, f"the grader returned {raw!r}, not a number."
    if not math.isfinite(value):
        return None, f"the score is {value}, not a finite number."
    return round(value, 5), None


def score_submission(
    submission_path: str | os.PathLike[str], competition: Competition, grade_fn: Any = None
) -> ScoreResult:
    """Score a submission file without ranking it.

    ``grade_fn`` defaults to the competition's own. Raises only for problems of the competition
    (not prepared, LFS answers); every problem of the submission is a ``reason``.
    """
    path = Path(submission_path)
    answers = load_answers(competition)
    grade_fn = grade_fn or competition.load_grade_fn()
    if not path.is_file():
        return ScoreResult(None, False, f"submission file {path} does not exist.")
    if path.suffix.lower() != ".csv":
        return ScoreResult(None, False, f"submission {path} is not a .csv file.")
    if is_lfs_pointer(path):
        return ScoreResult(None, True, f"submission {path} is a git-LFS pointer, not a CSV.")
    try:
        submission = _read_csv(path)
    except Exception as exc:  # a malformed CSV is the submission's fault
        return ScoreResult(None, True, f"submission {path} is not a readable CSV: {exc}")
    if len(submission.columns) == 0:
        return ScoreResult(None, True, f"submission {path} is empty.")
    score, reason = score_dataframe(submission, answers, grade_fn)
    return ScoreResult(score, True, reason)


def grade_submission(
    submission_path: str | os.PathLike[str], competition: Competition
) -> GradingReport:
    """Grade a submission CSV: score, medal thresholds, medals, above-median (MLE-bench rules).

    Raises :class:`NotPreparedError` when the competition's answers are missing and a
    :class:`~gome_core.competitions.errors.CompetitionError` for an unreadable leaderboard.
    """
    scores = read_leaderboard_scores(competition.leaderboard_path)
    thresholds = medal_thresholds(scores)
    result = score_submission(submission_path, competition)
    ranking = rank_score(result.score, thresholds)
    if competition.awards_medals is False:
        # A reference leaderboard of baselines only (e.g. a user's own data): it ranks, but a
        # medal would claim more than it knows.
        ranking = attrs.evolve(ranking, gold_medal=False, silver_medal=False, bronze_medal=False)
    if result.reason:
        log.warning("invalid submission", competition=competition.id, reason=result.reason)
    return GradingReport(
        competition_id=competition.id,
        score=result.score,
        gold_threshold=thresholds.gold,
        silver_threshold=thresholds.silver,
        bronze_threshold=thresholds.bronze,
        median_threshold=thresholds.median,
        any_medal=ranking.any_medal,
        gold_medal=ranking.gold_medal,
        silver_medal=ranking.silver_medal,
        bronze_medal=ranking.bronze_medal,
        above_median=ranking.above_median,
        submission_exists=result.submission_exists,
        valid_submission=result.valid,
        is_lower_better=thresholds.lower_is_better,
        created_at=datetime.now(UTC),
        submission_path=str(submission_path),
        reason=result.reason,
    )


def aggregate_reports(reports: Sequence[GradingReport]) -> dict[str, Any]:
    """MLE-bench's summary of many reports: totals plus ``competition_reports``."""
    gold = sum(r.gold_medal for r in reports)
    silver = sum(r.silver_medal for r in reports)
    bronze = sum(r.bronze_medal for r in reports)
    return {
        "total_runs": len(reports),
        "total_runs_with_submissions": sum(r.submission_exists for r in reports),
        "total_valid_submissions": sum(r.valid_submission for r in reports),
        "total_medals": gold + silver + bronze,
        "total_gold_medals": gold,
        "total_silver_medals": silver,
        "total_bronze_medals": bronze,
        "total_above_median": sum(r.above_median for r in reports),
        "competition_reports": [r.to_dict() for r in reports],
    }


def read_submissions_jsonl(path: str | os.PathLike[str]) -> list[dict[str, str]]:
    """Lines ``{"competition_id": ..., "submission_path": ...}``; blank lines and lines starting
    with ``#`` or ``//`` are skipped, as in MLE-bench. Relative submission paths are taken
    relative to the JSONL file."""
    p = Path(path)
    if not p.is_file():
        raise CompetitionError(f"submissions file {p} does not exist.")
    entries = []
    for number, line in enumerate(p.read_text(encoding="utf-8").splitlines(), start=1):
        text = line.strip()
        if not text or text.startswith(("#", "//")):
            continue
        try:
            item = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CompetitionError(f"{p}, line {number}: not valid JSON ({exc.msg}).") from exc
        if not isinstance(item, dict) or not {"competition_id", "submission_path"} <= item.keys():
            raise CompetitionError(
                f"{p}, line {number}: each line needs the keys competition_id and "
                f'submission_path, e.g. {{"competition_id": "digits-8x8", "submission_path": '
                f'"runs/a/submission.csv"}}.'
            )
        sub = Path(str(item["submission_path"])).expanduser()
        entries.append(
            {
                "competition_id": str(item["competition_id"]),
                "submission_path": str(sub if sub.is_absolute() else p.parent / sub),
            }
        )
    return entries


def grade_jsonl(
    path: str | os.PathLike[str], store: CompetitionStore, output_dir: str | os.PathLike[str]
) -> tuple[dict[str, Any], Path]:
    """Grade every submission a JSONL file lists and write the aggregate report to
    ``<output_dir>/<timestamp>_grading_report.json``; returns the report and its path.

    Every competition id is checked before anything is graded.
    """
    entries = read_submissions_jsonl(path)
    competitions = {e["competition_id"]: None for e in entries}
    resolved = {cid: store.get(cid) for cid in competitions}
    reports = [
        grade_submission(e["submission_path"], resolved[e["competition_id"]]) for e in entries
    ]
    summary = aggregate_reports(reports)
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H-%M-%S-UTC")
    target = out / f"{stamp}_grading_report.json"
    target.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary, target

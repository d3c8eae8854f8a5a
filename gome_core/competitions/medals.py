"""Leaderboards, medal thresholds and ranking, exactly as MLE-bench computes them.

MLE-bench follows Kaggle's progression rules: the thresholds are the scores at given positions of
the leaderboard, and the positions depend on the number of teams:

=============  ===================  =================  ==============
teams          gold                 silver             bronze
=============  ===================  =================  ==============
1 - 99         top 10%              top 20%            top 40%
100 - 249      position 10          top 20%            top 40%
250 - 999      10 + 0.2% of teams   position 50        position 100
1000 and more  10 + 0.2% of teams   top 5%             top 10%
=============  ===================  =================  ==============

Percent positions are truncated to an integer and at least 1 (``max(1, int(n * p))``). A score
wins a medal when it is at least as good as the threshold (ties win); tiers are exclusive (a gold
is not also a silver); "above median" is strict. The direction is read from the leaderboard: lower
is better when the first (best) row has a smaller score than the last.

This module uses no pandas, so that listing competitions stays cheap.
"""

from __future__ import annotations

import csv
import math
import os
import statistics
from collections.abc import Sequence
from pathlib import Path

import attrs

from gome_core.competitions.errors import LeaderboardError
from gome_core.competitions.lfs import check_not_lfs_pointer

__all__ = [
    "MedalThresholds",
    "Ranking",
    "infer_lower_is_better",
    "medal_thresholds",
    "rank_score",
    "read_leaderboard_scores",
]


@attrs.frozen
class MedalThresholds:
    """The scores a submission must reach for each medal, and the leaderboard's median."""

    gold: float
    silver: float
    bronze: float
    median: float
    num_teams: int
    lower_is_better: bool


@attrs.frozen
class Ranking:
    """Where one score lands against :class:`MedalThresholds`; all False for no score."""

    gold_medal: bool
    silver_medal: bool
    bronze_medal: bool
    above_median: bool

    @property
    def any_medal(self) -> bool:
        return self.gold_medal or self.silver_medal or self.bronze_medal


def infer_lower_is_better(scores: Sequence[float]) -> bool:
    """Lower is better iff the leaderboard's first score is smaller than its last one."""
    if not scores:
        raise ValueError("an empty leaderboard has no direction")
    return bool(scores[0] < scores[-1])


def _gold_silver_bronze_positions(num_teams: int) -> tuple[int, int, int]:
    """1-based leaderboard positions of the gold, silver and bronze thresholds."""
    n = num_teams
    if 1 <= n < 100:
        return max(1, int(n * 0.1)), max(1, int(n * 0.2)), max(1, int(n * 0.4))
    if 100 <= n < 250:
        return 10, max(1, int(n * 0.2)), max(1, int(n * 0.4))
    if 250 <= n < 1000:
        return 10 + int(n * 0.002), 50, 100
    if n >= 1000:
        return 10 + int(n * 0.002), max(1, int(n * 0.05)), max(1, int(n * 0.1))
    raise ValueError("a leaderboard needs at least one team")


def medal_thresholds(
    scores: Sequence[float], lower_is_better: bool | None = None
) -> MedalThresholds:
    """Medal thresholds of a leaderboard given its scores, best first.

    ``lower_is_better`` defaults to :func:`infer_lower_is_better`. The median ignores missing
    (NaN) scores, as pandas does.
    """
    values = [float(s) for s in scores]
    if not values:
        raise ValueError("a leaderboard needs at least one team")
    if lower_is_better is None:
        lower_is_better = infer_lower_is_better(values)
    gold, silver, bronze = (values[p - 1] for p in _gold_silver_bronze_positions(len(values)))
    present = [v for v in values if not math.isnan(v)]
    median = float(statistics.median(present)) if present else math.nan
    return MedalThresholds(
        gold=gold,
        silver=silver,
        bronze=bronze,
        median=median,
        num_teams=len(values),
        lower_is_better=lower_is_better,
    )


def rank_score(score: float | None, thresholds: MedalThresholds) -> Ranking:
    """Medals and above-median for ``score`` (``None``: an invalid or missing submission)."""
    if score is None:
        return Ranking(False, False, False, False)
    t = thresholds

    def at_least(threshold: float) -> bool:
        return score <= threshold if t.lower_is_better else score >= threshold

    gold = at_least(t.gold)
    silver = not gold and at_least(t.silver)
    bronze = not gold and not silver and at_least(t.bronze)
    above_median = score < t.median if t.lower_is_better else score > t.median
    return Ranking(bool(gold), bool(silver), bool(bronze), bool(above_median))


def read_leaderboard_scores(path: str | os.PathLike[str]) -> list[float]:
    """The ``score`` column of a leaderboard.csv (Kaggle export layout), in file order.

    Raises :class:`LeaderboardError` for a missing or malformed file and
    :class:`~gome_core.competitions.errors.LFSPointerError` for a git-LFS pointer.
    """
    p = Path(path)
    if not p.is_file():
        raise LeaderboardError(
            f"leaderboard {p} does not exist. Every competition needs a leaderboard.csv with a "
            f"`score` column, best team first (Kaggle's export); restore it, or for MLE-bench "
            f"competitions run `git lfs pull` in your MLE-bench checkout."
        )
    check_not_lfs_pointer(p, "leaderboard")
    try:
        with p.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            if reader.fieldnames is None or "score" not in reader.fieldnames:
                raise LeaderboardError(
                    f"leaderboard {p} has no `score` column (columns: "
                    f"{', '.join(reader.fieldnames or []) or 'none'}). gome reads only `score`, "
                    f"best team first; fix the file's header."
                )
            scores = []
            for line, row in enumerate(reader, start=2):
                cell = (row.get("score") or "").strip()
                try:
                    scores.append(float(cell) if cell else math.nan)
                except ValueError:
                    raise LeaderboardError(
                        f"leaderboard {p}, line {line}: score {cell!r} is not a number; fix or "
                        f"remove that row."
                    ) from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise LeaderboardError(f"leaderboard {p} cannot be read: {exc}.") from exc
    if not scores:
        raise LeaderboardError(f"leaderboard {p} has no rows; it needs at least one team's score.")
    return scores

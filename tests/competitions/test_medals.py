"""Medal thresholds and ranking, table-driven over every leaderboard-size band, both directions."""

from __future__ import annotations

import math

import pytest

from gome_core.competitions import medal_thresholds, rank_score, read_leaderboard_scores
from gome_core.competitions.errors import LeaderboardError, LFSPointerError

from .conftest import LFS_POINTER

# (teams, gold position, silver position, bronze position), positions 1-based, from MLE-bench's
# rules: percentages truncated with int() and at least 1.
BANDS = [
    # fewer than 100 teams: 10% / 20% / 40%
    (1, 1, 1, 1),
    (5, 1, 1, 2),
    (40, 4, 8, 16),
    (47, 4, 9, 18),
    (99, 9, 19, 39),
    # 100-249: position 10 / 20% / 40%
    (100, 10, 20, 40),
    (150, 10, 30, 60),
    (249, 10, 49, 99),
    # 250-999: 10 + 0.2% / position 50 / position 100
    (250, 10, 50, 100),
    (500, 11, 50, 100),
    (999, 11, 50, 100),
    # 1000 and more: 10 + 0.2% / 5% / 10%
    (1000, 12, 50, 100),
    (2000, 14, 100, 200),
    (4999, 19, 249, 499),
]


def leaderboard(n: int, lower_is_better: bool) -> list[float]:
    """Scores best first: position p holds p (lower is better) or n - p + 1 (higher)."""
    return [float(p if lower_is_better else n - p + 1) for p in range(1, n + 1)]


def score_at(position: int, n: int, lower_is_better: bool) -> float:
    return float(position if lower_is_better else n - position + 1)


@pytest.mark.parametrize("lower_is_better", [False, True], ids=["higher-better", "lower-better"])
@pytest.mark.parametrize(("n", "gold", "silver", "bronze"), BANDS)
def test_thresholds_by_band(
    n: int, gold: int, silver: int, bronze: int, lower_is_better: bool
) -> None:
    t = medal_thresholds(leaderboard(n, lower_is_better))
    assert t.num_teams == n
    assert t.lower_is_better is (lower_is_better and n > 1)
    if n == 1:
        return  # one team: no direction to infer; every threshold is its score
    assert t.gold == score_at(gold, n, lower_is_better)
    assert t.silver == score_at(silver, n, lower_is_better)
    assert t.bronze == score_at(bronze, n, lower_is_better)
    assert t.median == (n + 1) / 2


def _better(score: float, lower_is_better: bool, by: float = 0.5) -> float:
    return score - by if lower_is_better else score + by


def _worse(score: float, lower_is_better: bool, by: float = 0.5) -> float:
    return score + by if lower_is_better else score - by


@pytest.mark.parametrize("lower_is_better", [False, True], ids=["higher-better", "lower-better"])
@pytest.mark.parametrize(("n", "gold", "silver", "bronze"), [b for b in BANDS if b[0] >= 40])
def test_ranking_by_band(
    n: int, gold: int, silver: int, bronze: int, lower_is_better: bool
) -> None:
    t = medal_thresholds(leaderboard(n, lower_is_better))
    g, s, b = (score_at(p, n, lower_is_better) for p in (gold, silver, bronze))

    def medals(score: float | None) -> tuple[bool, bool, bool, bool]:
        r = rank_score(score, t)
        assert r.any_medal == (r.gold_medal or r.silver_medal or r.bronze_medal)
        return r.gold_medal, r.silver_medal, r.bronze_medal, r.above_median

    # Ties with a threshold win it; tiers are exclusive.
    assert medals(_better(g, lower_is_better)) == (True, False, False, True)
    assert medals(g) == (True, False, False, True)
    assert medals(_worse(g, lower_is_better)) == (False, True, False, True)
    assert medals(s) == (False, True, False, True)
    assert medals(_worse(s, lower_is_better)) == (False, False, True, True)
    assert medals(b) == (False, False, True, True)
    # Past bronze but still better than the median.
    assert medals(_worse(b, lower_is_better)) == (False, False, False, True)
    # Exactly the median is not above it (strict).
    assert medals(t.median) == (False, False, False, False)
    assert medals(_worse(t.median, lower_is_better, 0.01)) == (False, False, False, False)
    assert medals(_better(t.median, lower_is_better, 0.01))[3] is True
    assert medals(None) == (False, False, False, False)


def test_direction_inferred_from_first_and_last_rows() -> None:
    assert medal_thresholds([0.1, 0.2, 0.3]).lower_is_better is True
    assert medal_thresholds([0.3, 0.2, 0.1]).lower_is_better is False
    # An explicit direction wins over the inference.
    assert medal_thresholds([0.3, 0.2, 0.1], lower_is_better=True).lower_is_better is True


def test_median_ignores_missing_scores() -> None:
    t = medal_thresholds([4.0, 3.0, math.nan, 2.0, 1.0])
    assert t.median == 2.5


def test_empty_leaderboard_is_rejected() -> None:
    with pytest.raises(ValueError):
        medal_thresholds([])


def test_read_leaderboard_kaggle_export(tmp_path) -> None:  # noqa: ANN001
    path = tmp_path / "leaderboard.csv"
    path.write_text(
        "scoreNullable,teamId,hasTeamName,submissionDate,score,hasScore\n"
        "0.9,1,True,2024-01-01,0.9,True\n0.8,2,True,2024-01-01,0.8,True\n,3,True,2024-01-01,,False\n"
    )
    scores = read_leaderboard_scores(path)
    assert scores[:2] == [0.9, 0.8] and math.isnan(scores[2])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("teamId,teamName\n1,a\n", "no `score` column"),
        ("score\n", "no rows"),
        ("score\n0.5\nabc\n", "line 3"),
    ],
)
def test_read_leaderboard_errors(tmp_path, content: str, message: str) -> None:  # noqa: ANN001
    path = tmp_path / "leaderboard.csv"
    path.write_text(content)
    with pytest.raises(LeaderboardError, match=message):
        read_leaderboard_scores(path)


def test_missing_leaderboard(tmp_path) -> None:  # noqa: ANN001
    with pytest.raises(LeaderboardError, match="does not exist"):
        read_leaderboard_scores(tmp_path / "leaderboard.csv")


def test_lfs_pointer_leaderboard(tmp_path) -> None:  # noqa: ANN001
    path = tmp_path / "leaderboard.csv"
    path.write_text(LFS_POINTER)
    with pytest.raises(LFSPointerError, match="git lfs pull"):
        read_leaderboard_scores(path)

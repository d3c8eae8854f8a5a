"""Competitions in MLE-bench's format, an MLE-bench-exact grader, and bundled offline competitions.

>>> from gome_core.competitions import CompetitionStore, grade_submission
>>> store = CompetitionStore.default()                  # doctest: +SKIP
>>> comp = store.prepare("penguins-mass")               # doctest: +SKIP
>>> grade_submission("submission.csv", comp).to_dict()  # doctest: +SKIP

Importing this package imports neither pandas nor numpy nor yaml; they are loaded when data is
read. See docs/competitions.md for the layout, the grading rules and the bundled competitions.
"""

from __future__ import annotations

from gome_core.competitions.competition import Competition, load_competition
from gome_core.competitions.errors import (
    CompetitionConfigError,
    CompetitionError,
    CompetitionNotFoundError,
    InvalidSubmissionError,
    LeaderboardError,
    LFSPointerError,
    NotPreparedError,
    PrepareError,
)
from gome_core.competitions.grading import (
    GradingReport,
    ScoreResult,
    aggregate_reports,
    grade_jsonl,
    grade_submission,
    load_answers,
    score_submission,
)
from gome_core.competitions.lfs import is_lfs_pointer
from gome_core.competitions.medals import (
    MedalThresholds,
    Ranking,
    medal_thresholds,
    rank_score,
    read_leaderboard_scores,
)
from gome_core.competitions.store import (
    BUNDLED_DIR,
    CompetitionStore,
    default_data_dir,
    default_wheel_cache,
)

__all__ = [
    "BUNDLED_DIR",
    "Competition",
    "CompetitionConfigError",
    "CompetitionError",
    "CompetitionNotFoundError",
    "CompetitionStore",
    "GradingReport",
    "InvalidSubmissionError",
    "LFSPointerError",
    "LeaderboardError",
    "MedalThresholds",
    "NotPreparedError",
    "PrepareError",
    "Ranking",
    "ScoreResult",
    "aggregate_reports",
    "default_data_dir",
    "default_wheel_cache",
    "grade_jsonl",
    "grade_submission",
    "is_lfs_pointer",
    "load_answers",
    "load_competition",
    "medal_thresholds",
    "rank_score",
    "read_leaderboard_scores",
    "score_submission",
]

"""Errors of the competitions layer.

Each message is one paragraph for a person: what is wrong, which file or id, and how to fix it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path

from gome_core.errors import GomeError, UsageError

__all__ = [
    "CompetitionConfigError",
    "CompetitionError",
    "CompetitionNotFoundError",
    "InvalidSubmissionError",
    "LFSPointerError",
    "LeaderboardError",
    "NotPreparedError",
    "PrepareError",
]


class InvalidSubmissionError(GomeError):
    """Raised by a grade function when a submission cannot be scored (wrong ids, columns, ...).

    Graders written for MLE-bench raise MLE-bench's own class of the same name; gome treats both
    alike (see :func:`gome_core.competitions.grade_submission`).
    """


class CompetitionError(UsageError):
    """Base of the user-facing errors about competitions and their data."""


class CompetitionNotFoundError(CompetitionError):
    """No competition with this id in any competitions directory."""

    def __init__(self, competition_id: str, known: Iterable[str], searched: Iterable[Path]) -> None:
        self.competition_id = competition_id
        self.known = sorted(set(known))
        close = difflib.get_close_matches(competition_id, self.known, n=3, cutoff=0.5)
        # Substring matches catch short ids ("digits") that difflib's ratio misses.
        close += [k for k in self.known if competition_id.lower() in k.lower() and k not in close]
        hint = f" Did you mean {', '.join(repr(c) for c in close[:3])}?" if close else ""
        dirs = ", ".join(str(p) for p in searched) or "none"
        super().__init__(
            f"no competition named {competition_id!r}.{hint} Searched: {dirs}. "
            f"`gome tasks list` shows every competition; add your own directory of competitions "
            f"(MLE-bench layout) with --competitions-dir or GOME_COMPETITIONS_DIR."
        )


class CompetitionConfigError(CompetitionError):
    """A competition's config.yaml (or a file it names) is missing or malformed."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path, self.problem = path, problem
        super().__init__(
            f"{path}: {problem}. A competition needs a config.yaml with id, name, description, "
            f"dataset.answers, dataset.sample_submission, grader.name, grader.grade_fn and "
            f"preparer, as in MLE-bench; see docs/competitions.md."
        )


class LFSPointerError(CompetitionError):
    """A file is a git-LFS pointer, not the content it stands for."""

    def __init__(self, path: Path, what: str = "file") -> None:
        self.path = path
        super().__init__(
            f"{path} is a git-LFS pointer, not the {what} itself: the repository holding it was "
            f"cloned without its large files. Run `git lfs install && git lfs pull` inside that "
            f"repository (for MLE-bench: in your checkout of openai/mle-bench), then retry."
        )


class LeaderboardError(CompetitionError):
    """A leaderboard.csv is missing or unreadable."""


class NotPreparedError(CompetitionError):
    """Grading or reading data of a competition whose data directory is not prepared."""

    def __init__(self, competition_id: str, missing: Path) -> None:
        self.competition_id, self.missing = competition_id, missing
        super().__init__(
            f"competition {competition_id!r} is not prepared: {missing} does not exist. Run "
            f"`gome tasks prepare {competition_id}` (or point --data-dir / GOME_DATA_DIR at the "
            f"data directory where it was prepared, e.g. MLE-bench's cache directory)."
        )


class PrepareError(CompetitionError):
    """A competition's prepare step failed or left incomplete output."""

"""Fixtures: a user's own competitions directory in MLE-bench's layout, built in tmp_path."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

LFS_POINTER = (
    "version https://git-lfs.github.com/spec/v1\n"
    "oid sha256:e071aca01cb968fa45344d94a60553e97d1429d3b0de05910e72012248168619\n"
    "size 125841\n"
)

PREPARE_PY = """
from pathlib import Path

import pandas as pd


def prepare(raw: Path, public: Path, private: Path) -> None:
    data = pd.read_csv(raw / "train.csv")
    train, test = data.iloc[:12], data.iloc[12:]
    train.to_csv(public / "train.csv", index=False)
    test.drop(columns="y").to_csv(public / "test.csv", index=False)
    test[["id", "y"]].to_csv(private / "test.csv", index=False)
    test[["id"]].assign(y=0.0).to_csv(public / "sample_submission.csv", index=False)
"""

GRADE_PY = """
import numpy as np

from {helpers} import InvalidSubmissionError


def grade(submission, answers):
    if list(submission.columns) != ["id", "y"]:
        raise InvalidSubmissionError("expected columns id, y")
    if len(submission) != len(answers):
        raise InvalidSubmissionError("wrong number of rows")
    merged = answers.merge(submission, on="id", suffixes=("", "_pred"))
    if len(merged) != len(answers):
        raise InvalidSubmissionError("ids do not match")
    return float(np.mean(np.abs(merged["y"] - merged["y_pred"])))
"""

LEADERBOARD = "scoreNullable,teamId,hasTeamName,submissionDate,score,hasScore\n" + "".join(
    f"{s},{i},True,2024-01-01 00:00:00,{s},True\n"
    for i, s in enumerate([0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0], start=1)
)


def write_mlebench_competition(
    competitions_dir: Path,
    cid: str,
    *,
    package: str = "mlebench",
    helpers: str = "gome_core.competitions",
    raw_data_dir: Path | None = None,
) -> Path:
    """One competition in MLE-bench's layout: module-style grade_fn and preparer, description
    path relative to the repository root, Kaggle-export leaderboard (MAE, lower is better)."""
    folder = competitions_dir / cid
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(
        textwrap.dedent(
            f"""\
            id: {cid}
            name: Toy {cid}
            competition_type: simple
            awards_medals: true
            prizes: null
            description: {package}/competitions/{cid}/description.md

            dataset:
              answers: {cid}/prepared/private/test.csv
              sample_submission: {cid}/prepared/public/sample_submission.csv

            grader:
              name: mae
              grade_fn: {package}.competitions.{cid}.grade:grade

            preparer: {package}.competitions.{cid}.prepare:prepare
            """
        )
    )
    (folder / "description.md").write_text(f"# Toy {cid}\n\nPredict y. Metric: MAE.\n")
    (folder / "prepare.py").write_text(PREPARE_PY)
    (folder / "grade.py").write_text(GRADE_PY.format(helpers=helpers))
    (folder / "leaderboard.csv").write_text(LEADERBOARD)
    if raw_data_dir is not None:
        raw = raw_data_dir / cid / "raw"
        raw.mkdir(parents=True)
        rows = "".join(f"{i},{i % 5},{(i % 5) * 2.0}\n" for i in range(20))
        (raw / "train.csv").write_text("id,x,y\n" + rows)
    return folder


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def user_competitions(tmp_path: Path, data_dir: Path) -> Path:
    """A user's competitions directory holding `toy-mae` (MLE-bench layout), raw data in place."""
    root = tmp_path / "my-competitions"
    root.mkdir()
    write_mlebench_competition(root, "toy-mae", raw_data_dir=data_dir)
    return root


@pytest.fixture
def store(user_competitions: Path, data_dir: Path):  # noqa: ANN201
    from gome_core.competitions import CompetitionStore

    return CompetitionStore.default([user_competitions], data_dir)


@pytest.fixture
def prepared(store):  # noqa: ANN001, ANN201
    """The `toy-mae` competition, prepared."""
    return store.prepare("toy-mae")

"""The bundled competitions: definitions, leaderboards, deterministic preparation, sample grades."""

from __future__ import annotations

import filecmp
import struct
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from gome_core.competitions import (
    BUNDLED_DIR,
    CompetitionStore,
    grade_submission,
    medal_thresholds,
    read_leaderboard_scores,
)

EXPECTED = {
    # id: (metric, lower is better)
    "breast-cancer": ("log-loss", True),
    "chile-vote": ("multi-class-log-loss", True),
    "computers-price": ("rmse", True),
    "diamonds-price": ("rmsle", True),
    "digits-8x8": ("accuracy", False),
    "hmda-denial": ("roc-auc", False),
    "mnist-5k": ("accuracy", False),
    "penguins-mass": ("mae", True),
    "rt-sentiment": ("roc-auc", False),
}


@pytest.fixture(scope="module")
def bundled() -> CompetitionStore:
    return CompetitionStore((BUNDLED_DIR,), Path("/nonexistent-data-dir"))


def test_bundled_ids(bundled: CompetitionStore) -> None:
    competitions, problems = bundled.scan()
    assert not problems
    assert {c.id for c in competitions} == set(EXPECTED)


@pytest.mark.parametrize("cid", sorted(EXPECTED))
def test_definition_and_leaderboard(bundled: CompetitionStore, cid: str) -> None:
    comp = bundled.get(cid)
    metric, lower = EXPECTED[cid]
    assert comp.bundled and comp.metric_name == metric
    assert comp.lower_is_better is lower
    scores = read_leaderboard_scores(comp.leaderboard_path)
    assert len(scores) >= 40
    assert scores == sorted(scores, reverse=not lower)  # best first
    t = medal_thresholds(scores)
    assert t.lower_is_better is lower
    readme = (comp.competition_dir / "leaderboard_readme.md").read_text()
    assert "baseline teams" in readme and "scikit-learn" in readme and "Crowded" in readme
    description = comp.description
    for needle in ("## Evaluation", "Submission", "sample_submission.csv", "## Data"):
        assert needle in description
    # Every grader goes through the one shared metrics module.
    assert "gome_core.competitions.metrics" in (comp.competition_dir / "grade.py").read_text()


def test_docs_list_every_bundled_competition() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "competitions.md").read_text()
    for cid in EXPECTED:
        assert f"| `{cid}` |" in docs


def test_sensitive_columns_are_named() -> None:
    assert "Sensitive attribute" in (BUNDLED_DIR / "hmda-denial" / "description.md").read_text()
    assert "Sensitive attributes" in (BUNDLED_DIR / "chile-vote" / "description.md").read_text()


def test_preparation_is_deterministic(tmp_path: Path) -> None:
    first = CompetitionStore((BUNDLED_DIR,), tmp_path / "a").prepare("penguins-mass")
    second = CompetitionStore((BUNDLED_DIR,), tmp_path / "b").prepare("penguins-mass")
    for sub in ("public", "private"):
        a, b = first.public_dir.parent / sub, second.public_dir.parent / sub
        names = sorted(p.name for p in a.iterdir())
        assert names == sorted(p.name for p in b.iterdir())
        _, mismatch, errors = filecmp.cmpfiles(a, b, names, shallow=False)
        assert not mismatch and not errors
    train = pd.read_csv(first.public_dir / "train.csv")
    answers = pd.read_csv(first.answers)
    assert train["id"].dtype.kind == "i" and answers["id"].dtype.kind == "i"
    assert not set(train["id"]) & set(answers["id"])
    assert "body_mass_g" not in pd.read_csv(first.public_dir / "test.csv").columns


def test_digit_images(tmp_path: Path) -> None:
    comp = CompetitionStore((BUNDLED_DIR,), tmp_path).prepare("digits-8x8")
    test = pd.read_csv(comp.public_dir / "test.csv")
    images = sorted((comp.public_dir / "test").glob("*.png"))
    assert len(images) == len(test) == 450
    data = (comp.public_dir / "test" / f"{test['id'].iloc[0]}.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (8, 8)


def perfect_submission(comp, path: Path) -> Path:  # noqa: ANN001
    """The answers, shaped like the sample submission (one-hot where it has one column per
    class)."""
    answers = pd.read_csv(comp.answers)
    sample = pd.read_csv(comp.sample_submission)
    if list(sample.columns) == list(answers.columns):
        answers.to_csv(path, index=False)
    else:
        target = answers.columns[1]
        classes = [c for c in sample.columns if c != "id"]
        onehot = pd.DataFrame({c: (answers[target] == c).astype(float) for c in classes})
        pd.concat([answers[["id"]], onehot], axis=1).to_csv(path, index=False)
    return path


@pytest.mark.slow
def test_prepare_all_and_grade_sample_submissions(
    prepared_bundled: CompetitionStore, tmp_path: Path
) -> None:
    """Every bundled competition prepares; its sample submission is valid and scores below the
    median (no medal); a perfect submission takes gold."""
    competitions, _ = prepared_bundled.scan()
    assert {c.id for c in competitions} == set(EXPECTED)
    for comp in competitions:
        assert comp.is_prepared
        assert (comp.public_dir / "description.md").is_file()
        report = grade_submission(comp.sample_submission, comp)
        assert report.valid_submission, (comp.id, report.reason)
        assert not report.above_median and not report.any_medal, comp.id
        best = grade_submission(perfect_submission(comp, tmp_path / f"{comp.id}.csv"), comp)
        assert best.valid_submission and best.gold_medal, (comp.id, best.score, best.reason)
        # The description states the true sizes of the split.
        train = pd.read_csv(comp.public_dir / "train.csv")
        test = pd.read_csv(comp.public_dir / "test.csv")
        for n in (len(train), len(test)):
            assert f"{n:,}" in comp.description, (comp.id, n)


def test_imports_stay_light() -> None:
    """Importing the competitions package or its CLI, and listing competitions, loads no pandas
    or numpy (listing needs only the YAML parser)."""
    code = (
        "import sys\n"
        "import gome_core.competitions, gome_core.cli.tasks\n"
        "heavy = ('pandas', 'numpy', 'sklearn', 'torch', 'yaml')\n"
        "loaded = [m for m in heavy if m in sys.modules]\n"
        "assert not loaded, loaded\n"
        "from gome_core.competitions import CompetitionStore\n"
        "CompetitionStore.default([], '/nonexistent').list()\n"
        "assert not [m for m in heavy[:4] if m in sys.modules]\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])

"""grade_submission: reports with MLE-bench's fields; bad submissions never crash the grader."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gome_core.competitions import (
    CompetitionNotFoundError,
    CompetitionStore,
    GradingReport,
    LFSPointerError,
    NotPreparedError,
    aggregate_reports,
    grade_jsonl,
    grade_submission,
)

from .conftest import LFS_POINTER

MLEBENCH_FIELDS = [
    "competition_id",
    "score",
    "gold_threshold",
    "silver_threshold",
    "bronze_threshold",
    "median_threshold",
    "any_medal",
    "gold_medal",
    "silver_medal",
    "bronze_medal",
    "above_median",
    "submission_exists",
    "valid_submission",
    "is_lower_better",
    "created_at",
    "submission_path",
]
AGGREGATE_FIELDS = [
    "total_runs",
    "total_runs_with_submissions",
    "total_valid_submissions",
    "total_medals",
    "total_gold_medals",
    "total_silver_medals",
    "total_bronze_medals",
    "total_above_median",
    "competition_reports",
]
TEST_IDS = list(range(12, 20))


def write(tmp_path: Path, text: str, name: str = "submission.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def csv_rows(values: list[object], ids: list[object] = TEST_IDS, header: str = "id,y") -> str:
    return header + "\n" + "".join(f"{i},{v}\n" for i, v in zip(ids, values, strict=True))


def test_report_fields_and_values(prepared, tmp_path: Path) -> None:  # noqa: ANN001
    # Truth for ids 12..19 is 4, 6, 8, 0, 2, 4, 6, 8; off by 1 everywhere -> MAE 1.0: silver.
    path = write(tmp_path, csv_rows([5, 7, 9, 1, 3, 5, 7, 9]))
    report = grade_submission(path, prepared)
    data = report.to_dict()
    assert list(data) == [*MLEBENCH_FIELDS, "reason"]
    assert data["score"] == 1.0 and data["reason"] is None
    assert (data["gold_threshold"], data["silver_threshold"], data["bronze_threshold"]) == (
        0.5,
        1.0,
        2.0,
    )
    assert data["median_threshold"] == 2.75
    assert (data["gold_medal"], data["silver_medal"], data["bronze_medal"]) == (False, True, False)
    assert data["any_medal"] and data["above_median"] and data["is_lower_better"]
    assert data["submission_exists"] and data["valid_submission"]
    assert data["submission_path"] == str(path)
    json.dumps(data)  # JSON-ready
    assert GradingReport.from_dict(data) == report


def test_score_is_rounded_to_five_places(prepared, tmp_path: Path) -> None:  # noqa: ANN001
    path = write(tmp_path, csv_rows([4 + 1 / 3, 6, 8, 0, 2, 4, 6, 8]))
    assert grade_submission(path, prepared).score == round((1 / 3) / 8, 5)


def test_reads_mlebench_reports() -> None:
    data = {
        "competition_id": "x",
        "score": 0.5,
        "gold_threshold": 0.9,
        "silver_threshold": 0.8,
        "bronze_threshold": 0.7,
        "median_threshold": 0.6,
        "any_medal": False,
        "gold_medal": False,
        "silver_medal": False,
        "bronze_medal": False,
        "above_median": False,
        "submission_exists": True,
        "valid_submission": True,
        "is_lower_better": False,
        "created_at": "2024-10-01T12:00:00",
        "submission_path": "s.csv",
    }
    assert GradingReport.from_dict(data).reason is None


INVALID_FILES = [
    ("missing file", None, "does not exist", False),
    ("not a csv", ("submission.txt", csv_rows([1] * 8)), "not a .csv", False),
    ("empty file", ("submission.csv", ""), "empty", True),
    ("lfs pointer", ("submission.csv", LFS_POINTER), "git-LFS pointer", True),
    (
        "wrong columns",
        ("submission.csv", csv_rows([1] * 8, header="id,pred")),
        "expected columns",
        True,
    ),
    (
        "wrong row count",
        ("submission.csv", csv_rows([1] * 7, ids=TEST_IDS[:7])),
        "wrong number",
        True,
    ),
    (
        "wrong ids",
        ("submission.csv", csv_rows([1] * 8, ids=list(range(8)))),
        "ids do not match",
        True,
    ),
    ("non-numeric", ("submission.csv", csv_rows(["a"] * 8)), "grader failed", True),
    ("unparseable csv", ("submission.csv", 'id,y\n1,"unterminated\n'), "", True),
]


@pytest.mark.parametrize(
    ("case", "file", "reason", "exists"), INVALID_FILES, ids=[c[0] for c in INVALID_FILES]
)
def test_invalid_submissions_are_reported_not_raised(
    prepared,
    tmp_path: Path,
    case: str,
    file,
    reason: str,
    exists: bool,  # noqa: ANN001
) -> None:
    path = tmp_path / "missing.csv" if file is None else write(tmp_path, file[1], file[0])
    report = grade_submission(path, prepared)
    assert report.valid_submission is False and report.score is None
    assert report.submission_exists is exists
    assert not report.any_medal and not report.above_median
    assert report.reason and reason in report.reason
    assert report.to_dict()["gold_threshold"] == 0.5  # thresholds still reported


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("return float('nan')", "not a finite number"),
        ("return 'good'", "not a number"),
        ("raise KeyError('y')", "grader failed with KeyError"),
    ],
)
def test_misbehaving_graders_give_invalid_not_crash(
    prepared,
    tmp_path: Path,
    body: str,
    reason: str,  # noqa: ANN001
) -> None:
    (prepared.competition_dir / "grade.py").write_text(
        f"def grade(submission, answers):\n    {body}\n"
    )
    report = grade_submission(write(tmp_path, csv_rows([1] * 8)), prepared)
    assert not report.valid_submission and reason in report.reason


def test_not_prepared(store: CompetitionStore, tmp_path: Path) -> None:
    with pytest.raises(NotPreparedError, match="gome tasks prepare toy-mae"):
        grade_submission(write(tmp_path, csv_rows([1] * 8)), store.get("toy-mae"))


def test_lfs_pointer_answers(prepared, tmp_path: Path) -> None:  # noqa: ANN001
    prepared.answers.write_text(LFS_POINTER)
    with pytest.raises(LFSPointerError, match="answers"):
        grade_submission(write(tmp_path, csv_rows([1] * 8)), prepared)


def test_aggregate_reports(prepared, tmp_path: Path) -> None:  # noqa: ANN001
    gold = grade_submission(prepared.answers, prepared)
    silver = grade_submission(
        write(tmp_path, csv_rows([5, 7, 9, 1, 3, 5, 7, 9]), "s.csv"), prepared
    )
    missing = grade_submission(tmp_path / "none.csv", prepared)
    summary = aggregate_reports([gold, silver, missing])
    assert list(summary) == AGGREGATE_FIELDS
    assert summary["total_runs"] == 3
    assert summary["total_runs_with_submissions"] == 2
    assert summary["total_valid_submissions"] == 2
    assert summary["total_medals"] == 2
    assert (
        summary["total_gold_medals"],
        summary["total_silver_medals"],
        summary["total_bronze_medals"],
    ) == (1, 1, 0)
    assert summary["total_above_median"] == 2
    assert len(summary["competition_reports"]) == 3


def test_grade_jsonl(prepared, store: CompetitionStore, tmp_path: Path) -> None:  # noqa: ANN001
    write(tmp_path, csv_rows([5, 7, 9, 1, 3, 5, 7, 9]), "s.csv")
    lines = tmp_path / "submissions.jsonl"
    lines.write_text(
        "# comments and blank lines are skipped\n\n"
        + json.dumps({"competition_id": "toy-mae", "submission_path": "s.csv"})
        + "\n"
        + json.dumps({"competition_id": "toy-mae", "submission_path": str(prepared.answers)})
        + "\n"
    )
    summary, path = grade_jsonl(lines, store, tmp_path / "reports")
    assert path.parent == tmp_path / "reports" and path.name.endswith("_grading_report.json")
    assert json.loads(path.read_text()) == summary
    assert summary["total_medals"] == 2
    assert summary["competition_reports"][0]["submission_path"] == str(tmp_path / "s.csv")


def test_grade_jsonl_checks_ids_before_grading(store: CompetitionStore, tmp_path: Path) -> None:
    lines = tmp_path / "submissions.jsonl"
    lines.write_text(json.dumps({"competition_id": "toy-mea", "submission_path": "s.csv"}) + "\n")
    with pytest.raises(CompetitionNotFoundError, match="toy-mae"):
        grade_jsonl(lines, store, tmp_path / "reports")
    assert not (tmp_path / "reports").exists()


@pytest.mark.parametrize(
    ("text", "message"), [("{not json\n", "not valid JSON"), ('{"a": 1}\n', "needs the keys")]
)
def test_grade_jsonl_malformed_lines(
    store: CompetitionStore, tmp_path: Path, text: str, message: str
) -> None:
    lines = tmp_path / "submissions.jsonl"
    lines.write_text(text)
    with pytest.raises(Exception, match=message):
        grade_jsonl(lines, store, tmp_path)

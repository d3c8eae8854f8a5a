import json
import math

import attrs
import pytest

from gome_core import (
    Budget,
    Candidate,
    ExecutionResult,
    HypothesisScores,
    LLMUsage,
    Metric,
    Node,
    ValidationReport,
)
from gome_core.journal import from_data, to_data


@pytest.mark.parametrize(
    ("lower", "a", "b", "expected"),
    [
        (False, 0.9, 0.8, True),
        (False, 0.8, 0.9, False),
        (True, 0.1, 0.2, True),
        (True, 0.2, 0.1, False),
        (False, 0.5, None, True),
        (False, None, 0.5, False),
        (True, math.nan, 1.0, False),
        (True, 1.0, math.nan, True),
        (False, 0.5, 0.5, False),
    ],
)
def test_metric_direction_comes_from_the_competition(lower, a, b, expected):
    assert Metric("m", lower_is_better=lower).better(a, b) is expected


def test_metric_best_ignores_missing_scores():
    assert Metric("rmse", lower_is_better=True).best([None, 3.0, 1.5, math.nan, 2.0]) == 1.5
    assert Metric("auc").best([None, 0.7, 0.9]) == 0.9
    assert Metric("auc").best([None]) is None


def test_budget_reports_the_first_limit_reached():
    budget = Budget(steps=10, hours=1.0, usd=5.0)
    assert budget.exhausted_by(steps=3, hours=0.5) is None
    assert budget.exhausted_by(steps=10) == "steps"
    assert budget.exhausted_by(steps=1, usd=5.0) == "usd"
    assert Budget().exhausted_by(steps=10**9, tokens=10**9) is None


def test_usage_adds_up():
    total = LLMUsage(input_tokens=10, output_tokens=5, usd=0.01, calls=1) + LLMUsage(
        input_tokens=1, output_tokens=2, cached_tokens=3, usd=0.02, calls=1
    )
    assert (total.input_tokens, total.output_tokens, total.cached_tokens, total.calls) == (
        11,
        7,
        3,
        2,
    )
    assert total.total_tokens == 18
    assert total.usd == pytest.approx(0.03)


def test_hypothesis_scores_use_the_paper_weights():
    scores = HypothesisScores(alignment=10, impact=5, novelty=1, feasibility=10, risk_reward=0)
    assert scores.weighted() == pytest.approx(0.2 * 10 + 0.4 * 5 + 0.2 * 1 + 0.1 * 10)


def test_candidate_files_are_frozen():
    files = {"main.py": "print(1)"}
    cand = Candidate.from_code("a", "print(1)")
    assert cand.code == "print(1)"
    with pytest.raises(TypeError):
        cand.files["main.py"] = "x"  # type: ignore[index]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        cand.id = "b"  # type: ignore[misc]
    assert Candidate(id="a", files=files) == cand


@pytest.mark.parametrize(
    ("result", "outcome", "ok"),
    [
        (ExecutionResult(exit_code=0), "ok", True),
        (ExecutionResult(exit_code=1), "failed", False),
        (ExecutionResult(exit_code=None, signal=9), "signal", False),
        (ExecutionResult(exit_code=None, timed_out=True, signal=15), "timeout", False),
        (ExecutionResult(exit_code=None, out_of_memory=True), "oom", False),
        (ExecutionResult(exit_code=None, error="no python"), "error", False),
    ],
)
def test_execution_outcomes(result, outcome, ok):
    assert result.outcome == outcome
    assert result.ok is ok


def test_a_node_is_buggy_unless_it_ran_scored_and_passed():
    cand = Candidate.from_code("n", "")
    good = Node(cand, ExecutionResult(exit_code=0), (ValidationReport.ok("v", score=0.5),), 0.5)
    assert not good.buggy
    assert Node(cand, ExecutionResult(exit_code=0), score=None).buggy
    assert Node(cand, ExecutionResult(exit_code=1), score=0.5).buggy
    rejected = Node(cand, ExecutionResult(exit_code=0), (ValidationReport.fail("v", "leak"),), 0.5)
    assert rejected.buggy
    assert Node(cand, ExecutionResult(exit_code=0), score=0.5, error="llm garbage").buggy


def test_a_validator_that_ran_the_candidate_reports_the_run_and_its_measurements():
    run = ExecutionResult(exit_code=0, wall_s=2.5)
    passed = ValidationReport.ok("smoke", score=0.7, result=run, details={"wall_s": 2.5})
    failed = ValidationReport.fail("smoke", "too slow", result=run, details={"wall_s": 2.5})
    for report in (passed, failed):
        assert report.result is run and dict(report.details) == {"wall_s": 2.5}
    assert (passed.passed, passed.score) == (True, 0.7)
    assert (failed.passed, failed.reasons) == (False, ("too slow",))
    assert ValidationReport.fail("lint", "bad").result is None
    assert dict(ValidationReport.ok("lint").details) == {}
    # The journal keeps them: a resumed run sees the same reports.
    for report in (passed, failed):
        assert from_data(json.loads(json.dumps(to_data(report))), ValidationReport) == report

"""The structured reasoning on scripted trace states: each signal leads to its diagnosis."""

from __future__ import annotations

import attrs
import pytest
from gome_offline.config import OfflineConfig
from gome_offline.estimator import OfflineGradientEstimator
from gome_offline.profile import profile_for
from gome_offline.signals import Signals, fold_scores, model_scores, read_failure
from gome_offline.spec import PipelineSpec, default_spec

from gome_core import (
    Candidate,
    Direction,
    ExecutionResult,
    Hypothesis,
    MemoryEntry,
    Node,
    TraceState,
    ValidationReport,
)

from .conftest import context_for

METRIC = "roc-auc"


def _node(
    node_id: str,
    spec: PipelineSpec | None,
    scores: dict | None = None,
    *,
    wall_s: float = 10.0,
    stdout: str = "",
    stderr: str = "",
    exit_code: int = 0,
    timed_out: bool = False,
    direction: Direction | None = None,
) -> Node:
    files = {"main.py": "print('hi')\n"}
    if spec is not None:
        files["pipeline.json"] = spec.to_json()
    candidate = Candidate(id=node_id, files=files, direction=direction)
    result = ExecutionResult(
        exit_code=exit_code,
        wall_s=wall_s,
        timed_out=timed_out,
        stdout_tail=stdout,
        stderr_tail=stderr,
    )
    ok = result.ok and scores is not None
    score = scores["ensemble"][METRIC] if ok and scores else None
    report = ValidationReport(
        "full-run",
        ok,
        () if ok else ("exited badly",),
        score=score,
        level=2,
        details={"scores": scores} if scores else {},
        result=result,
    )
    return Node(candidate, result=result, reports=(report,), score=score)


def _scores(valid: float, train: float, model: str = "hist_gbm") -> dict:
    row = {METRIC: valid, f"train_{METRIC}": train}
    return {model: row, "ensemble": row}


@pytest.fixture
def binary(make_competition):
    competition = make_competition("binary")
    return competition, profile_for(competition), context_for(competition, timeout_s=600)


def _estimate(context, state, **config):
    return OfflineGradientEstimator(OfflineConfig(**config)).estimate(state, context)


def _check_direction(direction, top_k=5):
    assert direction.candidates and len(direction.candidates) <= top_k
    assert 0 < len(direction.problems) <= 5
    weighted = [h.score for h in direction.candidates]
    assert weighted == sorted(weighted, reverse=True)
    for h in direction.candidates:
        assert h.problem is not None and h.rationale and h.edit
        assert h.component in ("data loading", "features", "model", "ensemble", "workflow")
        s = h.scores
        assert all(
            1 <= v <= 10 for v in (s.alignment, s.impact, s.novelty, s.feasibility, s.risk_reward)
        )
        assert " or " not in h.statement.lower()  # one decisive change, never "A or B"
    assert direction.chosen in direction.candidates


def test_overfitting_gap_leads_to_regularisation(binary):
    _, profile, context = binary
    spec = default_spec(profile)
    best = _node("b", spec, _scores(0.80, 1.0))
    direction = _estimate(context, TraceState(trace=0, step=3, best=best, history=(best,)))
    _check_direction(direction)
    assert any(p.statement.startswith("Over-fitting") for p in direction.problems)
    chosen = direction.chosen
    assert chosen.statement.startswith("Regularise the histogram gradient boosting model")
    assert chosen.edit["model.params.min_samples_leaf"] == 40
    assert chosen.component == "model"


def test_small_gap_leads_to_more_capacity(binary):
    _, profile, context = binary
    spec = default_spec(profile)
    best = _node("b", spec, _scores(0.90, 0.905))
    direction = _estimate(context, TraceState(trace=0, step=3, best=best, history=(best,)))
    _check_direction(direction)
    answers = [
        h
        for h in direction.candidates
        if h.problem is not None and h.problem.statement.startswith("Under-fitting")
    ]
    assert answers and answers[0].statement.startswith(f"Give the {spec.model.name} more capacity")
    # Every knob it turns is turned towards capacity (here: more boosting rounds, larger trees).
    bigger = spec.apply(answers[0].edit, profile).model.params
    turned = [k.removeprefix("model.params.") for k in answers[0].edit]
    assert turned and all(bigger[k] > spec.model.params[k] for k in turned)


def _after_a_timeout(profile, step: int = 4) -> TraceState:
    """A trace whose heavier pipeline (two more models, ten folds) timed out after its best."""
    spec = default_spec(profile)
    heavy = spec.apply({"ensemble.members": ["random_forest", "svm"], "cv_folds": 10}, profile)
    best = _node("b", spec, _scores(0.85, 0.9))
    slow = _node("s", heavy, None, wall_s=600, exit_code=None, timed_out=True)
    return TraceState(trace=0, step=step, best=best, history=(best, slow))


def test_a_timeout_is_a_critical_problem_answered_by_a_cheaper_pipeline(binary):
    _, profile, context = binary
    spec = default_spec(profile)
    direction = _estimate(context, _after_a_timeout(profile))
    _check_direction(direction)
    critical = [p for p in direction.problems if p.critical]
    assert critical and critical[0].category == "time" and "time-out" in critical[0].statement
    chosen = direction.chosen
    assert chosen.problem.critical and chosen.edit["cv_folds"] <= 3
    assert len(spec.apply(chosen.edit, profile).ensemble) <= 1


def test_a_run_near_the_timeout_is_critical(binary):
    _, profile, context = binary
    best = _node("b", default_spec(profile), _scores(0.85, 0.9), wall_s=500)
    direction = _estimate(context, TraceState(trace=0, step=2, best=best, history=(best,)))
    assert any(p.critical and p.category == "time" for p in direction.problems)


def test_memory_error_is_critical(binary):
    _, profile, context = binary
    spec = default_spec(profile)
    best = _node("b", spec, _scores(0.85, 0.9))
    stderr = 'Traceback (most recent call last):\n  File "main.py", line 3\nMemoryError\n'
    failed = _node(
        "f", spec.apply({"ensemble.add": "svm"}, profile), None, stderr=stderr, exit_code=1
    )
    state = TraceState(trace=0, step=2, best=best, history=(best, failed))
    direction = _estimate(context, state)
    memory = [p for p in direction.problems if p.category == "memory"]
    assert memory and memory[0].critical
    assert direction.chosen.problem.category == "memory"
    assert spec.apply(direction.chosen.edit, profile).features.encoding == "ordinal"


def test_error_types_from_stderr(binary):
    _, profile, context = binary
    spec = default_spec(profile)
    best = _node("b", spec, _scores(0.85, 0.9))
    stderr = "Traceback...\nValueError: could not convert string to float: 'red'\n"
    failed = _node("f", spec, None, stderr=stderr, exit_code=1)
    direction = _estimate(context, TraceState(trace=0, step=2, best=best, history=(best, failed)))
    problem = next(p for p in direction.problems if p.category == "error")
    assert "ValueError: could not convert string to float" in problem.statement
    hypothesis = next(h for h in direction.candidates if h.problem == problem)
    assert hypothesis.edit == {"features.encoding": "ordinal"}


def test_novelty_penalises_repeats_and_variants(binary):
    _, profile, context = binary
    spec = default_spec(profile)
    best = _node("b", spec, _scores(0.80, 1.0))
    first = _estimate(context, TraceState(trace=0, step=3, best=best, history=(best,)))
    tried = first.chosen
    failure = MemoryEntry(trace=0, step=3, hypothesis=tried, accepted=False)
    state = TraceState(trace=0, step=4, best=best, history=(best,), failures=(failure,))
    again = _estimate(context, state)
    repeat = next(h for h in again.candidates if h.statement == tried.statement)
    assert repeat.scores.novelty == 1
    assert again.chosen.statement != tried.statement
    # A variant (the same knobs, other values) of a rejected idea scores low, not 1.
    variant = Hypothesis("Regularise differently", edit={k: 1 for k in tried.edit if "params" in k})
    state = TraceState(
        trace=0,
        step=4,
        best=best,
        history=(best,),
        failures=(MemoryEntry(trace=0, step=3, hypothesis=variant, accepted=False),),
    )
    regularise = next(
        h for h in _estimate(context, state).candidates if h.statement == tried.statement
    )
    assert regularise.scores.novelty < 9


def test_forced_diversification_avoids_sibling_hypotheses(binary):
    _, _, context = binary
    lone = _estimate(context, TraceState(trace=0, step=0))
    sibling = lone.chosen
    diversified = _estimate(context, TraceState(trace=0, step=0, avoid=(sibling,)), top_k=20)
    assert diversified.chosen.edit != sibling.edit
    same = next(h for h in diversified.candidates if h.statement == sibling.statement)
    assert same.scores.novelty == 1


def test_a_siblings_choice_in_flight_is_avoided_too(binary):
    _, profile, context = binary
    draft = Direction(Hypothesis("Start from knn.", edit={"model.family": "knn"}))
    crashed = _node("d", default_spec(profile), exit_code=1, direction=draft)
    state = TraceState(trace=1, step=1, history=(crashed,))  # its first draft failed
    taken = _estimate(context, state).chosen
    second = _estimate(context, attrs.evolve(state, pursuing=(taken,)), top_k=20)
    assert second.chosen.edit != taken.edit
    same = next(h for h in second.candidates if h.statement == taken.statement)
    assert same.scores.novelty == 1 and "trying it now" in same.rationale


def test_a_change_a_repair_dropped_counts_as_tried(binary):
    _, profile, context = binary
    best = _node("b", default_spec(profile), _scores(0.80, 1.0))
    lone = _estimate(context, TraceState(trace=0, step=3, best=best, history=(best,)))
    rewrite = Hypothesis("Debug: it failed (ValueError): the robust default pipeline.")
    repaired = _node("r", default_spec(profile), _scores(0.79, 0.9))
    repaired = attrs.evolve(
        repaired,
        candidate=attrs.evolve(
            repaired.candidate, direction=Direction(rewrite, dropped=lone.chosen)
        ),
    )
    state = TraceState(trace=0, step=4, best=best, history=(best, repaired))
    again = _estimate(context, state, top_k=20)
    same = next(h for h in again.candidates if h.statement == lone.chosen.statement)
    assert same.scores.novelty == 1 and again.chosen.statement != lone.chosen.statement


def test_a_step_with_a_dropped_change_is_one_stalled_step(binary):
    _, profile, _ = binary
    knn, rewrite = Hypothesis("Switch to knn."), Hypothesis("Debug: the robust default.")
    step = [MemoryEntry(trace=0, step=4, hypothesis=h, accepted=False, node_id="t0-004")
            for h in (knn, rewrite)]  # fmt: skip
    state = TraceState(trace=0, step=5, failures=tuple(step))
    assert Signals.read(state, default_spec(profile), True, 600, METRIC).stalled == 1


def test_first_drafts_do_not_depend_on_which_trace_chose_first(binary):
    _, _, context = binary
    alone = [_estimate(context, TraceState(trace=t, step=0)).chosen for t in range(3)]
    for t in range(3):
        others = tuple(h for i, h in enumerate(alone) if i != t)
        for seen in ((), others[:1], others):
            assert _estimate(context, TraceState(trace=t, step=0, pursuing=seen)).chosen == alone[t]


def test_a_siblings_idea_is_not_taken_while_another_is_left(binary):
    _, profile, context = binary
    state = _after_a_timeout(profile, step=0)
    retry = _estimate(context, state).chosen  # the critical retry at lower cost leads by far
    led = 0
    for step in range(12):
        direction = _estimate(context, attrs.evolve(state, step=step, avoid=(retry,)), top_k=20)
        # Novelty 1 brings it level with the next ideas; a step's tie-break can still rank it first.
        led += direction.candidates[0].statement == retry.statement
        assert direction.chosen.statement != retry.statement
    assert led  # the case this guards against did arise


def test_parallel_traces_start_differently(binary):
    _, _, context = binary
    starts = {_estimate(context, TraceState(trace=t, step=0)).chosen.statement for t in range(3)}
    assert len(starts) == 3


def test_skill_one_follows_the_best_and_skill_zero_varies(binary):
    _, profile, context = binary
    best = _node("b", default_spec(profile), _scores(0.80, 1.0))
    picks_best, picks_random = set(), set()
    for step in range(12):
        state = TraceState(trace=0, step=step, best=best, history=(best,))
        top = _estimate(context, state, skill=1.0)
        assert top.chosen == top.candidates[0] and top.selection.startswith("best-scored")
        picks_best.add(top.chosen.statement)
        low = _estimate(context, state, skill=0.0)
        assert low.selection.startswith("random plausible")
        picks_random.add(low.chosen.statement)
    assert len(picks_best) == 1 and len(picks_random) > 1


def test_reasoning_is_reproducible(make_competition):
    competition = make_competition("binary")
    profile = profile_for(competition)
    best = _node("b", default_spec(profile), _scores(0.80, 1.0))
    state = TraceState(trace=1, step=5, best=best, history=(best,))
    a = _estimate(context_for(competition, seed=3), state, skill=0.5)
    b = _estimate(context_for(competition, seed=3), state, skill=0.5)
    assert a == b
    draws = {
        _estimate(context_for(competition, seed=s), state, skill=0.5).selection for s in range(6)
    }
    assert len(draws) > 1  # the seed matters


def test_no_structured_reasoning_gives_one_unscored_idea(binary):
    _, profile, context = binary
    best = _node("b", default_spec(profile), _scores(0.80, 1.0))
    state = TraceState(trace=0, step=3, best=best, history=(best,))
    direction = _estimate(context, state, structured=False)
    assert direction.problems == () and direction.candidates == ()
    assert direction.chosen.scores is None and direction.chosen.problem is None
    assert direction.chosen.edit and direction.selection == "unscored single idea"


def test_scenario_first_skewed_target(make_competition):
    competition = make_competition("regression")  # rmsle on a skewed, positive target
    direction = _estimate(context_for(competition), TraceState(trace=0, step=0))
    log_target = next(h for h in direction.candidates if h.edit == {"features.log_target": True})
    assert "skewed" in log_target.problem.statement and log_target.scores.impact >= 8


def test_scenario_first_unused_text(make_competition):
    competition = make_competition("text")
    profile = profile_for(competition)
    spec = default_spec(profile).apply({"features.text": "none"}, profile)
    best = _node("b", spec, _scores(0.6, 0.62, "linear"))
    direction = _estimate(
        context_for(competition), TraceState(trace=0, step=1, best=best, history=(best,))
    )
    assert direction.chosen.edit == {"features.text": "tfidf"}
    assert "not used" in direction.chosen.problem.statement


def test_class_imbalance_and_missing_values_are_seen(make_competition, tmp_path):
    import pandas as pd

    competition = make_competition("binary")
    train = pd.read_csv(competition.public_dir / "train.csv")
    train["outcome"] = (train.index % 10 == 0).astype(int)  # 10% positives
    train.to_csv(competition.public_dir / "train.csv", index=False)
    direction = _estimate(context_for(competition), TraceState(trace=0, step=0), top_k=20)
    statements = " ".join(p.statement for h in direction.candidates for p in [h.problem])
    assert "imbalanced" in statements and "missing values" in statements


def test_accepted_changes_of_other_traces_are_adopted(binary):
    _, profile, context = binary
    best = _node("b", default_spec(profile), _scores(0.80, 0.85))
    elsewhere = Hypothesis(
        "Add count encodings.", component="features", edit={"features.count_encoding": True}
    )
    entry = MemoryEntry(
        trace=2, step=4, hypothesis=elsewhere, accepted=True, score_before=0.8, score_after=0.9
    )
    state = TraceState(trace=0, step=3, best=best, history=(best,), cross_trace=(entry,))
    direction = _estimate(context, state)
    adopted = next(h for h in direction.candidates if h.statement.startswith("Adopt from trace 2"))
    assert adopted.edit == {"features.count_encoding": True} and adopted.scores.impact >= 7


def test_a_change_adopted_again_keeps_its_own_words(binary):
    _, profile, context = binary
    best = _node("b", default_spec(profile), _scores(0.80, 0.85))
    adopted = Hypothesis(
        "Adopt from trace 1: Add count encodings.",
        component="features",
        edit={"features.count_encoding": True},
    )
    entry = MemoryEntry(
        trace=2, step=4, hypothesis=adopted, accepted=True, score_before=0.8, score_after=0.9
    )
    state = TraceState(trace=0, step=3, best=best, history=(best,), cross_trace=(entry,))
    statements = [h.statement for h in _estimate(context, state, top_k=20).candidates]
    assert "Adopt from trace 2: Add count encodings." in statements


def test_fold_spread_is_read_from_the_program_output(binary):
    _, profile, context = binary
    stdout = "\n".join(
        f"[fold {i}/5] hist_gbm: valid roc-auc={v} train=1.000000 (0.1s)"
        for i, v in enumerate((0.70, 0.95, 0.80, 0.99, 0.75), 1)
    )
    best = _node("b", default_spec(profile), _scores(0.84, 0.86), stdout=stdout)
    direction = _estimate(context, TraceState(trace=0, step=2, best=best, history=(best,)))
    spread = next(h for h in direction.candidates if "vary widely" in h.problem.statement)
    assert "ensemble.add" in spread.edit


def test_late_in_the_run_ensembles_are_preferred(binary):
    _, profile, context = binary
    best = _node("b", default_spec(profile), _scores(0.90, 0.91))
    early = _estimate(
        context, TraceState(trace=0, step=5, best=best, history=(best,), time_used=0.3)
    )
    late = _estimate(
        context, TraceState(trace=0, step=5, best=best, history=(best,), time_used=0.9)
    )
    assert late.chosen.component == "ensemble"
    blend = [h for h in early.candidates if h.component == "ensemble"]
    assert not blend or blend[0].scores.alignment < late.chosen.scores.alignment


def test_signals_parsers(tmp_path):
    stdout = (
        "[fold 1/2] linear: valid rmse=1.5 train=1.0 (0.1s)\n"
        "[fold 2/2] linear: valid rmse=2.5 train=1.1 (0.1s)\n"
    )
    assert fold_scores(stdout) == {"linear": [1.5, 2.5]}
    (tmp_path / "scores.csv").write_text(
        "model,rmse,train_rmse\nlinear,2.0,1.05\nensemble,2.0,1.05\n"
    )
    result = ExecutionResult(exit_code=0, workspace=tmp_path)
    node = Node(Candidate.from_code("n", ""), result=result, score=2.0)
    scores = model_scores(node, "rmse")
    assert scores["ensemble"].valid == 2.0 and scores["ensemble"].train == 1.05
    timed_out = Node(Candidate.from_code("t", ""), ExecutionResult(exit_code=None, timed_out=True))
    assert read_failure(timed_out).kind == "timeout"
    crashed = Node(
        Candidate.from_code("c", ""),
        ExecutionResult(exit_code=1, stderr_tail="Traceback\nKeyError: 'price'\n"),
    )
    failure = read_failure(crashed)
    assert (failure.kind, failure.error_type, failure.message) == ("error", "KeyError", "'price'")
    assert read_failure(node) is None

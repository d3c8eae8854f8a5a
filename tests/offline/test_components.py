"""The plugin, its implementer's operators, and a real draft -> reason -> step loop."""

from __future__ import annotations

import json
import subprocess
import sys

import gome_offline.plugin
import pytest
from gome_offline import OfflineConfig, OfflineGradientEstimator, OfflineImplementer
from gome_offline.profile import profile_for
from gome_offline.spec import PipelineSpec, default_spec

from gome_core import (
    Candidate,
    CodeRequest,
    Direction,
    ExecutionResult,
    Hypothesis,
    Node,
    TraceState,
)
from gome_core.plugins import load_plugins
from gome_core.testing import PluginSuite

from .conftest import check_outputs, context_for, node_from_run, run_program


class TestOfflinePlugin(PluginSuite):
    @pytest.fixture
    def plugin(self):
        return gome_offline.plugin


def test_components_are_registered_under_offline():
    registry = load_plugins(env={})
    assert isinstance(registry.create("gradient_estimator", "offline"), OfflineGradientEstimator)
    assert isinstance(registry.create("implementer", "offline"), OfflineImplementer)


def test_importing_the_plugin_stays_light():
    code = (
        "import sys, gome_offline.plugin\n"
        "heavy = {'pandas', 'numpy', 'sklearn', 'torch', 'scipy'}\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_config_is_validated():
    with pytest.raises(ValueError, match="'skill' must be <= 1"):
        OfflineConfig(skill=1.5)
    with pytest.raises(ValueError, match="'top_k' must be >= 1"):
        OfflineConfig(top_k=0)


@pytest.fixture
def setup(make_competition):
    competition = make_competition("binary")
    return competition, profile_for(competition), context_for(competition)


def _implement(context, **request):
    return OfflineImplementer().implement(CodeRequest(**request), context)


def _spec(candidate: Candidate) -> PipelineSpec:
    return PipelineSpec.from_json(candidate.files["pipeline.json"])


def _base(spec: PipelineSpec, node_id: str = "base", **result) -> Node:
    candidate = Candidate(id=node_id, files={"main.py": "", "pipeline.json": spec.to_json()})
    return Node(candidate, result=ExecutionResult(**{"exit_code": 0, **result}))


def test_draft_without_direction(setup):
    _, profile, context = setup
    candidate = _implement(context, operator="draft", candidate_id="d0", trace=1)
    assert candidate.id == "d0" and candidate.operator == "draft" and candidate.trace == 1
    assert set(candidate.files) == {"main.py", "pipeline.json"} and candidate.plan
    compile(candidate.code, "main.py", "exec")
    implementer = OfflineImplementer()
    drafts = [implementer.implement(CodeRequest("draft", f"d{i}"), context) for i in range(4)]
    assert drafts[0].plan == "draft: the default pipeline for the data"
    assert len({d.files["pipeline.json"] for d in drafts}) == 4  # a tree search's drafts differ


def _draft_plans(context, skill: float) -> list[str]:
    implementer = OfflineImplementer(OfflineConfig(skill=skill))
    return [implementer.implement(CodeRequest("draft", f"d{i}"), context).plan for i in range(5)]


def test_tree_search_drafts_follow_skill(setup):
    competition, _, context = setup
    best_first = _draft_plans(context, skill=1.0)
    assert best_first[0] == "draft: the default pipeline for the data"
    # Skill 1 walks the ranked starts in order, as every seed does; skill 0 draws among the
    # fresh ones, in an order of its seed's own.
    others = [_draft_plans(context_for(competition, seed=seed), 0.0) for seed in range(4)]
    assert all(len(set(plans)) == 5 for plans in others)
    assert any(plans != best_first for plans in others)
    assert _draft_plans(context_for(competition, seed=1), 0.0) == others[1]  # reproducible
    # The journal says how each draft was picked (the default pipeline has no direction).
    implementer = OfflineImplementer(OfflineConfig(skill=0.0))
    drafts = [implementer.implement(CodeRequest("draft", f"d{i}"), context) for i in range(5)]
    picked = [(i, d.direction.selection) for i, d in enumerate(drafts) if d.direction]
    assert len(picked) >= 4
    for i, selection in picked:
        assert selection.startswith(f"draft, random of {6 - i} fresh starts (skill 0.00, draw")


def test_draft_applies_the_direction(setup):
    _, profile, context = setup
    direction = Direction(
        Hypothesis("Start from a random forest.", edit={"model.family": "random_forest"})
    )
    candidate = _implement(context, operator="draft", candidate_id="d", direction=direction)
    assert _spec(candidate).model.family == "random_forest"
    assert candidate.direction == direction and "random forest" in candidate.plan


def test_step_applies_the_edit_to_the_base(setup):
    _, profile, context = setup
    base = _base(default_spec(profile))
    hypothesis = Hypothesis("Add count encodings.", edit={"features.count_encoding": True})
    candidate = _implement(
        context,
        operator="step",
        candidate_id="s1",
        base=base,
        direction=Direction(hypothesis),
        trace=0,
    )
    assert _spec(candidate) == default_spec(profile).apply({"features.count_encoding": True})
    assert candidate.parents == ("base",) and candidate.plan == "step: Add count encodings."
    assert 'COUNT = ["colour", "city"]' in candidate.code


def test_improve_without_direction_reasons_on_the_base(setup):
    _, profile, context = setup
    base = _base(default_spec(profile))
    candidate = _implement(context, operator="improve", candidate_id="i1", base=base)
    assert candidate.direction is not None and candidate.direction.chosen.edit
    assert _spec(candidate) != default_spec(profile)


@pytest.mark.parametrize("edit", [{}, {"model.family": "quantum"}], ids=["no-edit", "bad-edit"])
def test_unusable_directions_fall_back_to_own_reasoning(setup, edit):
    _, profile, context = setup
    base = _base(default_spec(profile))
    direction = Direction(Hypothesis("Use a better model.", edit=edit))
    candidate = _implement(
        context, operator="step", candidate_id="s", base=base, direction=direction
    )
    assert "given direction unused" in candidate.plan
    assert candidate.direction is not direction and candidate.direction.chosen.edit


def test_debug_a_timeout_makes_it_cheaper(setup):
    _, profile, context = setup
    spec = default_spec(profile).apply({"ensemble.members": ["svm", "random_forest"]}, profile)
    base = _base(spec, exit_code=None, timed_out=True)
    fixed = _spec(_implement(context, operator="debug", candidate_id="f", base=base))
    assert fixed.cv_folds <= 3 and len(fixed.ensemble) <= 1
    assert fixed.model.params["max_iter"] < spec.model.params["max_iter"]


def test_debug_a_memory_error_makes_it_smaller(setup):
    _, profile, context = setup
    spec = default_spec(profile)
    base = _base(spec, exit_code=1, stderr_tail="Traceback\nMemoryError\n")
    candidate = _implement(context, operator="debug", candidate_id="f", base=base)
    assert _spec(candidate).features.encoding == "ordinal" and "memory" in candidate.plan


def test_debug_an_exception_falls_back_to_a_robust_spec(setup):
    _, profile, context = setup
    spec = default_spec(profile).apply({"model.family": "knn", "features.interactions": True})
    base = _base(spec, exit_code=1, stderr_tail="Traceback\nValueError: bad input\n")
    candidate = _implement(
        context, operator="debug", candidate_id="f", base=base, feedback="exited with code 1"
    )
    fixed = _spec(candidate)
    assert fixed.model.family == "hist_gbm" and fixed.features.encoding == "ordinal"
    assert "ValueError" in candidate.plan
    foreign = Node(Candidate.from_code("llm", "raise SystemExit(1)"), ExecutionResult(exit_code=1))
    rewritten = _implement(context, operator="debug", candidate_id="g", base=foreign)
    assert "pipeline.json" in rewritten.files and "robust" in rewritten.plan


def test_crossover_blends_both_parents(setup):
    _, profile, context = setup
    a = _base(default_spec(profile), "a")
    b = _base(default_spec(profile).apply({"model.family": "linear"}, profile), "b")
    candidate = _implement(context, operator="crossover", candidate_id="x", base=a, others=(b,))
    assert _spec(candidate).families == ("hist_gbm", "linear")
    assert candidate.parents == ("a", "b") and candidate.operator == "crossover"


@pytest.mark.slow
def test_a_real_draft_reason_step_loop(setup, tmp_path):
    """Draft, run, read the real signals, reason, step, run: the whole offline loop."""
    competition, profile, context = setup
    start = Direction(Hypothesis("Start from boosting.", edit={"model.family": "hist_gbm"}))
    draft = _implement(context, operator="draft", candidate_id="t0-000", direction=start, trace=0)
    proc = run_program(draft.code, competition.public_dir, tmp_path / "draft")
    assert proc.returncode == 0, proc.stderr[-2000:]
    check_outputs(tmp_path / "draft", competition)
    best = node_from_run(draft, tmp_path / "draft", proc, competition)
    state = TraceState(trace=0, step=1, best=best, history=(best,))
    estimator = OfflineGradientEstimator()
    signals = estimator.signals(state, context)
    assert signals.folds["hist_gbm"] and len(signals.folds["hist_gbm"]) == 5
    direction = estimator.estimate(state, context)
    # boosting memorises 128 rows: the real train/validation gap is seen
    assert any(p.statement.startswith("Over-fitting") for p in direction.problems)
    step = OfflineImplementer().implement(
        CodeRequest("step", "t0-001", base=best, direction=direction, trace=0), context
    )
    proc = run_program(step.code, competition.public_dir, tmp_path / "step")
    assert proc.returncode == 0, proc.stderr[-2000:]
    scores = check_outputs(tmp_path / "step", competition)
    assert json.loads(step.files["pipeline.json"]) != json.loads(draft.files["pipeline.json"])
    assert scores["ensemble"][competition.metric.name] > 0.5


def _debug_timed_out(context, profile, edit: dict) -> tuple[Direction, Candidate]:
    """The direction that made ``edit``, and the debug of its pipeline after it timed out."""
    direction = Direction(Hypothesis(f"Apply {edit}.", edit=edit))
    slow = _base(default_spec(profile).apply(edit, profile), exit_code=None, timed_out=True)
    return direction, _implement(
        context, operator="debug", candidate_id="f", base=slow, direction=direction
    )


def test_a_debug_that_drops_the_directions_change_says_so(setup):
    _, profile, context = setup
    knn = Direction(Hypothesis("Switch to knn.", edit={"model.family": "knn"}))
    spec = default_spec(profile).apply({"model.family": "knn"}, profile)
    crashed = _base(spec, exit_code=1, stderr_tail="Traceback\nValueError: bad input\n")
    fixed = _implement(context, operator="debug", candidate_id="f", base=crashed, direction=knn)
    assert _spec(fixed).model.family == "hist_gbm"  # the robust default: knn is gone
    assert fixed.direction.dropped == knn.chosen
    assert fixed.direction.chosen.statement.startswith("Debug: it failed (ValueError)")
    assert not fixed.direction.chosen.edit  # nothing for another trace to adopt
    # A cheaper pipeline of the same shape (fewer trees, folds, rows) still follows it...
    for edit, family in (
        ({"model.family": "knn"}, "knn"),
        ({"ensemble.add": "random_forest"}, "random_forest"),
    ):
        _, cheaper = _debug_timed_out(context, profile, edit)
        assert _spec(cheaper).families[-1] == family and cheaper.direction is None
    # ...one that had to take the change out (no interaction features) does not.
    pairs, narrow = _debug_timed_out(context, profile, {"features.interactions": True})
    assert not _spec(narrow).features.interactions and narrow.direction.dropped == pairs.chosen

"""The LLM reasoner's parts, each against the real OpenAI SDK talking to the local wire server."""

from __future__ import annotations

import gome_llm.plugin
import pytest
from gome_llm.answers import DiagnosisAnswer
from gome_llm.config import LLMJudgeConfig, LLMReasonerConfig
from gome_llm.estimator import LLMGradientEstimator, hypotheses_from
from gome_llm.implementer import LLMImplementer, extract_code
from gome_llm.judge import LLMJudge
from gome_llm.prompts import PromptTemplate, stable_output, stage_of
from gome_openai.backend import OpenAIBackend
from gome_openai.config import OpenAIConfig

from gome_core import resolve_config
from gome_core.executors.local import LocalExecutor, LocalExecutorConfig
from gome_core.interfaces import RunContext
from gome_core.llm.schema import SchemaViolation, parse_structured
from gome_core.testing import PluginSuite
from gome_core.types import (
    Candidate,
    CodeRequest,
    Direction,
    ExecutionResult,
    Hypothesis,
    MemoryEntry,
    Node,
    TraceState,
)
from tests.gome_llm.conftest import SECRET


class TestLLMReasonerPlugin(PluginSuite):
    @pytest.fixture
    def plugin(self):
        return gome_llm.plugin


@pytest.fixture
def events() -> list[tuple[str, dict]]:
    return []


@pytest.fixture
def context(scripted_server, penguins, tmp_path, events):
    backend = OpenAIBackend(
        OpenAIConfig(model="scripted-model", base_url=scripted_server.openai_url, max_retries=0),
        environ={"OPENAI_API_KEY": SECRET},
    )
    executor = LocalExecutor(LocalExecutorConfig(workspace_root=str(tmp_path / "ws")))
    ctx = RunContext(
        competition=penguins,
        executor=executor,
        llm=backend,
        seed=7,
        hardware={"cpus": 2},
        emit=lambda kind, **data: events.append((kind, data)),
    )
    yield ctx
    executor.close()


def _node(id: str, code: str = "print('hi')\n", score: float | None = 250.0, **kw) -> Node:
    result = ExecutionResult(exit_code=0, stdout_tail="fitted in 3.25s\nensemble: mae=250.0")
    return Node(Candidate.from_code(id, code, trace=0, **kw), result=result, score=score)


def test_diagnosis_becomes_ranked_hypotheses_with_the_papers_weights():
    answer = parse_structured(
        {
            "problems": [
                {
                    "statement": "p0",
                    "reasoning": "r",
                    "category": "model",
                    "expected_impact": "x",
                    "critical": False,
                },
                {
                    "statement": "p1",
                    "reasoning": "r",
                    "category": "time",
                    "expected_impact": "x",
                    "critical": True,
                },
            ],
            "hypotheses": [
                {
                    "problem": 0,
                    "statement": "low impact",
                    "component": "model",
                    "alignment": 10,
                    "impact": 2,
                    "novelty": 10,
                    "feasibility": 10,
                    "risk_reward": 10,
                    "reasons": "",
                },
                {
                    "problem": 1,
                    "statement": "high impact",
                    "component": "workflow",
                    "alignment": 5,
                    "impact": 10,
                    "novelty": 5,
                    "feasibility": 5,
                    "risk_reward": 5,
                    "reasons": "",
                },
            ],
        },
        DiagnosisAnswer,
    )
    problems, ranked = hypotheses_from(answer)
    # 0.2*10 + 0.4*2 + 0.2*10 + 0.1*10 + 0.1*10 = 6.8 < 0.2*5 + 0.4*10 + 0.2*5 + 0.1*5 + 0.1*5 = 7.0
    assert [h.statement for h in ranked] == ["high impact", "low impact"]
    assert ranked[0].score == pytest.approx(7.0) and ranked[1].score == pytest.approx(6.8)
    assert ranked[0].problem == problems[1] and problems[1].critical


def test_the_estimator_diagnoses_then_the_selector_picks(context, scripted_server):
    best = _node("t0-000", direction=Direction(Hypothesis("Switch the model family to linear")))
    state = TraceState(
        trace=0,
        step=1,
        best=best,
        history=(best,),
        cross_trace=(
            MemoryEntry(
                1,
                1,
                Hypothesis("Switch the model family to hist_gbm"),
                True,
                score_before=300.0,
                score_after=240.0,
            ),
        ),
        avoid=(Hypothesis("Switch the model family to svm"),),
        pursuing=(Hypothesis("Switch the model family to knn"),),
        time_used=0.5,
    )
    direction = LLMGradientEstimator().estimate(state, context)
    assert direction.selection == "llm selector"
    assert direction.chosen == direction.candidates[0] and direction.chosen.scores is not None
    # The scripted diagnosis proposes only families its prompt does not name: linear (the best),
    # hist_gbm (another trace's), svm and knn (the siblings') are named, two are left.
    assert len(direction.problems) == 2
    diagnose, select = scripted_server.requests
    assert diagnose.schema_name == "DiagnosisAnswer" and select.schema_name == "SelectionAnswer"
    # The task and data go into the (cacheable) system prompt; the step's own parts to the user.
    assert "# The task" in diagnose.system and "penguins" in diagnose.system.lower()
    assert "Stage: improve" in diagnose.last_user_text
    assert "Switch the model family to svm" in diagnose.last_user_text  # siblings to differ from
    assert "Switch the model family to knn (model; in progress)" in diagnose.last_user_text
    assert "trace 1: Switch the model family to hist_gbm" in diagnose.last_user_text
    assert "<time>" in diagnose.last_user_text and "3.25s" not in diagnose.last_user_text
    # The selector sees other traces' accepted steps and the stage's advice.
    assert "trace 1: Switch the model family to hist_gbm" in select.last_user_text
    assert "Mid-run" in select.last_user_text


def test_the_sample_selector_is_reproducible_and_asks_once(context, scripted_server):
    estimator = LLMGradientEstimator(LLMReasonerConfig(selector="sample", top_k=3))
    state = TraceState(trace=1, step=4)
    first = estimator.estimate(state, context)
    second = estimator.estimate(state, context)
    assert first.chosen == second.chosen and first.selection == "top-3 sample"
    assert [r.schema_name for r in scripted_server.requests] == ["DiagnosisAnswer"] * 2
    assert "the task and the data (the scenario)" in scripted_server.requests[0].last_user_text


def test_without_structured_reasoning_one_unscored_idea(context, scripted_server):
    direction = LLMGradientEstimator(LLMReasonerConfig(structured=False)).estimate(
        TraceState(trace=0), context
    )
    assert direction.problems == () and direction.chosen.scores is None
    assert [r.schema_name for r in scripted_server.requests] == ["SelectionAnswer"]


def test_the_single_idea_ablation_still_sees_other_traces_accepted_steps(context, scripted_server):
    # DESIGN: the only change of the ablation is an unscored single idea; cross-trace memory stays.
    state = TraceState(
        trace=0,
        cross_trace=(
            MemoryEntry(
                1,
                1,
                Hypothesis("Switch the model family to hist_gbm", component="model"),
                True,
                score_before=300.0,
                score_after=240.0,
            ),
        ),
    )
    LLMGradientEstimator(LLMReasonerConfig(structured=False)).estimate(state, context)
    (idea,) = scripted_server.requests
    assert "Hypotheses accepted in other traces" in idea.last_user_text
    assert (
        "trace 1: Switch the model family to hist_gbm (model) improved 300 -> 240"
        in idea.last_user_text
    )


def test_failures_in_memory_show_their_outcome(context, scripted_server):
    worse = MemoryEntry(
        0,
        2,
        Hypothesis("Add 500 more trees", component="model"),
        False,
        score_before=250.0,
        score_after=262.5,
    )
    crashed = MemoryEntry(
        0,
        3,
        Hypothesis("Target-encode the species", component="features"),
        False,
        score_before=250.0,
        feedback="KeyError: 'species'",
    )
    state = TraceState(trace=0, failures=(worse, crashed))
    LLMGradientEstimator(LLMReasonerConfig(selector="sample")).estimate(state, context)
    prompt = scripted_server.requests[0].last_user_text
    assert "- Add 500 more trees (model) did not help: 250 -> 262.5\n" in prompt
    assert "- Target-encode the species (features) failed, no score; KeyError: 'species'" in prompt


def test_history_shows_a_change_its_repair_dropped(context, scripted_server):
    rewrite = Hypothesis("Debug: the robust default pipeline.", component="workflow")
    dropped = Direction(rewrite, dropped=Hypothesis("Switch the model family to knn"))
    repaired = _node("t0-001", direction=dropped)
    state = TraceState(trace=0, best=repaired, history=(repaired,))
    LLMGradientEstimator(LLMReasonerConfig(selector="sample")).estimate(state, context)
    prompt = scripted_server.requests[0].last_user_text
    assert (
        "Debug: the robust default pipeline. (its chosen change failed and was dropped: "
        "Switch the model family to knn)" in prompt
    )


def _diagnosis(problem_indices: list[int]) -> dict:
    problem = {
        "statement": "the model underfits",
        "reasoning": "train and validation errors are both high",
        "category": "model",
        "expected_impact": "lower error",
        "critical": False,
    }
    hypothesis = {
        "statement": "Switch the model family to hist_gbm",
        "component": "model",
        "alignment": 8,
        "impact": 8,
        "novelty": 7,
        "feasibility": 9,
        "risk_reward": 7,
        "reasons": "r",
    }
    return {
        "problems": [problem, problem],
        "hypotheses": [{**hypothesis, "problem": i} for i in problem_indices],
    }


def test_a_hypothesis_naming_a_missing_problem_gets_a_repair_round(context, scripted_server):
    scripted_server.reply(data=_diagnosis([0, 2]))  # there is no problem 2
    direction = LLMGradientEstimator(LLMReasonerConfig(selector="sample")).estimate(
        TraceState(trace=0), context
    )
    first, repair = scripted_server.requests
    assert first.schema_name == repair.schema_name == "DiagnosisAnswer"
    assert "hypotheses[1].problem is 2" in repair.last_user_text
    # The repaired answer (the scripted model's) pairs every hypothesis with a problem.
    assert all(h.problem is not None for h in direction.candidates)
    with pytest.raises(SchemaViolation, match="numbered 0 to 1"):
        parse_structured(_diagnosis([0, 2]), DiagnosisAnswer)
    assert len(parse_structured(_diagnosis([1, 0]), DiagnosisAnswer).hypotheses) == 2


def test_the_code_writer_applies_the_direction_to_the_base(context, scripted_server):
    base = _node("t0-001", code="# base program\n")
    direction = Direction(Hypothesis("Switch the model family to extra_trees"))
    request = CodeRequest("step", "t0-002", base=base, direction=direction, trace=0)
    candidate = LLMImplementer().implement(request, context)
    assert candidate.id == "t0-002" and candidate.parents == ("t0-001",)
    assert "ExtraTrees" in candidate.code and candidate.direction == direction
    prompt = scripted_server.requests[0].last_user_text
    assert "# base program" in prompt and "Switch the model family to extra_trees" in prompt


@pytest.mark.parametrize("drop", [False, True])
def test_a_repair_says_whether_its_fix_kept_the_steps_change(context, scripted_server, drop):
    scripted_server.model.drop_on_repair = drop
    change = Hypothesis("Switch the model family to extra_trees")
    broken = _node("t0-002", code="raise ValueError('bad')\n", score=None)
    request = CodeRequest(
        "debug", "t0-002~r1", base=broken, direction=Direction(change), feedback="bad", trace=0
    )
    fixed = LLMImplementer().implement(request, context)
    assert scripted_server.requests[0].schema_name == "RepairAnswer"
    assert "kept_change: false" in scripted_server.requests[0].last_user_text
    if drop:  # the fix left the change out: the step must not be credited with it
        assert fixed.direction.dropped == change and "ExtraTrees" not in fixed.code
        assert fixed.direction.chosen.statement.startswith("Debug: debug:")
    else:
        assert fixed.direction == Direction(change) and "ExtraTrees" in fixed.code


def test_debug_shows_the_error_output(context, scripted_server):
    broken = _node("t0-000~r0", code="import missing_module\n", score=None)
    feedback = "ModuleNotFoundError: No module named 'missing_module'"
    request = CodeRequest("debug", "t0-000~r1", base=broken, feedback=feedback, trace=0)
    LLMImplementer().implement(request, context)
    prompt = scripted_server.requests[0].last_user_text
    assert "What to write: debug" in prompt and feedback in prompt


@pytest.mark.parametrize("configured", ["reasoner", "backend"])
def test_prompts_are_trimmed_to_the_context_window_and_the_cut_journaled(
    context, scripted_server, events, configured
):
    history = tuple(_node(f"t0-{i:03d}", plan="an idea " * 20) for i in range(600))
    if configured == "backend":  # [llm] context_window: every LLM component fits to it
        context.llm = OpenAIBackend(
            OpenAIConfig(
                model="scripted-model",
                base_url=scripted_server.openai_url,
                max_retries=0,
                context_window=12_000,
            ),
            environ={"OPENAI_API_KEY": SECRET},
        )
        settings = LLMReasonerConfig(max_output_tokens=2000)
    else:
        settings = LLMReasonerConfig(context_window=12_000, max_output_tokens=2000)
    estimator = LLMGradientEstimator(settings)
    estimator.estimate(TraceState(trace=0, step=600, best=history[-1], history=history), context)
    trimmed = [data for kind, data in events if kind == "prompt_trimmed"]
    assert trimmed and "history" in trimmed[0]["dropped"]
    assert (
        "characters dropped to fit the context window" in scripted_server.requests[0].last_user_text
    )


def test_custom_prompt_files_replace_the_built_in_ones(tmp_path):
    (tmp_path / "diagnose.md").write_text("Stage $stage only.\n")
    custom = PromptTemplate.load("diagnose", tmp_path)
    assert custom.text == "Stage $stage only.\n"
    builtin = PromptTemplate.load("select", tmp_path)  # not overridden
    assert "$candidates" in builtin.text


def test_the_judge_rejects_leakage(context, scripted_server):
    scripted_server.reply(
        data={
            "leakage": True,
            "metric_aligned": True,
            "overfitting": False,
            "reasons": "the target column is a feature",
        }
    )
    report = LLMJudge().validate(_node("t0-003"), context)
    assert not report.passed and "leakage" in report.reasons[0]
    assert report.details["leakage"] is True and report.level == 3
    ok = LLMJudge(LLMJudgeConfig()).validate(_node("t0-004"), context)
    assert ok.passed and ok.details["metric_aligned"] is True


def test_without_an_llm_the_reasoner_says_how_to_get_one(penguins, tmp_path):
    from gome_core.errors import UsageError

    ctx = RunContext(competition=penguins, executor=LocalExecutor(LocalExecutorConfig()))
    with pytest.raises(UsageError, match="--llm openai:MODEL"):
        LLMGradientEstimator().estimate(TraceState(trace=0), ctx)
    assert LLMJudge().validate(_node("t0-000"), ctx).details["skipped"] == "no LLM configured"


def test_helpers():
    assert [stage_of(t) for t in (0.0, 0.09, 0.1, 0.7, 0.71)] == [
        "draft",
        "draft",
        "improve",
        "improve",
        "ensemble",
    ]
    assert stable_output("done in 12.5s; 300 ms per batch; epoch 3") == (
        "done in <time>; <time> per batch; epoch 3"
    )
    assert extract_code("Here:\n```python\nprint(1)\n```\n") == "print(1)\n"


@pytest.mark.parametrize("preset", ["gome", "gome-no-reasoning", "quickstart", "aide-greedy"])
def test_presets_switch_to_the_llm_reasoner_only_with_an_llm(preset):
    offline = resolve_config(preset=preset).to_dict()
    with_llm = resolve_config(preset=preset, overrides=["llm=openai"]).to_dict()
    assert "llm" not in str(offline["optimizer"])
    names = {v["name"] for k, v in with_llm["optimizer"].items() if isinstance(v, dict)}
    assert "llm" in names
    if preset == "gome-no-reasoning":
        assert with_llm["optimizer"]["estimator"] == {
            **with_llm["optimizer"]["estimator"],
            "name": "llm",
            "structured": False,
        }
    # The user's own settings still win over the preset's LLM layer.
    mine = resolve_config(
        preset=preset, overrides=["llm=openai", "optimizer.implementer=offline"]
    ).to_dict()
    assert mine["optimizer"]["implementer"]["name"] == "offline"

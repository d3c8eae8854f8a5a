import textwrap

import attrs
import gome_validators.plugin
import pytest
from gome_validators import (
    DebugRunValidator,
    FullRunValidator,
    JudgeConfig,
    JudgeValidator,
    RunValidatorConfig,
)

from gome_core import Candidate, Metric, Node, RunContext, ValidationReport
from gome_core.engine.launch import competition_ref
from gome_core.executors import ExecutorWrapper
from gome_core.executors.local import LocalExecutor, LocalExecutorConfig
from gome_core.testing import PluginSuite
from gome_core.types import CompetitionRef
from tests.engine.toy_plugin import PROGRAM


class TestValidatorsPlugin(PluginSuite):
    @pytest.fixture
    def plugin(self):
        return gome_validators.plugin


@pytest.fixture
def context(toy_competition, tmp_path):
    _, competition = toy_competition
    with LocalExecutor(
        LocalExecutorConfig(workspace_root=str(tmp_path / "ws"), kill_grace_s=1)
    ) as ex:
        yield RunContext(competition=competition_ref(competition), executor=ex)


def _node(code):
    return Node(Candidate.from_code("c", textwrap.dedent(code)))


GOOD = PROGRAM.format(a=2.0, slow_seed=-1, slow_s=0)
SAMPLE_COPY = """
import shutil
shutil.copy("input/sample_submission.csv", "submission/submission.csv")
open("scores.csv", "w").write("model,mae\\nensemble,1.0\\n")
"""


def test_a_good_candidate_passes_both_runs_with_its_score(context):
    debug = DebugRunValidator().validate(_node(GOOD), context)
    assert debug.passed and debug.score is None and debug.level == 1
    assert debug.result.workspace.name.startswith("c-debug")
    full = FullRunValidator().validate(_node(GOOD), context)
    assert full.passed and full.level == 2
    assert full.score == pytest.approx(0.0)
    assert full.details["scores"]["ensemble"]["mae"] == pytest.approx(0.0)


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("raise ValueError('no luck')", "exited with code 1"),
        (GOOD.replace('"submission/submission.csv"', '"elsewhere.csv"'), "no submission"),
        (GOOD.replace('f.write("id,y', 'f.write("id,target'), "columns are"),
        (GOOD.replace("ensemble,{mae}", "ensemble,nan"), "not a finite number"),
        (GOOD.replace("\\nensemble,{mae}", ""), "lacks the row 'ensemble'"),
        (GOOD.replace('open("scores.csv", "w")', 'open("other.csv", "w")'), "no score file"),
    ],
    ids=["crash", "no-submission", "columns", "nan-score", "no-ensemble", "no-scores"],
)
def test_contract_breaches_fail_with_a_reason(context, code, reason):
    report = DebugRunValidator().validate(_node(code), context)
    assert not report.passed
    assert reason in "\n".join(report.reasons), report.reasons


def test_a_copy_of_a_constant_sample_is_a_constant_model_and_passes(context):
    # The toy competition's sample predicts one constant; a constant model writes the same file.
    assert DebugRunValidator().validate(_node(SAMPLE_COPY), context).passed


@pytest.mark.parametrize(
    ("sample_rows", "copied"),
    [(["1,0.5", "2,0.7"], True), (["1,0", "2,0"], False)],
    ids=["varying-sample", "constant-sample"],
)
def test_a_copy_of_the_sample_is_caught_when_the_sample_varies(tmp_path, sample_rows, copied):
    from gome_core.contract import check_submission

    sample = tmp_path / "sample_submission.csv"
    sample.write_text("id,y\n" + "\n".join(sample_rows) + "\n")
    problems = check_submission(sample, sample)
    assert ("the submission is the sample submission itself" in "\n".join(problems)) == copied


def test_the_error_tail_is_quoted_for_repair(context):
    report = DebugRunValidator().validate(_node("import nope_not_a_module"), context)
    assert "ModuleNotFoundError" in "\n".join(report.reasons)


def test_the_debug_run_has_a_short_time_out_and_sets_gome_debug(context):
    code = "import os, time\nif os.environ.get('GOME_DEBUG') == '1':\n    time.sleep(30)\n"
    report = DebugRunValidator(RunValidatorConfig(timeout_s=1)).validate(_node(code), context)
    assert not report.passed and "timed out" in report.reasons[0]


def test_the_debug_run_defaults_to_a_short_time_out_and_the_full_run_to_the_executors(
    context,
):
    asked = []

    class Recording(ExecutorWrapper):
        def run(self, request):
            asked.append(request.limits.timeout_s)
            return super().run(request)

    recorded = attrs.evolve(context, executor=Recording(context.executor))
    DebugRunValidator().validate(_node("print(1)"), recorded)
    FullRunValidator().validate(_node("print(1)"), recorded)
    assert asked == [120.0, None]  # None: the executor's own time-out (an hour by default)


def _judge(score, metric, train=None, **config):
    scores = {
        "ensemble": {metric.name: score, **({f"train_{metric.name}": train} if train else {})}
    }
    node = Node(
        Candidate.from_code("j", ""),
        score=score,
        reports=(ValidationReport("full-run", True, score=score, details={"scores": scores}),),
    )
    context = RunContext(competition=CompetitionRef("c", ".", "", metric), executor=None)
    return JudgeValidator(JudgeConfig(**config)).validate(node, context)


def test_judge_rejects_scores_outside_the_metric_range_and_perfect_ones():
    assert _judge(0.9, Metric("accuracy")).passed
    assert not _judge(1.7, Metric("accuracy")).passed
    assert "leakage" in _judge(1.0, Metric("roc_auc")).reasons[0]
    assert "leakage" in _judge(0.0, Metric("rmse", lower_is_better=True)).reasons[0]
    assert _judge(12.0, Metric("custom-metric")).passed


def test_judge_reports_overfitting():
    report = _judge(0.6, Metric("accuracy"), train=1.0)
    assert report.passed and report.details["overfitting"] is True
    assert not _judge(0.6, Metric("accuracy"), train=1.0, reject_overfit=True).passed

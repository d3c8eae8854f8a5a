"""The L3 LLM judge: leakage, metric alignment and over-fitting, read from the code and its runs.

A leak or a validation that does not compute the competition's metric on held-out data forces
rejection; over-fitting is reported (and rejects with ``reject_overfit``). Whether a step beats
its trace's best is decided by the optimizer from the score file, never by the model.
"""

from __future__ import annotations

from gome_core.contract import SCORES
from gome_core.interfaces import RunContext, Validator
from gome_core.llm.context import Section
from gome_core.types import Node, ValidationReport
from gome_llm.answers import JudgeAnswer
from gome_llm.config import LLMJudgeConfig
from gome_llm.prompts import ask, stable_output

__all__ = ["LLMJudge"]


def _scores_text(node: Node) -> str:
    for report in reversed(node.reports):
        result = report.result
        if result is not None and result.workspace is not None:
            path = result.workspace / SCORES
            if path.is_file():
                return path.read_text(encoding="utf-8", errors="replace")[:4000]
    return ""


class LLMJudge(Validator):
    """L3 judgement through the run's LLM (see the module docstring)."""

    level = 3

    def __init__(self, config: LLMJudgeConfig | None = None) -> None:
        self.config = config or LLMJudgeConfig()

    def validate(self, node: Node, context: RunContext) -> ValidationReport:
        if context.llm is None:
            return ValidationReport(
                "llm-judge", True, (), node.score, 3, {"skipped": "no LLM configured"}
            )
        result = node.result
        output = ""
        if result is not None:
            output = stable_output(
                (result.stdout_tail + "\n" + result.stderr_tail)[-self.config.output_tail_chars :]
            )
        sections = [
            Section("code", f"```python\n{node.candidate.code}\n```", priority=2, keep="start"),
            Section("scores", _scores_text(node), priority=1, keep="start"),
            Section("output", output, priority=0, keep="end"),
        ]
        verdict: JudgeAnswer = ask(
            context,
            purpose="judge",
            template="judge",
            sections=sections,
            schema=JudgeAnswer,
            settings=self.config,
            extra={"metric": context.competition.metric.name},
        )
        reasons = []
        if verdict.leakage:
            reasons.append(f"leakage: {verdict.reasons}")
        if not verdict.metric_aligned:
            reasons.append(f"the validation does not match the task's metric: {verdict.reasons}")
        if verdict.overfitting and self.config.reject_overfit:
            reasons.append(f"over-fitting: {verdict.reasons}")
        details = {
            "leakage": verdict.leakage,
            "metric_aligned": verdict.metric_aligned,
            "overfitting": verdict.overfitting,
            "verdict": verdict.reasons,
        }
        return ValidationReport("llm-judge", not reasons, tuple(reasons), node.score, 3, details)

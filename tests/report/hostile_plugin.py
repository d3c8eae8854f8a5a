"""The toy agent (y = a * x), made hostile: every string it controls carries markup.

Its code, stdout and stderr, problems, hypotheses and selection all hold ``PAYLOAD`` (and
friends): a report that does not escape them runs a script. It also calls a scripted LLM once
per step, so that runs have ``llm_call`` events with tokens and cost; it breaks while writing step
``fail_at`` and writes a program that crashes (also after repair) for step ``crash_at``, so that
runs have buggy steps of both kinds.
"""

from __future__ import annotations

import re

from attrs import frozen

import gome_core
from gome_core import (
    Candidate,
    CodeRequest,
    Direction,
    GradientEstimator,
    Hypothesis,
    HypothesisScores,
    LLMBackend,
    LLMRequest,
    LLMResponse,
    LLMUsage,
    Message,
    Problem,
    RunContext,
    TraceState,
)
from tests.engine.toy_plugin import ToyConfig, ToyEstimator, ToyImplementer

PAYLOAD = "</script><script>alert(1)</script>"
IMG = '<img src=x onerror="alert(2)">'
ATTR = '" onmouseover="alert(3)" data-x=\''


@frozen
class HostileConfig(ToyConfig):
    crash_at: int = -1  # the step number whose program raises, every time


@frozen
class ScriptedConfig:
    model: str = "scripted-1"


class ScriptedLLM(LLMBackend):
    """Answers every request with the same text and a fixed usage (tokens and dollars)."""

    def __init__(self, config: ScriptedConfig) -> None:
        self.model = config.model

    def complete(self, request: LLMRequest) -> LLMResponse:
        usage = LLMUsage(input_tokens=1200, output_tokens=300, usd=0.0125, latency_s=0.01)
        return LLMResponse(text=f"think {PAYLOAD}", model=self.model, usage=usage)


class HostileEstimator(GradientEstimator):
    """The toy's direction, dressed in a full structured diagnosis with markup everywhere; on
    the fifth step of a trace it picks a worse idea (``a = 1``): a rejected step."""

    def __init__(self, config: HostileConfig) -> None:
        self.toy = ToyEstimator(config)

    def estimate(self, state: TraceState, context: RunContext) -> Direction:
        if context.llm is not None:
            context.llm.complete(
                LLMRequest([Message.user(f"diagnose {PAYLOAD}")], purpose="reasoning")
            )
        toy = self.toy.estimate(state, context).chosen
        problems = (
            Problem(
                f"bias {PAYLOAD}",
                reasoning=f"why {IMG}",
                category="model",
                expected_impact="large",
                critical=True,
            ),
            Problem(f"noise {ATTR}", category="data", expected_impact="small"),
        )
        chosen = Hypothesis(
            f"{toy.statement} {PAYLOAD}",
            component="model",
            problem=problems[0],
            scores=HypothesisScores(9, 8, 7, 9, 6),
            rationale=f"rationale {IMG}",
            edit=toy.edit,
        )
        other = Hypothesis(
            f"add noise features {IMG}",
            component="features",
            problem=problems[1],
            scores=HypothesisScores(3, 2, 9, 8, 4),
            edit={"a": 1.0},
        )
        # The fifth step of each trace follows the worse idea: a rejected step.
        picked = other if len(state.history) == 4 else chosen
        return Direction(
            picked, problems=problems, candidates=(chosen, other), selection=f"top-k {ATTR}"
        )


class HostileImplementer(ToyImplementer):
    """The toy's program, with markup in a comment, on stdout and on stderr."""

    def implement(self, request: CodeRequest, context: RunContext) -> Candidate:
        candidate = super().implement(request, context)
        number = int(re.findall(r"\d+", request.candidate_id.split("~")[0])[-1])
        crash = f"raise ValueError({PAYLOAD!r})\n" if number == self.config.crash_at else ""
        code = (
            f"# {PAYLOAD} {IMG}\n"
            "import sys\n"
            f"print({PAYLOAD!r})\n"
            f"print({IMG!r}, file=sys.stderr)\n" + crash + candidate.files["main.py"]
        )
        return Candidate(
            candidate.id,
            {**candidate.files, "main.py": code},
            operator=candidate.operator,
            plan=f"plan {ATTR}",
        )


@gome_core.hookimpl
def register_llm_backends(register):
    register(ScriptedLLM, name="scripted", config=ScriptedConfig)


@gome_core.hookimpl
def register_gradient_estimators(register):
    register(HostileEstimator, name="hostile", config=HostileConfig)


@gome_core.hookimpl
def register_implementers(register):
    register(HostileImplementer, name="hostile", config=HostileConfig)

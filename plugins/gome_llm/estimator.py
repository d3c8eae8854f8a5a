"""The LLM gradient estimator: structured reasoning, then selection (DESIGN §3, step 1).

1. *Diagnosis*: the model lists up to five problems of the trace's best solution (from the
   scenario early on, from the feedback in the history later) and one hypothesis per problem,
   each scored 1-10 on five axes.
2. The hypotheses are ranked by the weighted score (0.2 / 0.4 / 0.2 / 0.1 / 0.1); the top ``k``
   are kept.
3. *Selection*: the model picks, edits or synthesises the change, seeing the hypotheses other
   traces had accepted and the time stage; or (``selector = "sample"``) one of the top ``k`` is
   drawn reproducibly, weighted by score.

With ``structured = False`` (the ablation) the model proposes one unscored idea instead.
"""

from __future__ import annotations

import random
from typing import TypeVar

from gome_core.interfaces import GradientEstimator, RunContext
from gome_core.llm.context import Section
from gome_core.logs import get_logger
from gome_core.types import Direction, Hypothesis, HypothesisScores, Problem, TraceState
from gome_llm.answers import DiagnosisAnswer, SelectionAnswer
from gome_llm.config import LLMReasonerConfig
from gome_llm.prompts import ask, trace_sections

__all__ = ["LLMGradientEstimator", "hypotheses_from"]

log = get_logger(__name__)

T = TypeVar("T")


def hypotheses_from(answer: DiagnosisAnswer) -> tuple[list[Problem], list[Hypothesis]]:
    """The diagnosis as core value types, hypotheses best-scored first."""
    problems = [
        Problem(
            statement=p.statement,
            reasoning=p.reasoning,
            category=p.category,
            expected_impact=p.expected_impact,
            critical=p.critical,
        )
        for p in answer.problems
    ]
    hypotheses = []
    for h in answer.hypotheses:
        problem = problems[h.problem]  # DiagnosisAnswer refuses an index past the last problem
        scores = HypothesisScores(
            alignment=h.alignment,
            impact=h.impact,
            novelty=h.novelty,
            feasibility=h.feasibility,
            risk_reward=h.risk_reward,
        )
        hypotheses.append(
            Hypothesis(
                h.statement,
                component=h.component,
                problem=problem,
                scores=scores,
                rationale=h.reasons,
            )
        )
    # Stable sort: equal scores keep the model's order.
    hypotheses.sort(key=lambda h: -(h.score or 0.0))
    return problems, hypotheses


class LLMGradientEstimator(GradientEstimator):
    """Gome's structured reasoning through the run's LLM (see the module docstring)."""

    def __init__(self, config: LLMReasonerConfig | None = None) -> None:
        self.config = config or LLMReasonerConfig()

    def _ask(
        self,
        context: RunContext,
        purpose: str,
        template: str,
        sections: list[Section],
        schema: type[T],
        **extra: object,
    ) -> T:
        return ask(  # type: ignore[no-any-return]
            context,
            purpose=purpose,
            template=template,
            sections=sections,
            schema=schema,
            settings=self.config,
            extra=extra,
        )

    def estimate(self, state: TraceState, context: RunContext) -> Direction:
        sections = trace_sections(state, self.config.output_tail_chars)
        if not self.config.structured:
            idea: SelectionAnswer = self._ask(
                context, "reasoning", "idea", sections, SelectionAnswer
            )
            chosen = Hypothesis(idea.statement, component=idea.component, rationale=idea.rationale)
            return Direction(chosen=chosen, selection="single idea (no structured reasoning)")

        focus = (
            "This trace has no working solution yet: take the problems from the task and the "
            "data (the scenario)."
            if state.best is None
            else "Take the problems from the feedback first: the history's scores, gaps between "
            "train and validation, errors and run times; then from the scenario."
        )
        diagnosis: DiagnosisAnswer = self._ask(
            context,
            "reasoning",
            "diagnose",
            sections,
            DiagnosisAnswer,
            focus=focus,
            max_problems=self.config.max_problems,
        )
        problems, ranked = hypotheses_from(diagnosis)
        top = ranked[: self.config.top_k]
        chosen, how = self._select(top, state, context, sections)
        log.debug(
            "llm direction",
            trace=state.trace,
            step=state.step,
            problems=len(problems),
            chosen=chosen.statement[:120],
            selection=how,
        )
        return Direction(chosen=chosen, problems=problems, candidates=top, selection=how)

    def _select(
        self,
        top: list[Hypothesis],
        state: TraceState,
        context: RunContext,
        sections: list[Section],
    ) -> tuple[Hypothesis, str]:
        if self.config.selector == "sample" or len(top) == 1:
            rng = random.Random(f"{context.seed}:{state.trace}:{state.step}")
            weights = [max(h.score or 0.0, 0.01) for h in top]
            return rng.choices(top, weights=weights, k=1)[0], f"top-{len(top)} sample"
        listed = "\n".join(
            f"{i}. {h.statement} ({h.component}; weighted score {h.score:.2f}; "
            f"problem: {h.problem.statement if h.problem else '-'})"
            for i, h in enumerate(top)
        )
        answer: SelectionAnswer = self._ask(
            context, "selection", "select", sections, SelectionAnswer, candidates=listed
        )
        if 0 <= answer.choice < len(top):
            picked = top[answer.choice]
            if answer.statement.strip() and answer.statement.strip() != picked.statement:
                # The selector may sharpen the chosen statement; keep its scores and problem.
                edited = Hypothesis(
                    answer.statement,
                    component=answer.component,
                    problem=picked.problem,
                    scores=picked.scores,
                    rationale=answer.rationale,
                )
                return edited, "llm selector (edited)"
            return picked, "llm selector"
        new = Hypothesis(answer.statement, component=answer.component, rationale=answer.rationale)
        return new, "llm selector (synthesised)"

"""The shapes of the LLM's answers: attrs classes that become strict JSON schemas.

Each class's docstring and field descriptions are what the model reads about the answer, so they
are written for the model. Bounds (``ge``/``le``, item counts) are enforced on parsing: an answer
outside them gets a repair round, as any schema violation does.
"""

from __future__ import annotations

from typing import Literal

from attrs import frozen

from gome_core.llm.schema import llm_field

__all__ = [
    "COMPONENTS",
    "CodeAnswer",
    "DiagnosisAnswer",
    "HypothesisAnswer",
    "JudgeAnswer",
    "ProblemAnswer",
    "RepairAnswer",
    "SelectionAnswer",
]

Component = Literal["data loading", "features", "model", "ensemble", "workflow"]
Category = Literal["data", "features", "model", "validation", "time", "memory", "general"]
COMPONENTS: tuple[str, ...] = ("data loading", "features", "model", "ensemble", "workflow")

_SCORE = "1 (poor) to 10 (excellent)"


@frozen
class ProblemAnswer:
    """One weakness of the current solution."""

    statement: str = llm_field(description="The problem in one sentence.")
    reasoning: str = llm_field(description="The evidence: numbers from the history or the data.")
    category: Category = llm_field(description="Where the problem lies.")
    expected_impact: str = llm_field(description="What fixing it should do to the metric.")
    critical: bool = llm_field(
        description="True for time-outs, out-of-memory errors and failures that stop every run."
    )


@frozen
class HypothesisAnswer:
    """One decisive, testable change answering one problem (never "try A or B")."""

    problem: int = llm_field(ge=0, description="Index of the problem it answers (0-based).")
    statement: str = llm_field(description="The change, concrete enough to implement.")
    component: Component = llm_field(description="The pipeline component it touches.")
    alignment: int = llm_field(ge=1, le=10, description=f"Fits the problem and the task: {_SCORE}")
    impact: int = llm_field(ge=1, le=10, description=f"Expected metric gain: {_SCORE}")
    novelty: int = llm_field(
        ge=1, le=10, description=f"{_SCORE}; 1 when it repeats an idea already tried."
    )
    feasibility: int = llm_field(
        ge=1, le=10, description=f"Can be done well within the time-out: {_SCORE}"
    )
    risk_reward: int = llm_field(ge=1, le=10, description=f"Upside against risk: {_SCORE}")
    reasons: str = llm_field(description="One short reason per score.")


@frozen
class DiagnosisAnswer:
    """The structured diagnosis of the current solution: problems, then one hypothesis each."""

    problems: list[ProblemAnswer] = llm_field(min_items=1, max_items=5)
    hypotheses: list[HypothesisAnswer] = llm_field(min_items=1, max_items=5)

    def __attrs_post_init__(self) -> None:
        # A hypothesis naming a problem past the last one would silently lose its problem: it is
        # a schema violation instead (parsing turns the ValueError into a repair round).
        last = len(self.problems) - 1
        wrong = [
            f"hypotheses[{i}].problem is {h.problem}"
            for i, h in enumerate(self.hypotheses)
            if h.problem > last
        ]
        if wrong:
            raise ValueError(
                f"{'; '.join(wrong)}, but the problems are numbered 0 to {last}: each hypothesis "
                "must give the 0-based index of a listed problem it answers"
            )


@frozen
class SelectionAnswer:
    """The change to make next."""

    choice: int = llm_field(
        ge=-1,
        description="Index of the chosen candidate hypothesis, or -1 for a new or edited one.",
    )
    statement: str = llm_field(
        description="The change to implement (the chosen one as is, edited, or synthesised)."
    )
    component: Component = llm_field(description="The pipeline component it touches.")
    rationale: str = llm_field(description="Why this one now, given the memory and the stage.")


@frozen
class CodeAnswer:
    """A complete program."""

    plan: str = llm_field(description="What the program does and what changed, in a few lines.")
    code: str = llm_field(description="The complete main.py: runnable as is, no placeholders.")


@frozen
class RepairAnswer:
    """A complete program that fixes the failure, and whether it still makes the change."""

    plan: str = llm_field(description="What was wrong and how the program fixes it, briefly.")
    code: str = llm_field(description="The complete main.py: runnable as is, no placeholders.")
    kept_change: bool = llm_field(
        description="True when the fixed program still makes the change this step was to make; "
        "false when the fix had to leave it out."
    )


@frozen
class JudgeAnswer:
    """A verdict on how a solution validates itself."""

    leakage: bool = llm_field(
        description="True when the target, test answers or the sample submission reach training."
    )
    metric_aligned: bool = llm_field(
        description="True when the validation computes the competition's metric on held-out data."
    )
    overfitting: bool = llm_field(description="True when train and validation scores diverge.")
    reasons: str = llm_field(description="The evidence for each verdict, briefly.")

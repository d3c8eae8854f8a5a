"""The LLM code writer: x' = x_best + Δ(h), and the tree-search operators.

Operators: ``draft`` (a first solution, optionally following a direction), ``step`` / ``improve``
(the base program plus the direction's change), ``debug`` (the base program failed: fix it from
its error output — the L1 self-repair rounds), ``crossover`` (combine the base with another
program). The model answers with the complete ``main.py``.
"""

from __future__ import annotations

import re

from gome_core.interfaces import Implementer, RunContext
from gome_core.llm.context import Section
from gome_core.logs import get_logger
from gome_core.types import Candidate, CodeRequest
from gome_llm.answers import CodeAnswer, RepairAnswer
from gome_llm.config import LLMImplementerConfig
from gome_llm.prompts import ask, describe_node, stable_output

__all__ = ["LLMImplementer", "extract_code"]

log = get_logger(__name__)

_INSTRUCTIONS = {
    "draft": "Write a first complete solution: a sound, simple pipeline that runs well within the "
    "time-out. Follow the change below when one is given.",
    "step": "Rewrite the base program with exactly the change below; keep everything else that "
    "works.",
    "improve": "Rewrite the base program with the change below (or, when none is given, with the "
    "one change you expect to help most); keep everything else that works.",
    "debug": "The base program failed. Fix the cause shown below with the smallest change that "
    "makes it run correctly; do not change the approach.",
    "crossover": "Combine the base program with the other program: keep the base's pipeline and "
    "add the other's strongest model(s) to an ensemble.",
}

_KEPT_CHANGE = (
    "The program was to make the change below: if the fix has to remove or replace it, say so "
    "(kept_change: false)."
)

_FENCE = re.compile(r"```(?:python|py)?\s*\n(.*?)```", re.DOTALL)


def extract_code(text: str) -> str:
    """The program in ``text``: the largest fenced block when the model fenced it."""
    blocks = _FENCE.findall(text)
    return (max(blocks, key=len) if blocks else text).strip() + "\n"


class LLMImplementer(Implementer):
    """Writes whole programs through the run's LLM (see the module docstring)."""

    def __init__(self, config: LLMImplementerConfig | None = None) -> None:
        self.config = config or LLMImplementerConfig()

    def implement(self, request: CodeRequest, context: RunContext) -> Candidate:
        operator = request.operator if request.operator in _INSTRUCTIONS else "improve"
        if request.base is None:
            operator = "draft"
        tail = self.config.output_tail_chars
        direction = request.direction
        change = ""
        if direction is not None:
            chosen = direction.chosen
            change = f"{chosen.statement} (component: {chosen.component})"
            if chosen.problem is not None:
                change += f"\nIt answers: {chosen.problem.statement}"
        base = request.base
        sections = [
            Section("direction", change, keep="all"),
            Section(
                "base",
                f"```python\n{base.candidate.code}\n```" if base is not None else "",
                priority=3,
                keep="start",
                min_chars=4000,
            ),
            Section(
                "base_run",
                describe_node(base, tail_chars=tail) if base is not None else "",
                priority=1,
                keep="end",
            ),
            Section(
                "other",
                "\n\n".join(f"```python\n{n.candidate.code}\n```" for n in request.others),
                priority=2,
                keep="start",
            ),
            Section(
                "feedback",
                stable_output(request.feedback[-max(tail, 500) :]),
                priority=2,
                keep="end",
            ),
        ]
        # A repair of a step with a change says whether its fix kept it: one that dropped it
        # must not be credited with the change (Direction.dropped).
        # (Once a repair round has dropped it, later rounds only fix what that one wrote.)
        repairing = operator == "debug" and direction is not None and direction.dropped is None
        instruction = _INSTRUCTIONS[operator]
        if repairing:
            instruction += " " + _KEPT_CHANGE
        answer: CodeAnswer | RepairAnswer = ask(
            context,
            purpose="code",
            template="write",
            sections=sections,
            schema=RepairAnswer if repairing else CodeAnswer,
            settings=self.config,
            extra={"operator": operator, "instruction": instruction},
        )
        if isinstance(answer, RepairAnswer) and not answer.kept_change and direction is not None:
            fix = " ".join(answer.plan.split())[:300] or "a fix that leaves the change out"
            direction = direction.without_change(fix)
        code = extract_code(answer.code)
        if not code.strip():
            raise ValueError("the model answered with an empty program")
        log.debug("llm candidate", id=request.candidate_id, operator=operator, chars=len(code))
        parents = tuple(n.id for n in (request.base, *request.others) if n is not None)
        return Candidate(
            id=request.candidate_id,
            files={Candidate.ENTRY_POINT: code},
            parents=parents,
            operator=request.operator,
            plan=answer.plan.strip(),
            trace=request.trace,
            direction=direction,
        )

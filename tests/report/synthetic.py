"""Journals written by hand for report tests: exact scores, outcomes and times."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gome_core import Candidate, Direction, ExecutionResult, Node, Proposal, ValidationReport
from gome_core.journal import to_data

#: The wall time (seconds since the epoch) at which every synthetic run starts.
T0 = 1_800_000_000.0


class SyntheticRun:
    """A run directory whose journal a test writes event by event; ``at`` is the wall time in
    seconds since the run started, ``elapsed`` the run's clock (``at`` unless a pause says
    otherwise)."""

    def __init__(self, path: Path, *, lower_is_better: bool = True, metric: str = "mae") -> None:
        self.path = path
        self.path.mkdir(parents=True, exist_ok=True)
        self.events: list[dict[str, Any]] = []
        self.add(
            "run_started",
            at=0,
            run_id="synthetic",
            competition="toy",
            preset="custom",
            budget={"steps": 10},
            metric={"name": metric, "lower_is_better": lower_is_better},
        )

    def add(self, type: str, *, at: float, **data: Any) -> SyntheticRun:
        event = {"seq": len(self.events), "type": type, "time": T0 + at, "schema": 1}
        self.events.append({**event, **to_data(data)})
        return self

    def start(
        self, node_id: str, *, at: float, operator: str = "draft", trace=None, parents=()
    ) -> SyntheticRun:
        proposal = Proposal(node_id, operator, trace=trace, parents=tuple(parents))
        return self.add("step_started", at=at, proposal=proposal, time_used=0.0)

    def finish(
        self,
        node_id: str,
        score: float | None,
        *,
        at: float,
        elapsed: float | None = None,
        operator: str = "draft",
        trace=None,
        parents=(),
        result: ExecutionResult | None = None,
        new_best: bool = False,
        direction: Direction | None = None,
    ) -> SyntheticRun:
        parents = tuple(parents)
        candidate = Candidate.from_code(
            node_id, f"print({score})\n", parents=parents, direction=direction
        )
        result = result or ExecutionResult(exit_code=0, wall_s=1.0)
        passed = result.ok and score is not None
        report = (
            ValidationReport.ok("full-run", score=score)
            if passed
            else ValidationReport.fail("full-run", "the run failed")
        )
        node = Node(candidate, result, (report,), score=score)
        proposal = Proposal(node_id, operator, trace=trace, parents=parents)
        self.add(
            "step_finished",
            at=at,
            proposal=proposal,
            node=node,
            step=sum(e["type"] == "step_finished" for e in self.events) + 1,
            elapsed_s=at if elapsed is None else elapsed,
            buggy=node.buggy,
            score=score,
        )
        if new_best:
            self.add("new_best", at=at, node_id=node_id, score=score)
        return self

    def reasoning(self, node_id: str, statement: str, *, at: float, trace=None) -> SyntheticRun:
        chosen = {"statement": statement, "component": "model", "rationale": "because"}
        direction = {"chosen": chosen, "candidates": [], "problems": [], "selection": "top-1"}
        return self.add(
            "reasoning", at=at, proposal=node_id, trace=trace, seen={}, direction=direction
        )

    def write(self) -> Path:
        with open(self.path / "journal.jsonl", "w", encoding="utf-8") as f:
            for event in self.events:
                f.write(json.dumps(event) + "\n")
        return self.path

"""The Gome optimizer: x' = x_best + Δ(h), accepted only when it beats the trace's best.

Each trace keeps its best node (the SOTA). A step asks the gradient estimator for a direction from
the trace's state — its best, history, success memory (momentum), other traces' accepted steps and
the hypotheses it must differ from — and the implementer writes the new candidate from the best
code plus that direction. A step is accepted when it passes validation and beats the trace's best;
a rejected step changes no code and only enters history. The first step of a trace is a draft.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import attrs
from attrs import define, frozen

from gome_core.config import (
    GradientEstimatorSpec,
    ImplementerSpec,
    MomentumSpec,
    TraceCoordinatorSpec,
)
from gome_core.errors import StepFailed
from gome_core.interfaces import (
    GradientEstimator,
    Implementer,
    Momentum,
    Optimizer,
    RunContext,
    TraceCoordinator,
)
from gome_core.logs import get_logger
from gome_core.types import (
    Candidate,
    CodeRequest,
    Direction,
    Hypothesis,
    MemoryEntry,
    Metric,
    Node,
    Proposal,
    TraceState,
    ValidationReport,
)

__all__ = ["GomeConfig", "GomeOptimizer"]

log = get_logger(__name__)

_DRAFT = Hypothesis("first working solution", component="workflow")


@frozen
class GomeConfig:
    """Settings of the Gome optimizer; the ablations switch off ``memory`` or use one trace."""

    traces: int = attrs.field(default=3, validator=attrs.validators.ge(1))
    estimator: GradientEstimatorSpec = GradientEstimatorSpec("offline")  # type: ignore[valid-type]
    implementer: ImplementerSpec = ImplementerSpec("offline")  # type: ignore[valid-type]
    momentum: MomentumSpec = MomentumSpec("success-memory")  # type: ignore[valid-type]
    coordinator: TraceCoordinatorSpec = TraceCoordinatorSpec("gome")  # type: ignore[valid-type]
    memory: bool = True  # False: the "no success memory" ablation
    cross_trace_k: int = 5
    history: int = 8  # most recent nodes of a trace shown to the reasoning


@define
class _Trace:
    best: Node | None = None
    history: list[Node] = attrs.Factory(list)
    issued: int = 0


class GomeOptimizer(Optimizer):
    """Gome's reasoning-as-gradient loop over several traces."""

    def __init__(self, config: GomeConfig | None = None) -> None:
        self.config = config or GomeConfig()
        if self.config.traces < 1:
            raise ValueError("optimizer.traces must be at least 1")
        self._lock = threading.Lock()
        self._traces = [_Trace() for _ in range(self.config.traces)]
        self._busy: set[int] = set()
        self._nodes: list[Node] = []
        self.metric = Metric("score")
        self.estimator: GradientEstimator
        self.implementer: Implementer
        self.momentum: Momentum
        self.coordinator: TraceCoordinator

    def start(self, context: RunContext) -> None:
        self.metric = context.competition.metric
        self.estimator = self.config.estimator.create()
        self.implementer = self.config.implementer.create()
        self.momentum = self.config.momentum.create()
        if hasattr(self.momentum, "metric"):
            self.momentum.metric = self.metric
        self.coordinator = self.config.coordinator.create()
        self.coordinator.start(self.config.traces)

    # ------------------------------------------------------------------ ask / develop / tell

    def ask(self) -> Proposal | None:
        with self._lock:
            trace = self.coordinator.next_trace(frozenset(self._busy))
            if trace is None:
                return None
            state = self._traces[trace]
            proposal = Proposal(
                id=f"t{trace}-{state.issued:03d}",
                operator="draft" if state.best is None else "step",
                trace=trace,
                parents=(state.best.id,) if state.best is not None else (),
            )
            state.issued += 1
            self._busy.add(trace)
            return proposal

    def trace_state(self, trace: int, context: RunContext) -> TraceState:
        """What the reasoning sees of ``trace`` now (a snapshot)."""
        with self._lock:
            state = self._traces[trace]
            best, history, step = (
                state.best,
                tuple(state.history[-self.config.history :]),
                state.issued,
            )
        memory = self.config.memory
        query = self._query(best)
        return TraceState(
            trace=trace,
            step=step,
            best=best,
            history=history,
            successes=tuple(self.momentum.successes(trace)) if memory else (),
            failures=tuple(self.momentum.failures(trace)) if memory else (),
            cross_trace=tuple(
                self.momentum.recall(query, k=self.config.cross_trace_k, exclude_trace=trace)
            )
            if memory
            else (),
            avoid=tuple(self.coordinator.avoid(trace)),
            pursuing=tuple(self.coordinator.pursuing(trace)),
            time_used=context.time_used,
        )

    @staticmethod
    def _query(best: Node | None) -> str:
        if best is None or best.candidate.direction is None:
            return "first working solution"
        chosen = best.candidate.direction.chosen
        return f"{chosen.statement} {chosen.problem.statement if chosen.problem else ''}"

    def develop(self, proposal: Proposal, context: RunContext) -> Candidate:
        trace = proposal.trace if proposal.trace is not None else 0
        # A diversifying trace chooses after the siblings' choices in progress, and its own
        # choice is shown to them (``pursuing``) until its step is told.
        with self.coordinator.choosing(trace):
            state = self.trace_state(trace, context)
            direction = self.estimator.estimate(state, context)
            self.coordinator.propose(trace, direction.chosen)
        if context.emit is not None:
            context.emit(
                "reasoning",
                proposal=proposal.id,
                trace=trace,
                seen={
                    "successes": len(state.successes),
                    "failures": len(state.failures),
                    "cross_trace": len(state.cross_trace),
                    "avoid": len(state.avoid),
                    "pursuing": len(state.pursuing),
                    "history": len(state.history),
                },
                direction=direction,
            )
        request = CodeRequest(
            operator=proposal.operator,
            candidate_id=proposal.id,
            base=state.best if proposal.operator != "draft" else None,
            direction=direction,
            trace=trace,
        )
        try:
            candidate = self.implementer.implement(request, context)
        except Exception as exc:
            # Remembered by its direction, also when a resumed run replays the journal.
            partial = Candidate(id=proposal.id, files={})
            raise StepFailed(self._as_proposed(partial, proposal, trace, direction)) from exc
        return self._as_proposed(candidate, proposal, trace, direction)

    @staticmethod
    def _as_proposed(
        candidate: Candidate, proposal: Proposal, trace: int, direction: Direction
    ) -> Candidate:
        return attrs.evolve(
            candidate,
            id=proposal.id,
            trace=trace,
            direction=direction,
            parents=proposal.parents,
            operator=proposal.operator,
        )

    def repair(self, node: Node, report: ValidationReport, context: RunContext) -> Candidate | None:
        if report.level > 1:
            return None
        result = report.result
        feedback = "\n".join(report.reasons)
        if result is not None and result.stderr_tail and result.stderr_tail not in feedback:
            feedback += "\n" + result.stderr_tail[-4000:]
        request = CodeRequest(
            operator="debug",
            candidate_id=f"{node.candidate.id.split('~')[0]}~r{node.debug_depth + 1}",
            base=node,
            direction=node.candidate.direction,
            feedback=feedback,
            trace=node.candidate.trace,
        )
        fixed = self.implementer.implement(request, context)
        dropped = fixed.direction is not None and fixed.direction.dropped is not None
        return attrs.evolve(
            fixed,
            id=request.candidate_id,
            trace=node.candidate.trace,
            direction=fixed.direction if dropped else node.candidate.direction,
            parents=node.candidate.parents,
            operator=node.candidate.operator,
        )

    def tell(self, proposal: Proposal, node: Node) -> None:
        trace = proposal.trace if proposal.trace is not None else 0
        with self._lock:
            self._busy.discard(trace)
            state = self._traces[trace]
            # Replayed steps (resume) were issued by an earlier process.
            number = int(proposal.id.rsplit("-", 1)[-1]) if "-" in proposal.id else state.issued
            state.issued = max(state.issued, number + 1)
            before = state.best.score if state.best is not None else None
            accepted = not node.buggy and self.metric.better(node.score, before)
            state.history.append(node)
            self._nodes.append(node)
            if accepted:
                state.best = node
        direction = node.candidate.direction
        # Without a direction (the reasoning itself failed) the step counts as a draft.
        hypothesis = direction.chosen if direction is not None else _DRAFT
        feedback = node.error or "; ".join(
            r for report in node.reports if not report.passed for r in report.reasons[:1]
        )
        if self.config.memory and direction is not None and direction.dropped is not None:
            # The change the step chose failed, and its repair rewrote the code without it.
            note = f"its code failed; the repair did this instead: {direction.chosen.statement}"
            self.momentum.record(
                MemoryEntry(
                    trace=trace,
                    step=len(self._nodes),
                    hypothesis=direction.dropped,
                    accepted=False,
                    node_id=node.id,
                    score_before=before,
                    feedback=note[:500],
                )
            )
        if self.config.memory:
            self.momentum.record(
                MemoryEntry(
                    trace=trace,
                    step=len(self._nodes),
                    hypothesis=hypothesis,
                    accepted=accepted,
                    node_id=node.id,
                    score_before=before,
                    score_after=node.score,
                    feedback=feedback[:500],
                )
            )
        # Siblings are to differ from the change the step chose, even one its repair dropped
        # (the rewrite itself is no idea to avoid).
        dropped = direction.dropped if direction is not None else None
        self.coordinator.record(trace, dropped or hypothesis, accepted)
        log.debug("step told", node=node.id, trace=trace, score=node.score, accepted=accepted)

    def best(self, k: int = 1) -> Sequence[Node]:
        with self._lock:
            good = [n for n in self._nodes if not n.buggy and n.score is not None]
        ranked = sorted(good, key=lambda n: n.score if self.metric.lower_is_better else -n.score)
        return ranked[:k]

    def trace_bests(self) -> list[Node | None]:
        """Each trace's current best (its SOTA)."""
        with self._lock:
            return [t.best for t in self._traces]

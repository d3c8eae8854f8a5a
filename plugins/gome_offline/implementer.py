"""The offline implementer: writes real programs from pipeline specs (no LLM involved).

Operators:

* ``draft``: a sensible first pipeline for the data profile; a given direction's edit is applied
  to it (so traces can start differently); without a direction the candidate id seeds a choice
  among the default and the best-scored starting ideas, so several drafts differ;
* ``step`` / ``improve``: the base's spec (from its ``pipeline.json``) plus the direction's edit;
  without a usable direction the implementer reasons on the base itself (tree search);
* ``debug``: the base failed; a time-out gives a cheaper pipeline, running out of memory a
  smaller one, an exception the robust default. A fix that no longer carries the direction's
  change says so in its direction (``dropped``), so that memory does not credit the change;
* ``crossover``: the base's pipeline with the other parent's models as ensemble members.

Every candidate carries ``main.py`` and its spec as ``pipeline.json``.
"""

from __future__ import annotations

import threading

import attrs

from gome_core.interfaces import Implementer, RunContext
from gome_core.logs import get_logger
from gome_core.types import Candidate, CodeRequest, Direction, Hypothesis, Node, TraceState
from gome_offline.config import OfflineConfig
from gome_offline.estimator import candidate_timeout
from gome_offline.profile import DataProfile, profile_for
from gome_offline.reasoning import reason, rng_for
from gome_offline.signals import Failure, Signals, read_failure, spec_of
from gome_offline.spec import (
    SPEC_FILE,
    PipelineSpec,
    SpecError,
    cheaper,
    default_spec,
    robust,
    smaller,
)
from gome_offline.writer import write_program

__all__ = ["OfflineImplementer"]

log = get_logger(__name__)

#: Ensemble members a crossover keeps (the main model included).
MAX_MEMBERS = 3


class OfflineImplementer(Implementer):
    """Writes readable pandas / scikit-learn programs from pipeline specs: drafts from the data
    profile, applies a direction's edit to the base's spec, debugs time-outs, memory errors and
    exceptions, and crosses two pipelines into an ensemble."""

    def __init__(self, config: OfflineConfig | None = None) -> None:
        self.config = config or OfflineConfig()
        self._lock = threading.Lock()
        self._drafted: set[str] = set()  # specs drafted without a direction in this run

    def implement(self, request: CodeRequest, context: RunContext) -> Candidate:
        profile = profile_for(context.competition)
        operator = request.operator
        if request.base is None or operator == "draft":
            spec, plan, direction = self._draft(request, context, profile)
        elif operator == "debug":
            spec, plan, direction = self._debug(request, profile)
        elif operator == "crossover":
            spec, plan, direction = self._crossover(request, context, profile)
        else:
            spec, plan, direction = self._step(request, context, profile)
        program = write_program(spec, profile, debug_rows=self.config.debug_rows)
        parents = tuple(n.id for n in (request.base, *request.others) if n is not None)
        log.debug("offline candidate", id=request.candidate_id, operator=operator, plan=plan)
        return Candidate(
            id=request.candidate_id,
            files={Candidate.ENTRY_POINT: program, SPEC_FILE: spec.to_json()},
            parents=parents,
            operator=operator,
            plan=plan,
            trace=request.trace,
            direction=direction,
        )

    # -- operators

    def _default(self, profile: DataProfile) -> PipelineSpec:
        return default_spec(profile, max_folds=self.config.max_folds)

    def _apply(
        self, spec: PipelineSpec, direction: Direction | None, profile: DataProfile
    ) -> tuple[PipelineSpec | None, str]:
        """``spec`` with the direction's edit, or ``None`` and why it could not be applied."""
        if direction is None:
            return None, "no direction"
        if not direction.chosen.edit:
            return None, "the direction has no machine-readable edit"
        try:
            return spec.apply(direction.chosen.edit, profile), ""
        except SpecError as exc:
            log.warning("offline implementer: edit not applicable", error=str(exc))
            return None, f"its edit is not applicable ({exc})"

    def _own_direction(
        self, base: Node | None, request: CodeRequest, context: RunContext, profile: DataProfile
    ) -> Direction:
        """Reason on ``base`` alone (tree-search operators come without a direction)."""
        trace = request.trace or 0
        state = TraceState(trace=trace, best=base, history=(base,) if base else (), step=0)
        spec = spec_of(base) or self._default(profile)
        sig = Signals.read(
            state,
            spec,
            base is not None,
            candidate_timeout(context, self.config),
            profile.metric.name,
        )
        rng = rng_for(context.seed, trace, 0, salt=request.candidate_id)
        return reason(profile, sig, rng, skill=self.config.skill, top_k=self.config.top_k)

    def _draft(
        self, request: CodeRequest, context: RunContext, profile: DataProfile
    ) -> tuple[PipelineSpec, str, Direction | None]:
        base = self._default(profile)
        applied, why_not = self._apply(base, request.direction, profile)
        if applied is not None:
            assert request.direction is not None
            return applied, f"draft: {request.direction.chosen.statement}", request.direction
        # Without a direction (tree search), successive drafts differ: each spec once while
        # options last, ranked the default pipeline first, then the best-scored starting ideas.
        # Which fresh one follows skill, as a step's direction does: the first with probability
        # ``skill``, else a random one (a weaker model drafts less well, under any optimizer).
        direction = self._own_direction(None, request, context, profile)
        options: list[tuple[Hypothesis | None, PipelineSpec]] = [(None, base)]
        options += [(h, base.apply(h.edit, profile)) for h in direction.candidates]
        trace = request.trace or 0
        with self._lock:
            fresh = [o for o in options if o[1].to_json() not in self._drafted]
            if fresh:
                draws = rng_for(context.seed, trace, 0, salt=f"draft:{request.candidate_id}")
                draw = draws.random()
                if draw < self.config.skill:
                    (chosen, spec), how = fresh[0], "first"
                else:
                    (chosen, spec), how = draws.choice(fresh), "random"
                selection = (
                    f"draft, {how} of {len(fresh)} fresh starts "
                    f"(skill {self.config.skill:.2f}, draw {draw:.2f})"
                )
            else:
                pick = rng_for(context.seed, trace, 0, salt=request.candidate_id)
                (chosen, spec), selection = pick.choice(options), "draft, random repeat"
            self._drafted.add(spec.to_json())
        if chosen is None:
            note = f" ({why_not})" if request.direction is not None else ""
            return spec, f"draft: the default pipeline for the data{note}", None
        picked = attrs.evolve(direction, chosen=chosen, selection=selection)
        return spec, f"draft: {chosen.statement}", picked

    def _step(
        self, request: CodeRequest, context: RunContext, profile: DataProfile
    ) -> tuple[PipelineSpec, str, Direction | None]:
        base = request.base
        assert base is not None
        spec = spec_of(base)
        note = ""
        if spec is None:
            spec = self._default(profile)
            note = " (the base has no pipeline.json: rewritten from the default pipeline)"
        applied, why_not = self._apply(spec, request.direction, profile)
        if applied is not None and applied != spec:
            assert request.direction is not None
            statement = request.direction.chosen.statement
            return applied, f"{request.operator}: {statement}{note}", request.direction
        if applied is not None:
            why_not = "its edit changes nothing"
        direction = self._own_direction(base, request, context, profile)
        new = spec.apply(direction.chosen.edit, profile) if direction.chosen.edit else spec
        reason_note = f" (given direction unused: {why_not})" if request.direction else ""
        plan = f"{request.operator}: {direction.chosen.statement}{reason_note}{note}"
        return new, plan, direction

    def _debug(
        self, request: CodeRequest, profile: DataProfile
    ) -> tuple[PipelineSpec, str, Direction | None]:
        base = request.base
        assert base is not None
        failure = read_failure(base, request.feedback) or Failure("error", base.id)
        spec = spec_of(base)
        if spec is None:
            fixed, how = robust(profile), "rewrite as the robust default pipeline"
            return fixed, f"debug: {how}", _after_debug(request.direction, fixed, how, profile)
        if failure.kind == "timeout":
            fixed, how = cheaper(spec, profile), "it timed out: fewer folds, trees and rows"
        elif failure.kind == "oom":
            fixed, how = smaller(spec, profile), "it ran out of memory: a smaller footprint"
        else:
            what = failure.error_type or ("rejected: " + "; ".join(failure.reasons[:2]))
            fixed, how = robust(profile), f"it failed ({what}): the robust default pipeline"
        if fixed == spec:
            fixed = cheaper(smaller(spec, profile), profile)
            how += ", made cheaper and smaller"
        return fixed, f"debug: {how}", _after_debug(request.direction, fixed, how, profile)

    def _crossover(
        self, request: CodeRequest, context: RunContext, profile: DataProfile
    ) -> tuple[PipelineSpec, str, Direction | None]:
        base = request.base
        assert base is not None
        spec = spec_of(base)
        other = spec_of(request.others[0]) if request.others else None
        if spec is None or other is None:
            return self._step(request, context, profile)
        members = list(spec.members)
        for model in other.members:
            if model not in members and len(members) < MAX_MEMBERS:
                members.append(model)
        crossed = attrs.evolve(spec, ensemble=members[1:])
        names = " + ".join(m.family for m in members)
        return crossed, f"crossover: mean of {names} on {base.id}'s features", request.direction


def _after_debug(
    direction: Direction | None, fixed: PipelineSpec, how: str, profile: DataProfile
) -> Direction | None:
    """The direction of a debug step whose fix undid the direction's change: what the fix does,
    with the change as ``dropped``. ``None`` while the fix still has the change's shape (sizes
    it scaled down do not count: fewer trees or rows are the same idea, cheaper), or when the
    direction has no machine-readable change to check."""
    if direction is None or not direction.chosen.edit:
        return None
    try:
        carried = fixed.apply(dict(direction.chosen.edit), profile).shape == fixed.shape
    except SpecError:
        carried = False
    if carried:
        return None
    return direction.without_change(f"{how}.")

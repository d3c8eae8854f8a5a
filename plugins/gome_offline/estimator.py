"""The offline gradient estimator: structured, rule-based reasoning over real run signals."""

from __future__ import annotations

from gome_core.interfaces import GradientEstimator, RunContext
from gome_core.logs import get_logger
from gome_core.types import Direction, TraceState
from gome_offline.config import OfflineConfig
from gome_offline.profile import profile_for
from gome_offline.reasoning import reason, rng_for, unstructured
from gome_offline.signals import Signals, spec_of
from gome_offline.spec import default_spec

__all__ = ["DEFAULT_TIMEOUT_S", "OfflineGradientEstimator", "candidate_timeout"]

log = get_logger(__name__)

#: Assumed time-out of a candidate run when neither the config nor the executor says.
DEFAULT_TIMEOUT_S = 3600.0


def candidate_timeout(context: RunContext, config: OfflineConfig) -> float:
    """The time-out candidates run under: the config's, else the executor's, else 3600 s."""
    if config.timeout_s:
        return float(config.timeout_s)
    executor_config = getattr(context.executor, "config", None)
    timeout = getattr(executor_config, "timeout_s", None)
    return float(timeout) if isinstance(timeout, int | float) and timeout > 0 else DEFAULT_TIMEOUT_S


class OfflineGradientEstimator(GradientEstimator):
    """Rule-based structured reasoning (problems, scored hypotheses, selection) over the trace's
    real signals: scores, train/validation gap, fold spread, run time, errors, the data profile.
    Deterministic given the run's seed, the trace and the step."""

    def __init__(self, config: OfflineConfig | None = None) -> None:
        self.config = config or OfflineConfig()

    def signals(self, state: TraceState, context: RunContext) -> Signals:
        """What :meth:`estimate` reads (for tools and tests)."""
        profile = profile_for(context.competition)
        spec = spec_of(state.best)
        known = spec is not None
        if spec is None:
            spec = default_spec(profile, max_folds=self.config.max_folds)
        timeout = candidate_timeout(context, self.config)
        return Signals.read(state, spec, known, timeout, profile.metric.name)

    def estimate(self, state: TraceState, context: RunContext) -> Direction:
        profile = profile_for(context.competition)
        sig = self.signals(state, context)
        rng = rng_for(context.seed, state.trace, state.step)
        if not self.config.structured:
            direction = unstructured(profile, sig, rng, state.cross_trace)
        else:
            direction = reason(
                profile,
                sig,
                rng,
                skill=self.config.skill,
                top_k=self.config.top_k,
                cross_trace=state.cross_trace,
            )
        log.debug(
            "offline direction",
            trace=state.trace,
            step=state.step,
            chosen=direction.chosen.statement,
            problems=len(direction.problems),
            selection=direction.selection,
        )
        return direction

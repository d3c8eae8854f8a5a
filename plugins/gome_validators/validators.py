"""The three levels of Gome's hierarchical validation.

* L1 ``debug-run``: the candidate runs on a small sample (``GOME_DEBUG=1``) with a short time-out;
  it must exit cleanly, write a submission in the sample submission's format and a well-formed
  score file. Failures here are cheap and feed self-repair.
* L2 ``full-run``: the real run under the full time-out, the same checks; the validation score is
  read from the score file (never parsed from prose), its direction comes from the competition.
* L3 ``judge``: does the validation look trustworthy? A score outside the metric's range or a
  suspiciously perfect one (leakage) forces rejection; a large train/validation gap is reported.
"""

from __future__ import annotations

from attrs import frozen

from gome_core.contract import (
    ENSEMBLE_ROW,
    ENV_DEBUG,
    SCORES,
    SUBMISSION,
    ContractError,
    check_submission,
    read_scores,
)
from gome_core.interfaces import RunContext, Validator
from gome_core.types import (
    ExecutionRequest,
    ExecutionResult,
    Node,
    ResourceLimits,
    ValidationReport,
)

__all__ = [
    "DebugRunValidator",
    "FullRunValidator",
    "JudgeConfig",
    "JudgeValidator",
    "RunValidatorConfig",
]


@frozen
class RunValidatorConfig:
    """Settings of a run validator.

    ``timeout_s`` unset: 120 s for the debug run, the executor's own time-out for the full run.
    """

    timeout_s: float | None = None
    memory_mb: int | None = None
    tail_lines: int = 25  # lines of stderr quoted in a failure, for the repair prompt


def _tail(text: str, lines: int) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _failure(result: ExecutionResult) -> str:
    if result.error:
        return f"could not run: {result.error}"
    if result.timed_out:
        return f"timed out after {result.wall_s:.0f}s"
    if result.gpu_out_of_memory:
        return "ran out of GPU memory"
    if result.out_of_memory:
        return "ran out of memory"
    if result.cancelled:
        return "cancelled"
    if result.signal is not None:
        return f"killed by signal {result.signal}"
    return f"exited with code {result.exit_code}"


class _RunValidator(Validator):
    name = ""
    debug = False

    default_timeout_s: float | None = None

    def __init__(self, config: RunValidatorConfig | None = None) -> None:
        self.config = config or RunValidatorConfig()

    def validate(self, node: Node, context: RunContext) -> ValidationReport:
        competition = context.competition
        request = ExecutionRequest(
            node.candidate,
            input_dir=competition.public_dir,
            env={ENV_DEBUG: "1"} if self.debug else {},
            limits=ResourceLimits(
                timeout_s=self.config.timeout_s or self.default_timeout_s,
                memory_mb=self.config.memory_mb,
            ),
            label="debug" if self.debug else "full",
            hidden=context.hidden,
        )
        result = context.executor.run(request)
        details: dict[str, object] = {"run": request.label, "wall_s": result.wall_s}
        reasons: list[str] = []
        if not result.ok:
            reasons.append(_failure(result))
            stderr = _tail(result.stderr_tail, self.config.tail_lines)
            if stderr:
                reasons.append(stderr)
        elif result.workspace is None:
            reasons.append("the executor reported no workspace to read the outputs from")
        else:
            reasons += check_submission(
                result.workspace / SUBMISSION,
                competition.public_dir / competition.sample_submission,
            )
            try:
                scores = read_scores(result.workspace / SCORES, competition.metric.name)
                details["scores"] = scores
            except ContractError as exc:
                reasons.append(str(exc))
        if reasons:
            return ValidationReport(
                validator=self.name,
                passed=False,
                reasons=tuple(reasons),
                level=self.level,
                details=details,
                result=result,
            )
        score = None if self.debug else scores[ENSEMBLE_ROW][competition.metric.name]
        return ValidationReport(
            validator=self.name,
            passed=True,
            score=score,
            level=self.level,
            details=details,
            result=result,
        )


class DebugRunValidator(_RunValidator):
    """L1: a quick run on a sample (GOME_DEBUG=1); checks exit, submission format, score file."""

    name, debug, level = "debug-run", True, 1
    default_timeout_s = 120.0


class FullRunValidator(_RunValidator):
    """L2: the full run; the same checks, and the validation score from the score file."""

    name, debug, level = "full-run", False, 2


#: Valid ranges of common metrics, by name without separators ("roc-auc" -> "rocauc").
_RANGES: dict[str, tuple[float, float]] = {
    **dict.fromkeys(("accuracy", "rocauc", "auc", "f1", "balancedaccuracy"), (0.0, 1.0)),
    **dict.fromkeys(
        ("logloss", "multiclasslogloss", "rmse", "rmsle", "mae", "mse"), (0.0, float("inf"))
    ),
}


def _metric_key(name: str) -> str:
    return "".join(c for c in name.lower() if c.isalnum())


@frozen
class JudgeConfig:
    """Settings of the offline judge."""

    reject_perfect: bool = True  # a perfect validation score is taken as leakage
    max_relative_gap: float = 0.5  # train/validation gap (relative) reported as over-fitting
    reject_overfit: bool = False


class JudgeValidator(Validator):
    """L3: rejects misaligned or leaky validation; reports over-fitting."""

    level = 3

    def __init__(self, config: JudgeConfig | None = None) -> None:
        self.config = config or JudgeConfig()

    def validate(self, node: Node, context: RunContext) -> ValidationReport:
        metric = context.competition.metric
        name = _metric_key(metric.name)
        score = node.score
        reasons: list[str] = []
        details: dict[str, object] = {}
        if score is None:
            return ValidationReport.fail("judge", "no validation score to judge", level=3)
        low, high = _RANGES.get(name, (float("-inf"), float("inf")))
        if not low <= score <= high:
            reasons.append(
                f"{metric.name} = {score} lies outside [{low}, {high}]: the "
                f"validation does not compute the competition's metric"
            )
        perfect = high if not metric.lower_is_better else low
        if self.config.reject_perfect and score == perfect and name in _RANGES:
            reasons.append(
                f"a perfect validation {metric.name} ({score}) suggests leakage "
                f"(the target or test answers reached the features)"
            )
        train = self._train_score(node, metric.name)
        if train is not None:
            gap = (score - train) if metric.lower_is_better else (train - score)
            relative = gap / max(abs(score), 1e-12)
            details["train_score"], details["gap"] = train, gap
            if relative > self.config.max_relative_gap:
                details["overfitting"] = True
                if self.config.reject_overfit:
                    reasons.append(f"over-fitting: train {train:.4g} vs validation {score:.4g}")
        if reasons:
            return ValidationReport("judge", False, tuple(reasons), score, 3, details)
        return ValidationReport("judge", True, (), score, 3, details)

    @staticmethod
    def _train_score(node: Node, metric: str) -> float | None:
        for report in reversed(node.reports):
            scores = report.details.get("scores")
            if isinstance(scores, dict) and ENSEMBLE_ROW in scores:
                value = scores[ENSEMBLE_ROW].get(f"train_{metric.lower()}")
                return float(value) if value is not None else None
        return None

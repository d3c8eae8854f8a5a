"""Signals: what the offline reasoning reads from a trace, all of it real.

From the trace's best node: the per-model validation and training scores (the validators put
the parsed ``scores.csv`` rows into ``ValidationReport.details["scores"]``; the score file in the
run's workspace is read when they do not), the fold scores printed by the program, its run time;
from the trace's latest failed node: how it failed (time-out, out of memory, an exception and its
type); from memory: what was tried, accepted and rejected.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from attrs import field, frozen

from gome_core.types import ExecutionResult, Hypothesis, Node, TraceState
from gome_offline.spec import SPEC_FILE, PipelineSpec, SpecError

__all__ = [
    "Failure",
    "ModelScore",
    "Signals",
    "edit_signature",
    "fold_scores",
    "model_scores",
    "read_failure",
    "spec_of",
]

#: ``[fold 2/5] hist_gbm: valid roc-auc=0.912340 train=0.990000 (1.3s)``
_FOLD_LINE = re.compile(
    r"^\[fold (\d+)/(\d+)\] (\S+): valid \S+=(-?[\d.]+(?:e[-+]?\d+)?|nan) "
    r"train=(-?[\d.]+(?:e[-+]?\d+)?|nan)",
    re.MULTILINE,
)
_EXCEPTION = re.compile(r"^(\w+(?:\.\w+)*(?:Error|Exception|Interrupt|Warning)):?\s*(.*)$")


@frozen
class ModelScore:
    """One row of a score file: a model's validation score and its score on training rows."""

    valid: float | None
    train: float | None = None


@frozen
class Failure:
    """How the trace's latest failed candidate failed.

    ``kind`` is ``timeout``, ``oom``, ``error`` (an exception: ``error_type`` and ``message``
    from the stderr tail) or ``invalid`` (it ran, but a validator rejected it).
    """

    kind: str
    node_id: str
    error_type: str = ""
    message: str = ""
    spec: PipelineSpec | None = None
    reasons: tuple[str, ...] = field(default=(), converter=tuple)


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _rows_to_scores(rows: Iterable[Mapping[str, Any]], metric: str) -> dict[str, ModelScore]:
    scores: dict[str, ModelScore] = {}
    for row in rows:
        name = str(row.get("model", ""))
        if not name:
            continue
        scores[name] = _score_from(row, metric)
    return scores


def _score_from(values: Mapping[str, Any], metric: str) -> ModelScore:
    valid = values.get(metric)
    if valid is None:  # another name for the metric: the first non-train number
        valid = next(
            (v for k, v in values.items() if k != "model" and not str(k).startswith("train_")),
            None,
        )
    train = values.get(f"train_{metric}")
    if train is None:
        train = next((v for k, v in values.items() if str(k).startswith("train_")), None)
    return ModelScore(_number(valid), _number(train))


def model_scores(node: Node | None, metric: str) -> dict[str, ModelScore]:
    """Per-model scores of ``node``: from ``details["scores"]`` of its reports (the last report
    that has them), else from ``scores.csv`` in its run's workspace; ``{}`` when neither exists.

    ``details["scores"]`` may be ``{model: {metric: v, "train_" + metric: v}}`` or a list of rows
    ``[{"model": ..., metric: ..., ...}]``.
    """
    if node is None:
        return {}
    for report in reversed(node.reports):
        raw = report.details.get("scores")
        if isinstance(raw, Mapping) and raw:
            return {
                str(k): _score_from(v, metric) if isinstance(v, Mapping) else ModelScore(_number(v))
                for k, v in raw.items()
            }
        if isinstance(raw, list | tuple) and raw:
            return _rows_to_scores((r for r in raw if isinstance(r, Mapping)), metric)
    for result in _results(node):
        if result.workspace is not None:
            path = Path(result.workspace) / "scores.csv"
            try:
                with path.open(newline="") as handle:
                    return _rows_to_scores(csv.DictReader(handle), metric)
            except (OSError, csv.Error, UnicodeDecodeError):
                continue
    return {}


def _results(node: Node) -> list[ExecutionResult]:
    """The runs of ``node``: its own result first, then those its validators made (last first)."""
    runs: list[ExecutionResult] = []
    for run in (node.result, *(r.result for r in reversed(node.reports))):
        if run is not None and run not in runs:  # a validator's run is often the node's own
            runs.append(run)
    return runs


def fold_scores(stdout: str) -> dict[str, list[float]]:
    """Per-model validation scores of each fold, from the program's ``[fold i/k]`` lines."""
    folds: dict[str, list[float]] = {}
    for match in _FOLD_LINE.finditer(stdout):
        value = _number(match.group(4))
        if value is not None:
            folds.setdefault(match.group(3), []).append(value)
    return folds


def spec_of(node: Node | None) -> PipelineSpec | None:
    """The pipeline spec a candidate carries in ``pipeline.json``, if any (and valid)."""
    if node is None or SPEC_FILE not in node.candidate.files:
        return None
    try:
        return PipelineSpec.from_json(node.candidate.files[SPEC_FILE])
    except SpecError:
        return None


def _exception(stderr: str) -> tuple[str, str]:
    for line in reversed(stderr.strip().splitlines()):
        match = _EXCEPTION.match(line.strip())
        if match and not match.group(1).endswith("Warning"):
            return match.group(1).rsplit(".", 1)[-1], match.group(2).strip()
    return "", ""


def read_failure(node: Node, feedback: str = "") -> Failure | None:
    """How ``node`` failed, or ``None`` when it did not."""
    if not node.buggy:
        return None
    spec = spec_of(node)
    texts = [feedback, node.error or ""]
    timed_out = out_of_memory = False
    error_type = message = ""
    for result in _results(node):
        timed_out |= result.timed_out
        out_of_memory |= result.out_of_memory
        if not error_type:
            error_type, message = _exception(result.stderr_tail)
        texts.append(result.error or "")
    reasons = tuple(r for report in node.reports for r in report.reasons)
    text = " ".join([*texts, *reasons]).lower()
    if (
        error_type == "MemoryError"
        or out_of_memory
        or "memoryerror" in text
        or "out of memory" in text
    ):
        kind = "oom"
    elif timed_out or "timed out" in text or "time-out" in text or "timeout" in text:
        kind = "timeout"
    elif error_type or any(r.exit_code not in (0, None) for r in _results(node)):
        kind = "error"
    else:
        kind = "invalid"
    return Failure(kind, node.id, error_type, message[:300], spec, reasons)


def edit_signature(edit: Mapping[str, Any]) -> frozenset[tuple[str, Any]]:
    """What a change does, for spotting repeats: numbers reduce to their key (two learning rates
    are the same idea), other values are kept."""
    items = set()
    for key, value in edit.items():
        if isinstance(value, bool) or value is None or isinstance(value, str):
            items.add((key, value))
        elif isinstance(value, int | float):
            items.add((key, "number"))
        elif isinstance(value, Mapping):
            items.add((key, str(value.get("family", ""))))
        elif isinstance(value, list | tuple):
            families = sorted(
                str(v.get("family", "")) if isinstance(v, Mapping) else str(v) for v in value
            )
            items.add((key, tuple(families)))
        else:
            items.add((key, str(value)))
    return frozenset(items)


@frozen
class Signals:
    """Everything the reasoning reads, gathered once per estimate."""

    trace: int
    stage: str
    spec: PipelineSpec
    spec_known: bool
    best: Node | None
    best_score: float | None
    scores: Mapping[str, ModelScore]
    folds: Mapping[str, tuple[float, ...]]
    wall_s: float | None
    timeout_s: float
    failure: Failure | None
    stalled: int
    gains: tuple[float, ...]
    tried: tuple[Hypothesis, ...]
    succeeded: tuple[Hypothesis, ...]
    avoid: tuple[Hypothesis, ...]
    early: bool
    #: Sibling traces' choices still in flight: kept apart from ``avoid`` so the reasoning can
    #: say which it is, and treated alike (a sibling is already on it).
    pursuing: tuple[Hypothesis, ...] = ()

    @classmethod
    def read(
        cls, state: TraceState, spec: PipelineSpec, spec_known: bool, timeout_s: float, metric: str
    ) -> Signals:
        best = state.best
        scores = model_scores(best, metric)
        stdout = ""
        wall = None
        if best is not None:
            runs = _results(best)
            stdout = "\n".join(r.stdout_tail for r in runs)
            wall = max((r.wall_s for r in runs), default=None)
        failure = None
        latest = state.history[-1] if state.history else None
        if latest is not None and (best is None or latest.id != best.id):
            feedback = next(
                (f.feedback for f in reversed(state.failures) if f.node_id == latest.id), ""
            )
            failure = read_failure(latest, feedback)
        own = [e for e in (*state.successes, *state.failures) if e.trace == state.trace]
        tried = [e.hypothesis for e in own]
        for node in state.history:
            direction = node.candidate.direction
            if direction is not None:
                tried.append(direction.chosen)
                if direction.dropped is not None:  # failed, then rewritten away by a repair
                    tried.append(direction.dropped)
        succeeded = [e.hypothesis for e in own if e.accepted]
        if best is not None and best.candidate.direction is not None:
            succeeded.append(best.candidate.direction.chosen)
        gains = tuple(
            abs(e.score_after - e.score_before)
            for e in state.successes
            if e.trace == state.trace and e.score_after is not None and e.score_before is not None
        )
        own_successes = sum(1 for e in state.successes if e.trace == state.trace)
        if state.time_used < 0.1:
            stage = "draft"
        elif state.time_used > 0.7:
            stage = "ensemble"
        else:
            stage = "improve"
        return cls(
            trace=state.trace,
            stage=stage,
            spec=spec,
            spec_known=spec_known,
            best=best,
            best_score=best.score if best is not None else None,
            scores=scores,
            folds={k: tuple(v) for k, v in fold_scores(stdout).items()},
            wall_s=wall,
            timeout_s=timeout_s,
            failure=failure,
            # Steps, not entries: a step whose repair dropped its change has two.
            stalled=len(
                {f.node_id or i for i, f in enumerate(state.failures) if f.trace == state.trace}
            ),
            gains=gains,
            tried=tuple(tried),
            succeeded=tuple(succeeded),
            avoid=tuple(state.avoid),
            early=best is None or own_successes < 2,
            pursuing=tuple(state.pursuing),
        )

    @property
    def siblings(self) -> tuple[Hypothesis, ...]:
        """Sibling traces' hypotheses, of finished steps and of steps in flight."""
        return (*self.avoid, *self.pursuing)

    @property
    def main_score(self) -> ModelScore | None:
        """The ensemble row, else the best node's only row."""
        if "ensemble" in self.scores:
            return self.scores["ensemble"]
        return next(iter(self.scores.values()), None)

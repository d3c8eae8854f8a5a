"""Value types that flow between gome's parts.

All are frozen attrs classes: safe to share between threads, to journal (cattrs unstructures them to
plain JSON) and to compare. Build them with their named constructors where one exists.

The vocabulary follows the optimisation analogy of the Gome paper: a :class:`Candidate` is the
parameter vector, a :class:`Direction` the gradient, a :class:`Node` one evaluated point.
"""

from __future__ import annotations

import math
import types
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs
from attrs import field, frozen

__all__ = [
    "Budget",
    "Candidate",
    "CodeRequest",
    "CompetitionRef",
    "Direction",
    "ExecutionRequest",
    "ExecutionResult",
    "Hypothesis",
    "HypothesisScores",
    "LLMRequest",
    "LLMResponse",
    "LLMUsage",
    "MemoryEntry",
    "Message",
    "Metric",
    "Node",
    "Problem",
    "Proposal",
    "ResourceLimits",
    "RunInfo",
    "TraceState",
    "ValidationReport",
]


def _frozen_mapping(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return types.MappingProxyType(dict(value or {}))


# --------------------------------------------------------------------------- the task


@frozen
class Metric:
    """A competition's metric: its name and which way is better.

    The direction always comes from the competition, never from an LLM.
    """

    name: str
    lower_is_better: bool = False

    def better(self, a: float | None, b: float | None) -> bool:
        """Whether score ``a`` is strictly better than ``b`` (``None`` is worst)."""
        if a is None or (isinstance(a, float) and math.isnan(a)):
            return False
        if b is None or (isinstance(b, float) and math.isnan(b)):
            return True
        return a < b if self.lower_is_better else a > b

    def best(self, scores: Iterable[float | None]) -> float | None:
        """The best of ``scores``, ``None`` when none is a number."""
        best: float | None = None
        for score in scores:
            if self.better(score, best):
                best = score
        return best


@frozen
class CompetitionRef:
    """What an agent may know about a competition: its public side only.

    ``public_dir`` holds the files a candidate sees as ``./input/``; private answers are never
    reachable from a ``CompetitionRef``.
    """

    id: str
    public_dir: Path = field(converter=Path)
    description: str
    metric: Metric
    sample_submission: str = "sample_submission.csv"


# --------------------------------------------------------------------------- budgets and usage


@frozen
class Budget:
    """Limits of a run; whichever is reached first ends it. ``None`` means unlimited."""

    steps: int | None = None
    hours: float | None = None
    tokens: int | None = None
    usd: float | None = None

    def exhausted_by(
        self, *, steps: int = 0, hours: float = 0.0, tokens: int = 0, usd: float = 0.0
    ) -> str | None:
        """The name of the first limit that the given consumption reaches, else ``None``."""
        for name, used in (("steps", steps), ("hours", hours), ("tokens", tokens), ("usd", usd)):
            limit = getattr(self, name)
            if limit is not None and used >= limit:
                return name
        return None


@frozen
class LLMUsage:
    """Tokens, money and time spent on LLM calls; ``+`` adds two usages."""

    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    usd: float = 0.0
    latency_s: float = 0.0
    calls: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def __add__(self, other: LLMUsage) -> LLMUsage:
        if not isinstance(other, LLMUsage):
            return NotImplemented
        return LLMUsage(
            *(getattr(self, a.name) + getattr(other, a.name) for a in attrs.fields(LLMUsage))
        )


# --------------------------------------------------------------------------- LLM exchanges


@frozen
class Message:
    """One chat message; ``role`` is ``"user"`` or ``"assistant"``."""

    role: str = field(validator=attrs.validators.in_(("user", "assistant")))
    content: str

    @classmethod
    def user(cls, content: str) -> Message:
        return cls("user", content)

    @classmethod
    def assistant(cls, content: str) -> Message:
        return cls("assistant", content)


@frozen
class LLMRequest:
    """A typed request to an LLM backend.

    When ``schema`` is an attrs class the backend asks its provider for structured output of that
    shape (JSON schema, tool use) and returns the parsed instance in :attr:`LLMResponse.parsed`.
    """

    messages: tuple[Message, ...] = field(converter=tuple)
    system: str | None = None
    schema: type | None = None
    max_output_tokens: int | None = None
    temperature: float | None = None
    purpose: str = "generic"  # e.g. "reasoning", "code", "judge": for accounting and replay


@frozen
class LLMResponse:
    """A backend's answer: the text, the parsed object when a schema was asked, and its cost."""

    text: str
    model: str
    usage: LLMUsage = LLMUsage()
    parsed: Any = None


# --------------------------------------------------------------------------- the gradient


@frozen
class Problem:
    """A diagnosed weakness of the current solution (one element of the diagnosis)."""

    statement: str
    reasoning: str = ""
    category: str = "general"  # e.g. "data", "features", "model", "validation", "time", "memory"
    expected_impact: str = ""
    critical: bool = False


@frozen
class HypothesisScores:
    """The five 1-10 scores of a hypothesis (Gome's multi-dimensional scoring)."""

    alignment: float
    impact: float
    novelty: float
    feasibility: float
    risk_reward: float

    #: The paper's weights, in field order.
    DEFAULT_WEIGHTS = (0.2, 0.4, 0.2, 0.1, 0.1)

    def weighted(self, weights: tuple[float, ...] = DEFAULT_WEIGHTS) -> float:
        values = attrs.astuple(self)
        return float(sum(w * v for w, v in zip(weights, values, strict=True)))


@frozen
class Hypothesis:
    """One decisive, testable change, tagged with the pipeline component it touches."""

    statement: str
    component: str = "model"  # data loading | features | model | ensemble | workflow
    problem: Problem | None = None
    scores: HypothesisScores | None = None
    rationale: str = ""
    #: A machine-readable form of the change, for implementers that understand it (e.g. the
    #: offline reasoner's ``{"model.family": "hist_gbm"}``); LLM implementers read ``statement``.
    edit: Mapping[str, Any] = field(factory=dict, converter=_frozen_mapping)

    @property
    def score(self) -> float | None:
        return None if self.scores is None else self.scores.weighted()


@frozen
class Direction:
    """The gradient: the diagnosis of the current best and the one change chosen.

    ``problems`` and ``candidates`` keep the whole reasoning for the journal and report;
    ``chosen`` is what the implementer applies. ``dropped`` is set on a repaired candidate whose
    fix no longer carries the change the step chose (its code was rewritten another way): it is
    that hypothesis, and ``chosen`` says what the code does instead.
    """

    chosen: Hypothesis
    problems: tuple[Problem, ...] = field(default=(), converter=tuple)
    candidates: tuple[Hypothesis, ...] = field(default=(), converter=tuple)
    selection: str = ""  # how `chosen` was picked, e.g. "top-k sample", "llm selector"
    dropped: Hypothesis | None = None

    def without_change(self, fix: str) -> Direction:
        """This direction for a repair whose fix left the chosen change out: ``chosen`` becomes
        what the fix does ("Debug: <fix>"), ``dropped`` the change it left out."""
        rewrite = Hypothesis(
            statement=f"Debug: {fix}", component="workflow", problem=self.chosen.problem
        )
        return attrs.evolve(self, chosen=rewrite, dropped=self.chosen)


# --------------------------------------------------------------------------- candidates


@frozen
class Candidate:
    """A solution program and its lineage.

    ``files`` maps relative paths to text; ``main.py`` is the entry point by the candidate
    contract: read ``./input/``, write ``./submission/submission.csv`` and a score file.
    """

    id: str
    files: Mapping[str, str] = field(converter=_frozen_mapping)
    parents: tuple[str, ...] = field(default=(), converter=tuple)
    operator: str = "draft"  # draft | improve | debug | crossover | step
    plan: str = ""
    trace: int | None = None
    direction: Direction | None = None

    ENTRY_POINT = "main.py"

    @classmethod
    def from_code(cls, id: str, code: str, **kwargs: Any) -> Candidate:
        """A candidate made of one ``main.py``."""
        return cls(id=id, files={cls.ENTRY_POINT: code}, **kwargs)

    @property
    def code(self) -> str:
        """The entry point's source."""
        return self.files.get(self.ENTRY_POINT, "")


# --------------------------------------------------------------------------- execution


@frozen
class ResourceLimits:
    """Limits for one execution. ``None`` leaves a limit to the executor's configuration."""

    timeout_s: float | None = None
    memory_mb: int | None = None
    cpus: float | None = None
    gpus: int = 0


@frozen
class ExecutionRequest:
    """What an executor needs to run a candidate.

    ``input_dir`` (the competition's public files) appears read-only as ``./input/``; ``command``
    defaults to running the entry point with the executor's interpreter (a relative ``command[0]``
    is looked up on the candidate's ``PATH``, or in the workspace when it holds a ``/``); ``env``
    adds variables to the scrubbed environment (names that look like secrets are refused);
    ``limits`` override the executor's configured time-out, memory cap and CPU share.
    ``owner`` names who the run belongs to (``trace-2`` for a candidate of trace 2, the default;
    empty for a candidate of no trace): executors that share scarce devices among runs, such as
    GPUs, keep one owner's runs on the same devices and apart from other owners'.
    """

    candidate: Candidate
    input_dir: Path | None = field(default=None, converter=attrs.converters.optional(Path))
    command: tuple[str, ...] | None = None
    limits: ResourceLimits = ResourceLimits()
    env: Mapping[str, str] = field(factory=dict, converter=_frozen_mapping)
    label: str = ""  # e.g. "debug" or "full": becomes part of the workspace name
    #: Paths the candidate must not read (the competition's private answers, its raw data);
    #: executors that can mask paths do so.
    hidden: tuple[Path, ...] = field(default=(), converter=lambda ps: tuple(Path(p) for p in ps))
    owner: str = field(
        default=attrs.Factory(lambda self: _owner_of(self.candidate), takes_self=True)
    )


def _owner_of(candidate: object) -> str:
    trace = getattr(candidate, "trace", None)
    return f"trace-{trace}" if trace is not None else ""


@frozen
class ExecutionResult:
    """What happened when a candidate ran.

    ``error`` is set when the executor could not run the candidate at all (missing interpreter,
    full disk); the flags say how a started run ended (``signal`` is set, ``exit_code`` is not,
    when a signal ended it). ``cpu_s`` and ``peak_memory_mb`` are measured for this candidate
    alone; ``stdout_tail`` and ``stderr_tail`` hold at most ``output_cap_bytes`` each.
    ``workspace`` is where the run's files lie and ``produced`` lists, relative to it, the files
    the run wrote (``submission/submission.csv``, the score file), scratch in ``working/`` aside.
    ``notes`` state guarantees the executor could not give on this machine, one per line, each
    starting with its key (e.g. ``"network: not isolated (...)"``).
    Executors that lease GPUs fill the ``gpu_`` fields: the devices the run was given, the peak
    memory used on them (MiB) and their mean utilisation (percent) while it ran, and whether it
    failed by running out of GPU memory. ``reused_from`` names the candidate whose identical run
    this result repeats, when the run was not started again (see
    :class:`~gome_core.executors.ReusingExecutor`).
    """

    exit_code: int | None
    wall_s: float = 0.0
    cpu_s: float = 0.0
    peak_memory_mb: float | None = None
    signal: int | None = None
    timed_out: bool = False
    out_of_memory: bool = False
    cancelled: bool = False
    stdout_tail: str = ""
    stderr_tail: str = ""
    output_cap_bytes: int = 0
    output_truncated: bool = False
    workspace: Path | None = field(default=None, converter=attrs.converters.optional(Path))
    produced: tuple[str, ...] = field(default=(), converter=tuple)
    error: str | None = None
    notes: tuple[str, ...] = field(default=(), converter=tuple)
    gpu_devices: tuple[str, ...] = field(default=(), converter=tuple)
    gpu_peak_memory_mb: float | None = None
    gpu_utilization: float | None = None
    gpu_out_of_memory: bool = False
    reused_from: str | None = None

    @classmethod
    def not_run(
        cls,
        error: str | None = None,
        *,
        output_cap_bytes: int = 0,
        cancelled: bool = False,
        **fields: Any,
    ) -> ExecutionResult:
        """A candidate that never started: bad input, a closed executor, a cancel before start."""
        return cls(
            exit_code=None,
            output_cap_bytes=output_cap_bytes,
            cancelled=cancelled,
            error=error,
            **fields,
        )

    @property
    def ok(self) -> bool:
        """Exited with code 0, in time, within memory, without an executor error."""
        return (
            self.error is None
            and self.exit_code == 0
            and not (
                self.timed_out or self.out_of_memory or self.gpu_out_of_memory or self.cancelled
            )
        )

    @property
    def outcome(self) -> str:
        """One word for reports: ok, error, timeout, gpu-oom, oom, cancelled, signal or failed."""
        if self.error is not None:
            return "error"
        if self.timed_out:
            return "timeout"
        if self.gpu_out_of_memory:
            # Before ``oom``: a host-memory check that reads error text can match CUDA's too.
            return "gpu-oom"
        if self.out_of_memory:
            return "oom"
        if self.cancelled:
            return "cancelled"
        if self.signal is not None:
            return "signal"
        return "ok" if self.exit_code == 0 else "failed"


# --------------------------------------------------------------------------- validation and nodes


@frozen
class ValidationReport:
    """One validator's verdict on one executed candidate.

    ``score`` is the validation score the validator read (from the score file, never from prose).
    ``level`` is set by the engine to the validator's own ``level``; a report need not repeat it.
    ``details`` holds what the validator measured, for people and the journal (JSON-ready values).
    """

    validator: str
    passed: bool
    reasons: tuple[str, ...] = field(default=(), converter=tuple)
    score: float | None = None
    level: int = 0
    details: Mapping[str, Any] = field(factory=dict, converter=_frozen_mapping)
    #: The run this validator made of the candidate, if it ran it (a debug or a full run).
    result: ExecutionResult | None = None

    @classmethod
    def ok(
        cls,
        validator: str,
        *,
        score: float | None = None,
        level: int = 0,
        result: ExecutionResult | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> ValidationReport:
        """A pass. Give ``result`` when the validator ran the candidate itself: the engine
        keeps it as the node's result."""
        return cls(
            validator=validator,
            passed=True,
            score=score,
            level=level,
            details=details,
            result=result,
        )

    @classmethod
    def fail(
        cls,
        validator: str,
        *reasons: str,
        level: int = 0,
        result: ExecutionResult | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> ValidationReport:
        """A rejection for ``reasons``. Give ``result`` when the validator ran the candidate
        itself: the engine keeps it as the node's result, and a repair sees it."""
        return cls(
            validator=validator,
            passed=False,
            reasons=reasons,
            level=level,
            details=details,
            result=result,
        )


@frozen
class Node:
    """An evaluated candidate: one point the optimizer has seen.

    Shared by Gome traces and search trees: ``candidate`` carries code, plan, parents and operator;
    the rest is what running and validating it showed.
    """

    candidate: Candidate
    result: ExecutionResult | None = None
    reports: tuple[ValidationReport, ...] = field(default=(), converter=tuple)
    score: float | None = None
    analysis: str = ""
    debug_depth: int = 0
    usage: LLMUsage = LLMUsage()
    error: str | None = None  # a failure of the step itself (plugin exception, bad LLM answer)

    @property
    def id(self) -> str:
        return self.candidate.id

    @property
    def buggy(self) -> bool:
        """Failed to run, produced no score, or a validator rejected it."""
        return (
            self.error is not None
            or self.result is None
            or not self.result.ok
            or self.score is None
            or not all(r.passed for r in self.reports)
        )


# --------------------------------------------------------------------------- optimizer bookkeeping


@frozen
class MemoryEntry:
    """One step remembered by success memory (momentum): what was tried, where, and the outcome."""

    trace: int
    step: int
    hypothesis: Hypothesis
    accepted: bool
    node_id: str = ""
    score_before: float | None = None
    score_after: float | None = None
    feedback: str = ""


@frozen
class TraceState:
    """What the reasoning sees of one trace when it computes the next direction.

    ``successes`` are all accepted steps (momentum), ``failures`` only those since the last
    acceptance; ``avoid`` holds sibling traces' hypotheses that this trace must differ from
    (forced diversification): those of finished steps, while ``pursuing`` holds those of the
    siblings' steps still in flight; ``time_used`` is the fraction of the time budget spent, in
    [0, 1].
    """

    trace: int
    step: int = 0
    best: Node | None = None
    history: tuple[Node, ...] = field(default=(), converter=tuple)
    successes: tuple[MemoryEntry, ...] = field(default=(), converter=tuple)
    failures: tuple[MemoryEntry, ...] = field(default=(), converter=tuple)
    cross_trace: tuple[MemoryEntry, ...] = field(default=(), converter=tuple)
    avoid: tuple[Hypothesis, ...] = field(default=(), converter=tuple)
    time_used: float = 0.0
    pursuing: tuple[Hypothesis, ...] = field(default=(), converter=tuple)


@frozen
class CodeRequest:
    """What an implementer is asked to write.

    ``operator`` names the kind of change: ``draft`` (from scratch), ``improve`` or ``step`` (apply
    ``direction`` to ``base``), ``debug`` (fix ``base`` given ``feedback``), ``crossover`` (combine
    ``base`` with ``others``).
    """

    operator: str
    candidate_id: str
    base: Node | None = None
    direction: Direction | None = None
    others: tuple[Node, ...] = field(default=(), converter=tuple)
    feedback: str = ""
    trace: int | None = None


@frozen
class Proposal:
    """A piece of work an optimizer hands to the engine: which trace or node to extend, and how.

    ``payload`` is the optimizer's own data, carried back to it unchanged in ``tell``.
    """

    id: str
    operator: str
    trace: int | None = None
    parents: tuple[str, ...] = field(default=(), converter=tuple)
    payload: Any = None


@frozen
class RunInfo:
    """Identifies a run for observers (run hooks): where it lives and how it was configured."""

    run_id: str
    run_dir: Path = field(converter=Path)
    competition_id: str
    preset: str | None = None
    config: Mapping[str, Any] = field(factory=dict, converter=_frozen_mapping)

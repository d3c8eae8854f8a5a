"""The abstract interfaces every component implements.

Each is a small abstract class with a few methods (optuna-style strategies). Plugins subclass them
and register a factory through a hook in :mod:`gome_core.hookspecs`; the engine only ever talks to
these interfaces, so it never knows which optimizer, backend or executor it drives.

Thread safety: the engine runs several steps at once, so ``LLMBackend.complete``,
``Executor.run``, ``Validator.validate``, ``Implementer.implement`` and
``GradientEstimator.estimate`` may be called from several threads concurrently. ``Optimizer``,
``Momentum`` and ``TraceCoordinator`` are called from the engine's own thread only, except where a
method says otherwise.
"""

from __future__ import annotations

import abc
import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar

from attrs import define, field, frozen

from gome_core.types import (
    Budget,
    Candidate,
    CodeRequest,
    CompetitionRef,
    Direction,
    ExecutionRequest,
    ExecutionResult,
    Hypothesis,
    LLMRequest,
    LLMResponse,
    MemoryEntry,
    Node,
    Proposal,
    TraceState,
    ValidationReport,
)

if TYPE_CHECKING:
    import structlog

_Item = TypeVar("_Item")
_Result = TypeVar("_Result")

__all__ = [
    "CellRunner",
    "Executor",
    "GradientEstimator",
    "Implementer",
    "LLMBackend",
    "LostCell",
    "Momentum",
    "Optimizer",
    "RunContext",
    "TraceCoordinator",
    "Validator",
]


class LLMBackend(abc.ABC):
    """A language model behind a provider's API (or an offline stand-in).

    ``complete`` returns the answer with usage, cost, latency and the exact model id. When
    ``request.schema`` is set, ``response.parsed`` is an instance of it, validated; an answer that
    cannot be made to fit raises an error that fails the calling step only.
    """

    #: The model id as the provider names it, e.g. ``"gpt-5"``.
    model: str = ""
    #: The model's context window in tokens when configured; ``None``: gome's table of known
    #: models decides (:func:`gome_core.llm.context_window`). Prompts are fitted to it.
    context_window: int | None = None

    @abc.abstractmethod
    def complete(self, request: LLMRequest) -> LLMResponse:
        """Answer ``request``. Must be safe to call from several threads at once."""

    def close(self) -> None:  # noqa: B027 - optional hook, most backends hold nothing
        """Release connections; called once when the run ends."""

    def interrupt(self) -> None:  # noqa: B027 - optional hook, most backends never wait
        """Give up the waits in progress (for an answer, or a retry's backoff): the run is being
        interrupted, or its time is up while steps wait on the model.

        Calls waiting now fail at once; later calls are not affected. Called from another
        thread, possibly many times: return quickly, and do not call :meth:`complete`."""


class Executor(abc.ABC):
    """Runs a candidate program in a sandbox and reports what happened.

    The contract (checked by :class:`gome_core.testing.ExecutorSuite`; see ``docs/executors.md``):

    * each run gets its own workspace: the candidate's files at the root, ``input/`` with the
      public files of ``request.input_dir`` (read-only: the originals can never be changed through
      it, and nothing beside them, such as private answers, is reachable from it), ``working/``
      for scratch and ``submission/``;
    * the time-out ends the candidate's whole process tree (SIGTERM, then SIGKILL), also processes
      that ignore SIGTERM or leave its process group; so does the end of a run, whatever way it
      ended: nothing a candidate started outlives its run;
    * a memory cap that is hit is reported as ``out_of_memory``; secrets of the parent process
      never reach the candidate; output is kept as tails of at most ``output_cap_bytes``;
    * a guarantee that cannot be given on this machine is stated in ``result.notes``, one line
      per guarantee, starting with its key (``network: ...``, ``memory: ...``, ``input: ...``,
      ``tree: ...``).

    A result is always returned, also when the candidate could not be started (then
    ``result.error`` says why: no entry point, an interpreter or command that does not exist, a
    full disk); ``run`` raises only for a bug in the executor itself. ``run`` is safe to call from
    several threads at once; ``cancel`` ends every run in flight, from any thread.
    """

    @abc.abstractmethod
    def run(self, request: ExecutionRequest) -> ExecutionResult:
        """Run ``request.candidate`` with ``request.input_dir`` as read-only ``./input/``."""

    @abc.abstractmethod
    def cancel(self) -> None:
        """End every candidate now in flight; their results report ``cancelled``.

        Runs started after the call are not affected (the engine re-validates after a cancel).
        """

    def hardware(self) -> dict[str, object]:
        """Facts about the hardware candidates run on (CPUs, memory, GPUs), for prompts."""
        return {}

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources; cancels what is still in flight."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@define
class RunContext:
    """What components may use while a run is in progress.

    The engine builds one per run. ``llm`` is ``None`` when no backend is configured;
    ``time_used`` (the fraction of the budget spent, in [0, 1]) is updated by the engine as the
    run goes on; ``hardware`` holds facts for prompts (CPUs, GPUs, the full-run time-out).
    ``stopping`` is set when the run stops early (interrupted, or a component crashed): work of
    a step in flight that is not yet started, such as a further LLM call, should not start.
    """

    competition: CompetitionRef
    executor: Executor
    llm: LLMBackend | None = None
    budget: Budget = Budget()
    seed: int = 0
    run_dir: Path | None = None
    time_used: float = 0.0
    hardware: dict[str, object] = field(factory=dict)
    #: Paths no candidate may read (private answers, raw data): pass them in every request.
    hidden: tuple[Path, ...] = ()
    #: Journals an event of the component's own (``emit("reasoning", trace=0, ...)``); thread-safe.
    emit: Callable[..., object] | None = field(default=None, repr=False)
    log: structlog.typing.FilteringBoundLogger | None = field(default=None, repr=False)
    stopping: threading.Event = field(factory=threading.Event, repr=False)


class Validator(abc.ABC):
    """One level of hierarchical validation (cheap to expensive; the chain stops at a failure).

    A validator may run the candidate itself (a debug run on a sample) through
    ``context.executor``. The score it reports comes from the candidate's score file.
    """

    #: Position in the chain: lower levels run first.
    level: int = 0

    @abc.abstractmethod
    def validate(self, node: Node, context: RunContext) -> ValidationReport:
        """Judge ``node``; return a report whose ``passed`` says whether the chain goes on."""


class GradientEstimator(abc.ABC):
    """Computes a direction of improvement (the gradient) for one trace.

    Identifies problems of the trace's best solution, proposes one hypothesis per problem, scores
    them and selects one.
    """

    @abc.abstractmethod
    def estimate(self, state: TraceState, context: RunContext) -> Direction:
        """The direction for the next step of ``state.trace``."""


class Momentum(abc.ABC):
    """Success memory: accepted steps kept for good, failures only since the last acceptance."""

    @abc.abstractmethod
    def record(self, entry: MemoryEntry) -> None:
        """Remember a finished step; an accepted one clears that trace's failures."""

    @abc.abstractmethod
    def successes(self, trace: int | None = None) -> Sequence[MemoryEntry]:
        """Accepted steps of ``trace`` (all traces when ``None``), oldest first."""

    @abc.abstractmethod
    def failures(self, trace: int) -> Sequence[MemoryEntry]:
        """Rejected steps of ``trace`` since its last acceptance, oldest first."""

    @abc.abstractmethod
    def recall(
        self, query: str, *, k: int = 5, exclude_trace: int | None = None
    ) -> Sequence[MemoryEntry]:
        """Up to ``k`` accepted steps most relevant to ``query`` (cross-trace memory)."""


class TraceCoordinator(abc.ABC):
    """Schedules N parallel traces: at most one step in flight per trace, diversified."""

    #: Number of traces; set by :meth:`start`.
    traces: int = 1

    def start(self, traces: int) -> None:
        """Prepare to schedule ``traces`` traces (0 .. traces-1)."""
        self.traces = traces

    @abc.abstractmethod
    def next_trace(self, busy: frozenset[int]) -> int | None:
        """The trace that should take the next step, or ``None`` when all are busy or done."""

    @abc.abstractmethod
    def avoid(self, trace: int) -> Sequence[Hypothesis]:
        """Sibling hypotheses ``trace`` must differ from (empty once it has an acceptance).

        Called from worker threads."""

    @abc.abstractmethod
    def record(self, trace: int, hypothesis: Hypothesis, accepted: bool) -> None:
        """Learn the outcome of a step of ``trace``."""

    def choosing(self, trace: int) -> contextlib.AbstractContextManager[object]:
        """Held while a step of ``trace`` chooses its direction, until :meth:`propose`.

        A coordinator that diversifies traces makes a trace's choice wait here for its siblings'
        choices in progress, so that :meth:`pursuing` can show them. The default waits for
        nothing. Called from worker threads."""
        return contextlib.nullcontext()

    def propose(self, trace: int, hypothesis: Hypothesis) -> None:  # noqa: B027 - optional
        """A step of ``trace`` has chosen ``hypothesis``; it is in flight until :meth:`record`.

        Called from worker threads."""

    def pursuing(self, trace: int) -> Sequence[Hypothesis]:
        """Hypotheses of siblings' steps in flight that ``trace`` must differ from: chosen, not
        yet recorded (empty by default, and once ``trace`` has an acceptance).

        Called from worker threads."""
        return []

    def stage(self, time_used: float) -> str:
        """The time stage: ``draft`` below 10% of the time, ``ensemble`` above 70%, else
        ``improve``."""
        if time_used < 0.1:
            return "draft"
        if time_used > 0.7:
            return "ensemble"
        return "improve"


class Implementer(abc.ABC):
    """Writes a candidate program (the update step ``x' = x_best + Δ(h)``, or a tree operator)."""

    @abc.abstractmethod
    def implement(self, request: CodeRequest, context: RunContext) -> Candidate:
        """A new candidate for ``request``; its ``id`` is ``request.candidate_id``.

        A ``debug`` candidate whose fix drops the change ``request.direction`` chose should carry
        a direction that says so (:attr:`~gome_core.types.Direction.dropped`;
        ``request.direction.without_change("what the fix does")`` builds it), so that memory
        does not credit that change to code without it.
        """


class Optimizer(abc.ABC):
    """Decides what to try next; the engine does the running (ask / develop / tell).

    * ``ask`` (engine thread) returns the next piece of work, or ``None`` when nothing can start
      now (every trace busy) — the engine then waits for a step to finish;
    * ``develop`` (worker thread) turns a proposal into a candidate: reasoning and code writing;
    * the engine executes and validates the candidate, then calls ``tell`` (engine thread).
    """

    @abc.abstractmethod
    def start(self, context: RunContext) -> None:
        """Prepare for a run (or a resumed one) with the run's parts."""

    @abc.abstractmethod
    def ask(self) -> Proposal | None:
        """The next piece of work, or ``None`` when none can start now."""

    @abc.abstractmethod
    def develop(self, proposal: Proposal, context: RunContext) -> Candidate:
        """The candidate ``proposal`` asks for. May call the LLM; may raise (fails the step).

        To have the failed step recorded with what was known of its candidate (its direction,
        say), raise :class:`~gome_core.errors.StepFailed` from the error. Make LLM calls on the
        calling thread: the engine counts them to the step, and cuts them off at the time limit."""

    @abc.abstractmethod
    def tell(self, proposal: Proposal, node: Node) -> None:
        """Learn the evaluated ``node`` (or the failure) produced for ``proposal``."""

    @abc.abstractmethod
    def best(self, k: int = 1) -> Sequence[Node]:
        """Up to ``k`` best nodes so far, best first: candidates for the final choice."""

    def repair(self, node: Node, report: ValidationReport, context: RunContext) -> Candidate | None:
        """A fixed version of ``node`` after a cheap validation failed (self-repair), or ``None``.

        Called from the worker thread; the engine re-validates what it returns, a few rounds at
        most. The default declines: tree searches repair through their own debug operator.
        """
        return None

    def finished(self) -> bool:
        """Whether the optimizer has nothing more to try (the budget aside)."""
        return False


@frozen
class LostCell(Generic[_Item]):
    """Yielded by :meth:`CellRunner.map` in place of a result when the process running ``item``
    died without one (killed, out of memory, a crash in native code): ``reason`` says how."""

    item: _Item
    reason: str


class CellRunner(abc.ABC):
    """Runs the cells of a study (independent agent runs) concurrently: worker processes, a cluster.

    The study hands it a picklable module-level function and picklable items; each call runs in a
    process of its own, so a cell that crashes cannot take the study down with it, and plugins'
    process-wide state is not shared between cells. ``fn`` reports its own failures in its result
    and does not raise for a failed cell; when it does raise anyway, the iterator raises when it
    reaches that item (the study stops; re-running it resumes). When the process running an item
    dies, the iterator yields a :class:`LostCell` for it and goes on with the others: the study
    records that cell as failed, and a day-long study is not ended by one cell running out of
    memory. :class:`gome_core.testing.CellRunnerSuite` checks all of this.

    The registered config class, when there is one, should have a ``workers: int`` field (the
    most cells in flight; 0: as many as the runner sees fit): the study fills it from
    ``--workers`` or ``study.workers``.
    """

    @abc.abstractmethod
    def map(
        self, fn: Callable[[_Item], _Result], items: Sequence[_Item]
    ) -> Iterator[_Result | LostCell[_Item]]:
        """``fn(item)`` for every item, yielded as each finishes (completion order, not input),
        or a :class:`LostCell` for an item whose process died.

        Work may start before the iterator is first advanced; closing the runner (or dropping
        the iterator) cancels what has not started.
        """

    def close(self) -> None:  # noqa: B027 - optional hook, a runner may hold nothing
        """Release workers and connections; cancels cells that have not started."""

    def __enter__(self) -> CellRunner:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

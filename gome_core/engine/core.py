"""The engine: runs an optimizer's steps concurrently, within budget, journaling everything.

It asks the optimizer for work (``ask``), develops each proposal into a candidate on a worker
thread (``develop``), validates it through the validator chain (cheap to expensive, stopping at
the first failure, with a few self-repair rounds after a cheap failure), saves the node, tells the
optimizer (``tell``), and promotes the optimizer's best. It never knows which optimizer it drives,
and no failing step — a plugin's exception, a crashed candidate, a bad LLM answer — takes the run
down: the failure becomes a node that the optimizer is told about.

At the end, the top-k candidates are re-validated on fresh splits (other ``GOME_SEED`` values) and
the most robust one is submitted.
"""

from __future__ import annotations

import concurrent.futures as futures
import contextlib
import statistics
import threading
import time
import traceback
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any

import attrs
from attrs import define, frozen

from gome_core.contract import (
    ENSEMBLE_ROW,
    ENV_SEED,
    SCORES,
    ContractError,
    check_file_names,
    read_scores,
)
from gome_core.engine.metering import MeteredLLM, StepUsage, developing
from gome_core.engine.rundir import RunDirectory
from gome_core.errors import StepFailed, UsageError
from gome_core.executors.reuse import ReusingExecutor
from gome_core.executors.wrapper import ExecutorWrapper
from gome_core.interfaces import Executor, LLMBackend, Optimizer, RunContext, Validator
from gome_core.interrupts import interrupts_deferred
from gome_core.journal import from_data
from gome_core.logs import get_logger
from gome_core.plugins import notify_observers
from gome_core.types import (
    Budget,
    Candidate,
    CompetitionRef,
    ExecutionRequest,
    ExecutionResult,
    LLMUsage,
    Node,
    Proposal,
    RunInfo,
    ValidationReport,
)

__all__ = ["Engine", "EngineSettings", "RunOutcome", "SeededExecutor"]

log = get_logger(__name__)


@frozen
class EngineSettings:
    """How the engine runs steps and makes its final choice."""

    #: Steps in flight at most (the optimizer may allow fewer).
    workers: int = attrs.field(default=3, validator=attrs.validators.ge(1))
    #: Self-repair rounds after a cheap validation failure.
    max_repairs: int = attrs.field(default=2, validator=attrs.validators.ge(0))
    #: Candidates re-validated at the end (1: no re-validation).
    final_top_k: int = attrs.field(default=3, validator=attrs.validators.ge(1))
    final_seeds: tuple[int, ...] = (1, 2)  # fresh splits: offsets added to the run's seed
    #: Answer a candidate identical to an earlier one (files, environment, input) with the
    #: earlier run's result instead of running it again; off for programs that are not seeded.
    reuse_runs: bool = True
    poll_s: float = 0.25


@frozen
class RunOutcome:
    """How a run ended."""

    status: str  # completed | budget | interrupted | failed
    steps: int
    best: Node | None
    final: Node | None
    submission: str | None
    usage: LLMUsage
    elapsed_s: float
    reason: str = ""


@define
class _Clock:
    """Wall time of the run across sessions (a resumed run continues its clock)."""

    before: float = 0.0
    started: float = attrs.Factory(time.monotonic)

    def elapsed(self) -> float:
        return self.before + time.monotonic() - self.started


class Engine:
    """Drives one run. Build it with its parts, then call :meth:`run` once."""

    def __init__(
        self,
        *,
        competition: CompetitionRef,
        optimizer: Optimizer,
        executor: Executor,
        validators: Sequence[Validator],
        run_dir: RunDirectory,
        info: RunInfo,
        budget: Budget = Budget(),  # noqa: B008 - frozen value, safe to share
        llm: LLMBackend | None = None,
        seed: int = 0,
        settings: EngineSettings = EngineSettings(),  # noqa: B008 - frozen value
        hidden: Sequence[Path] = (),
        hooks: Any = None,
        on_event: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.competition = competition
        self.optimizer = optimizer
        self.executor = SeededExecutor(
            ReusingExecutor(executor) if settings.reuse_runs else executor, seed
        )
        self.validators = sorted(validators, key=lambda v: v.level)
        self.run_dir = run_dir
        self.info = info
        self.budget = budget
        self.settings = settings
        self.hooks = hooks
        self.on_event = on_event
        self.metric = competition.metric
        self._journal = run_dir.journal()
        self._emit_lock = threading.RLock()
        self._usage_lock = threading.Lock()
        # Set when the run stops early: the steps in flight, their components and their LLM
        # calls see it, so a step between two calls does not start the next one.
        self._stop = threading.Event()
        #: A resumed run's configuration with its changes, written to ``config.toml`` once the
        #: run has started (and replayed its journal) with them (``resume_engine`` sets it).
        self.config_after_replay: str | None = None
        # Set when the wall-time budget runs out: steps still being developed are cut off.
        self._time_up = threading.Event()
        self.llm = (
            MeteredLLM(
                llm,
                on_call=self._on_llm_call,
                on_event=self._on_llm_event,
                stopping=self._stop,
                time_up=self._time_up,
            )
            if llm is not None
            else None
        )
        self.context = RunContext(
            competition=competition,
            executor=self.executor,
            llm=self.llm,
            budget=budget,
            seed=seed,
            run_dir=run_dir.path,
            hardware=dict(executor.hardware()),
            emit=self._emit,
            hidden=tuple(Path(p) for p in hidden),
            log=log.bind(run=info.run_id),
            stopping=self._stop,
        )
        self.steps = 0
        self.usage = LLMUsage()
        self.clock = _Clock()
        self._best_id: str | None = None

    # ------------------------------------------------------------------ events

    def _emit(self, type: str, **data: Any) -> dict[str, Any]:
        # Observers see events one at a time and in journal order, whichever step's thread
        # emits them. Reentrant: an observer may emit an event of its own.
        with self._emit_lock:
            event = self._journal.append(type, **data)
            if self.hooks is not None:
                notify_observers(self.hooks, "journal_event", run=self.info, event=event)
            if self.on_event is not None:
                try:
                    self.on_event(event)
                except Exception:
                    log.exception("progress callback failed", event_type=type)
        return event

    def _on_llm_call(
        self, *, model: str, purpose: str, usage: LLMUsage, failed: bool = False
    ) -> None:
        # Every call counts, whatever becomes of its step: one cut off at the time limit or
        # interrupted has been paid for too, and so have the calls of the final choice.
        with self._usage_lock:
            self.usage = self.usage + usage
        extra = {"failed": True} if failed else {}
        self._emit("llm_call", model=model, purpose=purpose, usage=usage, **extra)

    def _on_llm_event(self, event: str, **fields: Any) -> None:
        # Retries, repair rounds, rejected parameters: counts and kinds only, never prompt text.
        self._emit(f"llm_{event}", **fields)

    def _call_hook(self, name: str, **kwargs: Any) -> None:
        if self.hooks is not None:
            notify_observers(self.hooks, name, run=self.info, **kwargs)

    # ------------------------------------------------------------------ budget

    def _time_used(self) -> float:
        fractions = []
        if self.budget.hours:
            fractions.append(self.clock.elapsed() / 3600.0 / self.budget.hours)
        if self.budget.steps:
            fractions.append(self.steps / self.budget.steps)
        if self.budget.tokens:
            fractions.append(self.usage.total_tokens / self.budget.tokens)
        if self.budget.usd:
            fractions.append(self.usage.usd / self.budget.usd)
        return min(1.0, max(fractions, default=0.0))

    def _exhausted(self, in_flight: int = 0) -> str | None:
        return self.budget.exhausted_by(
            steps=self.steps + in_flight,
            hours=self.clock.elapsed() / 3600.0,
            tokens=self.usage.total_tokens,
            usd=self.usage.usd,
        )

    # ------------------------------------------------------------------ one step

    def _step(self, proposal: Proposal) -> Node | None:
        """Develop and evaluate one proposal; never raises. ``None``: cut off at the time limit
        while it was developed or repaired."""
        with StepUsage() as step_usage:
            try:
                with developing():
                    candidate = self.optimizer.develop(proposal, self.context)
            except Exception as exc:
                if self._time_up.is_set():
                    return None
                partial = exc.candidate if isinstance(exc, StepFailed) else None
                cause = exc.__cause__ if partial is not None and exc.__cause__ else exc
                log.warning("step failed while developing", proposal=proposal.id, error=str(cause))
                failed = partial or Candidate(
                    id=proposal.id,
                    files={},
                    parents=proposal.parents,
                    operator=proposal.operator,
                    trace=proposal.trace,
                )
                return Node(failed, error=_describe(cause), usage=step_usage.usage)
            if self._time_up.is_set():
                return None
            node = self._evaluate(candidate)
            return attrs.evolve(node, usage=step_usage.usage) if node is not None else None

    def _evaluate(self, candidate: Candidate) -> Node | None:
        node = Node(candidate)
        repairs = 0
        while True:
            node = Node(node.candidate, debug_depth=repairs)
            unsafe = check_file_names(node.candidate.files)
            if unsafe:  # never run, nor saved as named: it could write outside its workspace
                return attrs.evolve(node, error="; ".join(unsafe.values()))
            failed: ValidationReport | None = None
            for validator in self.validators:
                if self._stop.is_set():
                    return attrs.evolve(node, error="run interrupted")
                try:
                    report = validator.validate(node, self.context)
                except Exception as exc:
                    report = ValidationReport.fail(
                        type(validator).__name__, f"validator crashed: {_describe(exc)}"
                    )
                # The chain position is the validator's: whether a failure may be repaired
                # must not depend on the report repeating it.
                if report.level != validator.level:
                    report = attrs.evolve(report, level=validator.level)
                node = attrs.evolve(
                    node,
                    reports=(*node.reports, report),
                    result=report.result if report.result is not None else node.result,
                    score=report.score if report.score is not None else node.score,
                )
                if not report.passed:
                    failed = report
                    break
            if failed is None or failed.level > 1 or repairs >= self.settings.max_repairs:
                return node
            if node.result is not None and node.result.cancelled:
                return node  # cut off, not broken: nothing to repair (nor to pay a repair for)
            if self._time_up.is_set():
                return None  # no time is left to repair it: a resumed run redoes the step
            try:
                with developing():
                    fixed = self.optimizer.repair(node, failed, self.context)
            except Exception as exc:
                if self._time_up.is_set():
                    return None  # the repair was cut off
                log.warning("repair failed", node=node.id, error=str(exc))
                return node
            if self._time_up.is_set():
                return None
            if fixed is None:
                return node
            repairs += 1
            self._emit("repair", node_id=node.id, round=repairs, reasons=list(failed.reasons))
            node = Node(fixed)

    # ------------------------------------------------------------------ the loop

    def replay(self) -> int:
        """Rebuild the optimizer's state from the journal (for ``gome resume``)."""
        finished = 0
        # Every call is in the journal, those the optimizer's start() made just now included.
        usage = LLMUsage()
        # A session killed without a word (SIGKILL, a power cut) ran until its last event; the
        # next session's `run_resuming` ends its events.
        session: tuple[float, float] | None = None  # (wall time it began, elapsed before it)
        last_time = 0.0

        def close_session() -> None:
            nonlocal session
            if session is not None:
                began, before = session
                self.clock.before = max(self.clock.before, before + max(0.0, last_time - began))
            session = None

        for event in self._journal.read(self._journal.path):
            kind, when = event["type"], float(event.get("time", last_time))
            if kind == "llm_call":
                usage = usage + from_data(event["usage"], LLMUsage)
            if kind in ("run_resuming", "run_start_failed"):
                close_session()
            elif kind in ("run_started", "run_resumed"):
                close_session()
                session, last_time = (when, float(event.get("elapsed_s", 0.0))), when
            elif session is not None:
                last_time = when
            if kind == "step_finished":
                proposal = from_data(event["proposal"], Proposal)
                node = from_data(event["node"], Node)
                self.optimizer.tell(proposal, node)
                self.clock.before = float(event.get("elapsed_s", self.clock.before))
                finished += 1
            elif kind in ("run_paused", "run_finished"):
                self.clock.before = float(event.get("elapsed_s", self.clock.before))
                session = None  # the session said when it ended
        close_session()
        self.usage = usage
        self.steps = finished
        self.clock.started = time.monotonic()
        best = self.optimizer.best(1)
        self._best_id = best[0].id if best else None
        if (
            self._best_id is not None
            and self.run_dir.best_id() != self._best_id
            and self.run_dir.node_dir(self._best_id).exists()
        ):  # the session before was cut off between journaling a new best and linking it
            self.run_dir.promote(self._best_id)
        return finished

    def close(self) -> None:
        """Release the executor and the LLM backend: processes, workspaces, leases, connections.
        Whoever built the parts closes them; ``build_engine`` builds them, so its caller closes
        the engine (``with build_engine(...) as engine:``)."""
        try:
            self.executor.close()
        finally:
            if self.llm is not None:
                self.llm.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def run(self, *, resumed: bool | None = None) -> RunOutcome:
        """Run until the budget is spent or the optimizer is done; then choose the final node.

        A run directory whose journal already holds a run is continued (its steps replayed
        into the optimizer, as ``gome resume`` does); ``resumed=False`` there is an error,
        since starting over would overwrite the saved steps. ``None``: whichever applies.
        """
        started_before = self._journal.seq > 0
        if resumed is None:
            resumed = started_before
        elif started_before and not resumed:
            raise UsageError(
                f"{self.run_dir.path} already holds a run: continue it (run(resumed=True), or "
                "`gome resume`) or give the new run a directory of its own"
            )
        if resumed:  # ends, in the journal, a session before it that was killed without a word
            self._emit("run_resuming")
        else:  # the first event, before any the optimizer's start() may cause
            self._emit(
                "run_started",
                run_id=self.info.run_id,
                competition=self.info.competition_id,
                preset=self.info.preset,
                budget=self.budget,
                metric=self.metric,
            )
        try:
            self.optimizer.start(self.context)
            if resumed:
                replayed = self.replay()
        except Exception as exc:  # a component's bug, or settings the saved steps do not fit
            self._emit("run_start_failed", reason=f"{type(exc).__name__}: {exc}")
            self._journal.close()
            raise
        if self.config_after_replay is not None:
            self.run_dir.write_config(self.config_after_replay)
        if resumed:
            self._emit("run_resumed", steps=replayed, elapsed_s=self.clock.elapsed())
        self._call_hook("run_started")
        status, reason = "completed", ""
        crash: Exception | None = None
        pool = futures.ThreadPoolExecutor(self.settings.workers, thread_name_prefix="gome-step")
        in_flight: dict[futures.Future[Node | None], Proposal] = {}
        # Once stopping, a second Ctrl-C (or SIGTERM) must not cut the saving of the state short.
        stopping = contextlib.ExitStack()
        try:
            while True:
                self.context.time_used = self._time_used()
                exhausted = self._exhausted(len(in_flight))
                while exhausted is None and len(in_flight) < self.settings.workers:
                    proposal = self.optimizer.ask()
                    if proposal is None:
                        break
                    self._emit("step_started", proposal=proposal, time_used=self.context.time_used)
                    in_flight[pool.submit(self._step, proposal)] = proposal
                    exhausted = self._exhausted(len(in_flight))
                if not in_flight:
                    if exhausted is not None:
                        status, reason = "budget", exhausted
                    elif self.optimizer.finished():
                        status, reason = "completed", "the optimizer has nothing more to try"
                    else:
                        status, reason = "failed", "the optimizer proposed nothing"
                    break
                done, _ = futures.wait(
                    in_flight, timeout=self.settings.poll_s, return_when=futures.FIRST_COMPLETED
                )
                if (
                    self.budget.hours is not None
                    and self.clock.elapsed() / 3600.0 >= self.budget.hours
                    and not done
                ):
                    # Out of wall time: end what runs and what is still being developed; those
                    # steps are not counted as finished. A step being judged finishes.
                    self._time_up.set()
                    self.executor.cancel()
                    if self.llm is not None:
                        self.llm.interrupt_developing()
                for future in done:
                    self._finish(in_flight.pop(future), future.result())
        except KeyboardInterrupt as stop:
            stopping.enter_context(interrupts_deferred())
            status, reason = "interrupted", _interrupted_by(stop)
            self._stop_steps(in_flight)
        except Exception as exc:  # a component's bug: the run ends on the record, then it is raised
            status, reason = "failed", f"{type(exc).__name__}: {exc}"
            crash = exc
            self._stop_steps(in_flight)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

        final = None
        if status != "interrupted" and crash is None:
            try:
                final = self._final_choice()
            except KeyboardInterrupt as stop:  # steps saved; a resume chooses again
                stopping.enter_context(interrupts_deferred())
                status, reason = "interrupted", f"{_interrupted_by(stop)} during the final choice"
            except Exception as exc:  # a component's bug: on the record too, then raised
                status, reason = "failed", f"{type(exc).__name__}: {exc} (during the final choice)"
                crash = exc
        try:
            if status != "interrupted":
                self._emit(
                    "run_finished",
                    status=status,
                    reason=reason,
                    steps=self.steps,
                    elapsed_s=self.clock.elapsed(),
                    usage=self.usage,
                    final=final.id if final else None,
                )
            else:
                self._emit(
                    "run_paused", reason=reason, steps=self.steps, elapsed_s=self.clock.elapsed()
                )
            self._call_hook("run_finished", status=status)
            self._journal.close()
        finally:
            stopping.close()  # signals held while stopping act again
        if crash is not None:
            raise crash
        best = self.optimizer.best(1)
        submission = self.run_dir.path / "submission.csv"
        return RunOutcome(
            status=status,
            steps=self.steps,
            best=best[0] if best else None,
            final=final,
            submission=str(submission) if submission.is_file() else None,
            usage=self.usage,
            elapsed_s=self.clock.elapsed(),
            reason=reason,
        )

    def _stop_steps(self, in_flight: Collection[futures.Future[Any]]) -> None:
        """End the work in flight (steps, or the final re-validations): their candidates, their
        LLM waits, the ones not started."""
        self._stop.set()
        for future in list(in_flight):
            future.cancel()
        # A step may start a run or an LLM call just as the stop comes: stop them again until
        # every step is over.
        failed: set[str] = set()  # each part's failure to stop is logged once
        while True:
            # A part that fails to stop must not hide why the run is stopping.
            try:
                self.executor.cancel()
            except Exception:
                if "executor" not in failed:
                    failed.add("executor")
                    log.exception("the executor failed to cancel its runs")
            if self.llm is not None:
                try:
                    self.llm.interrupt()  # steps waiting on an LLM call give up now
                except Exception:
                    if "llm" not in failed:
                        failed.add("llm")
                        log.exception("the LLM backend failed to interrupt its calls")
            # done(), not wait(): a future a shut-down pool cancelled is done but never notified
            running = [future for future in in_flight if not future.done()]
            if not running:
                return
            futures.wait(running, timeout=0.5)

    def _finish(self, proposal: Proposal, node: Node | None) -> None:
        if self._stop.is_set() or node is None:
            return  # an interrupted step, or one cut off, is not finished: resume redoes it
        if node.result is not None and node.result.cancelled and node.score is None:
            # Cancelled at the wall-time limit: not a finished step either.
            return
        self.steps += 1
        self.run_dir.save_node(node)
        try:
            self.optimizer.tell(proposal, node)
        except Exception:
            log.exception("optimizer.tell failed", node=node.id)
        self._emit(
            "step_finished",
            proposal=proposal,
            node=node,
            step=self.steps,
            elapsed_s=self.clock.elapsed(),
            buggy=node.buggy,
            score=node.score,
        )
        best = self.optimizer.best(1)
        if best and best[0].id != self._best_id and (self.run_dir.node_dir(best[0].id)).exists():
            self._best_id = best[0].id
            self.run_dir.promote(best[0].id)
            self._emit("new_best", node_id=best[0].id, score=best[0].score)

    # ------------------------------------------------------------------ final choice

    def _final_choice(self) -> Node | None:
        top = [n for n in self.optimizer.best(max(1, self.settings.final_top_k)) if not n.buggy]
        if not top:
            return None
        # Fresh splits: the run's own seed shifted by each offset, so runs of other seeds
        # re-validate on splits of their own too.
        offsets = self.settings.final_seeds if len(top) > 1 else ()
        seeds = [self.context.seed + offset for offset in offsets]
        fresh = self._revalidate_all([(node, seed) for node in top for seed in seeds])
        rows = []
        for node in top:
            runs = [fresh[node.id, seed] for seed in seeds]
            scores = [node.score] + [score for score, _ in runs]
            valid = [s for s in scores if s is not None]
            # A candidate that fails on a fresh split is not robust: it ranks below all others.
            mean = statistics.fmean(valid) if len(valid) == len(scores) else None
            row: dict[str, Any] = {"node_id": node.id, "scores": scores, "mean": mean}
            failures = {str(seed): why for seed, (_, why) in zip(seeds, runs, strict=True) if why}
            if failures:
                row["failures"] = failures
            rows.append(row)
        ranked = sorted(
            zip(top, rows, strict=True),
            key=lambda pair: _sort_key(pair[1]["mean"], self.metric.lower_is_better),
        )
        chosen = ranked[0][0]
        self._emit("final_choice", candidates=rows, seeds=list(seeds), chosen=chosen.id)
        self.run_dir.promote(chosen.id)
        self.run_dir.write_final(chosen.id)
        return chosen

    def _revalidate_all(
        self, runs: list[tuple[Node, int]]
    ) -> dict[tuple[str, int], tuple[float | None, str]]:
        """Re-validate each (node, seed), as many at once as the run has workers."""
        pool = futures.ThreadPoolExecutor(self.settings.workers, thread_name_prefix="gome-final")
        jobs: dict[tuple[str, int], futures.Future[tuple[float | None, str]]] = {}
        try:
            for node, seed in runs:
                jobs[node.id, seed] = pool.submit(self._revalidate, node, seed)
            return {key: job.result() for key, job in jobs.items()}
        except BaseException:  # Ctrl-C: end the runs in flight rather than wait for them
            pool.shutdown(wait=False, cancel_futures=True)  # nothing queued starts from now on
            with interrupts_deferred():  # a second Ctrl-C must not leave them running
                self._stop_steps(jobs.values())
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _revalidate(self, node: Node, seed: int) -> tuple[float | None, str]:
        """The node's score on the split of ``seed`` (or ``None``, and why not): the validator
        that measured it runs again, under its own limits (a full run may be given more time
        than the executor's default), with ``seed`` as the run's seed."""
        executor = SeededExecutor(self.executor, seed, label=f"final-seed{seed}")
        scorer = self._scorer(node)
        try:
            if scorer is None:  # the chain has changed since: run it as the executor would
                log.warning("no validator of the chain measured the node", node=node.id)
                return self._score_of(
                    executor.run(
                        ExecutionRequest(
                            node.candidate,
                            input_dir=self.competition.public_dir,
                            hidden=self.context.hidden,
                        )
                    )
                )
            context = attrs.evolve(self.context, executor=executor, seed=seed)
            report = scorer.validate(node, context)
        except Exception as exc:
            log.warning("re-validation failed", node=node.id, seed=seed, error=_describe(exc))
            return None, f"re-validation crashed: {_describe(exc)}"
        if not report.passed:
            return None, "; ".join(report.reasons) or f"{report.validator} failed"
        if report.score is None:
            return None, f"{report.validator} reported no score"
        return report.score, ""

    def _scorer(self, node: Node) -> Validator | None:
        """The validator that measured ``node``'s score: the last whose report ran the
        candidate and set or changed the score (a judge repeats the score it was given), found
        by its level and name; ``None`` when the chain no longer has it."""
        measured, score = None, None
        for report in node.reports:
            if report.score is not None and report.result is not None and report.score != score:
                measured = report
            score = report.score if report.score is not None else score
        if measured is None:
            return None
        same_level = [v for v in self.validators if v.level == measured.level]
        named = [v for v in same_level if getattr(v, "name", None) == measured.validator]
        if len(named) == 1:
            return named[0]
        return same_level[0] if len(same_level) == 1 else None

    def _score_of(self, result: ExecutionResult) -> tuple[float | None, str]:
        if not result.ok or result.workspace is None:
            return None, result.error or f"the run ended: {result.outcome}"
        try:
            scores = read_scores(result.workspace / SCORES, self.metric.name)
        except ContractError as exc:
            return None, str(exc)
        score = scores[ENSEMBLE_ROW].get(self.metric.name)
        return score, "" if score is not None else f"no {self.metric.name} in the score file"


class SeededExecutor(ExecutorWrapper):
    """The run's executor, giving every candidate the run's seed as ``GOME_SEED`` unless the
    request sets its own: a run with another seed validates on other splits, with other model
    seeds, whichever validators built the requests."""

    def __init__(self, inner: Executor, seed: int, label: str | None = None) -> None:
        super().__init__(inner)
        self.seed = seed
        self.label = label  # replaces each request's label (its workspace's name) when set

    def run(self, request: ExecutionRequest) -> ExecutionResult:
        if ENV_SEED not in request.env:
            request = attrs.evolve(request, env={**request.env, ENV_SEED: str(self.seed)})
        if self.label is not None:
            request = attrs.evolve(request, label=self.label)
        return self.inner.run(request)


def _sort_key(mean: float | None, lower_is_better: bool) -> tuple[int, float]:
    if mean is None:
        return (1, 0.0)
    return (0, mean if lower_is_better else -mean)


def _describe(exc: BaseException) -> str:
    last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = f" (at {last[0].filename}:{last[0].lineno})" if last else ""
    return f"{type(exc).__name__}: {exc}{where}"


def _interrupted_by(stop: KeyboardInterrupt) -> str:
    # Ctrl-C's KeyboardInterrupt carries no text; SIGTERM's says which signal stopped the run.
    return str(stop) or "interrupted by the user"

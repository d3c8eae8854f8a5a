"""What a report shows, read from a run directory: the run, its steps and their outcomes.

Everything comes from the journal (``journal.jsonl``) plus the files beside it (``run.json``,
``config.toml``, ``grading.json``, ``nodes/<id>/stdout.txt``...). A run that is still going, was
killed, or lacks optional files still loads: missing parts are ``None`` or empty.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from attrs import field, frozen

from gome_core.errors import UsageError
from gome_core.journal import Journal
from gome_core.types import Metric

__all__ = ["OUTCOMES", "RunView", "Step", "load_run"]

#: Outcome of a step, as coloured in the report. For optimizers with traces (Gome): accepted
#: (passed and beat its trace's best), rejected (passed, did not), buggy. For tree searches,
#: which accept nothing: improved (a new global best when it finished), valid, buggy. A step
#: started but not finished (still going, or cut off) is running.
OUTCOMES = ("accepted", "rejected", "improved", "valid", "buggy", "running")

#: The journal events that start, pause, resume and end a run.
LIFECYCLE = ("run_started", "run_paused", "run_resumed", "run_finished")


@frozen
class Step:
    """One step: its node (as journaled), where it sits, and how it turned out. A step started
    but not finished has outcome ``running``, number 0 and an empty node."""

    number: int  # 1-based, in the order steps finished (0: not finished)
    id: str  # the node's id (a repaired candidate's id differs from its proposal's)
    proposal_id: str
    trace: int | None
    operator: str
    parents: tuple[str, ...]
    outcome: str  # one of OUTCOMES
    score: float | None
    buggy: bool
    elapsed_s: float | None  # the run's elapsed time when the step finished
    node: Mapping[str, Any]
    reasoning: Mapping[str, Any] | None = None  # the step's ``reasoning`` event, if any
    repairs: tuple[Mapping[str, Any], ...] = ()
    final: bool = False
    new_best: bool = False
    started_s: float | None = None  # the run's elapsed time when the step started
    # What its score was compared with: its trace's best before it (traces), else its parent.
    reference_id: str | None = None
    reference_score: float | None = None

    @property
    def candidate(self) -> Mapping[str, Any]:
        return self.node.get("candidate") or {}

    @property
    def files(self) -> Mapping[str, str]:
        return self.candidate.get("files") or {}

    @property
    def direction(self) -> Mapping[str, Any] | None:
        """The reasoning's direction, else the one the candidate carries."""
        if self.reasoning and self.reasoning.get("direction"):
            return self.reasoning["direction"]
        return self.candidate.get("direction")


@frozen
class RunView:
    """A run directory as the report sees it."""

    path: Path
    info: Mapping[str, Any]  # run.json ({} when missing)
    config_toml: str
    events: tuple[Mapping[str, Any], ...]
    steps: tuple[Step, ...]
    metric: Metric
    metric_known: bool
    has_traces: bool
    started: Mapping[str, Any] | None = None
    finished: Mapping[str, Any] | None = None
    final_choice: Mapping[str, Any] | None = None
    grading: Mapping[str, Any] | None = None
    llm_calls: tuple[Mapping[str, Any], ...] = ()
    pauses: tuple[Mapping[str, Any], ...] = ()
    by_id: Mapping[str, Step] = field(factory=dict)
    unfinished: tuple[Step, ...] = ()  # started, not finished: in flight, or cut off
    lifecycle: tuple[Mapping[str, Any], ...] = ()  # run_started/paused/resumed/finished events
    elapsed_s: float | None = None  # at run_finished, else at the last journaled event

    @property
    def ended(self) -> bool:
        """Whether the journal ends the run's last session (finished or paused)."""
        return bool(self.lifecycle) and self.lifecycle[-1].get("type") in (
            "run_finished",
            "run_paused",
        )

    @property
    def run_id(self) -> str:
        return str((self.started or {}).get("run_id") or self.info.get("run_id") or self.path.name)

    @property
    def competition(self) -> str:
        return str((self.started or {}).get("competition") or self.info.get("competition") or "?")

    @property
    def preset(self) -> str | None:
        return (self.started or {}).get("preset") or self.info.get("preset")

    @property
    def final_id(self) -> str | None:
        if self.final_choice is not None:
            return self.final_choice.get("chosen")
        return (self.finished or {}).get("final")

    def best(self) -> Step | None:
        """The step with the best validation score among valid ones."""
        best: Step | None = None
        for step in self.steps:
            if not step.buggy and self.metric.better(step.score, best.score if best else None):
                best = step
        return best

    def read_output(self, step: Step, stream: str) -> str:
        """A step's ``stdout`` or ``stderr`` tail: the saved file, else the journaled tail."""
        path = self.path / "nodes" / step.id / f"{stream}.txt"
        try:
            return path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            result = step.node.get("result") or {}
            return str(result.get(f"{stream}_tail") or "")


def _read_json(path: Path) -> Mapping[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, Mapping) else None


def load_run(path: str | Path) -> RunView:
    """Read the run directory at ``path``. Raises :class:`UsageError` when it holds no journal."""
    path = Path(path)
    journal = path / "journal.jsonl"
    if not journal.is_file():
        raise UsageError(
            f"{path} is not a gome run directory (no journal.jsonl): give the directory that "
            f"`gome run` printed."
        )
    events = tuple(Journal.read(journal))
    started = next((e for e in events if e.get("type") == "run_started"), None)
    metric_data = (started or {}).get("metric") or {}
    metric = Metric(
        str(metric_data.get("name") or "score"),
        lower_is_better=bool(metric_data.get("lower_is_better", False)),
    )
    finished = next((e for e in reversed(events) if e.get("type") == "run_finished"), None)
    final_choice = next((e for e in reversed(events) if e.get("type") == "final_choice"), None)
    final_id = final_choice.get("chosen") if final_choice else (finished or {}).get("final")

    reasoning: dict[str, Mapping[str, Any]] = {}
    repairs: dict[str, list[Mapping[str, Any]]] = {}
    started_at: dict[str, tuple[Mapping[str, Any], float | None]] = {}  # proposal id: event
    finished_proposals: set[str] = set()
    clock = _RunClock()
    new_best_after: set[int] = set()  # seq of the step_finished a new_best follows
    last_finished_seq: int | None = None
    last_finished_id: str | None = None
    finished_events = []
    for event in events:
        kind = event.get("type")
        at = clock.at(event)
        if kind == "step_started":
            proposal_id = str((event.get("proposal") or {}).get("id"))
            started_at[proposal_id] = (event, at)  # a step redone after a resume: its last start
            finished_proposals.discard(proposal_id)
        elif kind == "reasoning":
            reasoning[str(event.get("proposal"))] = event  # a redone step keeps its last reasoning
        elif kind == "repair":
            # A repaired candidate is named after the one it fixes (``t0-001~r1``).
            repairs.setdefault(str(event.get("node_id")).split("~")[0], []).append(event)
        elif kind == "step_finished":
            finished_events.append(event)
            finished_proposals.add(str((event.get("proposal") or {}).get("id")))
            last_finished_seq = event.get("seq")
            last_finished_id = ((event.get("node") or {}).get("candidate") or {}).get("id")
        elif kind == "new_best" and last_finished_seq is not None:
            if event.get("node_id") == last_finished_id:
                new_best_after.add(last_finished_seq)

    has_traces = any((e.get("proposal") or {}).get("trace") is not None for e in finished_events)
    trace_best: dict[int | None, tuple[str, float | None]] = {}  # trace: (id, score)
    scores: dict[str, float | None] = {}  # id: score of a finished step (None: buggy)
    steps: list[Step] = []
    for number, event in enumerate(finished_events, start=1):
        proposal = event.get("proposal") or {}
        node = event.get("node") or {}
        candidate = node.get("candidate") or {}
        node_id = str(candidate.get("id") or proposal.get("id") or f"step-{number}")
        proposal_id = str(proposal.get("id") or node_id)
        trace = proposal.get("trace")
        buggy = bool(event.get("buggy", node.get("error") is not None))
        score = event.get("score", node.get("score"))
        score = float(score) if isinstance(score, int | float) else None
        new_best = event.get("seq") in new_best_after
        parents = tuple(str(p) for p in (proposal.get("parents") or ()))
        if has_traces:
            # Gome's rule, replayed in the order the optimizer was told: accepted when it beats
            # its trace's best so far.
            reference_id, reference_score = trace_best.get(trace, (None, None))
        else:  # a tree search improves on the node it was built from
            reference_id = next((p for p in parents if p in scores), None)
            reference_score = scores.get(reference_id) if reference_id else None
        if buggy:
            outcome = "buggy"
        elif has_traces:
            accepted = metric.better(score, reference_score)
            if accepted:
                trace_best[trace] = (node_id, score)
            outcome = "accepted" if accepted else "rejected"
        else:
            outcome = "improved" if new_best else "valid"
        scores[node_id] = None if buggy else score
        own_repairs = repairs.get(node_id.split("~")[0], [])
        steps.append(
            Step(
                number=number,
                id=node_id,
                proposal_id=proposal_id,
                trace=trace,
                operator=str(proposal.get("operator") or candidate.get("operator") or "?"),
                parents=parents,
                outcome=outcome,
                score=score,
                buggy=buggy,
                elapsed_s=event.get("elapsed_s"),
                node=node,
                reasoning=reasoning.get(proposal_id),
                repairs=tuple(sorted(own_repairs, key=lambda r: r.get("seq", 0))),
                final=node_id == final_id,
                new_best=new_best,
                started_s=started_at.get(proposal_id, (None, None))[1],
                reference_id=reference_id,
                reference_score=reference_score,
            )
        )
    unfinished = [
        _unfinished(event, at, reasoning)
        for proposal_id, (event, at) in started_at.items()
        if proposal_id not in finished_proposals
    ]

    config_path = path / "config.toml"
    try:
        config_toml = config_path.read_text(encoding="utf-8")
    except OSError:
        config_toml = ""
    return RunView(
        path=path,
        info=_read_json(path / "run.json") or {},
        config_toml=config_toml,
        events=events,
        steps=tuple(steps),
        metric=metric,
        metric_known=bool(metric_data),
        has_traces=has_traces,
        started=started,
        finished=finished,
        final_choice=final_choice,
        grading=_read_json(path / "grading.json"),
        llm_calls=tuple(e for e in events if e.get("type") == "llm_call"),
        pauses=tuple(e for e in events if e.get("type") in ("run_paused", "run_resumed")),
        by_id={s.id: s for s in steps},
        unfinished=tuple(unfinished),
        lifecycle=tuple(e for e in events if e.get("type") in LIFECYCLE),
        elapsed_s=clock.at(events[-1]) if events else None,
    )


def _unfinished(
    event: Mapping[str, Any], at: float | None, reasoning: Mapping[str, Mapping[str, Any]]
) -> Step:
    """A step from its ``step_started`` event alone (with its reasoning, if journaled)."""
    proposal = event.get("proposal") or {}
    proposal_id = str(proposal.get("id") or f"seq-{event.get('seq')}")
    return Step(
        number=0,
        id=proposal_id,
        proposal_id=proposal_id,
        trace=proposal.get("trace"),
        operator=str(proposal.get("operator") or "?"),
        parents=tuple(str(p) for p in (proposal.get("parents") or ())),
        outcome="running",
        score=None,
        buggy=False,
        elapsed_s=None,
        node={},
        reasoning=reasoning.get(proposal_id),
        started_s=at,
    )


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


class _RunClock:
    """The run's elapsed time at each event, pauses excluded (as the engine counts it): events
    that carry ``elapsed_s`` (a finished step, a pause, a resume, the end) set it; the others
    add their wall time since the last event that did."""

    def __init__(self) -> None:
        self.mark: tuple[float, float] | None = None  # (event time, elapsed then)

    def at(self, event: Mapping[str, Any]) -> float | None:
        now, elapsed = _number(event.get("time")), _number(event.get("elapsed_s"))
        if event.get("type") == "run_resuming":  # after a pause or a kill: unknown until resumed
            self.mark = None
            return None
        if event.get("type") == "run_started":
            elapsed = 0.0
        if elapsed is None and self.mark is not None and now is not None:
            elapsed = self.mark[1] + max(0.0, now - self.mark[0])
        if elapsed is not None and now is not None:
            self.mark = (now, elapsed)
        return elapsed

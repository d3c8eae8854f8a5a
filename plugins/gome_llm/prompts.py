"""Prompt templates (files in ``prompts/``) and the sections that fill them.

A template is plain text with ``$name`` placeholders. Long, stable parts of the run (the task,
the data, the hardware, the contract) go into the system prompt, so providers that cache a
prompt's prefix read them from the cache on later calls. Every section has a priority: when a
prompt would not fit the model's context window, the least important sections are trimmed first
(history and output tails keep their newest end, documents their beginning), and what was dropped
is journaled.

Nothing time-dependent (wall-clock times, dates) enters a prompt, so a recorded run replays
request for request.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from attrs import frozen

from gome_core.errors import UsageError
from gome_core.interfaces import RunContext
from gome_core.llm.context import Fitted, Section, estimate_tokens, fit_sections, prompt_budget
from gome_core.types import LLMRequest, MemoryEntry, Message, Node, TraceState
from gome_llm.config import LLMImplementerConfig, LLMJudgeConfig

__all__ = [
    "PromptTemplate",
    "ask",
    "describe_node",
    "stable_output",
    "stage_of",
    "system_sections",
]

#: The time stages of a run (DESIGN: draft while <10% of the time is used, ensemble past 70%).
STAGE_ADVICE = {
    "draft": "Early in the run: get a sound, complete solution working before anything fancy.",
    "improve": "Mid-run: make the change with the best expected gain that fits the time-out.",
    "ensemble": "Late in the run: prefer robust gains, e.g. ensembling the strongest models found.",
}


def stage_of(time_used: float) -> str:
    """``draft``, ``improve`` or ``ensemble`` for the fraction of the budget used."""
    if time_used < 0.1:
        return "draft"
    return "ensemble" if time_used > 0.7 else "improve"


@frozen
class PromptTemplate:
    """A prompt file with ``$name`` placeholders."""

    name: str
    text: str

    @classmethod
    def load(cls, name: str, directory: str | Path | None = None) -> PromptTemplate:
        """``name.md`` from ``directory`` when it has one, else the built-in template."""
        if directory is not None:
            custom = Path(directory).expanduser() / f"{name}.md"
            if custom.is_file():
                return cls(name, custom.read_text(encoding="utf-8"))
        builtin = resources.files("gome_llm") / "prompts" / f"{name}.md"
        return cls(name, builtin.read_text(encoding="utf-8"))

    @property
    def placeholders(self) -> set[str]:
        return set(string.Template(self.text).get_identifiers())

    def render(self, sections: Sequence[Section], budget_tokens: int) -> tuple[str, Fitted]:
        """The template filled with ``sections`` fitted into ``budget_tokens``.

        A placeholder without a section, or with an empty one, reads "(none)".
        """
        room = max(budget_tokens - estimate_tokens(self.text), 200)
        wanted = [s for s in sections if s.name in self.placeholders]
        fitted = fit_sections(wanted, room)
        values = {name: "(none)" for name in self.placeholders}
        values.update({s.name: s.text for s in fitted.sections if s.text.strip()})
        return string.Template(self.text).safe_substitute(values).strip() + "\n", fitted


# --------------------------------------------------------------------------- sections


def _files_overview(public: Path, max_files: int = 40) -> str:
    lines = []
    files = sorted(p for p in public.rglob("*") if p.is_file())
    for path in files[:max_files]:
        rel = path.relative_to(public)
        lines.append(f"- input/{rel} ({path.stat().st_size:,} bytes)")
    if len(files) > max_files:
        lines.append(f"- ... and {len(files) - max_files} more files")
    return "\n".join(lines)


def _csv_heads(public: Path, rows: int = 3, width: int = 400) -> str:
    parts = []
    for path in sorted(public.glob("*.csv"))[:4]:
        with open(path, encoding="utf-8", errors="replace") as fh:
            head = [next(fh, "").rstrip("\n")[:width] for _ in range(rows + 1)]
        parts.append(f"input/{path.name}:\n" + "\n".join(line for line in head if line))
    return "\n\n".join(parts)


def _profile(context: RunContext) -> str:
    try:  # the offline reasoner's data profile, when it is installed and the data fits it
        from gome_offline.profile import profile_for

        return profile_for(context.competition).summary()
    except Exception:
        return ""


def system_sections(context: RunContext) -> list[Section]:
    """The stable part of every prompt: task, data, hardware, the candidate contract."""
    competition = context.competition
    metric = competition.metric
    direction = "lower" if metric.lower_is_better else "higher"
    data = "\n\n".join(
        part
        for part in (
            _profile(context),
            _files_overview(competition.public_dir),
            _csv_heads(competition.public_dir),
        )
        if part
    )
    hardware = "\n".join(f"- {k}: {v}" for k, v in sorted(context.hardware.items())) or "(unknown)"
    contract = (
        "- The program is `main.py`, run from its folder with no arguments.\n"
        "- It reads the competition's files from `./input/` (read-only) and nothing else.\n"
        f"- It writes `./submission/submission.csv` in the format of "
        f"`input/{competition.sample_submission}` (same columns, same ids, same order).\n"
        f"- It writes `./scores.csv` with a column `model`, a column `{metric.name}` (and "
        f"optionally `train_{metric.name}`), one row per model it trained plus a row `ensemble` "
        f"holding the score of the submitted predictions on held-out validation data. The run "
        f"is judged by that row; {direction} is better.\n"
        "- When the environment variable GOME_DEBUG is 1, it trains on a small sample and still "
        "writes every output (a quick check run).\n"
        "- GOME_SEED (an integer) seeds the validation split and the models.\n"
        "- There is no network; only the installed Python packages (numpy, pandas, scikit-learn, "
        "torch on CPU unless a GPU is listed) are available. Print short progress lines."
    )
    return [
        Section("task", competition.description.strip(), priority=3, keep="start", min_chars=2000),
        Section("data", data, priority=2, keep="start", min_chars=500),
        Section("hardware", hardware, keep="all"),
        Section("contract", contract, keep="all"),
    ]


def _score(value: float | None) -> str:
    return "none" if value is None else f"{value:.6g}"


def describe_node(node: Node, *, tail_chars: int = 0) -> str:
    """A node for a prompt: id, change, outcome, score; optionally the end of its output."""
    candidate = node.candidate
    change = candidate.direction.chosen.statement if candidate.direction else candidate.plan
    outcome = "ok" if not node.buggy else "failed"
    line = f"- {candidate.id} [{candidate.operator}] {change or '(first solution)'}"
    dropped = candidate.direction.dropped if candidate.direction else None
    if dropped is not None:
        line += f" (its chosen change failed and was dropped: {dropped.statement})"
    line += f" -> {outcome}, score {_score(node.score)}"
    if node.error:
        line += f"; error: {node.error.splitlines()[0][:300]}"
    else:
        failed = [r for r in node.reports if not r.passed]
        if failed:
            line += f"; {failed[0].validator}: {'; '.join(failed[0].reasons)[:300]}"
    if tail_chars and node.result is not None:
        tail = stable_output((node.result.stderr_tail or node.result.stdout_tail)[-tail_chars:])
        if tail.strip():
            line += f"\n  output (end):\n{_indent(tail)}"
    return line


#: Wall-clock figures in program output ("12.3s", "850 ms", "in 4 seconds").
_DURATION = re.compile(r"\b\d+(?:\.\d+)?\s?(?:ms|s|sec|secs|seconds)\b")


def stable_output(text: str) -> str:
    """``text`` with wall-clock durations masked: they change from run to run, and a prompt that
    changes with them could not be replayed (the model learns run times from the history)."""
    return _DURATION.sub("<time>", text)


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.rstrip().splitlines())


def _memory_line(entry: MemoryEntry) -> str:
    change = entry.hypothesis.statement
    if entry.accepted:
        return (
            f"- trace {entry.trace}: {change} ({entry.hypothesis.component}) improved "
            f"{_score(entry.score_before)} -> {_score(entry.score_after)}"
        )
    # A failure shows its outcome, so the model sees how much worse the step was: the score
    # before -> after when it ran to a score, else that it failed with no score; then the
    # failure's first line of feedback (the error, or the check that failed).
    if entry.score_after is None:
        outcome = "failed, no score"
    else:
        outcome = f"did not help: {_score(entry.score_before)} -> {_score(entry.score_after)}"
    why = f"; {entry.feedback[:200]}" if entry.feedback else ""
    return f"- {change} ({entry.hypothesis.component}) {outcome}{why}"


def best_section(state: TraceState, tail_chars: int) -> Section:
    best = state.best
    if best is None:
        return Section("best", "(none yet: this step writes the trace's first solution)")
    text = (
        f"Validation score {_score(best.score)} ({best.id}).\n"
        f"Plan: {best.candidate.plan or '(none given)'}\n\n```python\n{best.candidate.code}\n```"
    )
    return Section("best", text, priority=2, keep="start", min_chars=1500)


def trace_sections(state: TraceState, tail_chars: int) -> list[Section]:
    """What one trace has done: its best, history, memory, the siblings' ideas, the stage."""
    stage = stage_of(state.time_used)
    history = "\n".join(
        describe_node(n, tail_chars=tail_chars if i == len(state.history) - 1 else 0)
        for i, n in enumerate(state.history)
    )
    memory = "\n".join(_memory_line(e) for e in (*state.successes, *state.failures))
    cross = "\n".join(_memory_line(e) for e in state.cross_trace)
    # Steps in flight first: the section is trimmed from its end, and the list of finished ones
    # grows until the trace's first acceptance.
    avoid = "\n".join(
        [f"- {h.statement} ({h.component}; in progress)" for h in state.pursuing]
        + [f"- {h.statement} ({h.component})" for h in state.avoid]
    )
    return [
        Section("stage", stage, keep="all"),
        Section("stage_advice", STAGE_ADVICE[stage], keep="all"),
        best_section(state, tail_chars),
        Section("history", history, priority=0, keep="end"),
        Section("memory", memory, priority=1, keep="end"),
        Section("cross_trace", cross, priority=1, keep="start"),
        Section("avoid", avoid, priority=1, keep="start"),
    ]


# --------------------------------------------------------------------------- the call


def ask(
    context: RunContext,
    *,
    purpose: str,
    template: str,
    sections: Sequence[Section],
    schema: type,
    settings: LLMImplementerConfig | LLMJudgeConfig,
    extra: Mapping[str, object] | None = None,
) -> Any:
    """Ask the run's LLM for a ``schema`` answer to the template ``template`` filled with
    ``sections`` (and ``extra``'s short values), under ``settings``' output room, context window
    and prompt folder.

    The prompt is fitted to the model's context window; what had to be dropped is journaled as a
    ``prompt_trimmed`` event. Raises :class:`~gome_core.errors.UsageError` without an LLM and the
    backend's :class:`~gome_core.llm.errors.LLMError` when it fails (the step fails, not the run).
    """
    llm = context.llm
    if llm is None:
        raise UsageError(
            "the LLM reasoner needs an LLM backend: pass --llm, e.g. --llm openai:MODEL or "
            "--llm anthropic:MODEL (or use the offline reasoner)."
        )
    budget = prompt_budget(
        llm.model or "",
        max_output_tokens=settings.max_output_tokens,
        override=settings.context_window or llm.context_window,
    )
    chosen = PromptTemplate.load(template, settings.prompts_dir)
    system_template = PromptTemplate.load("system", settings.prompts_dir)
    stable = system_sections(context)
    # The system prompt gets at most half the room: the step's own sections matter as much.
    system_text, system_fit = system_template.render(stable, budget // 2)
    all_sections = [
        *sections,
        *(Section(k, str(v), keep="all") for k, v in (extra or {}).items()),
    ]
    user_text, user_fit = chosen.render(all_sections, budget - estimate_tokens(system_text))
    dropped = [*system_fit.dropped, *user_fit.dropped]
    if dropped and context.emit is not None:
        context.emit(
            "prompt_trimmed",
            purpose=purpose,
            template=template,
            dropped={d.section: d.chars for d in dropped},
        )
    response = llm.complete(
        LLMRequest(
            messages=(Message.user(user_text),),
            system=system_text,
            schema=schema,
            max_output_tokens=settings.max_output_tokens,
            purpose=purpose,
        )
    )
    return response.parsed

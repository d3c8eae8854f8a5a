"""The report page: one self-contained HTML document (inline CSS, JS and SVG; no network).

Candidate code, outputs, reasons and every other string from a run are untrusted: all of it goes
through :func:`html.escape` and lands in text or quoted attributes only, never inside the script;
and the page's Content-Security-Policy allows no script but its own.
"""

from __future__ import annotations

import difflib
import json
import math
import time
from collections.abc import Iterable, Mapping
from html import escape
from typing import Any

from gome_core.journal import from_data
from gome_core.report.assets import CSS, JS, script_hash
from gome_core.report.model import RunView, Step
from gome_core.report.svg import anchor, fmt, score_chart, tree_svg
from gome_core.types import ExecutionResult, HypothesisScores

__all__ = ["render"]

#: How much of each output stream a step shows (its last characters).
OUTPUT_CHARS = 12_000
#: Diff lines shown per step before cutting.
DIFF_LINES = 1_500
#: The five scores of a hypothesis, in HypothesisScores order, with their column names.
SCORE_AXES = (
    ("alignment", "align."),
    ("impact", "impact"),
    ("novelty", "novelty"),
    ("feasibility", "feasib."),
    ("risk_reward", "risk/rew."),
)
OUTCOME_LABELS = {
    "accepted": "accepted",
    "rejected": "rejected",
    "improved": "new best",
    "valid": "valid",
    "buggy": "buggy",
    "running": "in flight",
}
#: How an execution outcome (:attr:`ExecutionResult.outcome`) reads on the page.
RUN_OUTCOME_LABELS = {"oom": "out of memory", "gpu-oom": "GPU out of memory"}


def e(value: Any) -> str:
    """Escaped text (``None`` is empty)."""
    return "" if value is None else escape(str(value), quote=True)


def _badge(text: str, kind: str) -> str:
    return f'<span class="badge b-{e(kind)}">{e(text)}</span>'


def _link(node_id: str | None, run: RunView) -> str:
    if not node_id:
        return "-"
    if node_id in run.by_id or any(s.id == node_id for s in run.unfinished):
        return f'<a href="#{anchor(node_id)}">{e(node_id)}</a>'
    return e(node_id)


def _table(
    head: Iterable[str],
    rows: Iterable[Iterable[str]],
    num: Iterable[int] = (),
    chosen: Iterable[int] = (),
) -> str:
    """A table from already-escaped cells; columns in ``num`` are right-aligned, rows in
    ``chosen`` highlighted."""
    num, chosen = set(num), set(chosen)
    out = ["<table><thead><tr>"]
    out += [f"<th{' class=num' if i in num else ''}>{h}</th>" for i, h in enumerate(head)]
    out.append("</tr></thead><tbody>")
    for index, row in enumerate(rows):
        cells = list(row)
        out.append('<tr class="chosen">' if index in chosen else "<tr>")
        out += [f"<td{' class=num' if i in num else ''}>{c}</td>" for i, c in enumerate(cells)]
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _pre(text: str, cls: str = "") -> str:
    return f'<pre class="{e(cls)}">{e(text)}</pre>' if text else '<p class="empty">empty</p>'


def _tail(text: str, limit: int = OUTPUT_CHARS) -> str:
    if len(text) <= limit:
        return text
    return f"[... {len(text) - limit} earlier characters not shown ...]\n" + text[-limit:]


def _duration(seconds: Any) -> str:
    if not isinstance(seconds, int | float):
        return "-"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.2f} h"


def _usd(value: Any) -> str:
    """A dollar amount, the same everywhere on the page: cents would hide what a cheap run
    costs, so amounts under $10 keep four decimals."""
    usd = float(value) if isinstance(value, int | float) else 0.0
    if usd == 0:
        return "$0"
    if abs(usd) >= 10:
        return f"${usd:,.2f}"
    if abs(usd) < 0.00005:
        return "< $0.0001"
    return f"${usd:.4f}"


def _clock(event: Mapping[str, Any] | None) -> str:
    """The local date and time of a journal event."""
    when = (event or {}).get("time")
    if not isinstance(when, int | float):
        return "?"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(when))


def _number(value: Any, digits: int = 5) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return fmt(float(value), digits) if isinstance(value, int | float) else e(value) or "-"


def _rounded(value: Any) -> Any:
    """``value`` with floats cut to 6 significant digits, for compact JSON."""
    if isinstance(value, float):
        return float(f"{value:.6g}")
    if isinstance(value, Mapping):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(v) for v in value]
    return value


# --------------------------------------------------------------------------- the top


def _llm_totals(run: RunView) -> dict[str, float]:
    usage = (run.finished or {}).get("usage")
    if not isinstance(usage, Mapping):
        usage = {}
        for step in run.steps:
            for key, value in (step.node.get("usage") or {}).items():
                if isinstance(value, int | float):
                    usage[key] = usage.get(key, 0) + value
    calls_from_events = len(run.llm_calls)
    return {
        "calls": max(int(usage.get("calls", 0) or 0), calls_from_events),
        "tokens": int(usage.get("input_tokens", 0) or 0) + int(usage.get("output_tokens", 0) or 0),
        "usd": float(usage.get("usd", 0.0) or 0.0),
    }


def _medal(grading: Mapping[str, Any]) -> tuple[str, str]:
    for medal in ("gold", "silver", "bronze"):
        if grading.get(f"{medal}_medal"):
            return f"{medal} medal", medal
    if grading.get("above_median"):
        return "above median", "median"
    return "no medal", "none"


def _config(run: RunView) -> Mapping[str, Any]:
    config = run.info.get("config")
    return config if isinstance(config, Mapping) else {}


def _optimizer_name(run: RunView) -> str:
    optimizer = _config(run).get("optimizer")
    if isinstance(optimizer, Mapping):
        return str(optimizer.get("name") or "?")
    return str(optimizer or "?")


def _llm_name(run: RunView) -> str:
    llm = _config(run).get("llm")
    if isinstance(llm, Mapping):
        model = llm.get("model")
        return f"{llm.get('name')}{':' + str(model) if model else ''}"
    return str(llm) if llm else "none (offline reasoner)"


def _status(run: RunView) -> tuple[str, str]:
    last = run.lifecycle[-1] if run.lifecycle else {}
    if last.get("type") == "run_finished":
        status = str(last.get("status") or "finished")
        reason = str(last.get("reason") or "")
        if status == "budget":
            return "budget spent", f"{reason} limit reached" if reason else ""
        return status, reason
    if last.get("type") == "run_paused":
        return "paused", str(last.get("reason") or "")
    return "running or killed", "the journal has no run_finished event"


def _elapsed_note(run: RunView) -> str:
    """What the elapsed card's time is."""
    last = run.lifecycle[-1].get("type") if run.lifecycle else None
    resumed = any(ev.get("type") == "run_resumed" for ev in run.lifecycle)
    paused = " (pauses not counted)" if resumed else ""
    if last == "run_finished":
        return "run time, start to finish" + paused
    if last == "run_paused":
        return "run time until it was paused" + paused
    stamp = _clock(run.events[-1] if run.events else None)
    return f"run time up to the last journal entry ({e(stamp)}){paused}; the run has not finished"


def _timeline(run: RunView) -> str:
    """The run's sessions: started, paused, resumed, finished; shown when it was paused or
    resumed."""
    if not any(ev.get("type") in ("run_paused", "run_resumed") for ev in run.lifecycle):
        return ""
    parts = []
    previous = None
    for ev in run.lifecycle:
        kind = ev.get("type")
        at = _duration(ev.get("elapsed_s"))
        if kind == "run_started":
            parts.append(f"started {e(_clock(ev))}")
        elif kind == "run_paused":
            reason = f": {e(ev['reason'])}" if ev.get("reason") else ""
            parts.append(
                f"<b>paused</b> {e(_clock(ev))} at {at} of run time, after "
                f"{e(ev.get('steps'))} steps{reason}"
            )
        elif kind == "run_resumed":
            if previous not in ("run_paused", "run_finished"):
                parts.append("stopped without a record (killed)")
            parts.append(
                f"<b>resumed</b> {e(_clock(ev))} at {at}, {e(ev.get('steps'))} steps replayed"
            )
        elif kind == "run_finished":
            parts.append(f"finished {e(_clock(ev))} at {at} ({e(ev.get('status'))})")
        previous = kind
    if previous in ("run_started", "run_resumed"):
        parts.append("no end recorded yet")
    return f'<p class="timeline"><b>Timeline:</b> {" → ".join(parts)}.</p>'


def _final_row(run: RunView) -> Mapping[str, Any] | None:
    for row in (run.final_choice or {}).get("candidates") or ():
        if row.get("node_id") == run.final_id:
            return row
    return None


def _header(run: RunView) -> str:
    metric = run.metric
    status, reason = _status(run)
    direction = "lower" if metric.lower_is_better else "higher"
    if not run.metric_known:
        direction += " (assumed: the journal has no run_started event)"
    kind = "traces" if run.has_traces else "search tree"
    sub = [
        f"competition <b>{e(run.competition)}</b>",
        f"metric <b>{e(metric.name)}</b> ({e(direction)} is better)",
        f"preset <b>{e(run.preset or 'custom')}</b>",
        f"optimizer <b>{e(_optimizer_name(run))}</b> ({kind})",
        f"LLM <b>{e(_llm_name(run))}</b>",
        f"gome {e(run.info.get('gome_version') or '?')}",
    ]
    if run.info.get("created"):
        sub.append(f"created {e(run.info['created'])}")

    best = run.best()
    counts: dict[str, int] = {}
    for step in run.steps:
        counts[step.outcome] = counts.get(step.outcome, 0) + 1
    order = ("accepted", "rejected", "buggy") if run.has_traces else ("improved", "valid", "buggy")
    count_text = ", ".join(f"{counts.get(o, 0)} {OUTCOME_LABELS[o]}" for o in order)
    if run.unfinished:
        count_text += f"; {len(run.unfinished)} {_unfinished_label(run)}"
    llm = _llm_totals(run)
    final_note = ""
    final_row = _final_row(run)
    if final_row is not None:
        if (run.final_choice or {}).get("seeds"):
            mean = final_row.get("mean")
            final_note = f"re-validated mean {fmt(mean)}" if mean is not None else ""
        else:
            scores = final_row.get("scores") or [None]
            final_note = f"validation {e(metric.name)} {fmt(scores[0])} (not re-validated)"
    cards = [
        ("status", e(status), e(reason)),
        ("finished steps", str(len(run.steps)), e(count_text)),
        (
            f"best validation {e(metric.name)}",
            fmt(best.score) if best else "-",
            f"step {_link(best.id, run)}" if best else "no valid step",
        ),
        ("final choice", _link(run.final_id, run) if run.final_id else "-", final_note),
    ]
    if run.grading:
        label, kind_ = _medal(run.grading)
        cards.append(
            ("test score (graded)", _number(run.grading.get("score")), _badge(label, kind_))
        )
    else:
        cards.append(("test score", "-", "not graded"))
    if llm["calls"]:
        cards.append(("LLM", _usd(llm["usd"]), f"{llm['calls']} calls, {llm['tokens']:,} tokens"))
    else:
        cards.append(("LLM", "0 calls", "offline reasoner: no LLM calls"))
    cards.append(("elapsed", _duration(run.elapsed_s), _elapsed_note(run)))
    card_html = "".join(
        f'<div class="card"><div class="k">{k}</div><div class="v">{v}</div>'
        f'<div class="d">{d}</div></div>'
        for k, v, d in cards
    )
    return (
        f"<h1>gome run {e(run.run_id)}</h1>"
        f'<p class="sub">{" · ".join(sub)}</p>'
        f'<section id="summary"><div class="cards">{card_html}</div>{_timeline(run)}</section>'
    )


# --------------------------------------------------------------------------- sections


def _tree_section(run: RunView) -> str:
    if run.has_traces:
        title = "Traces"
        keys = [("accepted", "accepted (beat its trace's best)"), ("rejected", "rejected")]
    else:
        title = "Search tree"
        keys = [("improved", "new best when it finished"), ("valid", "valid, not a new best")]
    keys.append(("buggy", "buggy (failed to run or validate)"))
    if run.unfinished:
        keys.append(("running", _unfinished_label(run)))
    legend = "".join(
        f'<span class="key"><i class="o-{k}"></i>{e(label)}</span>' for k, label in keys
    )
    legend += '<span class="key"><i class="ring"></i>final choice</span>'
    legend += (
        '<span class="key">dashed: second parent (crossover)</span>'
        if any(len(s.parents) > 1 for s in run.steps)
        else ""
    )
    return (
        f'<section id="tree"><h2>{title}</h2><div class="scroll">{tree_svg(run)}</div>'
        f'<div class="legend">{legend}</div><p class="muted">Each node is one step (shape and '
        f"colour: its outcome); an edge leads from the node it was built from. Click a node for "
        f"its details.</p>"
        f"</section>"
    )


def _chart_section(run: RunView) -> str:
    per = "per trace" if run.has_traces else "over the search"
    return (
        f'<section id="scores"><h2>Validation score {per}</h2>'
        f'<div class="scroll">{score_chart(run)}</div></section>'
    )


def _final_section(run: RunView) -> str:
    out = ['<section id="final"><h2>Final choice</h2>']
    choice = run.final_choice
    if choice is None:
        out.append(
            '<p class="empty">No final choice was made (the run was interrupted, is still '
            "running, or produced no valid candidate).</p></section>"
        )
        return "".join(out)
    seeds = list(choice.get("seeds") or ())
    if not seeds:
        out.append(
            '<p class="muted">Not re-validated on fresh splits (one candidate only, or '
            "<code>engine.final_top_k = 1</code>).</p>"
        )
    traces = run.has_traces
    head = ["candidate", *(["trace"] if traces else []), "validation (run)"]
    head += [f"seed {e(s)}" for s in seeds]
    head += ["mean", ""] if seeds else [""]
    rows, chosen_rows = [], []
    for row in choice.get("candidates") or ():
        node_id = row.get("node_id")
        step = run.by_id.get(str(node_id))
        scores = list(row.get("scores") or ())
        cells = [_link(node_id, run), *([e(step.trace if step else "")] if traces else [])]
        cells += [_number(s) for s in scores[: 1 + len(seeds)]]
        cells += ["-"] * (1 + len(seeds) - len(scores))
        mean = row.get("mean")
        if seeds:
            cells.append(_number(mean) if mean is not None else "failed on a fresh split")
        chosen = node_id == choice.get("chosen")
        cells.append(_badge("chosen", "final") if chosen else "")
        if chosen:
            chosen_rows.append(len(rows))
        rows.append(cells)
    first = 2 if traces else 1
    numeric = range(first, first + len(seeds) + (2 if seeds else 1))
    out.append(_table(head, rows, num=numeric, chosen=chosen_rows))
    direction = "lowest" if run.metric.lower_is_better else "highest"
    if seeds:
        out.append(
            f'<p class="muted">The candidate with the {direction} mean validation '
            f"{e(run.metric.name)} over the original run and the fresh splits is submitted; one "
            f"that fails on a fresh split ranks last.</p>"
        )
        failed = [
            f"<li>{_link(row.get('node_id'), run)} on seed {e(seed)}: {e(why)}</li>"
            for row in choice.get("candidates") or ()
            for seed, why in (row.get("failures") or {}).items()
        ]
        if failed:
            out.append(f'<ul class="failures">{"".join(failed)}</ul>')
    else:
        out.append(
            f'<p class="muted">The candidate with the {direction} validation '
            f"{e(run.metric.name)} from the run is submitted.</p>"
        )
    out.append("</section>")
    return "".join(out)


def _grading_section(run: RunView) -> str:
    out = ['<section id="grading"><h2>Grading</h2>']
    grading = run.grading
    if not grading:
        out.append(
            '<p class="empty">Not graded: no grading.json (the competition has no answers, or '
            "the run made no submission).</p></section>"
        )
        return "".join(out)
    label, kind = _medal(grading)
    out.append(
        f"<p>Test {e(run.metric.name)} <b>{_number(grading.get('score'))}</b> "
        f"{_badge(label, kind)}"
        + (" " + _badge("above median", "median") if grading.get("above_median") else "")
        + "</p>"
    )
    keys = [
        "competition_id",
        "score",
        "gold_threshold",
        "silver_threshold",
        "bronze_threshold",
        "median_threshold",
        "any_medal",
        "gold_medal",
        "silver_medal",
        "bronze_medal",
        "above_median",
        "submission_exists",
        "valid_submission",
        "is_lower_better",
        "created_at",
        "reason",
    ]
    keys += [k for k in grading if k not in keys and k != "submission_path"]
    rows = [
        [f"<code>{e(k)}</code>", _number(grading[k]) if k in grading else ""]
        for k in keys
        if k in grading
    ]
    out.append(_table(["field (MLE-bench)", "value"], rows) + "</section>")
    return "".join(out)


def _llm_section(run: RunView) -> str:
    out = ['<section id="llm"><h2>LLM usage and cost</h2>']
    totals = _llm_totals(run)
    if not run.llm_calls and not totals["calls"]:
        out.append("<p><b>offline reasoner: no LLM calls</b> (no tokens, no cost).</p></section>")
        return "".join(out)
    groups: dict[tuple[str, str], dict[str, float]] = {}
    for call in run.llm_calls:
        usage = call.get("usage") or {}
        key = (str(call.get("model") or "?"), str(call.get("purpose") or "?"))
        group = groups.setdefault(key, {})
        group["calls"] = group.get("calls", 0) + (usage.get("calls") or 1)
        for field in (
            "input_tokens",
            "output_tokens",
            "cached_tokens",
            "reasoning_tokens",
            "usd",
            "latency_s",
        ):
            group[field] = group.get(field, 0) + float(usage.get(field) or 0)
    rows = []
    total: dict[str, float] = {}
    for (model, purpose), g in sorted(groups.items()):
        for k, v in g.items():
            total[k] = total.get(k, 0) + v
        rows.append(_llm_row(e(model), e(purpose), g))
    if len(rows) > 1:
        rows.append(_llm_row("<b>total</b>", "", total))
    out.append(
        _table(
            [
                "model",
                "purpose",
                "calls",
                "input tokens",
                "output tokens",
                "cached",
                "reasoning",
                "cost (USD)",
                "latency",
            ],
            rows,
            num=range(2, 9),
        )
    )
    budget = (run.started or {}).get("budget") or {}
    limits = []
    if budget.get("tokens") is not None:
        limits.append(f"{e(budget['tokens'])} tokens")
    if budget.get("usd") is not None:
        limits.append(_usd(budget["usd"]))
    if limits:
        out.append(f'<p class="muted">Budget: {", ".join(limits)}.</p>')
    out.append("</section>")
    return "".join(out)


def _llm_row(model: str, purpose: str, g: Mapping[str, float]) -> list[str]:
    return [
        model,
        purpose,
        f"{int(g.get('calls', 0)):,}",
        f"{int(g.get('input_tokens', 0)):,}",
        f"{int(g.get('output_tokens', 0)):,}",
        f"{int(g.get('cached_tokens', 0)):,}",
        f"{int(g.get('reasoning_tokens', 0)):,}",
        _usd(g.get("usd", 0)),
        _duration(g.get("latency_s", 0)),
    ]


# --------------------------------------------------------------------------- one step


def _weighted(scores: Mapping[str, Any]) -> float | None:
    try:
        return HypothesisScores(*(float(scores[name]) for name, _ in SCORE_AXES)).weighted()
    except (KeyError, TypeError, ValueError):
        return None


def _diagnosis(step: Step) -> str:
    direction = step.direction
    if not direction:
        return ""
    out = ["<h3>Diagnosis and direction</h3>"]
    seen = (step.reasoning or {}).get("seen")
    if isinstance(seen, Mapping) and seen:
        parts = ", ".join(f"{e(v)} {e(str(k).replace('_', '-'))}" for k, v in seen.items())
        out.append(f'<p class="muted">The reasoning saw: {parts}.</p>')
    problems = direction.get("problems") or ()
    if problems:
        out.append('<p class="lead">Problems identified</p><ul class=problems>')
        for problem in problems:
            tags = [e(problem.get("category") or "")]
            if problem.get("expected_impact"):
                tags.append(f"impact {e(problem['expected_impact'])}")
            crit = ' <span class="crit">critical</span>' if problem.get("critical") else ""
            reasoning = problem.get("reasoning")
            out.append(
                f"<li>{e(problem.get('statement'))}{crit} "
                f'<span class="muted">({", ".join(t for t in tags if t)})</span>'
                + (f'<br><span class="muted">{e(reasoning)}</span>' if reasoning else "")
                + "</li>"
            )
        out.append("</ul>")
    chosen = direction.get("chosen") or {}
    candidates = list(direction.get("candidates") or ())
    if candidates:
        rows, chosen_rows = [], []
        chosen_found = False
        for hyp in candidates:
            scores = hyp.get("scores") or {}
            is_chosen = hyp.get("statement") == chosen.get("statement")
            chosen_found = chosen_found or is_chosen
            cells = [
                e(hyp.get("statement")),
                e(hyp.get("component")),
                *(_number(scores.get(name), 3) for name, _ in SCORE_AXES),
                fmt(_weighted(scores), 3) if scores else "-",
                _badge("chosen", "final") if is_chosen else "",
            ]
            if is_chosen:
                chosen_rows.append(len(rows))
            rows.append(cells)
        out.append(
            '<p class="lead">Candidate hypotheses <span class="muted">(scores 1-10; weighted '
            "0.2 / 0.4 / 0.2 / 0.1 / 0.1)</span></p>"
        )
        out.append(
            _table(
                ["hypothesis", "component", *(label for _, label in SCORE_AXES), "weighted", ""],
                rows,
                num=range(2, 8),
                chosen=chosen_rows,
            )
        )
        if not chosen_found:
            out.append('<p class="muted">The chosen hypothesis is none of the candidates.</p>')
    out.append(
        f"<p><b>Chosen:</b> {e(chosen.get('statement'))} "
        f'<span class="muted">({e(chosen.get("component"))})</span></p>'
    )
    if chosen.get("rationale"):
        out.append(f'<p class="muted">Rationale: {e(chosen["rationale"])}</p>')
    if chosen.get("edit"):
        edit = json.dumps(chosen["edit"], sort_keys=True, default=str)
        out.append(f'<p class="muted">Edit: <code>{e(edit)}</code></p>')
    if direction.get("selection"):
        out.append(f"<p><b>Selection:</b> {e(direction['selection'])}</p>")
    repaired = step.candidate.get("direction") or {}
    if repaired.get("dropped"):
        instead = (repaired.get("chosen") or {}).get("statement")
        out.append(
            f"<p><b>Dropped by the repair:</b> {e((repaired['dropped'] or {}).get('statement'))} "
            f'<span class="muted">(its code failed; the repaired code does this instead: '
            f"{e(instead)})</span></p>"
        )
    return "".join(out)


def _scores_detail(details: Mapping[str, Any]) -> str:
    scores = details.get("scores")
    parts = []
    if isinstance(scores, Mapping):
        for model, values in scores.items():
            if isinstance(values, Mapping):
                inner = ", ".join(f"{e(k)} {_number(v)}" for k, v in values.items())
                parts.append(f"{e(model)}: {inner}")
    rest = {k: v for k, v in details.items() if k != "scores"}
    if rest:
        text = json.dumps(_rounded(rest), sort_keys=True, default=str)
        parts.append(e(text if len(text) < 400 else text[:400] + " ..."))
    return "<br>".join(parts)


def _run_line(data: Mapping[str, Any] | None) -> str:
    """One line for a journaled execution result: its outcome (the result type's own), exit,
    time, memory, and GPU telemetry when the executor measured it."""
    if not data:
        return ""
    try:
        result = from_data(data, ExecutionResult)
    except Exception:  # a journal of another version, or damaged
        return "unreadable result"
    outcome = result.outcome
    word = RUN_OUTCOME_LABELS.get(outcome, outcome)
    if outcome == "signal":
        word = f"signal {result.signal}"
    parts = [word]
    if result.exit_code is not None:
        parts.append(f"exit {result.exit_code}")
    parts.append(_duration(result.wall_s))
    if result.peak_memory_mb is not None:
        parts.append(f"{result.peak_memory_mb:.0f} MB")
    if result.gpu_devices:
        parts.append(f"GPU {'+'.join(result.gpu_devices)}")
    if result.gpu_peak_memory_mb is not None:
        parts.append(f"{result.gpu_peak_memory_mb:.0f} MiB GPU peak")
    if result.gpu_utilization is not None:
        parts.append(f"{result.gpu_utilization:.0f}% GPU utilisation")
    if result.reused_from:
        parts.append(f"reused from {result.reused_from} (identical program, not run again)")
    return ", ".join(parts)


def _verdicts(step: Step) -> str:
    reports = step.node.get("reports") or ()
    out = ["<h3>Validation</h3>"]
    for repair in step.repairs:
        reasons = "\n".join(str(r) for r in repair.get("reasons") or ())
        out.append(
            f"<p>Repair round {e(repair.get('round'))} after the debug run failed:</p>"
            + _pre(_tail(reasons, 4000), "wrap")
        )
    if not reports:
        out.append('<p class="empty">No validator ran (the step failed before).</p>')
        return "".join(out)
    rows = []
    for report in reports:
        passed = bool(report.get("passed"))
        reasons = report.get("reasons") or ()
        reason_html = "".join(f'<pre class="wrap">{e(r)}</pre>' for r in reasons)
        rows.append(
            [
                e(report.get("level")),
                e(report.get("validator")),
                _badge("pass", "pass") if passed else _badge("fail", "fail"),
                _number(report.get("score")),
                e(_run_line(report.get("result"))),
                reason_html + _scores_detail(report.get("details") or {}),
            ]
        )
    out.append(
        _table(
            ["level", "validator", "verdict", "score", "run", "reasons and details"],
            rows,
            num=(0, 3),
        )
    )
    return "".join(out)


def _file_order(names: Iterable[str]) -> list[str]:
    return sorted(set(names), key=lambda n: (n != "main.py", n))


def _diff(step: Step, run: RunView) -> str:
    parent = next((run.by_id[p] for p in step.parents if p in run.by_id), None)
    files = step.files
    if parent is None:
        if not files:
            return ""
        return (
            f"<h3>Code</h3><p class=muted>{e(step.operator)}: no parent to compare with.</p>"
            + _code(files, open_=True)
        )
    old = parent.files
    lines: list[str] = []
    for name in _file_order([*old, *files]):
        a, b = old.get(name), files.get(name)
        if a == b:
            continue
        lines.extend(
            difflib.unified_diff(
                (a or "").splitlines(),
                (b or "").splitlines(),
                fromfile=f"{parent.id}/{name}" if a is not None else "/dev/null",
                tofile=f"{step.id}/{name}" if b is not None else "/dev/null",
                lineterm="",
            )
        )
    head = f"<h3>Code diff against {_link(parent.id, run)}</h3>"
    if not lines:
        return head + '<p class="empty">no change</p>' + _code(files)
    cut = len(lines) - DIFF_LINES
    html_lines = []
    for line in lines[:DIFF_LINES]:
        if line.startswith(("+++", "---")):
            cls = "file"
        elif line.startswith("@@"):
            cls = "hunk"
        elif line.startswith("+"):
            cls = "add"
        elif line.startswith("-"):
            cls = "del"
        else:
            html_lines.append(e(line) + "\n")
            continue
        html_lines.append(f'<span class="{cls}">{e(line)}</span>')
    if cut > 0:
        html_lines.append(f"[... {cut} more diff lines not shown ...]\n")
    return head + f'<pre class="diff">{"".join(html_lines)}</pre>' + _code(files)


def _code(files: Mapping[str, str], open_: bool = False) -> str:
    if not files:
        return ""
    parts = []
    for name in _file_order(files):
        text = files[name]
        parts.append(f"<b>{e(name)}</b> <span class=muted>({text.count(chr(10)) + 1} lines)</span>")
        parts.append(_pre(text))
    summary = f"code ({len(files)} file{'s' if len(files) != 1 else ''})"
    return f'<details class="sub"{" open" if open_ else ""}><summary>{summary}</summary>' + (
        "".join(parts) + "</details>"
    )


def _outputs(step: Step, run: RunView) -> str:
    stdout = run.read_output(step, "stdout")
    stderr = run.read_output(step, "stderr")
    if not stdout and not stderr:
        return ""
    return (
        '<h3>Output (its last run)</h3><div class="grid2">'
        f"<div><b>stdout</b>{_pre(_tail(stdout))}</div>"
        f"<div><b>stderr</b>{_pre(_tail(stderr))}</div></div>"
    )


def _unfinished_label(run: RunView) -> str:
    return "not finished (cut off)" if run.ended else "in flight"


def _comparison(step: Step, run: RunView) -> str:
    """The step's score against what it was compared with (its trace's best before it, or its
    parent), and the difference, read in the metric's direction."""
    if step.outcome == "running" or step.buggy or step.score is None:
        return ""
    if run.has_traces:
        if step.reference_id is None:
            return f"first valid step of trace {e(step.trace)}"
        what = "trace best"
    else:
        if step.reference_id is None:
            return "a draft: no parent to compare with" if not step.parents else ""
        if step.reference_score is None:
            return f"parent {_link(step.reference_id, run)} was buggy"
        what = "parent"
    reference = step.reference_score
    if reference is None or not math.isfinite(step.score - reference):
        return ""
    delta = step.score - reference
    gain = -delta if run.metric.lower_is_better else delta
    verdict = "better" if gain > 0 else "worse" if gain < 0 else "equal"
    sign = "+" if delta > 0 else "-" if delta < 0 else "±"
    return (
        f"vs {what} {_link(step.reference_id, run)} ({e(fmt(reference))}): "
        f'<span class="d-{verdict}">{sign}{e(fmt(abs(delta), 4))}, {verdict}</span>'
    )


def _step(step: Step, run: RunView) -> str:
    running = step.outcome == "running"
    label = _unfinished_label(run) if running else OUTCOME_LABELS.get(step.outcome, step.outcome)
    badges = _badge(label, step.outcome) + (" " + _badge("final", "final") if step.final else "")
    if step.new_best and step.outcome != "improved":
        badges += ' <span class="muted">new global best</span>'
    meta = [e(step.operator)]
    if step.trace is not None:
        meta.append(f"trace {e(step.trace)}")
    if step.parents:
        meta.append("from " + ", ".join(e(p) for p in step.parents))
    if running and step.started_s is not None:
        meta.append(f"started at {_duration(step.started_s)}")
    if step.elapsed_s is not None:
        meta.append(f"at {_duration(step.elapsed_s)}")
    usage = step.node.get("usage") or {}
    if usage.get("calls"):
        tokens = int(usage.get("input_tokens", 0)) + int(usage.get("output_tokens", 0))
        meta.append(f"{usage['calls']} LLM calls, {tokens:,} tokens, {_usd(usage.get('usd', 0))}")
    if step.score is None:
        score = ""  # the badge says why: buggy, or not finished
    else:
        score = f"<b>{e(fmt(step.score))}</b>" + (" (not counted)" if step.buggy else "")
    comparison = _comparison(step, run)
    if comparison:
        score += f' <span class="vs">{comparison}</span>'
    chosen = ((step.direction or {}).get("chosen") or {}).get("statement")
    hyp = f'<span class="hyp">{e(chosen)}</span>' if chosen else ""
    classes = f"step o-{step.outcome}" + (" final" if step.final else "")
    number = "" if running else f"#{step.number} "
    body = ['<div class="body">', _step_intro(step, run, comparison)]
    if running:
        body.append(_diagnosis(step))
    else:
        if step.node.get("error"):
            body.append("<h3>Step error</h3>" + _pre(str(step.node["error"]), "wrap"))
        plan = step.candidate.get("plan")
        if plan:
            body.append("<h3>Plan</h3>" + _pre(str(plan), "wrap"))
        body.append(_diagnosis(step))
        body.append(_verdicts(step))
        result = step.node.get("result")
        if result:
            body.append(f'<p class="muted">Last run: {e(_run_line(result))}</p>')
            for note in result.get("notes") or ():
                body.append(f'<p class="muted">Executor note: {e(note)}</p>')
        if step.node.get("analysis"):
            body.append("<h3>Analysis</h3>" + _pre(str(step.node["analysis"]), "wrap"))
        body.append(_diff(step, run))
        body.append(_outputs(step, run))
    body.append("</div>")
    return (
        f'<details class="{classes}" id="{anchor(step.id)}" data-outcome="{e(step.outcome)}">'
        f"<summary><b>{number}{e(step.id)}</b> {badges} {score}"
        f'<span class="meta">{" · ".join(meta)}</span>{hyp}</summary>'
        + "".join(body)
        + "</details>"
    )


def _step_intro(step: Step, run: RunView, comparison: str) -> str:
    parents = ", ".join(_link(p, run) for p in step.parents) if step.parents else "none"
    if step.outcome == "running":
        if run.ended:
            state = "The run stopped before this step finished: it is not counted."
            if run.lifecycle[-1].get("type") == "run_paused":
                state += " Resuming the run starts it again."
        else:
            state = (
                "Started, not finished at the last journal entry: still running, or the run "
                "was killed."
            )
        started = f" at {_duration(step.started_s)}" if step.started_s is not None else ""
        return (
            f"<p>Proposal {e(step.id)}, parents {parents}; started{started} of run time. "
            f"{state} What its reasoning journaled so far is below.</p>"
        )
    proposal = f" (proposal {e(step.proposal_id)})" if step.proposal_id != step.id else ""
    if step.score is None:
        score = "no validation score"
    else:
        score = f"validation {e(run.metric.name)} <b>{e(fmt(step.score))}</b>"
    return (
        f"<p>Step {step.number}: node {e(step.id)}{proposal}, parents {parents}; {score}"
        + (f"; {comparison}" if comparison else "")
        + ".</p>"
    )


def _steps_section(run: RunView) -> str:
    if not run.steps and not run.unfinished:
        return '<section id="steps"><h2>Steps</h2><p class="empty">No step yet.</p></section>'
    outcomes = ("accepted", "rejected") if run.has_traces else ("improved", "valid")
    buttons = [
        ("all", "all"),
        *((o, OUTCOME_LABELS[o]) for o in outcomes),
        ("buggy", "buggy"),
        *([("running", _unfinished_label(run))] if run.unfinished else []),
        ("final", "final"),
    ]
    toolbar = (
        '<div class="toolbar" hidden>'
        + "".join(
            f'<button type="button" data-filter="{k}" aria-pressed="{str(k == "all").lower()}"'
            f"{' class=active' if k == 'all' else ''}>{e(label)}</button>"
            for k, label in buttons
        )
        + '<button type="button" data-expand="open">expand all</button>'
        '<button type="button" data-expand="close">collapse all</button></div>'
    )
    unfinished = ""
    if run.unfinished:
        unfinished = (
            f'<p class="muted">Started, not finished ({len(run.unfinished)}): '
            f"{e(_unfinished_label(run))}.</p>" + "".join(_step(s, run) for s in run.unfinished)
        )
    return (
        '<section id="steps"><h2>Steps</h2>'
        '<p class="muted">In the order they finished. Open a step for its diagnosis, validator '
        "verdicts, code diff and output. Each step's score is compared with "
        + ("its trace's best before it" if run.has_traces else "its parent's")
        + ".</p>"
        + toolbar
        + "".join(_step(step, run) for step in run.steps)
        + unfinished
        + "</section>"
    )


def _config_section(run: RunView) -> str:
    out = ['<section id="config"><h2>Configuration</h2>']
    plugins = run.info.get("plugins")
    if isinstance(plugins, list) and plugins:
        rows = [
            [e(p.get("name")), e(p.get("distribution") or "-"), e(p.get("version") or "-")]
            for p in plugins
            if isinstance(p, Mapping)
        ]
        out.append(_table(["plugin", "distribution", "version"], rows))
    if run.config_toml:
        out.append(
            '<details class="sub"><summary>config.toml (the resolved configuration)</summary>'
            + _pre(run.config_toml)
            + "</details>"
        )
    out.append("</section>")
    return "".join(out)


# --------------------------------------------------------------------------- the page


def render(run: RunView, *, generated: float | None = None) -> str:
    """The report of ``run`` as one HTML document."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(generated or time.time()))
    csp = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        f"script-src {script_hash(JS)}; base-uri 'none'; form-action 'none'"
    )
    nav = "".join(
        f'<a href="#{k}">{label}</a>'
        for k, label in (
            ("summary", "Summary"),
            ("tree", "Traces" if run.has_traces else "Tree"),
            ("scores", "Scores"),
            ("final", "Final choice"),
            ("grading", "Grading"),
            ("llm", "LLM"),
            ("steps", f"Steps ({len(run.steps) + len(run.unfinished)})"),
            ("config", "Configuration"),
        )
    )
    body = "".join(
        (
            _header(run),
            _tree_section(run),
            _chart_section(run),
            _final_section(run),
            _grading_section(run),
            _llm_section(run),
            _steps_section(run),
            _config_section(run),
        )
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{e(csp)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>gome report: {e(run.run_id)}</title>"
        f"<style>{CSS}</style></head><body>"
        f'<nav><div class="nav">{nav}</div></nav><main>'
        f"{body}"
        f"<footer>Generated by gome from {e(run.path.name)}/journal.jsonl on {e(stamp)}. "
        "Self-contained: this file loads nothing from the network.</footer>"
        f"</main><script>{JS}</script></body></html>\n"
    )

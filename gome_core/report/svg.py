"""Inline SVG drawings for the report: the trace trees / search tree, and scores over steps.

Drawn in Python so the page needs no chart library and no network. Every text that comes from the
run (ids, operators, scores) is escaped; nodes and points link to their step (``#step-...``).
"""

from __future__ import annotations

import math
import zlib
from html import escape

from gome_core.report.model import RunView, Step

__all__ = ["anchor", "score_chart", "tree_svg"]

#: Colours of traces in the score chart (colour-blind-safe order).
TRACE_COLOURS = (
    "#0072b2",
    "#e69f00",
    "#009e73",
    "#cc79a7",
    "#56b4e9",
    "#d55e00",
    "#7f7f7f",
    "#f0e442",
)


def anchor(node_id: str) -> str:
    """The element id of a step's section: stable, and safe in attributes and URLs."""
    safe = "".join(c if c.isascii() and (c.isalnum() or c in "-_") else "_" for c in node_id)
    if safe == node_id:
        return f"step-{safe}"
    # Two ids that differ only in unsafe characters must not collide.
    return f"step-{safe}-{zlib.crc32(node_id.encode()):08x}"


def fmt(value: float | None, digits: int = 5) -> str:
    """A score for people: ``-`` when missing."""
    if value is None:
        return "-"
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return str(value)
    return f"{value:.{digits}g}"


def _node_title(step: Step) -> str:
    trace = f", trace {step.trace}" if step.trace is not None else ""
    if step.outcome == "running":
        return f"not finished: {step.id} ({step.operator}{trace})"
    if step.score is None:
        score = "no score"
    else:
        score = f"score {fmt(step.score)}" + (" (not counted)" if step.buggy else "")
    return f"step {step.number}: {step.id} ({step.operator}{trace}), {score}, {step.outcome}" + (
        ", final choice" if step.final else ""
    )


def _shape(step: Step, x: float, y: float) -> str:
    """A tree node's mark: its shape tells the outcome apart without colour (a circle for
    accepted / new best, a diamond for rejected / no gain, a crossed square for buggy, a
    dashed ring for a step not finished)."""
    cls = f"dot o-{step.outcome}"
    if step.outcome in ("rejected", "valid"):
        return f'<path class="{cls}" d="M{x:.1f},{y - 9:.1f}l9,9l-9,9l-9,-9z"/>'
    if step.outcome == "buggy":
        return (
            f'<rect class="{cls}" x="{x - 7:.1f}" y="{y - 7:.1f}" width="14" height="14"/>'
            f'<path class="cross" d="M{x - 4:.1f},{y - 4:.1f}l8,8m0,-8l-8,8"/>'
        )
    return f'<circle class="{cls}" cx="{x:.1f}" cy="{y:.1f}" r="8"/>'


# --------------------------------------------------------------------------- the tree


def tree_svg(run: RunView) -> str:
    """The trace trees (one per trace) or the search tree, left to right from the drafts."""
    nodes = [*run.steps, *run.unfinished]
    if not nodes:
        return '<p class="empty">No step yet.</p>'
    known = {step.id for step in nodes}
    children: dict[str | None, list[Step]] = {}
    for step in nodes:
        parent = next((p for p in step.parents if p in known), None)
        children.setdefault(parent, []).append(step)

    groups: list[tuple[str, list[Step]]] = []
    roots = children.get(None, [])
    if run.has_traces:
        traces = sorted({s.trace for s in roots}, key=lambda t: (t is None, t or 0))
        for trace in traces:
            label = f"trace {trace}" if trace is not None else "no trace"
            groups.append((label, [s for s in roots if s.trace == trace]))
    else:
        groups.append(("search tree", roots))

    dx, dy, top = 84, 34, 28
    # Traces are labelled on the left; a search tree grows from a drawn root instead.
    left, first_depth = (76, 0) if run.has_traces else (30, 1)
    pos: dict[str, tuple[float, float]] = {}
    depth_max = 0
    row = 0.0
    labels: list[tuple[str, float]] = []

    seen: set[str] = set()

    def place(root: Step, root_depth: int) -> None:
        """Leaves take the next rows, a parent sits between its first and last child. Depth
        first with a stack of its own: a chain of a long run is deeper than Python's."""
        nonlocal row, depth_max
        ys: dict[str, float] = {}
        stack: list[tuple[Step, int, list[Step] | None]] = [(root, root_depth, None)]
        seen.add(root.id)
        while stack:
            step, depth, kids = stack.pop()
            if kids is None:  # first visit: its children go first
                kids = [k for k in children.get(step.id, []) if k.id not in seen]
                seen.update(k.id for k in kids)
                if kids:
                    stack.append((step, depth, kids))
                    stack.extend((kid, depth + 1, None) for kid in reversed(kids))
                    continue
            depth_max = max(depth_max, depth)
            if kids:
                y = (ys[kids[0].id] + ys[kids[-1].id]) / 2
            else:
                y = row
                row += 1
            ys[step.id] = y
            pos[step.id] = (left + depth * dx, top + y * dy)

    for label, group_roots in groups:
        start = row
        for root in group_roots:
            place(root, first_depth)
        labels.append((label, top + (start + row - 1) / 2 * dy))
        row += 0.6  # a gap between traces

    width = left + depth_max * dx + 60
    height = top + (row - 0.6) * dy + 10
    out = [
        f'<svg class="tree" xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" '
        f'height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" role="img" '
        f'aria-label="{"trace trees" if run.has_traces else "search tree"}">'
    ]
    if run.has_traces:
        for label, y in labels:
            out.append(f'<text class="group" x="6" y="{y + 4:.1f}">{escape(label)}</text>')
    elif roots:
        ry = sum(pos[r.id][1] for r in roots) / len(roots)
        for root in roots:
            x, y = pos[root.id]
            mid = (left + x) / 2
            out.append(
                f'<path class="edge" d="M{left + 6},{ry:.1f} C{mid:.1f},{ry:.1f} '
                f'{mid:.1f},{y:.1f} {x - 8:.1f},{y:.1f}"/>'
            )
        out.append(
            f'<rect class="root" x="{left - 6}" y="{ry - 6:.1f}" width="12" height="12"/>'
            f'<text class="group" x="{left}" y="{ry - 12:.1f}" text-anchor="middle">root</text>'
        )
    for step in nodes:
        x, y = pos[step.id]
        first = True
        for parent in step.parents:
            if parent not in pos:
                continue
            px, py = pos[parent]
            cls = "edge" if first else "edge extra"  # a crossover's second parent: dashed
            mid = (px + x) / 2
            out.append(
                f'<path class="{cls}" d="M{px + 8:.1f},{py:.1f} C{mid:.1f},{py:.1f} '
                f'{mid:.1f},{y:.1f} {x - 8:.1f},{y:.1f}"/>'
            )
            first = False
    for step in nodes:
        x, y = pos[step.id]
        final = f' <circle class="final-ring" cx="{x:.1f}" cy="{y:.1f}" r="11.5"/>'
        cls = "node running" if step.outcome == "running" else "node"
        out.append(
            f'<a class="{cls}" href="#{anchor(step.id)}" data-node="{escape(step.id)}">'
            f"<title>{escape(_node_title(step))}</title>"
            + (final if step.final else "")
            + _shape(step, x, y)
            + f'<text class="label" x="{x:.1f}" y="{y - 12:.1f}" text-anchor="middle">'
            f"{escape(step.id)}</text></a>"
        )
    out.append("</svg>")
    return "".join(out)


# --------------------------------------------------------------------------- the chart


def _nice_step(lo: float, hi: float, count: int = 5) -> float:
    raw = (hi - lo) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)


def _nice_ticks(lo: float, hi: float, count: int = 5, step: float | None = None) -> list[float]:
    if hi <= lo:
        return [lo]
    step = step or _nice_step(lo, hi, count)
    first = math.ceil(lo / step)
    # Counted, not accumulated: a step below the floats' resolution at this value would never
    # move a running sum forward.
    n = min(int(math.floor(hi / step + 1e-9)) - first + 1, 100)
    return [round((first + k) * step, 12) for k in range(max(n, 1))]


def _series(run: RunView) -> list[tuple[str, str, list[Step]]]:
    """(label, colour, steps) per trace, or one series for a tree search."""
    if not run.has_traces:
        return [("all nodes", TRACE_COLOURS[0], list(run.steps))]
    traces = sorted({s.trace for s in run.steps}, key=lambda t: (t is None, t or 0))
    return [
        (
            f"trace {t}" if t is not None else "no trace",
            TRACE_COLOURS[i % len(TRACE_COLOURS)],
            [s for s in run.steps if s.trace == t],
        )
        for i, t in enumerate(traces)
    ]


def _plotted(step: Step) -> bool:
    return not step.buggy and step.score is not None and math.isfinite(step.score)


def score_chart(run: RunView, width: int = 1150, height: int = 320) -> str:
    """Validation score of every valid step (dots) and each trace's best so far (lines)."""
    scored = [s for s in run.steps if _plotted(s)]
    if not scored:
        return '<p class="empty">No step has a validation score yet.</p>'
    ml, mr, mt, mb = 64, 16, 14, 42
    pw, ph = width - ml - mr, height - mt - mb
    n = max(s.number for s in run.steps)
    metric = run.metric
    values = sorted(s.score for s in scored)  # type: ignore[type-var]
    lo, hi = values[0], values[-1]
    if len(values) >= 8:
        # A few very bad scores (a broken draft) would flatten the rest: past a generous fence on
        # the bad side, points sit on the edge as triangles; their titles keep the true value.
        q1, q3 = values[len(values) // 4], values[(3 * len(values)) // 4]
        spread = 3 * (q3 - q1)
        if spread > 0:
            if metric.lower_is_better:
                hi = max(v for v in values if v <= q3 + spread)
            else:
                lo = min(v for v in values if v >= q1 - spread)
    if hi - lo <= 1e-9 * max(abs(lo), abs(hi)):  # equal, or one rounding apart
        pad = abs(hi) * 0.05 or 1.0
    else:
        pad = (hi - lo) * 0.04
    lo, hi = lo - pad, hi + pad
    # The axis ends on ticks, so labels frame every plotted score (the bests included).
    y_step = _nice_step(lo, hi)
    lo, hi = math.floor(lo / y_step) * y_step, math.ceil(hi / y_step) * y_step
    clipped = any(v < lo or v > hi for v in values)

    def x_of(number: float) -> float:
        return ml + (number - 0.5) / n * pw

    def y_of(score: float) -> float:
        return mt + (hi - min(hi, max(lo, score))) / (hi - lo) * ph

    worse_y = mt + 6 if metric.lower_is_better else mt + ph - 6

    out = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="validation {escape(metric.name)} per step">'
    ]
    for tick in _nice_ticks(lo, hi, step=y_step):
        y = y_of(tick)
        out.append(
            f'<line class="grid" x1="{ml}" x2="{ml + pw}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="tick" x="{ml - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(fmt(tick, 4))}</text>"
        )
    x_ticks = _nice_ticks(1, n, min(10, n)) if n > 1 else [1]
    for tick in x_ticks:
        if tick != int(tick):
            continue
        x = x_of(tick)
        out.append(
            f'<text class="tick" x="{x:.1f}" y="{mt + ph + 16}" text-anchor="middle">'
            f"{int(tick)}</text>"
        )
    out.append(
        f'<rect class="frame" x="{ml}" y="{mt}" width="{pw}" height="{ph}"/>'
        f'<text class="axis" x="{ml + pw / 2:.1f}" y="{height - 6}" text-anchor="middle">'
        f"step (in the order steps finished)</text>"
        f'<text class="axis" transform="translate(14,{mt + ph / 2:.1f}) rotate(-90)" '
        f'text-anchor="middle">validation {escape(metric.name)} '
        f"({'lower' if metric.lower_is_better else 'higher'} is better)</text>"
    )
    resumes = [
        ev.get("steps")
        for ev in run.lifecycle
        if ev.get("type") == "run_resumed" and isinstance(ev.get("steps"), int)
    ]
    for steps_before in resumes:  # the steps finished before a resume, then those after it
        x = x_of(steps_before + 0.5)
        out.append(
            f'<line class="resume" x1="{x:.1f}" x2="{x:.1f}" y1="{mt}" y2="{mt + ph}"/>'
            f'<text class="tick" x="{x + 3:.1f}" y="{mt + ph - 4}">resumed</text>'
        )
    legend: list[str] = []
    for label, colour, steps in _series(run):
        best: float | None = None
        points: list[tuple[float, float]] = []
        for step in steps:
            if not _plotted(step):
                continue
            if metric.better(step.score, best):
                if best is not None:
                    points.append((x_of(step.number), y_of(best)))  # hold, then jump: a step line
                best = step.score
                points.append((x_of(step.number), y_of(best)))
        if points:
            points.append((x_of(n + 0.5), points[-1][1]))
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            out.append(f'<polyline class="best" style="stroke:{colour}" points="{path}"/>')
        for step in steps:
            x = x_of(step.number)
            title = f"<title>{escape(_node_title(step))}</title>"
            href = f'href="#{anchor(step.id)}"'
            if not _plotted(step):
                y = worse_y  # in the margin of bad scores, like the off-scale triangles
                out.append(
                    f'<a class="point" {href}>{title}<path class="buggy-mark" '
                    f'd="M{x - 4:.1f},{y - 4:.1f}l8,8m0,-8l-8,8"/></a>'
                )
                continue
            y = y_of(step.score)
            ring = (
                f'<circle class="final-ring" cx="{x:.1f}" cy="{y:.1f}" r="8.5"/>'
                if step.final
                else ""
            )
            hollow = step.outcome in ("rejected", "valid")
            if not lo <= step.score <= hi:
                tip = 5 if step.score > hi else -5  # the triangle points off the scale
                y = mt + 5 if step.score > hi else mt + ph - 5
                out.append(
                    f'<a class="point" {href}>{title}<path d="M{x - 5:.1f},{y + tip:.1f}'
                    f'l5,{-2 * tip}l5,{2 * tip}z" style="stroke:{colour};'
                    f'fill:{"#fff" if hollow else colour}"/></a>'
                )
                continue
            out.append(
                f'<a class="point" {href}>{title}{ring}<circle cx="{x:.1f}" cy="{y:.1f}" r="4.5" '
                f'style="stroke:{colour};fill:{"#fff" if hollow else colour}"/></a>'
            )
        legend.append(
            f'<span class="key"><i style="background:{colour}"></i>{escape(label)}</span>'
        )
    out.append("</svg>")
    notes = (
        '<span class="key"><i class="hollow"></i>rejected / no gain</span>'
        f'<span class="key"><i class="cross">×</i>buggy (on the worse edge, '
        f"{'top' if metric.lower_is_better else 'bottom'})</span>"
        '<span class="key"><i class="ring"></i>final choice</span>'
        '<span class="key">line: best so far</span>'
    ) + ('<span class="key">▲ off the scale (title shows the score)</span>' if clipped else "")
    if resumes:
        notes += '<span class="key">dashed line: the run was resumed there</span>'
    return "".join(out) + f'<div class="legend">{"".join(legend)}{notes}</div>'

"""The study's figures, drawn with matplotlib's Agg renderer (imported only here, when drawing).

* ``crossover.png``: any-medal rate (mean ± standard error over seeds, all competitions) against
  model strength, one line per preset: where tree search and Gome cross over.
* ``convergence.png``: best validation score so far against steps, one panel per competition,
  one line per preset (mean over its cells, shaded ± standard error).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from gome_core.study.aggregate import ALL_COMPETITIONS, AggregateRow, estimate

__all__ = ["plot_convergence", "plot_crossover", "write_plots"]


def _figure(width: float, height: float) -> Any:
    # A bare Figure draws with Agg and leaves pyplot's global state (and the host's backend) alone.
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def plot_crossover(
    rows: Sequence[AggregateRow], path: Path, *, numeric_axis: bool, axis_label: str
) -> Path:
    """Any-medal rate against model strength per preset. ``numeric_axis``: the models are
    skills (their values are the x positions); otherwise they are placed in the spec's order."""
    # The pooled rows when there are several competitions, else the one competition's rows.
    chosen = [r for r in rows if r.competition == ALL_COMPETITIONS] or list(rows)
    by_preset: dict[str, list[AggregateRow]] = defaultdict(list)
    for row in chosen:
        by_preset[row.preset].append(row)
    fig = _figure(6.4, 4.2)
    ax = fig.add_subplot()
    labels: dict[float, str] = {}
    for preset, preset_rows in by_preset.items():
        preset_rows.sort(key=lambda r: r.model_rank)
        xs = [_x(r, numeric_axis) for r in preset_rows]
        ys = [100 * (r.any_medal.mean or 0.0) for r in preset_rows]
        errors = [100 * (r.any_medal.se or 0.0) for r in preset_rows]
        ax.errorbar(xs, ys, yerr=errors, marker="o", capsize=3, label=preset)
        labels.update({x: r.model for x, r in zip(xs, preset_rows, strict=True)})
    if not numeric_axis:
        ax.set_xticks(sorted(labels), [labels[x] for x in sorted(labels)], rotation=20)
    ax.set_xlabel(axis_label)
    ax.set_ylabel("any-medal rate (%)")
    ax.set_ylim(-5, 105)
    ax.set_title("Any medal against model strength")
    ax.grid(alpha=0.3)
    ax.legend(title="preset")
    fig.savefig(path, dpi=120)
    return path


def _x(row: AggregateRow, numeric_axis: bool) -> float:
    if numeric_axis:
        return float(row.model.partition("=")[2])
    return float(row.model_rank)


def plot_convergence(
    summaries: Sequence[Mapping[str, Any]], path: Path, *, competitions: Sequence[str]
) -> Path:
    """Best validation score so far against steps: a panel per competition, a line per preset."""
    from matplotlib.ticker import MaxNLocator

    panels = [c for c in competitions if any(s["cell"]["competition"] == c for s in summaries)]
    fig = _figure(4.2 * max(1, len(panels)), 3.6)
    axes = [fig.add_subplot(1, max(1, len(panels)), i + 1) for i in range(max(1, len(panels)))]
    for ax, competition in zip(axes, panels, strict=False):
        cells = [s for s in summaries if s["cell"]["competition"] == competition]
        curves: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
        for summary in cells:
            for point in summary.get("curve", []):
                if point["score"] is not None:
                    curves[summary["cell"]["preset"]][point["step"]].append(point["score"])
        for preset, by_step in curves.items():
            steps = sorted(by_step)
            stats = [estimate(by_step[s]) for s in steps]
            means = [e.mean or 0.0 for e in stats]
            errors = [e.se or 0.0 for e in stats]
            line = ax.plot(steps, means, marker=".", label=preset)[0]
            ax.fill_between(
                steps,
                [m - e for m, e in zip(means, errors, strict=True)],
                [m + e for m, e in zip(means, errors, strict=True)],
                color=line.get_color(),
                alpha=0.2,
            )
        metric = cells[0].get("metric", {})
        direction = "lower" if metric.get("lower_is_better") else "higher"
        ax.set_title(competition)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("step")
        ax.set_ylabel(f"best validation {metric.get('name', 'score')} ({direction} is better)")
        ax.grid(alpha=0.3)
        ax.legend(title="preset", fontsize="small")
    fig.savefig(path, dpi=120)
    return path


def write_plots(
    rows: Sequence[AggregateRow],
    summaries: Sequence[Mapping[str, Any]],
    out_dir: Path,
    *,
    competitions: Sequence[str],
    model_axis: str,
) -> list[Path]:
    """Both figures into ``out_dir``. ``model_axis``: ``skill``, ``llm`` or ``default``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    label = {
        "skill": "offline reasoner skill",
        "llm": "LLM (weakest to strongest)",
    }.get(model_axis, "model")
    return [
        plot_crossover(
            rows, out_dir / "crossover.png", numeric_axis=model_axis == "skill", axis_label=label
        ),
        plot_convergence(summaries, out_dir / "convergence.png", competitions=competitions),
    ]

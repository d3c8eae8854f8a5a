"""The study's figures, drawn with matplotlib's Agg renderer (imported only here, when drawing).

* ``crossover.png``: any-medal rate (mean ± standard error over seeds) against model strength,
  one line per preset: where tree search and Gome cross over. With several competitions it
  plots the ``all`` rows, which pool the competitions and seeds that every preset x model has
  finished (the figure says which), so every preset is compared on the same cells.
* ``convergence.png``: best validation score so far against steps, one panel per competition,
  one line per preset, or per preset x model when the table has several models (mean over its
  cells, shaded ± standard error).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from gome_core.study.aggregate import ALL_COMPETITIONS, AggregateRow, estimate

__all__ = [
    "FIGURES",
    "convergence_figure",
    "crossover_figure",
    "crossover_rows",
    "plot_convergence",
    "plot_crossover",
    "write_plots",
]

#: The figures' file names in the results directory.
FIGURES = ("crossover.png", "convergence.png")
#: Line styles of the models of one preset in ``convergence.png``, weakest first.
_STYLES = ("-", "--", "-.", ":")


def _figure(width: float, height: float) -> Any:
    # A bare Figure draws with Agg and leaves pyplot's global state (and the host's backend) alone.
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _pooled_text(rows: Sequence[AggregateRow], competitions: Sequence[str]) -> str:
    """What the plotted rows cover, for the crossover figure's subtitle."""
    pooled = next((r.pooled for r in rows if r.competition == ALL_COMPETITIONS), None)
    if pooled is None:
        names = list(dict.fromkeys(r.competition for r in rows))
        return names[0] if len(names) == 1 else ""
    names = [name for name, _ in pooled]
    complete = len({seeds for _, seeds in pooled}) == 1 and set(competitions) <= set(names)
    if complete:
        text = f"mean over {len(names)} competitions"
    else:
        of = f" (of {len(competitions)})" if competitions else ""
        text = (
            f"mean over the {len(names)} competitions{of} and seeds that every preset × "
            f"model has finished"
        )
    if not complete or len(names) <= 4:
        text += ": " + ", ".join(names)
    return text


def crossover_rows(rows: Sequence[AggregateRow]) -> list[AggregateRow]:
    """The rows ``crossover.png`` plots: the ``all`` rows (one per preset x model, on the same
    competitions and seeds) when the table has several competitions, else the one
    competition's rows; none when several competitions have no cell every one has finished."""
    pooled = [r for r in rows if r.competition == ALL_COMPETITIONS]
    if pooled or len({r.competition for r in rows}) != 1:
        return pooled
    return list(rows)


def plot_crossover(
    rows: Sequence[AggregateRow],
    path: Path,
    *,
    numeric_axis: bool,
    axis_label: str,
    competitions: Sequence[str] = (),
) -> Path:
    """Any-medal rate against model strength per preset (:func:`crossover_figure`) in ``path``."""
    crossover_figure(
        rows, numeric_axis=numeric_axis, axis_label=axis_label, competitions=competitions
    ).savefig(path, dpi=120)
    return path


def crossover_figure(
    rows: Sequence[AggregateRow],
    *,
    numeric_axis: bool,
    axis_label: str,
    competitions: Sequence[str] = (),
) -> Any:
    """Any-medal rate against model strength per preset, of :func:`crossover_rows`.
    ``numeric_axis``: the models are skills (their values are the x positions); otherwise they
    are placed in the spec's order. ``competitions``: the study's, to say how many of them the
    pooled rows cover."""
    import textwrap

    chosen = crossover_rows(rows)
    by_preset: dict[str, list[AggregateRow]] = defaultdict(list)
    for row in chosen:
        by_preset[row.preset].append(row)
    fig = _figure(6.4, 4.4)
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
    subtitle = (
        _pooled_text(chosen, competitions)
        if chosen
        else "no competition and seed finished by every preset × model yet"
    )
    title = "Any medal against model strength"
    if subtitle:
        title += "\n" + "\n".join(textwrap.wrap(subtitle, 70))
    ax.set_title(title, fontsize="medium")
    ax.grid(alpha=0.3)
    if by_preset:
        ax.legend(title="preset")
    return fig


def _x(row: AggregateRow, numeric_axis: bool) -> float:
    if numeric_axis:
        return float(row.model.partition("=")[2])
    return float(row.model_rank)


def plot_convergence(
    summaries: Sequence[Mapping[str, Any]],
    path: Path,
    *,
    competitions: Sequence[str],
    presets: Sequence[str] = (),
) -> Path:
    """Best validation score so far against steps (:func:`convergence_figure`) in ``path``."""
    convergence_figure(summaries, competitions=competitions, presets=presets).savefig(path, dpi=120)
    return path


def convergence_figure(
    summaries: Sequence[Mapping[str, Any]],
    *,
    competitions: Sequence[str],
    presets: Sequence[str] = (),
) -> Any:
    """Best validation score so far against steps: a panel per competition, a line per preset,
    or per preset x model when the summaries have several models (a colour per preset, a line
    style per model), with one legend for the figure. ``presets``: their order (the spec's)."""
    from matplotlib.ticker import MaxNLocator

    panels = [c for c in competitions if any(s["cell"]["competition"] == c for s in summaries)]
    models = {s["cell"]["model"]["label"]: s["cell"]["model"]["rank"] for s in summaries}
    presets = list(dict.fromkeys([*presets, *(s["cell"]["preset"] for s in summaries)]))
    several = len(models) > 1
    colours = {preset: f"C{i % 10}" for i, preset in enumerate(presets)}
    styles = {
        label: _STYLES[i % len(_STYLES)]
        for i, label in enumerate(sorted(models, key=lambda m: (models[m], m)))
    }

    def line_of(summary: Mapping[str, Any]) -> tuple[int, int, str, str]:
        cell = summary["cell"]
        rank = cell["model"]["rank"] if several else 0
        label = f"{cell['preset']}, {cell['model']['label']}" if several else cell["preset"]
        return presets.index(cell["preset"]), rank, cell["model"]["label"], label

    fig = _figure(4.2 * max(1, len(panels)), 3.8 + 0.2 * (len(models) if several else 1))
    axes = [fig.add_subplot(1, max(1, len(panels)), i + 1) for i in range(max(1, len(panels)))]
    handles: dict[str, Any] = {}
    order: dict[str, tuple[int, int]] = {}  # a line's label -> its preset's and model's rank
    for ax, competition in zip(axes, panels, strict=False):
        cells = [s for s in summaries if s["cell"]["competition"] == competition]
        curves: dict[tuple[int, int, str, str], dict[int, list[float]]] = defaultdict(
            lambda: defaultdict(list)
        )
        for summary in cells:
            for point in summary.get("curve", []):
                if point["score"] is not None:
                    curves[line_of(summary)][point["step"]].append(point["score"])
        for key in sorted(curves):
            by_step = curves[key]
            _, _, model, label = key
            preset = presets[key[0]]
            steps = sorted(by_step)
            stats = [estimate(by_step[s]) for s in steps]
            means = [e.mean or 0.0 for e in stats]
            errors = [e.se or 0.0 for e in stats]
            line = ax.plot(
                steps,
                means,
                marker=".",
                color=colours[preset],
                linestyle=styles[model] if several else "-",
                label=label,
            )[0]
            handles.setdefault(label, line)
            order[label] = key[:2]
            ax.fill_between(
                steps,
                [m - e for m, e in zip(means, errors, strict=True)],
                [m + e for m, e in zip(means, errors, strict=True)],
                color=line.get_color(),
                alpha=0.12 if several else 0.2,
            )
        metric = cells[0].get("metric", {})
        direction = "lower" if metric.get("lower_is_better") else "higher"
        ax.set_title(competition)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("step")
        ax.set_ylabel(f"best validation {metric.get('name', 'score')} ({direction} is better)")
        ax.grid(alpha=0.3)
    if handles:
        # One legend for every panel; with several models, a column per preset (its models from
        # weakest to strongest down the column), so that a preset's lines read together.
        labels = sorted(handles, key=order.__getitem__)
        only = next(iter(models)) if len(models) == 1 else "default"
        fig.legend(
            [handles[label] for label in labels],
            labels,
            title="preset, model"
            if several
            else ("preset" if only == "default" else f"preset ({only})"),
            loc="outside lower center",
            ncols=len(presets) if several else min(len(labels), 6),
            fontsize="small",
        )
    return fig


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
    crossover, convergence = (out_dir / name for name in FIGURES)
    return [
        plot_crossover(
            rows,
            crossover,
            numeric_axis=model_axis == "skill",
            axis_label=label,
            competitions=competitions,
        ),
        plot_convergence(
            summaries,
            convergence,
            competitions=competitions,
            presets=list(dict.fromkeys(row.preset for row in rows)),
        ),
    ]

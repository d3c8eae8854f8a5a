"""The study's figures: which rows and lines they draw, and what they say they cover."""

from __future__ import annotations

import pytest

from gome_core.study.aggregate import aggregate
from gome_core.study.plots import convergence_figure, crossover_figure, crossover_rows

pytest.importorskip("matplotlib")


def _summary(preset, label, rank, competition, seed, *, medal, scores=(8.0, 5.0)):
    return {
        "cell": {
            "preset": preset,
            "model": {"kind": "skill", "label": label, "rank": rank},
            "competition": competition,
            "seed": seed,
        },
        "steps": 2,
        "metric": {"name": "mae", "lower_is_better": True},
        "grading": {"valid_submission": True, "any_medal": medal, "score": scores[-1]},
        "reference": {"sample_score": 10.0, "leaderboard_best": 0.0},
        "curve": [{"step": i + 1, "score": s, "usd": 0.0} for i, s in enumerate(scores)],
    }


MODELS = (("skill=0.25", 0), ("skill=1", 1))


def _ragged():
    """gome has finished A and B; tree search only A (a study part-way through)."""
    cells = [
        _summary("gome", label, rank, competition, seed, medal=seed == 0)
        for label, rank in MODELS
        for competition in ("A", "B")
        for seed in (0, 1)
    ]
    cells += [
        _summary("tree", label, rank, "A", seed, medal=True)
        for label, rank in MODELS
        for seed in (0, 1)
    ]
    return cells


def _lines(ax):
    return {
        line.get_label(): line for line in ax.get_lines() if not line.get_label().startswith("_")
    }


def test_the_crossover_figure_draws_every_preset_on_the_same_competitions():
    rows = aggregate(_ragged(), presets=["gome", "tree"], competitions=["A", "B"])
    chosen = crossover_rows(rows)
    assert sorted({(r.preset, r.model) for r in chosen}) == [
        ("gome", "skill=0.25"),
        ("gome", "skill=1"),
        ("tree", "skill=0.25"),
        ("tree", "skill=1"),
    ]
    fig = crossover_figure(rows, numeric_axis=True, axis_label="skill", competitions=["A", "B"])
    [ax] = fig.axes
    assert sorted(t.get_text() for t in ax.get_legend().get_texts()) == ["gome", "tree"]
    title = ax.get_title().replace("\n", " ")
    assert "mean over the 1 competitions (of 2) and seeds that every preset × model" in title
    assert title.endswith(": A")


def test_crossover_rows_never_mix_competitions():
    # Several competitions, none finished by every preset: nothing to compare, nothing drawn.
    cells = [_summary("gome", "skill=1", 0, "A", 0, medal=True)]
    cells += [_summary("tree", "skill=1", 0, "B", 0, medal=False)]
    rows = aggregate(cells, presets=["gome", "tree"], competitions=["A", "B"])
    assert crossover_rows(rows) == []
    fig = crossover_figure(rows, numeric_axis=True, axis_label="skill", competitions=["A", "B"])
    assert "no competition and seed finished by every preset" in fig.axes[0].get_title()
    # One competition: its rows.
    one = aggregate(cells[:1], presets=["gome"], competitions=["A"])
    assert crossover_rows(one) == one


def test_convergence_has_a_line_per_preset_and_model_when_there_are_several_models():
    fig = convergence_figure(_ragged(), competitions=["A", "B"], presets=["gome", "tree"])
    panel_a = fig.axes[0]
    assert sorted(_lines(panel_a)) == [
        "gome, skill=0.25",
        "gome, skill=1",
        "tree, skill=0.25",
        "tree, skill=1",
    ]
    lines = _lines(panel_a)
    # A colour per preset, a line style per model.
    assert lines["gome, skill=0.25"].get_color() == lines["gome, skill=1"].get_color()
    assert lines["gome, skill=1"].get_color() != lines["tree, skill=1"].get_color()
    assert lines["gome, skill=0.25"].get_linestyle() != lines["gome, skill=1"].get_linestyle()
    [legend] = fig.legends
    assert legend.get_title().get_text() == "preset, model"
    assert [t.get_text() for t in legend.get_texts()] == [
        "gome, skill=0.25",
        "gome, skill=1",
        "tree, skill=0.25",
        "tree, skill=1",
    ]


def test_convergence_has_a_line_per_preset_with_one_model():
    one = [s for s in _ragged() if s["cell"]["model"]["label"] == "skill=1"]
    fig = convergence_figure(one, competitions=["A", "B"], presets=["gome", "tree"])
    assert sorted(_lines(fig.axes[0])) == ["gome", "tree"]
    [legend] = fig.legends
    assert legend.get_title().get_text() == "preset (skill=1)"

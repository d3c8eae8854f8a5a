"""Aggregation maths against figures computed by hand, and the three table formats."""

from __future__ import annotations

import csv
import io
import json
import math
import re

import pytest

from gome_core.study.aggregate import (
    aggregate,
    cell_metrics,
    estimate,
    normalised_score,
    to_csv,
    to_json,
    to_markdown,
)


def _cell(
    competition,
    seed,
    *,
    score,
    valid=True,
    medal=False,
    gold=False,
    above=False,
    sample,
    best,
    first=None,
    repeated=None,
):
    return {
        "steps": 10,
        "repeated_steps": repeated,
        "cell": {
            "preset": "gome",
            "model": {"kind": "skill", "value": 0.5, "rank": 0, "label": "skill=0.5"},
            "competition": competition,
            "seed": seed,
        },
        "grading": {
            "score": score if valid else None,
            "valid_submission": valid,
            "above_median": above,
            "any_medal": medal,
            "gold_medal": gold,
        },
        "reference": {"sample_score": sample, "leaderboard_best": best},
        "first_medal": first,
    }


# Competition A: lower is better, sample submission 10, best leaderboard score 0.
# Competition B: higher is better, sample submission 0.5, best leaderboard score 1.0.
CELLS = [
    _cell(
        "A",
        0,
        score=2.0,
        medal=True,
        above=True,
        sample=10.0,
        best=0.0,
        first={"step": 3, "usd": 0.5},
        repeated=2,
    ),
    _cell("A", 1, score=None, valid=False, sample=10.0, best=0.0, repeated=0),
    _cell(
        "A",
        2,
        score=0.0,
        medal=True,
        gold=True,
        above=True,
        sample=10.0,
        best=0.0,
        first={"step": 5, "usd": 1.5},
        repeated=4,
    ),
    _cell("B", 0, score=0.75, above=True, sample=0.5, best=1.0, repeated=6),
    # Summarised before repeats were recorded: it counts for everything else.
    _cell("B", 1, score=0.9, above=True, sample=0.5, best=1.0),
    _cell("B", 2, score=None, valid=False, sample=0.5, best=1.0, repeated=1),
]


def test_estimate_is_the_mean_and_the_standard_error_of_the_mean():
    e = estimate([1.0, 0.0, 1.0])
    assert e.mean == pytest.approx(2 / 3) and e.n == 3
    # sd = sqrt(((1/3)^2 * 2 + (2/3)^2) / 2) = sqrt(1/3); se = sd / sqrt(3) = 1/3
    assert e.se == pytest.approx(1 / 3)
    assert estimate([4.0]).se is None and estimate([4.0]).mean == 4.0
    assert estimate([None, None]).mean is None
    assert estimate([None, 3.0, 5.0]).n == 2


def test_the_normalised_score_runs_from_the_sample_submission_to_the_best_score():
    assert normalised_score(2.0, 10.0, 0.0) == pytest.approx(0.8)  # lower is better
    assert normalised_score(0.75, 0.5, 1.0) == pytest.approx(0.5)  # higher is better
    assert normalised_score(12.0, 10.0, 0.0) == pytest.approx(-0.2)  # worse than the sample
    assert normalised_score(1.0, 1.0, 1.0) is None
    assert cell_metrics(CELLS[1])["normalised_score"] == 0.0  # invalid counts as the sample


def test_rows_per_competition_and_over_all_competitions():
    rows = {row.competition: row for row in aggregate(CELLS, competitions=["A", "B"])}
    assert list(rows) == ["A", "B", "all"]
    a, b, pooled = rows["A"], rows["B"], rows["all"]
    assert a.seeds == 3 and pooled.cells == 6
    assert a.valid.mean == pytest.approx(2 / 3) and a.valid.se == pytest.approx(1 / 3)
    assert a.any_medal.mean == pytest.approx(2 / 3) and a.gold.mean == pytest.approx(1 / 3)
    # normalised A: 0.8, 0, 1.0 -> mean 0.6; sd = sqrt((0.04 + 0.36 + 0.16) / 2); se = sd / sqrt(3)
    assert a.normalised_score.mean == pytest.approx(0.6)
    assert a.normalised_score.se == pytest.approx(math.sqrt(0.28) / math.sqrt(3))
    # normalised B: 0.5, 0.8, 0 -> mean 13/30
    assert b.normalised_score.mean == pytest.approx(13 / 30)
    assert b.any_medal.mean == 0.0 and b.any_medal.se == 0.0
    assert b.above_median.mean == pytest.approx(2 / 3)
    # first medals in A: steps 3 and 5 (usd 0.5, 1.5); sd sqrt(2), se 1 (usd: se 0.5)
    assert (a.steps_to_first_medal.mean, a.steps_to_first_medal.se) == (4.0, 1.0)
    assert (a.usd_to_first_medal.mean, a.usd_to_first_medal.se) == (1.0, 0.5)
    assert b.steps_to_first_medal.mean is None and b.steps_to_first_medal.n == 0
    # all: each seed averaged over A and B first: any medal per seed 0.5, 0, 0.5
    assert pooled.any_medal.mean == pytest.approx(1 / 3)
    assert pooled.any_medal.se == pytest.approx(math.sqrt(1 / 12) / math.sqrt(3))
    # normalised per seed: (0.8 + 0.5) / 2, (0 + 0.8) / 2, (1 + 0) / 2 = 0.65, 0.4, 0.5
    assert pooled.normalised_score.mean == pytest.approx((0.65 + 0.4 + 0.5) / 3)
    assert pooled.steps_to_first_medal.mean == 4.0 and pooled.steps_to_first_medal.n == 2


def test_the_share_of_repeated_steps_is_averaged_over_seeds():
    rows = {row.competition: row for row in aggregate(CELLS, competitions=["A", "B"])}
    a, b, pooled = rows["A"], rows["B"], rows["all"]
    # A: 2, 0 and 4 repeated steps of 10 -> 0.2, 0, 0.4; sd 0.2, se 0.2 / sqrt(3)
    assert a.repeated.mean == pytest.approx(0.2)
    assert a.repeated.se == pytest.approx(0.2 / math.sqrt(3))
    # B: seed 1's cell has no count and is left out -> 0.6 and 0.1 over 2 seeds
    assert (b.repeated.mean, b.repeated.n) == (pytest.approx(0.35), 2)
    # all: per seed (0.2 + 0.6) / 2, 0 (B's seed-1 cell left out), (0.4 + 0.1) / 2
    assert pooled.repeated.mean == pytest.approx((0.4 + 0.0 + 0.25) / 3)
    assert cell_metrics({"steps": 0, "repeated_steps": 0, "cell": {}})["repeated"] is None


def test_tables_in_csv_json_and_markdown():
    rows = aggregate(CELLS, competitions=["A", "B"])
    parsed = list(csv.DictReader(io.StringIO(to_csv(rows))))
    assert [r["competition"] for r in parsed] == ["A", "B", "all"]
    assert float(parsed[0]["any_medal_rate"]) == pytest.approx(2 / 3)
    assert float(parsed[0]["any_medal_rate_se"]) == pytest.approx(1 / 3)
    assert parsed[0]["medalled_cells"] == "2" and parsed[1]["steps_to_first_medal"] == ""
    data = json.loads(to_json(rows, study="unit"))
    assert data["study"] == "unit"
    assert data["rows"][0]["normalised_score"]["mean"] == pytest.approx(0.6)
    markdown = to_markdown(rows).splitlines()
    assert markdown[0].startswith("| preset | model | competition | seeds | valid |")
    assert markdown[2] == (
        "| gome | skill=0.5 | A | 3 | 66.7 ± 33.3% | 66.7 ± 33.3% | 66.7 ± 33.3% | "
        "33.3 ± 33.3% | 0.600 ± 0.306 | 4.0 ± 1.0 | 1.00 ± 0.50 | 20.0 ± 11.5% |"
    )
    assert float(parsed[0]["repeated_rate"]) == pytest.approx(0.2)
    assert "| **all** |" in markdown[4] and "| – | – |" in markdown[3]


def _as(cell, preset, label, rank):
    return {
        **cell,
        "cell": {**cell["cell"], "preset": preset, "model": {"label": label, "rank": rank}},
    }


def test_all_rows_pool_the_cells_every_preset_and_model_has_finished():
    # gome has finished A and B on seeds 0-2; tree search has finished A on seeds 0-2 and B on
    # seed 0 only; a third preset only A's seeds 0 and 1 (a study part-way through).
    cells = (
        [_as(c, "gome", "skill=0.5", 0) for c in CELLS]
        + [_as(c, "tree", "skill=0.5", 0) for c in CELLS[:4]]
        + [_as(c, "late", "skill=0.5", 0) for c in CELLS[:2]]
    )
    rows = aggregate(cells, presets=["gome", "tree", "late"], competitions=["A", "B"])
    pooled = {row.preset: row for row in rows if row.competition == "all"}
    # Every preset has its all row (none vanishes from the crossover figure) ...
    assert list(pooled) == ["gome", "tree", "late"]
    # ... over the same cells: A on seeds 0 and 1, which every one has finished.
    assert {row.pooled for row in pooled.values()} == {(("A", (0, 1)),)}
    assert {(row.seeds, row.cells) for row in pooled.values()} == {(2, 2)}
    # A's seeds 0 and 1: medal 1, 0 -> 0.5 for each preset (they ran the same cells here).
    assert {row.any_medal.mean for row in pooled.values()} == {0.5}
    # Per-competition rows are each preset's own, whatever the others have finished.
    gome_b = next(r for r in rows if (r.preset, r.competition) == ("gome", "B"))
    assert gome_b.seeds == 3
    note = to_markdown(rows).splitlines()[-1]
    assert note.startswith("**all** pools the competitions and seeds that every preset")
    assert "A (seeds 0, 1)." in note and note.endswith("Not pooled: B.")
    assert json.loads(to_json(rows, study="u"))["rows"][-1]["pooled"] == {"A": [0, 1]}


def test_all_rows_of_a_table_every_preset_has_finished_are_unchanged():
    tree = [_as(c, "tree", "skill=0.5", 0) for c in CELLS]
    rows = aggregate([*CELLS, *tree], presets=["gome", "tree"], competitions=["A", "B"])
    alone = {r.competition: r for r in aggregate(CELLS, competitions=["A", "B"])}
    mine = {r.competition: r for r in rows if r.preset == "gome"}
    assert mine["all"].pooled == (("A", (0, 1, 2)), ("B", (0, 1, 2)))
    assert mine["all"].any_medal == alone["all"].any_medal and mine["all"].cells == 6
    assert "A, B (seeds 0, 1, 2)." in to_markdown(rows)


def test_no_all_rows_when_no_cell_is_finished_by_every_preset():
    cells = [*CELLS[:3], *(_as(c, "tree", "skill=0.5", 0) for c in CELLS[3:])]
    rows = aggregate(cells, presets=["gome", "tree"], competitions=["A", "B"])
    assert [r.competition for r in rows] == ["A", "B"]
    assert to_markdown(rows).splitlines()[-1].startswith("No **all** rows")


def test_the_csv_has_its_header_without_rows():
    header = to_csv([]).splitlines()
    assert len(header) == 1 and header[0].startswith("preset,model,model_rank,competition,")
    assert header[0] == to_csv(aggregate(CELLS, competitions=["A", "B"])).splitlines()[0]


def test_the_docs_name_the_csv_columns_the_csv_has():
    from pathlib import Path

    from gome_core.study.aggregate import CSV_COLUMNS

    docs = (Path(__file__).resolve().parents[2] / "docs" / "studies.md").read_text()
    table = docs[docs.index("| figure | CSV columns | definition |") :].split("\n\n")[0]
    named = set()
    for line in table.splitlines()[2:]:
        columns = line.split(" | ")[1]
        named |= set(re.findall(r"`([a-z_]+)`", columns))
    identity = {"preset", "model", "model_rank", "competition", "seeds", "cells"}
    assert named == set(CSV_COLUMNS) - identity
    assert all(f"`{name}`" in docs for name in identity)

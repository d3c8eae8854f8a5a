"""From finished cells to the study's table: mean ± standard error over seeds.

Each cell gives, from its grading report and journal (``cell.json``):

* ``valid``, ``above_median``, ``any_medal``, ``gold``: 1 or 0 (no submission counts as 0);
* ``normalised_score``: ``(score - sample) / (best - sample)``, where ``sample`` is the score of
  the competition's sample submission and ``best`` the best leaderboard score. Both ends follow the
  metric's direction, so 0 is "no better than the sample submission" and 1 is "as good as the
  leaderboard's best" whether lower or higher is better; an invalid or missing submission counts
  as 0;
* ``steps_to_first_medal`` / ``usd_to_first_medal``: the first step after which the run's best
  node so far (by validation score) would have won a medal, and the LLM cost spent by then;
  only cells where that happened contribute;
* ``repeated``: the share of the cell's steps that ran a program an earlier step had already run
  (``repeated_steps / steps``; cells summarised before it was recorded do not contribute).

(``repeated_rate`` in the CSV).

A row of the table is a preset x model x competition. With several competitions, each preset x
model also has a row pooling them (``competition = "all"``): the competitions and seeds that
every preset x model in the table has finished (:func:`common_cells`), so that the ``all`` rows
compare every one of them on the same cells even while a study is part-way through; the row's
``pooled`` names them. Its rates, normalised score and repeated share are the mean over seeds ±
the standard error of that mean (sample standard deviation / sqrt(seeds); none with one seed);
for ``"all"`` each seed's value is first averaged over the competitions. Steps and cost to the
first medal are the mean ± standard error over the row's cells that got one.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from attrs import asdict, frozen

__all__ = [
    "ALL_COMPETITIONS",
    "CSV_COLUMNS",
    "RATE_METRICS",
    "AggregateRow",
    "Estimate",
    "aggregate",
    "cell_metrics",
    "common_cells",
    "estimate",
    "normalised_score",
    "to_csv",
    "to_json",
    "pooled_note",
    "to_markdown",
    "version_mix",
]

#: The ``competition`` of a row that pools every competition.
ALL_COMPETITIONS = "all"
#: Per-cell 0/1 outcomes, averaged into rates.
RATE_METRICS = ("valid", "above_median", "any_medal", "gold")
#: Per-cell figures averaged over seeds like the rates (first over competitions, for "all").
_SEED_METRICS = (*RATE_METRICS, "normalised_score", "repeated")


@frozen
class Estimate:
    """A mean with its standard error over ``n`` values (``None`` where undefined)."""

    mean: float | None
    se: float | None
    n: int

    def format(self, *, percent: bool = False, digits: int = 2) -> str:
        if self.mean is None:
            return "–"
        scale, unit = (100.0, "%") if percent else (1.0, "")
        digits = 1 if percent else digits
        text = f"{self.mean * scale:.{digits}f}"
        if self.se is not None:
            text += f" ± {self.se * scale:.{digits}f}"
        return text + unit


def estimate(values: Iterable[float | None]) -> Estimate:
    """Mean ± standard error of the mean (sample sd / sqrt(n)); ``None`` values are left out."""
    xs = [float(v) for v in values if v is not None]
    n = len(xs)
    if n == 0:
        return Estimate(None, None, 0)
    mean = sum(xs) / n
    if n < 2:
        return Estimate(mean, None, n)
    variance = sum((x - mean) ** 2 for x in xs) / (n - 1)
    return Estimate(mean, math.sqrt(variance / n), n)


def normalised_score(
    score: float | None, sample_score: float | None, leaderboard_best: float | None
) -> float | None:
    """Where ``score`` lies from the sample submission's score (0) to the best leaderboard
    score (1); ``None`` when the two ends are unknown or equal. Direction-aware by construction."""
    if score is None or sample_score is None or leaderboard_best is None:
        return None
    span = leaderboard_best - sample_score
    if span == 0:
        return None
    return (score - sample_score) / span


def cell_metrics(summary: Mapping[str, Any]) -> dict[str, float | None]:
    """The per-cell figures the table averages (see the module's docstring)."""
    grading = summary.get("grading") or {}
    valid = bool(grading.get("valid_submission"))
    reference = summary.get("reference") or {}
    sample, best = reference.get("sample_score"), reference.get("leaderboard_best")
    if valid:
        normalised = normalised_score(grading.get("score"), sample, best)
    else:
        # No usable submission is as good as none: the sample's end of the scale (when it has one).
        normalised = 0.0 if normalised_score(sample, sample, best) is not None else None
    medal = summary.get("first_medal") or {}
    repeats, steps = summary.get("repeated_steps"), summary.get("steps")
    return {
        "valid": float(valid),
        "above_median": float(bool(grading.get("above_median"))),
        "any_medal": float(bool(grading.get("any_medal"))),
        "gold": float(bool(grading.get("gold_medal"))),
        "normalised_score": normalised,
        "steps_to_first_medal": medal.get("step"),
        "usd_to_first_medal": medal.get("usd"),
        "repeated": repeats / steps if repeats is not None and steps else None,
    }


@frozen
class AggregateRow:
    """One line of the table."""

    preset: str
    model: str
    model_rank: int
    competition: str
    seeds: int
    cells: int
    valid: Estimate
    above_median: Estimate
    any_medal: Estimate
    gold: Estimate
    normalised_score: Estimate
    steps_to_first_medal: Estimate
    usd_to_first_medal: Estimate
    repeated: Estimate = Estimate(None, None, 0)
    #: Of an ``all`` row: the competitions it pools, each with its seeds (those that every
    #: preset x model in the table has finished); empty for a competition's own row.
    pooled: tuple[tuple[str, tuple[int, ...]], ...] = ()

    def flat(self) -> dict[str, Any]:
        """Columns for CSV: each estimate as ``NAME``, ``NAME_se`` (and ``NAME_n`` for medals)."""
        out: dict[str, Any] = {
            "preset": self.preset,
            "model": self.model,
            "model_rank": self.model_rank,
            "competition": self.competition,
            "seeds": self.seeds,
            "cells": self.cells,
        }
        for name in (*RATE_METRICS, "normalised_score"):
            value: Estimate = getattr(self, name)
            key = f"{name}_rate" if name in RATE_METRICS else name
            out[key], out[f"{key}_se"] = value.mean, value.se
        for name in ("steps_to_first_medal", "usd_to_first_medal"):
            value = getattr(self, name)
            out[name], out[f"{name}_se"] = value.mean, value.se
        out["medalled_cells"] = self.steps_to_first_medal.n
        out["repeated_rate"], out["repeated_rate_se"] = self.repeated.mean, self.repeated.se
        return out


def common_cells(summaries: Sequence[Mapping[str, Any]]) -> set[tuple[str, int]]:
    """The ``(competition, seed)`` pairs that every preset x model among ``summaries`` has a
    finished cell of: what the ``all`` rows pool, so that they compare like with like."""
    pairs: dict[tuple[str, str], set[tuple[str, int]]] = defaultdict(set)
    for summary in summaries:
        cell = summary["cell"]
        pairs[(cell["preset"], cell["model"]["label"])].add((cell["competition"], cell["seed"]))
    return set.intersection(*pairs.values()) if pairs else set()


def aggregate(
    summaries: Sequence[Mapping[str, Any]],
    *,
    presets: Sequence[str] = (),
    competitions: Sequence[str] = (),
) -> list[AggregateRow]:
    """The table's rows from finished cells' summaries (``cell.json``), one per preset x model x
    competition and, when they span several competitions, one per preset x model pooling the
    competitions and seeds that every preset x model has finished (:func:`common_cells`; none
    when there is no such cell), in the spec's order."""
    groups: dict[tuple[str, str, int], list[Mapping[str, Any]]] = defaultdict(list)
    for summary in summaries:
        cell = summary["cell"]
        groups[(cell["preset"], cell["model"]["label"], cell["model"]["rank"])].append(summary)

    def preset_order(key: tuple[str, str, int]) -> tuple[int, str, int]:
        index = presets.index(key[0]) if key[0] in presets else len(presets)
        return index, key[0], key[2]

    def competition_order(name: str) -> tuple[int, str]:
        return competitions.index(name) if name in competitions else len(competitions), name

    common = common_cells(summaries)
    pooled = tuple(
        (name, tuple(sorted(seed for c, seed in common if c == name)))
        for name in sorted({c for c, _ in common}, key=competition_order)
    )
    several = len({s["cell"]["competition"] for s in summaries}) > 1
    rows = []
    for key in sorted(groups, key=preset_order):
        cells = groups[key]
        names = sorted({c["cell"]["competition"] for c in cells}, key=competition_order)
        for competition in names:
            chosen = [c for c in cells if c["cell"]["competition"] == competition]
            per_seed = {c["cell"]["seed"]: cell_metrics(c) for c in chosen}
            rows.append(_row(key, competition, per_seed, list(per_seed.values())))
        if several and common:
            by_seed: dict[int, list[dict[str, float | None]]] = defaultdict(list)
            for c in cells:
                if (c["cell"]["competition"], c["cell"]["seed"]) in common:
                    by_seed[c["cell"]["seed"]].append(cell_metrics(c))
            per_seed = {seed: _mean_over(ms) for seed, ms in by_seed.items()}
            every = [m for ms in by_seed.values() for m in ms]
            rows.append(_row(key, ALL_COMPETITIONS, per_seed, every, pooled))
    return rows


def _mean_over(metrics: list[dict[str, float | None]]) -> dict[str, float | None]:
    return {name: estimate(m[name] for m in metrics).mean for name in _SEED_METRICS}


def _row(
    key: tuple[str, str, int],
    competition: str,
    per_seed: Mapping[int, Mapping[str, float | None]],
    cells: list[dict[str, float | None]],
    pooled: tuple[tuple[str, tuple[int, ...]], ...] = (),
) -> AggregateRow:
    preset, model, rank = key
    seed_values = list(per_seed.values())
    return AggregateRow(
        preset=preset,
        model=model,
        model_rank=rank,
        competition=competition,
        seeds=len(per_seed),
        cells=len(cells),
        **{name: estimate(v[name] for v in seed_values) for name in _SEED_METRICS},
        steps_to_first_medal=estimate(c["steps_to_first_medal"] for c in cells),
        usd_to_first_medal=estimate(c["usd_to_first_medal"] for c in cells),
        pooled=pooled,
    )


# --------------------------------------------------------------------------- writing


def _csv_columns() -> tuple[str, ...]:
    none = Estimate(None, None, 0)
    estimates = {
        name: none for name in (*_SEED_METRICS, "steps_to_first_medal", "usd_to_first_medal")
    }
    empty = AggregateRow(
        preset="", model="", model_rank=0, competition="", seeds=0, cells=0, **estimates
    )
    return tuple(empty.flat())


#: The CSV's columns: its header, written even when no cell has finished.
CSV_COLUMNS = _csv_columns()


def to_csv(rows: Sequence[AggregateRow]) -> str:
    """One line per row under the header :data:`CSV_COLUMNS` (the header alone with no rows)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(CSV_COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(row.flat() for row in rows)
    return out.getvalue()


def version_mix(summaries: Iterable[Mapping[str, Any]]) -> list[tuple[str, int]]:
    """The versions the cells ran on, one entry per distinct set, most cells first.

    Each entry is ``("gome 0.1.0, gome-foo 1.2", cells)``; cells from before versions were
    recorded count as ``"not recorded"``. More than one entry means the table mixes code versions.
    """
    counts: dict[str, int] = defaultdict(int)
    for summary in summaries:
        versions = summary.get("versions")
        text = (
            ", ".join(f"{name} {version}" for name, version in sorted(versions.items()))
            if versions
            else "not recorded"
        )
        counts[text] += 1
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def to_json(
    rows: Sequence[AggregateRow],
    *,
    study: str,
    versions: Sequence[tuple[str, int]] = (),
) -> str:
    data: dict[str, Any] = {"study": study, "rows": [_json_row(row) for row in rows]}
    if versions:
        data["versions"] = [{"versions": text, "cells": cells} for text, cells in versions]
    return json.dumps(data, indent=2) + "\n"


def _json_row(row: AggregateRow) -> dict[str, Any]:
    data = asdict(row)
    data["pooled"] = {name: list(seeds) for name, seeds in row.pooled}
    return data


_MARKDOWN_COLUMNS = (
    "preset",
    "model",
    "competition",
    "seeds",
    "valid",
    "above median",
    "any medal",
    "gold",
    "normalised score",
    "steps to medal",
    "USD to medal",
    "repeated programs",
)


def to_markdown(rows: Sequence[AggregateRow]) -> str:
    """A GitHub Markdown table: rates in percent, mean ± standard error over seeds."""
    lines = [
        "| " + " | ".join(_MARKDOWN_COLUMNS) + " |",
        "|" + "|".join(["---"] * 4 + ["---:"] * (len(_MARKDOWN_COLUMNS) - 4)) + "|",
    ]
    for row in rows:
        cells = [
            row.preset,
            row.model,
            f"**{row.competition}**" if row.competition == ALL_COMPETITIONS else row.competition,
            str(row.seeds),
            *(getattr(row, name).format(percent=True) for name in RATE_METRICS),
            row.normalised_score.format(digits=3),
            row.steps_to_first_medal.format(digits=1),
            row.usd_to_first_medal.format(digits=2),
            row.repeated.format(percent=True),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    note = pooled_note(rows)
    return "\n".join(lines) + "\n" + (f"\n{note}\n" if note else "")


def _seeds_text(seeds: Sequence[int]) -> str:
    return f"seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}"


def pooled_note(rows: Sequence[AggregateRow]) -> str:
    """What the ``all`` rows pool, in a sentence (empty for a table of one competition)."""
    competitions = {r.competition for r in rows if r.competition != ALL_COMPETITIONS}
    pooled = next((r.pooled for r in rows if r.competition == ALL_COMPETITIONS), None)
    if pooled is None:
        if len(competitions) < 2:
            return ""
        return (
            "No **all** rows: no competition and seed has been finished by every preset × "
            "model in the table."
        )
    by_seeds: dict[tuple[int, ...], list[str]] = defaultdict(list)
    for name, seeds in pooled:
        by_seeds[seeds].append(name)
    parts = "; ".join(
        f"{', '.join(names)} ({_seeds_text(seeds)})" for seeds, names in by_seeds.items()
    )
    names = {name for name, _ in pooled}
    left_out = [r.competition for r in rows if r.competition not in names | {ALL_COMPETITIONS}]
    rest = f" Not pooled: {', '.join(dict.fromkeys(left_out))}." if left_out else ""
    return (
        f"**all** pools the competitions and seeds that every preset × model in the table has "
        f"finished, the same for each: {parts}.{rest}"
    )


def write_tables(
    rows: Sequence[AggregateRow],
    out_dir: Path,
    *,
    study: str,
    versions: Sequence[tuple[str, int]] = (),
) -> list[Path]:
    """Write ``aggregate.csv``, ``aggregate.json`` (with ``versions``, :func:`version_mix`) and
    ``aggregate.md`` into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in (
        ("aggregate.csv", to_csv(rows)),
        ("aggregate.json", to_json(rows, study=study, versions=versions)),
        ("aggregate.md", to_markdown(rows)),
    ):
        path = out_dir / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written

"""The candidate contract: what every generated program must do, and how it is checked.

A candidate's ``main.py``, run in its workspace:

* reads the competition's public files from ``./input/`` (read-only);
* writes ``./submission/submission.csv`` in the sample submission's format;
* writes its validation scores to ``./scores.csv``: a ``model`` column, one column named after the
  competition's metric (optionally ``train_<metric>`` too), one row per model plus a row
  ``ensemble`` — the score the agent is judged by;
* prints progress to stdout.

Environment: ``GOME_DEBUG=1`` asks for a quick run on a small sample that still writes every
output; ``GOME_SEED`` seeds the validation split, so a re-run with another seed re-validates on a
fresh split.

The checks here use the standard library only (no pandas), so validators and the engine stay light.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

__all__ = [
    "ENSEMBLE_ROW",
    "ENV_DEBUG",
    "ENV_SEED",
    "SCORES",
    "SUBMISSION",
    "ContractError",
    "check_file_names",
    "check_submission",
    "read_scores",
]

SUBMISSION = "submission/submission.csv"
SCORES = "scores.csv"
ENSEMBLE_ROW = "ensemble"
ENV_DEBUG = "GOME_DEBUG"
ENV_SEED = "GOME_SEED"


class ContractError(ValueError):
    """A candidate's output breaks the contract; the message says how, for the agent to fix."""


def check_file_names(names: Iterable[str]) -> dict[str, str]:
    """The candidate file names that break the contract, each with the problem (``{}``: none).
    A name must be a relative path inside the workspace, name no file another name names too
    (``./main.py`` and ``main.py``), and no file may also be a folder of another."""
    names = list(names)
    problems = {}
    folders = {str(parent) for rel in names for parent in PurePosixPath(rel).parents}
    seen: set[str] = set()
    for rel in names:
        path = PurePosixPath(rel)
        if not rel or path.is_absolute() or ".." in path.parts or not path.parts:
            problems[rel] = f"candidate file {rel!r} escapes its workspace"
        elif str(path) in folders:
            problems[rel] = f"candidate file {rel!r} is also a folder of another file"
        elif str(path) in seen:
            problems[rel] = f"candidate file {rel!r} names a file another name names too"
        seen.add(str(path))
    return problems


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def read_scores(path: str | Path, metric: str) -> dict[str, dict[str, float]]:
    """Parse a score file: ``{model: {column: value}}``; raises :class:`ContractError`.

    The metric column is matched case-insensitively; every row must hold a finite number there,
    and a row ``ensemble`` must exist.
    """
    path = Path(path)
    if not path.is_file():
        raise ContractError(f"no score file: write {SCORES} with columns model,{metric}")
    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise ContractError(f"{SCORES} is empty: one row per model plus '{ENSEMBLE_ROW}' expected")
    columns = {c.strip().lower(): c for c in rows[0] if c is not None}
    model_col = columns.get("model")
    metric_col = columns.get(metric.lower())
    if model_col is None or metric_col is None:
        raise ContractError(
            f"{SCORES} has columns {', '.join(columns) or 'none'}; expected 'model' and '{metric}'"
        )
    scores: dict[str, dict[str, float]] = {}
    for row in rows:
        model = (row.get(model_col) or "").strip()
        values = {}
        for lower, original in columns.items():
            if original in (model_col,):
                continue
            value = _number(row.get(original) or "")
            if original == metric_col and value is None:
                raise ContractError(
                    f"{SCORES}: model {model or '?'} has {metric}={row.get(original)!r}, not a "
                    f"finite number (NaN scores are not allowed)"
                )
            if value is not None:
                values[metric if original == metric_col else lower] = value
        scores[model] = values
    if ENSEMBLE_ROW not in scores:
        raise ContractError(f"{SCORES} lacks the row '{ENSEMBLE_ROW}' (the final validation score)")
    return scores


def check_submission(path: str | Path, sample: str | Path, *, max_problems: int = 5) -> list[str]:
    """Problems of a submission against the sample submission's format (empty: it conforms).

    Checks the columns, the row count, the ids (first column), empty cells, numbers where the
    sample has numbers, and that it is not the sample submission itself.
    """
    path, sample = Path(path), Path(sample)
    if not path.is_file():
        return [f"no submission: write {SUBMISSION}"]
    with open(sample, newline="", encoding="utf-8") as f:
        expected = list(csv.reader(f))
    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        got = list(csv.reader(f))
    if not got:
        return ["the submission is empty"]
    problems: list[str] = []
    header, body = [c.strip() for c in got[0]], got[1:]
    want_header, want_body = [c.strip() for c in expected[0]], expected[1:]
    if header != want_header:
        return [f"columns are {header}; expected {want_header} (as in sample_submission.csv)"]
    if len(body) != len(want_body):
        problems.append(f"{len(body)} rows; expected {len(want_body)} (one per test row)")
    ids, want_ids = [r[0] for r in body if r], [r[0] for r in want_body if r]
    if len(set(ids)) != len(ids):
        problems.append("ids are repeated")
    if set(ids) != set(want_ids):
        problems.append("ids differ from sample_submission.csv's")
    numeric = [
        all(_number(r[i]) is not None for r in want_body[:50] if len(r) > i)
        for i in range(len(want_header))
    ]
    for line, row in enumerate(body, start=2):
        if len(problems) >= max_problems:
            break
        if len(row) != len(header):
            problems.append(f"line {line} has {len(row)} cells; expected {len(header)}")
            continue
        for i, cell in enumerate(row[1:], start=1):
            if not cell.strip() or cell.strip().lower() in ("nan", "inf", "-inf"):
                problems.append(f"line {line}: empty or NaN value in column {header[i]}")
                break
            if numeric[i] and _number(cell) is None:
                problems.append(f"line {line}: column {header[i]} needs a number, got {cell!r}")
                break
    # A copy of the sample is caught only when the sample varies: a constant sample (all zeros,
    # the class prior) is also what an honest constant model writes on an imbalanced task.
    varies = len({tuple(r[1:]) for r in want_body}) > 1
    if not problems and varies and body == want_body:
        problems.append("the submission is the sample submission itself: predict, do not copy")
    return problems[:max_problems]

"""The final report of a run on your own data: held-out score, validation score, baselines.

No leaderboard of people exists for your data, so the report claims no medal; it says how far
the agent got beyond the dummy and the standard model gome scored on the same held-out rows.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from gome_core.byod.write import SIDECAR

__all__ = ["is_byod", "read_sidecar", "summarize_run", "user_predictions"]


def read_sidecar(competition: Any) -> dict[str, Any] | None:
    """The ``byod.json`` of a competition (or of a competition's folder) built from your data,
    else None."""
    folder = competition if isinstance(competition, str | Path) else competition.competition_dir
    path = Path(folder) / SIDECAR
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def is_byod(competition: Any) -> bool:
    """Whether the competition was built by gome from a folder of data."""
    return read_sidecar(competition) is not None


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.5g}"


def summarize_run(
    competition: Any, grading: dict[str, Any] | None, validation: float | None
) -> str:
    """Lines for the end of ``gome run``: the agent's held-out and validation scores and the
    baselines', with the margin over the best baseline. ``grading`` is the grading report's
    dict (None when nothing was graded); ``validation`` the final candidate's own score."""
    sidecar = read_sidecar(competition) or {}
    lower = bool(competition.lower_is_better)
    metric = competition.metric_name
    direction = "lower" if lower else "higher"
    held = grading.get("score") if grading else None
    rows = sidecar.get("held_out_rows")
    lines = [
        f"held-out {metric} ({direction} is better): {_fmt(held)}"
        + (f" on {rows} held-out rows" if rows else "")
        + ("" if grading is None or grading.get("valid_submission") else " (invalid submission)"),
        f"validation {metric} (the agent's own): {_fmt(validation)}",
    ]
    scored = [b for b in sidecar.get("baselines", []) if b.get("score") is not None]
    for b in sidecar.get("baselines", []):
        lines.append(
            f"baseline {b['name']} ({b['model']}): "
            + (_fmt(b["score"]) if b.get("score") is not None else f"not scored ({b['reason']})")
        )
    if held is not None and scored:
        best = min(scored, key=lambda b: b["score"] if lower else -b["score"])
        gain = (best["score"] - held) if lower else (held - best["score"])
        verdict = "better than" if gain > 0 else "level with" if gain == 0 else "worse than"
        lines.append(
            f"the agent is {verdict} the best baseline ({best['name']}) by {abs(gain):.5g}"
        )
    lines.append("no medals: this competition was built from your data (no leaderboard of people)")
    return "\n".join(lines)


def user_predictions(competition: Any, submission: str | os.PathLike[str]) -> Any:
    """The submission's predictions for the rows of the user's own test table, in that
    table's order, with its id (or image) column; None when the user gave no test table."""
    import pandas as pd

    from gome_core.byod.build import USER_TEST, public_id_column, read_config

    mapping_path = Path(competition.private_dir) / USER_TEST
    if not mapping_path.is_file():
        return None
    _, settings = read_config(Path(competition.competition_dir) / "config.yaml")
    idc = public_id_column(settings)
    mapping = pd.read_csv(mapping_path)
    predictions = pd.read_csv(submission)
    keys = mapping["public_id"].astype(str)
    predictions.index = predictions[idc].astype(str)
    missing = sorted(set(keys) - set(predictions.index))
    if missing:
        raise ValueError(f"the submission lacks {len(missing)} id(s) of your test table")
    columns = [c for c in predictions.columns if c != idc]
    out = predictions.loc[keys.to_numpy(), columns].reset_index(drop=True)
    own = [c for c in mapping.columns if c not in ("row", "public_id")]
    ordered = pd.concat([mapping[own or ["row"]].reset_index(drop=True), out], axis=1)
    return ordered.iloc[mapping["row"].argsort(kind="stable").to_numpy()].reset_index(drop=True)

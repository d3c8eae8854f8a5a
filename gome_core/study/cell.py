"""Running one cell: an agent run in its own directory, graded, summarised in ``cell.json``.

:func:`run_cell` is what a :class:`~gome_core.interfaces.CellRunner` calls in a worker process.
``cell.json`` is written last and atomically: it is the done-marker, so a cell whose process was
killed has none and is run again from scratch, and a finished cell is never run twice.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import traceback
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from attrs import asdict, frozen

from gome_core.interrupts import sigterm_interrupts
from gome_core.logs import get_logger

__all__ = [
    "CELL_FILE",
    "CELL_SCHEMA",
    "CellTask",
    "best_so_far",
    "first_medal",
    "read_cell",
    "repeated_steps",
    "run_cell",
    "write_json_atomic",
]

log = get_logger(__name__)

#: The done-marker and summary of a finished cell.
CELL_FILE = "cell.json"
#: The agent run's directory inside the cell's.
RUN_DIR = "run"
#: Layout version of ``cell.json``.
CELL_SCHEMA = 1


@frozen
class CellTask:
    """Everything a worker process needs to run one cell (plain data: it is pickled)."""

    key: str
    cell: Mapping[str, Any]  # preset, model {kind, value, rank, label}, competition, seed
    preset: str
    settings: Mapping[str, Any]
    fingerprint: str
    cell_dir: str
    competitions_dirs: tuple[str, ...] = ()
    data_dir: str | None = None


def write_json_atomic(path: Path, data: Any) -> None:
    """Write ``data`` as JSON so that a reader sees the old file or the new one, never a part."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, default=str)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read_cell(cell_dir: Path) -> dict[str, Any] | None:
    """The summary of a finished cell, or ``None`` when it has not finished (or is damaged)."""
    try:
        data = json.loads((cell_dir / CELL_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("schema") == CELL_SCHEMA else None


# --------------------------------------------------------------------------- journal summaries


def best_so_far(events: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """After each finished step: the best validated node so far, its score and the USD spent.

    Returns one ``{"step", "node_id", "score", "usd"}`` per step (``node_id`` and ``score`` are
    ``None`` until a step succeeds). Direction-aware: the metric comes from ``run_started``.
    """
    lower_is_better = False
    best_id: str | None = None
    best_score: float | None = None
    usd = 0.0
    curve = []
    for event in events:
        if event["type"] == "run_started":
            lower_is_better = bool(event.get("metric", {}).get("lower_is_better"))
        elif event["type"] == "step_finished":
            node = event["node"]
            usd += float(node.get("usage", {}).get("usd", 0.0))
            score = event.get("score")
            if not event.get("buggy") and score is not None:
                better = best_score is None or (
                    score < best_score if lower_is_better else score > best_score
                )
                if better:
                    best_id, best_score = node["candidate"]["id"], float(score)
            curve.append(
                {"step": event["step"], "node_id": best_id, "score": best_score, "usd": usd}
            )
    return curve


def repeated_steps(events: Iterable[Mapping[str, Any]]) -> int:
    """How many finished steps ran a program (the candidate's files) that an earlier step of the
    run had already run: steps an optimizer spent without trying anything new."""
    seen: set[str] = set()
    repeats = 0
    for event in events:
        if event["type"] != "step_finished":
            continue
        files = event["node"]["candidate"].get("files") or {}
        blob = json.dumps(sorted(files.items()), ensure_ascii=False).encode()
        digest = hashlib.sha256(blob).hexdigest()
        repeats += digest in seen
        seen.add(digest)
    return repeats


def first_medal(curve: Iterable[Mapping[str, Any]], grade_node: Any) -> dict[str, Any] | None:
    """The first step at which the best node so far would have won a medal, with the USD spent.

    ``grade_node(node_id)`` grades a node's submission (a report mapping, or ``None`` when it
    has no gradable submission); each node is graded once.
    """
    verdicts: dict[str, bool] = {}
    for point in curve:
        node_id = point["node_id"]
        if node_id is None:
            continue
        if node_id not in verdicts:
            report = grade_node(node_id)
            verdicts[node_id] = bool(report and report.get("any_medal"))
        if verdicts[node_id]:
            return {"step": point["step"], "usd": point["usd"], "node_id": node_id}
    return None


def _relative_paths(grading: dict[str, Any] | None, cell_dir: Path) -> dict[str, Any] | None:
    """The grading with its submission path relative to the cell, so a study directory can be
    moved or committed without stale machine paths in its summaries."""
    if not grading or not grading.get("submission_path"):
        return grading
    path, cell = Path(grading["submission_path"]).resolve(), cell_dir.resolve()
    if not path.is_relative_to(cell):
        return grading
    relative = path.relative_to(cell).as_posix()
    reason = grading.get("reason")
    return {
        **grading,
        "submission_path": relative,
        "reason": reason.replace(str(path), relative) if isinstance(reason, str) else reason,
    }


def _reference_scores(store: Any, competition: Any) -> dict[str, float | None]:
    """The two ends of the normalised score: the sample submission's score and the best
    leaderboard score (``None`` where one cannot be had)."""
    from gome_core.competitions.medals import read_leaderboard_scores

    sample = None
    if competition.answers.is_file():
        sample = store.grade(competition.id, competition.sample_submission).score
    scores = read_leaderboard_scores(competition.leaderboard_path)
    best = (min(scores) if competition.lower_is_better else max(scores)) if scores else None
    return {"sample_score": sample, "leaderboard_best": best}


# --------------------------------------------------------------------------- the cell


def run_cell(task: CellTask) -> dict[str, Any]:
    """Run one cell to the end and write its ``cell.json``; return its summary.

    Never raises for a failing cell: the summary's ``status`` is ``error`` (with the traceback)
    and no ``cell.json`` is written, so the next run of the study tries it again.
    """
    cell_dir = Path(task.cell_dir)
    started = time.monotonic()
    try:
        # A cell's worker is stopped with SIGTERM when the study is: end the run as Ctrl-C would.
        with sigterm_interrupts():
            summary = _run(task, cell_dir)
    except BaseException as exc:  # KeyboardInterrupt too: report it, the study stops
        return {
            "key": task.key,
            "cell": dict(task.cell),
            "status": "interrupted" if isinstance(exc, KeyboardInterrupt) else "error",
            "error": "".join(traceback.format_exception_only(type(exc), exc)).strip(),
            "traceback": traceback.format_exc(),
            "elapsed_s": time.monotonic() - started,
        }
    return summary


def _run(task: CellTask, cell_dir: Path) -> dict[str, Any]:
    from gome_core.config import resolve
    from gome_core.engine.launch import (
        build_engine,
        competition_ref,
        grade_run,
        open_competition,
        private_paths,
    )
    from gome_core.journal import Journal
    from gome_core.plugins import get_registry

    run_dir = cell_dir / RUN_DIR
    # Whatever is here is an interrupted attempt (no cell.json): start the cell afresh.
    shutil.rmtree(run_dir, ignore_errors=True)
    cell_dir.mkdir(parents=True, exist_ok=True)
    (cell_dir / CELL_FILE).unlink(missing_ok=True)

    resolved = resolve(preset=task.preset, settings=task.settings, registry=get_registry())
    store, competition = open_competition(
        task.cell["competition"],
        competitions_dirs=list(task.competitions_dirs),
        data_dir=task.data_dir,
    )
    with build_engine(
        resolved,
        competition_ref(competition),
        run_dir=run_dir,
        sources={"competitions_dirs": list(task.competitions_dirs), "data_dir": task.data_dir},
        hidden=private_paths(competition),
    ) as engine:
        outcome = engine.run(resumed=False)
    if outcome.status == "interrupted":
        return {"key": task.key, "cell": dict(task.cell), "status": "interrupted"}
    graded = grade_run(store, competition, outcome, run_dir, hooks=engine.hooks)
    grading = _relative_paths(graded, cell_dir)
    events = list(Journal.read(run_dir / "journal.jsonl"))
    curve = best_so_far(events)

    def grade_node(node_id: str) -> dict[str, Any] | None:
        submission = run_dir / "nodes" / node_id / "submission.csv"
        if not submission.is_file() or not competition.answers.is_file():
            return None
        return store.grade(competition.id, submission).to_dict()  # type: ignore[no-any-return]

    summary = {
        "schema": CELL_SCHEMA,
        "reference": _reference_scores(store, competition),
        "key": task.key,
        "cell": dict(task.cell),
        "fingerprint": task.fingerprint,
        # The fingerprint covers settings, not code: these tell cells run on other code apart.
        "versions": resolved.versions(),
        "status": "done",
        "run_status": outcome.status,
        "run_reason": outcome.reason,
        "steps": outcome.steps,
        "elapsed_s": outcome.elapsed_s,
        "usage": asdict(outcome.usage),
        "metric": {
            "name": competition.metric_name,
            "lower_is_better": bool(competition.lower_is_better),
        },
        "final_validation_score": outcome.final.score if outcome.final is not None else None,
        "grading": grading,
        "first_medal": first_medal(curve, grade_node),
        "repeated_steps": repeated_steps(events),
        "curve": [{"step": p["step"], "score": p["score"], "usd": p["usd"]} for p in curve],
        "run_dir": RUN_DIR,
    }
    write_json_atomic(cell_dir / CELL_FILE, summary)  # last: the done-marker
    return summary

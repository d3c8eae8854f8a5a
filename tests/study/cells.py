"""Cell functions for the study runner's tests: module-level, so that worker processes can
unpickle them. They stand in for an agent run where a test is about scheduling, not agents."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

from gome_core import __version__
from gome_core.study.cell import CELL_FILE, CELL_SCHEMA, CellTask, write_json_atomic

#: A cell whose key is listed in this file fails (returns an error), to test retries.
FAIL_MARK_FILE = "fail-these.txt"
#: A cell whose key is listed in this file kills its own process, as an out-of-memory kill would.
KILL_MARK_FILE = "kill-these.txt"


def _calls_log(task: CellTask) -> Path:
    # cells/<preset>/<model>/<competition>/seed-<n> -> the study directory
    return Path(task.cell_dir).parents[4] / "calls.log"


def _listed(marks: Path, key: str) -> bool:
    return marks.is_file() and key in marks.read_text().split()


def recorded_cell(task: CellTask) -> dict[str, Any]:
    """Write a finished cell's summary (medal on seed 0 only) and log the call."""
    log = _calls_log(task)
    with open(log, "a", encoding="utf-8") as fh:
        fh.write(task.key + "\n")
    if _listed(log.parent / KILL_MARK_FILE, task.key):
        os.kill(os.getpid(), signal.SIGKILL)
    if _listed(log.parent / FAIL_MARK_FILE, task.key):
        return {"key": task.key, "cell": dict(task.cell), "status": "error", "error": "boom"}
    seed = task.cell["seed"]
    summary = {
        "schema": CELL_SCHEMA,
        "key": task.key,
        "cell": dict(task.cell),
        "fingerprint": task.fingerprint,
        "versions": {"gome": __version__},
        "status": "done",
        "steps": 2,
        "elapsed_s": 0.1,
        "metric": {"name": "mae", "lower_is_better": True},
        "reference": {"sample_score": 10.0, "leaderboard_best": 0.0},
        "grading": {
            "score": 1.0 if seed == 0 else 6.0,
            "valid_submission": True,
            "above_median": seed == 0,
            "any_medal": seed == 0,
            "gold_medal": False,
            "silver_medal": False,
            "bronze_medal": seed == 0,
        },
        "first_medal": {"step": 2, "usd": 0.0, "node_id": "n0001"} if seed == 0 else None,
        "curve": [{"step": 1, "score": 8.0, "usd": 0.0}, {"step": 2, "score": 5.0, "usd": 0.0}],
    }
    Path(task.cell_dir).mkdir(parents=True, exist_ok=True)
    write_json_atomic(Path(task.cell_dir) / CELL_FILE, summary)
    return summary


def journaling_cell(task: CellTask) -> dict[str, Any]:
    """Journal one finished step as a run would, take a while, then finish as recorded_cell."""
    import json

    run = Path(task.cell_dir) / "run"
    run.mkdir(parents=True, exist_ok=True)
    now = time.time()
    events = [
        {"seq": 0, "type": "run_started", "time": now, "schema": 1},
        {"seq": 1, "type": "step_finished", "time": now, "schema": 1, "step": 1},
    ]
    (run / "journal.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    time.sleep(1.5)
    return recorded_cell(task)


def sleeper(folder: str) -> int:
    """Note the worker's pid, then sleep; a SIGTERM interrupts it as Ctrl-C would. An empty
    ``folder`` returns at once."""
    from gome_core.interrupts import sigterm_interrupts

    pid = os.getpid()
    if not folder:
        return pid
    try:
        with sigterm_interrupts():
            (Path(folder) / f"{pid}.started").write_text("")
            time.sleep(60)
    except KeyboardInterrupt:
        (Path(folder) / f"{pid}.interrupted").write_text("")
        raise
    return pid

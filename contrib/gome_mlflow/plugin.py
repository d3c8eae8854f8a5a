"""The gome plugin that mirrors runs into MLflow (entry point ``mlflow = "gome_mlflow.plugin"``).

Off unless configured: with none of ``GOME_MLFLOW_TRACKING_URI``, ``MLFLOW_TRACKING_URI`` and
``GOME_MLFLOW_EXPERIMENT`` set it does nothing, imports nothing, and writes nothing. MLflow is
imported on a worker thread when a configured run starts, never when plugins load.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Mapping
from typing import Any

from gome_core.hookspecs import hookimpl
from gome_core.logs import get_logger
from gome_core.types import RunInfo
from gome_mlflow.tracker import MlflowSettings, RunTracker

__all__ = ["journal_event", "log_late_gradings", "run_finished", "run_started", "tracker_for"]

log = get_logger(__name__)

_lock = threading.Lock()
_active: dict[str, RunTracker] = {}
#: Finished runs whose grading may still come: the CLI grades after the run has ended.
_awaiting_grading: dict[str, RunTracker] = {}
_atexit_registered = False


def tracker_for(run: RunInfo, *, create: bool = True) -> RunTracker | None:
    """The tracker of ``run`` (made on first use when MLflow logging is configured)."""
    global _atexit_registered
    with _lock:
        tracker = _active.get(run.run_id)
        if tracker is not None or not create:
            return tracker
        settings = MlflowSettings.from_env(os.environ)
        if settings is None:
            return None
        tracker = _active[run.run_id] = RunTracker(settings, run)
        if not _atexit_registered:
            atexit.register(log_late_gradings)
            _atexit_registered = True
        return tracker


@hookimpl
def run_started(run: RunInfo) -> None:
    tracker_for(run)


@hookimpl
def journal_event(run: RunInfo, event: Mapping[str, Any]) -> None:
    # The first event (run_started or run_resumed) comes before the run_started hook.
    tracker = tracker_for(run)
    if tracker is not None:
        tracker.event(event)


@hookimpl
def run_finished(run: RunInfo, status: str) -> None:
    with _lock:
        tracker = _active.pop(run.run_id, None)
    if tracker is None:
        return
    if tracker.finish(status) and not (run.run_dir / "grading.json").is_file():
        with _lock:
            _awaiting_grading[run.run_id] = tracker


def log_late_gradings() -> int:
    """Log the grading of finished runs that were graded after they ended (``gome run`` grades
    once the engine returns); runs at interpreter exit. Returns how many were logged."""
    with _lock:
        waiting = list(_awaiting_grading.values())
        _awaiting_grading.clear()
    return sum(tracker.log_grading() for tracker in waiting)

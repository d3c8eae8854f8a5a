"""The gome plugin that mirrors runs into MLflow (entry point ``mlflow = "gome_mlflow.plugin"``).

Off unless configured: with none of ``GOME_MLFLOW_TRACKING_URI``, ``MLFLOW_TRACKING_URI`` and
``GOME_MLFLOW_EXPERIMENT`` set it does nothing, imports nothing, and writes nothing. MLflow is
imported on a worker thread when a configured run starts, never when plugins load.

The grading of a run's submission comes after the run has ended (``gome run``, ``gome resume``
and study cells grade once the engine is done): the ``run_graded`` hook logs it, in the process
that ran the run, without waiting for that process to end (a study cell's worker ends without
running exit handlers).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from gome_core.hookspecs import hookimpl
from gome_core.logs import get_logger
from gome_core.types import RunInfo
from gome_mlflow.tracker import MlflowSettings, RunTracker

__all__ = ["journal_event", "run_finished", "run_graded", "run_started", "tracker_for"]

log = get_logger(__name__)

#: Finished runs kept for their grading: the most recent ones (a run whose competition has no
#: answers is never graded, and a long-lived process must not keep every tracker it made).
AWAITING_GRADING_MAX = 64

_lock = threading.Lock()
_active: dict[str, RunTracker] = {}
#: Finished runs whose grading may still come: ``gome run`` and study cells grade after the end.
_awaiting_grading: OrderedDict[str, RunTracker] = OrderedDict()


def tracker_for(run: RunInfo, *, create: bool = True) -> RunTracker | None:
    """The tracker of ``run`` (made on first use when MLflow logging is configured)."""
    with _lock:
        tracker = _active.get(run.run_id)
        if tracker is not None or not create:
            return tracker
        settings = MlflowSettings.from_env(os.environ)
        if settings is None:
            return None
        tracker = _active[run.run_id] = RunTracker(settings, run)
        return tracker


@hookimpl
def run_started(run: RunInfo) -> None:
    tracker_for(run)


@hookimpl
def journal_event(run: RunInfo, event: Mapping[str, Any]) -> None:
    # The first event (run_started, or run_resuming) comes before the run_started hook.
    tracker = tracker_for(run)
    if tracker is not None:
        tracker.event(event)


@hookimpl
def run_finished(run: RunInfo, status: str) -> None:
    with _lock:
        tracker = _active.pop(run.run_id, None)
    if tracker is None:
        return
    if tracker.finish(status) and status != "interrupted":  # an interrupted run is not graded
        with _lock:
            _awaiting_grading[run.run_id] = tracker
            while len(_awaiting_grading) > AWAITING_GRADING_MAX:
                _awaiting_grading.popitem(last=False)


@hookimpl
def run_graded(run: RunInfo, grading: Mapping[str, Any]) -> None:
    """Log the grading of a run this process mirrored: ``gome.medal``, ``test_score``, the medal
    flags and ``grading.json``."""
    with _lock:
        tracker = _awaiting_grading.pop(run.run_id, None)
    if tracker is not None:
        tracker.log_grading(grading)

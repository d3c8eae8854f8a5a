"""gome_mlflow: log gome runs to MLflow (params, per-step metrics, artefacts, grading).

Install with the ``mlflow`` extra (``pip install "gome[mlflow]"``) and point it at a tracking
server or store::

    export GOME_MLFLOW_TRACKING_URI=http://127.0.0.1:5000   # or MLFLOW_TRACKING_URI
    export GOME_MLFLOW_EXPERIMENT=penguins                  # default: "gome"

With only the experiment set, runs go to a local file store, ``./mlruns``. With neither set, the
plugin does nothing. See ``docs/mlflow.md``.
"""

from __future__ import annotations

from gome_mlflow.tracker import MlflowSettings, RunTracker, flatten

__all__ = ["MlflowSettings", "RunTracker", "flatten"]

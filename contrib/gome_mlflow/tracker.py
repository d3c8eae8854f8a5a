"""One gome run mirrored into one MLflow run.

A :class:`RunTracker` receives the run's journal events from the hooks (any thread, returning at
once) and logs them from its own worker thread, so a slow or unreachable tracking server never
holds the engine up. The first failure is logged once as a warning and ends the mirroring of that
run; the gome run itself goes on untouched.

What is logged:

* params: the resolved configuration flattened to dotted keys (``optimizer.name``,
  ``optimizer.traces``, ``budget.steps``, ``validators.0.name``, ``seed``...), plus ``preset``,
  ``competition``, ``optimizer``, ``metric`` and ``lower_is_better``;
* tags: ``gome.version``, ``gome.run_id``, ``gome.run_dir``, ``gome.competition``,
  ``gome.preset``, and at the end ``gome.status``, ``gome.final_node``; ``gome.medal`` once
  graded; ``gome.config.KEY`` for each setting a resumed run changed (params cannot change);
* metrics per finished step (``step=`` the step number): ``score`` (valid steps),
  ``trace.N.score``, ``best_score`` (best so far), ``buggy`` (0/1), ``elapsed_s`` and the
  cumulative ``llm_calls``, ``llm_tokens``, ``llm_usd``; at the end ``final_score`` (the chosen
  candidate's re-validated mean) and, once graded, ``test_score`` and the medal flags (0/1);
* artefacts at the end: ``best/`` (the chosen node's code, outputs, scores and submission),
  ``submission.csv``, ``report.html``, ``run/`` (``config.toml``, ``run.json``,
  ``journal.jsonl``), and once graded ``grading.json``.

The grading comes after the run has ended (:meth:`RunTracker.log_grading`, from the
``run_graded`` hook). A resumed gome run continues its MLflow run (found by the ``gome.run_id``
tag).
"""

from __future__ import annotations

import math
import os
import queue
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from attrs import frozen

from gome_core.journal import Journal
from gome_core.logs import get_logger
from gome_core.types import Metric, RunInfo

__all__ = ["MlflowSettings", "RunTracker", "flatten"]

log = get_logger(__name__)

#: Medal fields of a grading report (MLE-bench's names), logged as 0/1 metrics.
MEDAL_FIELDS = ("any_medal", "gold_medal", "silver_medal", "bronze_medal", "above_median")
#: MLflow's statuses for gome's.
STATUS = {"completed": "FINISHED", "budget": "FINISHED", "failed": "FAILED"}
#: The tag prefix of a setting that a resumed run changed: ``gome.config.budget.steps``.
CONFIG_TAG = "gome.config."
#: MLflow's longest param value (and a tag value any store takes).
MAX_VALUE = 6000


@frozen
class MlflowSettings:
    """Where to log: a tracking URI and an experiment name.

    ``default_store``: the URI is gome's default, a local file store (``./mlruns``), because only
    the experiment was set. MLflow's own default (``sqlite:///mlflow.db`` in MLflow 3) needs
    SQLAlchemy, which the ``mlflow`` extra (mlflow-skinny) does not install.
    """

    tracking_uri: str
    experiment: str = "gome"
    flush_timeout_s: float = 120.0  # how long the end of a run waits for logging to catch up
    default_store: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str], cwd: Path | None = None) -> MlflowSettings | None:
        """The settings from ``GOME_MLFLOW_TRACKING_URI`` (or ``MLFLOW_TRACKING_URI``) and
        ``GOME_MLFLOW_EXPERIMENT``; ``None`` when none of them is set (then nothing is logged).
        With only the experiment set, the store is ``mlruns/`` in ``cwd`` (default: the current
        directory)."""
        uri = env.get("GOME_MLFLOW_TRACKING_URI") or env.get("MLFLOW_TRACKING_URI") or None
        experiment = env.get("GOME_MLFLOW_EXPERIMENT") or None
        if uri is None and experiment is None:
            return None
        timeout = env.get("GOME_MLFLOW_FLUSH_TIMEOUT_S")
        default_store = uri is None
        if uri is None:
            uri = ((cwd or Path.cwd()) / "mlruns").resolve().as_uri()
        return cls(
            tracking_uri=uri,
            experiment=experiment or "gome",
            flush_timeout_s=float(timeout) if timeout else 120.0,
            default_store=default_store,
        )


def flatten(data: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    """``(dotted key, value)`` for every scalar in nested mappings and lists."""
    if isinstance(data, Mapping):
        for key, value in data.items():
            yield from flatten(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(data, list | tuple):
        if all(not isinstance(v, Mapping | list | tuple) for v in data):
            yield prefix, ",".join(str(v) for v in data)
        else:
            for i, value in enumerate(data):
                yield from flatten(value, f"{prefix}.{i}")
    elif data is not None:
        yield prefix, str(data)


class RunTracker:
    """Mirrors one gome run into one MLflow run. Feed it events; :meth:`finish` at the end."""

    def __init__(self, settings: MlflowSettings, run: RunInfo) -> None:
        self.settings = settings
        if settings.default_store:
            # MLflow 3 refuses file stores unless this is set; gome's default store is one. Set
            # here, on the thread that starts the run, before its steps' threads exist.
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        self.run = run
        self._queue: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._failed = False
        self._client: Any = None
        self.mlflow_run_id: str | None = None
        # State rebuilt from the journal, so a resumed run continues its curves.
        self._seen: set[int] = set()
        self._metric = Metric("score")
        self._best: float | None = None
        self._usage = {"calls": 0, "tokens": 0, "usd": 0.0}
        self._step = 0
        self._final_id: str | None = None
        self._thread = threading.Thread(
            target=self._work, name=f"gome-mlflow-{run.run_id}", daemon=True
        )
        self._thread.start()
        self._queue.put(("start", None))

    # ------------------------------------------------------------------ called from the hooks

    def event(self, event: Mapping[str, Any]) -> None:
        """Queue one journal event (returns at once)."""
        if not self._failed:
            self._queue.put(("event", dict(event)))

    def finish(self, status: str) -> bool:
        """Log the end of the run and its artefacts; wait for logging to catch up, at most
        ``flush_timeout_s``. Returns whether everything was logged."""
        self._queue.put(("finish", status))
        self._queue.put(("stop", None))
        self._thread.join(self.settings.flush_timeout_s)
        if self._thread.is_alive():
            log.warning(
                "mlflow: logging did not finish in time; the rest is dropped",
                timeout_s=self.settings.flush_timeout_s,
                tracking_uri=self.settings.tracking_uri,
            )
            return False
        return not self._failed

    def log_grading(self, grading: Mapping[str, Any]) -> bool:
        """Log the grader's report (``grading.json``'s content) and the file, after
        :meth:`finish`: the submission is graded once the run has ended. Logs on the calling
        thread; returns whether it was logged."""
        if self._failed or self._client is None or self.mlflow_run_id is None:
            return False
        if self._thread.is_alive():  # finish() gave up waiting: the run's logging is cut short
            return False
        try:
            self._log_grading(grading)
        except Exception as exc:
            self._fail(exc)
            return False
        return True

    # ------------------------------------------------------------------ the worker

    def _work(self) -> None:
        while True:
            kind, payload = self._queue.get()
            if kind == "stop":
                return
            if self._failed:
                continue
            try:
                if kind == "start":
                    self._start()
                elif kind == "event":
                    self._on_event(payload, log_it=True)
                elif kind == "finish":
                    self._finish(payload)
            except Exception as exc:
                self._fail(exc)

    def _fail(self, exc: BaseException) -> None:
        if not self._failed:
            self._failed = True
            log.warning(
                "mlflow: logging this run to MLflow failed; the run goes on without it",
                error=f"{type(exc).__name__}: {exc}",
                tracking_uri=self.settings.tracking_uri,
                experiment=self.settings.experiment,
            )

    def _start(self) -> None:
        from mlflow.tracking import MlflowClient  # heavy: only once tracking is configured

        client = MlflowClient(tracking_uri=self.settings.tracking_uri)
        experiment = client.get_experiment_by_name(self.settings.experiment)
        experiment_id = (
            experiment.experiment_id
            if experiment is not None
            else client.create_experiment(self.settings.experiment)
        )
        existing = client.search_runs(
            [experiment_id],
            filter_string=f"tags.`gome.run_id` = '{_quote(self.run.run_id)}'",
            max_results=1,
        )
        self._client = client
        history = self._journal_history()
        if existing:
            self.mlflow_run_id = existing[0].info.run_id
            client.update_run(self.mlflow_run_id, status="RUNNING")
            for event in history:  # already logged by the earlier session
                self._on_event(event, log_it=False)
            self._log_resumed_params(existing[0].data)
            return
        import gome_core

        tags = {
            "gome.version": gome_core.__version__,
            "gome.run_id": self.run.run_id,
            "gome.run_dir": str(self.run.run_dir),
            "gome.competition": self.run.competition_id,
            "gome.preset": self.run.preset or "custom",
        }
        created = client.create_run(experiment_id, run_name=self.run.run_id, tags=tags)
        self.mlflow_run_id = created.info.run_id
        for event in history:
            self._on_event(event, log_it=True)
        self._log_params()

    def _journal_history(self) -> list[dict[str, Any]]:
        try:
            return list(Journal.read(self.run.run_dir / "journal.jsonl"))
        except Exception:  # no journal yet: nothing to catch up on
            return []

    def _params(self) -> dict[str, str]:
        """The params of this session's configuration, as they are logged."""
        config = dict(self.run.config)
        optimizer = config.get("optimizer")
        params = {
            "preset": self.run.preset or "custom",
            "competition": self.run.competition_id,
            "optimizer": optimizer.get("name") if isinstance(optimizer, Mapping) else optimizer,
            "metric": self._metric.name,
            "lower_is_better": self._metric.lower_is_better,
        }
        for key, value in flatten(config):
            params.setdefault(key, value)
        return {k: str(v)[:MAX_VALUE] for k, v in params.items() if v is not None and k}

    def _log_params(self, params: Mapping[str, str] | None = None) -> None:
        from mlflow.entities import Param

        items = [Param(k, v) for k, v in (self._params() if params is None else params).items()]
        for i in range(0, len(items), 100):  # MLflow takes at most 100 params per batch
            self._client.log_batch(self.mlflow_run_id, params=items[i : i + 100])

    def _log_resumed_params(self, data: Any) -> None:
        """A resumed run's configuration: MLflow params cannot change, so a setting this session
        changed (``gome resume --set budget.steps=40``) is the tag ``gome.config.KEY``; a tag
        left by an earlier session for a setting now back to its param's value is removed, and
        a setting new since then is logged as a param."""
        from mlflow.entities import RunTag

        logged, tags = dict(data.params), dict(data.tags)
        params = self._params()
        self._log_params({k: v for k, v in params.items() if k not in logged})
        changed = [
            RunTag(CONFIG_TAG + k, v) for k, v in params.items() if k in logged and logged[k] != v
        ]
        if changed:
            self._client.log_batch(self.mlflow_run_id, tags=changed)
        for key in tags:
            if not key.startswith(CONFIG_TAG):
                continue
            name = key[len(CONFIG_TAG) :]
            if logged.get(name) == params.get(name):  # back to the param's value
                self._client.delete_tag(self.mlflow_run_id, key)

    # ------------------------------------------------------------------ events

    def _on_event(self, event: Mapping[str, Any], *, log_it: bool) -> None:
        seq = event.get("seq")
        if isinstance(seq, int):
            # Seen already when it was read from the journal before its hook call arrived. Not a
            # high-water mark: events of different threads may reach the hooks out of order.
            if seq in self._seen:
                return
            self._seen.add(seq)
        kind = event.get("type")
        if kind == "run_started":
            metric = event.get("metric") or {}
            self._metric = Metric(
                str(metric.get("name") or "score"), bool(metric.get("lower_is_better"))
            )
        elif kind == "step_finished":
            self._on_step(event, log_it)
        elif kind == "final_choice":
            self._final_id = event.get("chosen")
            for row in event.get("candidates") or ():
                if row.get("node_id") == self._final_id and _finite(row.get("mean")):
                    if log_it:
                        self._metrics({"final_score": row["mean"]}, event)
        elif kind == "run_finished":
            self._final_id = event.get("final") or self._final_id

    def _on_step(self, event: Mapping[str, Any], log_it: bool) -> None:
        node = event.get("node") or {}
        usage = node.get("usage") or {}
        self._usage["calls"] += int(usage.get("calls") or 0)
        self._usage["tokens"] += int(usage.get("input_tokens") or 0) + int(
            usage.get("output_tokens") or 0
        )
        self._usage["usd"] += float(usage.get("usd") or 0.0)
        self._step = int(event.get("step") or self._step + 1)
        buggy = bool(event.get("buggy"))
        score = event.get("score")
        metrics: dict[str, float] = {"buggy": float(buggy)}
        if not buggy and _finite(score):
            metrics["score"] = float(score)
            trace = (event.get("proposal") or {}).get("trace")
            if trace is not None:
                metrics[f"trace.{trace}.score"] = float(score)
            if self._metric.better(float(score), self._best):
                self._best = float(score)
        if self._best is not None:
            metrics["best_score"] = self._best
        if _finite(event.get("elapsed_s")):
            metrics["elapsed_s"] = float(event["elapsed_s"])
        metrics["llm_calls"] = self._usage["calls"]
        metrics["llm_tokens"] = self._usage["tokens"]
        metrics["llm_usd"] = self._usage["usd"]
        if log_it:
            self._metrics(metrics, event)

    def _metrics(self, values: Mapping[str, float], event: Mapping[str, Any]) -> None:
        from mlflow.entities import Metric as MlflowMetric

        stamp = int(float(event.get("time") or time.time()) * 1000)
        items = [MlflowMetric(k, float(v), stamp, self._step) for k, v in values.items()]
        self._client.log_batch(self.mlflow_run_id, metrics=items)

    # ------------------------------------------------------------------ the end

    def _finish(self, status: str) -> None:
        from mlflow.entities import RunTag

        client, run_id, run_dir = self._client, self.mlflow_run_id, self.run.run_dir
        tags = [RunTag("gome.status", status)]
        if self._final_id:
            tags.append(RunTag("gome.final_node", str(self._final_id)))
        client.log_batch(run_id, tags=tags)
        best = run_dir / "best"
        node_dir = best.resolve() if best.exists() else None
        if node_dir is None and self._final_id:
            node_dir = run_dir / "nodes" / str(self._final_id)
        if node_dir is not None and node_dir.is_dir():
            client.log_artifacts(run_id, str(node_dir), "best")
        if (run_dir / "submission.csv").is_file():
            client.log_artifact(run_id, str(run_dir / "submission.csv"))
        for name in ("config.toml", "run.json", "journal.jsonl"):
            if (run_dir / name).is_file():
                client.log_artifact(run_id, str(run_dir / name), "run")
        self._log_report()
        client.set_terminated(run_id, status=STATUS.get(status, "KILLED"))

    def _log_report(self) -> None:
        try:
            from gome_core.report import write_report

            with tempfile.TemporaryDirectory(prefix="gome-mlflow-") as tmp:
                path = write_report(self.run.run_dir, Path(tmp) / "report.html")
                self._client.log_artifact(self.mlflow_run_id, str(path))
        except Exception as exc:  # the report is a bonus: its failure spoils nothing else
            log.warning("mlflow: the run's report could not be made", error=str(exc))

    def _log_grading(self, grading: Mapping[str, Any]) -> None:
        from mlflow.entities import Metric as MlflowMetric
        from mlflow.entities import RunTag

        stamp = int(time.time() * 1000)
        metrics = []
        if _finite(grading.get("score")):
            metrics.append(MlflowMetric("test_score", float(grading["score"]), stamp, self._step))
        for name in MEDAL_FIELDS:
            if name in grading:
                metrics.append(MlflowMetric(name, float(bool(grading[name])), stamp, self._step))
        medal = next((m for m in ("gold", "silver", "bronze") if grading.get(f"{m}_medal")), "none")
        self._client.log_batch(
            self.mlflow_run_id, metrics=metrics, tags=[RunTag("gome.medal", medal)]
        )
        path = self.run.run_dir / "grading.json"
        if path.is_file():
            self._client.log_artifact(self.mlflow_run_id, str(path))


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")

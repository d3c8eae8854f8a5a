"""The MLflow plugin against a real local MLflow store: what a run logs, that a resumed run goes
on logging into the same MLflow run, and that MLflow being absent or broken never stops a run.

MLflow itself comes with the ``mlflow`` extra (``pip install "gome[mlflow]"``); without it the
tests that need it are skipped. This folder has no ``__init__.py`` and no ``conftest.py`` on
purpose: as a package it would be importable as ``mlflow`` and shadow the real one.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from gome_core.config import resolve
from gome_core.engine.launch import build_engine, competition_ref, grade_run
from gome_core.engine.rundir import RunDirectory
from gome_core.testing import PluginSuite
from gome_core.types import RunInfo
from tests.competitions.conftest import write_mlebench_competition
from tests.engine import toy_plugin
from tests.report import hostile_plugin

ROOT = Path(__file__).resolve().parents[2]
if importlib.util.find_spec("gome_mlflow") is None:  # not installed: use the source tree
    sys.path.insert(0, str(ROOT / "contrib"))


@pytest.fixture
def toy_task(tmp_path):
    """The toy competition (`toy-mae`: y = 2x, MAE), prepared, and its store."""
    from gome_core.engine.launch import open_competition

    competitions, data = tmp_path / "competitions", tmp_path / "data"
    competitions.mkdir()
    write_mlebench_competition(competitions, "toy-mae", raw_data_dir=data)
    return open_competition("toy-mae", competitions_dirs=[str(competitions)], data_dir=str(data))


@pytest.fixture
def mlflow_env(monkeypatch, tmp_path):
    """Log to a fresh local file store; returns its URI."""
    pytest.importorskip(
        "mlflow.tracking", reason="MLflow is not installed: pip install 'gome[mlflow]'"
    )
    for name in ("MLFLOW_TRACKING_URI", "GOME_MLFLOW_TRACKING_URI", "GOME_MLFLOW_EXPERIMENT"):
        monkeypatch.delenv(name, raising=False)
    uri = (tmp_path / "mlruns").as_uri()
    monkeypatch.setenv("GOME_MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("GOME_MLFLOW_EXPERIMENT", "toys")
    # MLflow 3 keeps its file store behind this switch (a database or a server is its default).
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    return uri


@pytest.fixture
def with_mlflow_plugin(gome_plugin):
    """``gome_plugin`` plus the MLflow plugin (the fixture keeps its entry point's copy when it
    is installed too)."""
    import gome_mlflow.plugin

    def install(**plugins):
        return gome_plugin(**plugins, mlflow=gome_mlflow.plugin)

    return install


def _run(registry, competition, run_dir, *overrides, resumed=False):
    resolved = resolve(
        preset="toy",
        overrides=[
            "optimizer.estimator=hostile",
            "optimizer.implementer=hostile",
            "llm=scripted",
            *overrides,
        ],
        registry=registry,
    )
    existing = RunDirectory.open(run_dir) if resumed else None
    engine = build_engine(
        resolved, competition_ref(competition), run_dir=run_dir, _existing=existing
    )
    return engine.run(resumed=resumed)


def _client(uri):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def _only_run(client, experiment="toys"):
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id])
    assert len(runs) == 1
    return runs[0]


def _medal(graded):
    """The medal a grading report names: gold, silver, bronze or none."""
    return next((m for m in ("gold", "silver", "bronze") if graded[f"{m}_medal"]), "none")


def _artifacts(client, run_id, path=None):
    out = []
    for item in client.list_artifacts(run_id, path):
        out += _artifacts(client, run_id, item.path) if item.is_dir else [item.path]
    return out


def test_a_run_is_logged_with_params_metrics_artefacts_and_grading(
    mlflow_env, with_mlflow_plugin, toy_task, tmp_path
):
    store, competition = toy_task
    registry = with_mlflow_plugin(toy=toy_plugin, hostile=hostile_plugin)
    outcome = _run(registry, competition, tmp_path / "run")
    # As `gome run` does: graded after the end; logged at once, through the run_graded hook.
    grade_run(store, competition, outcome, tmp_path / "run")

    client = _client(mlflow_env)
    run = _only_run(client)
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run.info.status == "FINISHED" and run.info.run_name == info["run_id"]
    tags, params, metrics = run.data.tags, run.data.params, run.data.metrics
    assert tags["gome.run_id"] == info["run_id"] and tags["gome.version"] == info["gome_version"]
    assert tags["gome.status"] == "budget" and tags["gome.final_node"] == outcome.final.id
    graded = json.loads((tmp_path / "run" / "grading.json").read_text())
    assert tags["gome.medal"] == _medal(graded)
    assert params["preset"] == "toy" and params["competition"] == "toy-mae"
    assert params["optimizer"] == "gome" and params["optimizer.traces"] == "2"
    assert params["seed"] == "0" and params["budget.steps"] == "6"
    assert params["metric"] == "mae" and params["lower_is_better"] == "True"
    assert params["llm.name"] == "scripted" and params["engine.final_seeds"] == "1"

    scores = client.get_metric_history(run.info.run_id, "score")
    assert sorted(m.step for m in scores) == [1, 2, 3, 4, 5, 6]
    best = sorted(client.get_metric_history(run.info.run_id, "best_score"), key=lambda m: m.step)
    assert all(b.value <= a.value for a, b in zip(best, best[1:], strict=False))  # lower: better
    assert best[-1].value == min(m.value for m in scores)
    journal = [json.loads(line) for line in (tmp_path / "run" / "journal.jsonl").open()]
    finished = [e for e in journal if e["type"] == "step_finished"]
    trace_1 = client.get_metric_history(run.info.run_id, "trace.1.score")
    assert sorted((m.step, m.value) for m in trace_1) == sorted(
        (e["step"], pytest.approx(e["score"])) for e in finished if e["proposal"]["trace"] == 1
    )
    tokens = client.get_metric_history(run.info.run_id, "llm_tokens")
    assert max(m.value for m in tokens) == 6 * 1500  # the scripted LLM: 1500 tokens a step
    assert metrics["llm_usd"] == pytest.approx(6 * 0.0125) and metrics["buggy"] == 0
    chosen = next(e for e in journal if e["type"] == "final_choice")
    row = next(r for r in chosen["candidates"] if r["node_id"] == chosen["chosen"])
    assert metrics["final_score"] == pytest.approx(row["mean"])
    assert metrics["test_score"] == pytest.approx(graded["score"])
    assert metrics["any_medal"] == float(graded["any_medal"])

    artefacts = set(_artifacts(client, run.info.run_id))
    assert {
        "best/main.py",
        "best/submission.csv",
        "best/stdout.txt",
        "submission.csv",
        "report.html",
        "run/config.toml",
        "run/journal.jsonl",
        "grading.json",
    } <= artefacts


def test_a_resumed_run_goes_on_in_the_same_mlflow_run(
    mlflow_env, with_mlflow_plugin, toy_task, tmp_path
):
    _, competition = toy_task
    registry = with_mlflow_plugin(toy=toy_plugin, hostile=hostile_plugin)
    _run(registry, competition, tmp_path / "run", "budget.steps=3")
    _run(registry, competition, tmp_path / "run", "budget.steps=5", resumed=True)
    client = _client(mlflow_env)
    run = _only_run(client)
    assert run.info.status == "FINISHED"
    steps = sorted(m.step for m in client.get_metric_history(run.info.run_id, "score"))
    assert steps == [1, 2, 3, 4, 5]  # the first session's steps were not logged twice
    tokens = client.get_metric_history(run.info.run_id, "llm_tokens")
    assert max(m.value for m in tokens) == 5 * 1500


@pytest.mark.parametrize(
    "uri",
    ["nosuchscheme://nowhere", "http://127.0.0.1:9"],
    ids=["unknown-scheme", "unreachable-server"],
)
def test_a_broken_mlflow_never_stops_the_run_and_warns_once(
    uri, mlflow_env, monkeypatch, with_mlflow_plugin, toy_task, tmp_path, caplog
):
    monkeypatch.setenv("GOME_MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "3")
    _, competition = toy_task
    registry = with_mlflow_plugin(toy=toy_plugin, hostile=hostile_plugin)
    with caplog.at_level(logging.WARNING, logger="gome_mlflow"):
        outcome = _run(registry, competition, tmp_path / "run", "budget.steps=3")
    assert outcome.status == "budget" and outcome.steps == 3 and outcome.final is not None
    warnings = [r for r in caplog.records if r.name.startswith("gome_mlflow")]
    assert len(warnings) == 1 and "goes on without it" in warnings[0].getMessage()


def test_without_configuration_nothing_is_logged_or_written(
    monkeypatch, with_mlflow_plugin, toy_task, tmp_path
):
    for name in ("MLFLOW_TRACKING_URI", "GOME_MLFLOW_TRACKING_URI", "GOME_MLFLOW_EXPERIMENT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    import gome_mlflow.plugin

    _, competition = toy_task
    registry = with_mlflow_plugin(toy=toy_plugin, hostile=hostile_plugin)
    outcome = _run(registry, competition, tmp_path / "run", "budget.steps=2")
    assert outcome.steps == 2
    assert not (tmp_path / "mlruns").exists() and not (tmp_path / "mlflow.db").exists()
    info = RunInfo("x", tmp_path, "toy-mae")
    assert gome_mlflow.plugin.tracker_for(info) is None


def test_loading_the_plugin_does_not_import_mlflow():
    code = (
        "import sys\n"
        f"sys.path.insert(0, {str(ROOT / 'contrib')!r})\n"
        "import gome_mlflow.plugin\n"
        "from gome_core.plugins import load_plugins\n"
        "load_plugins(extra=[('mlflow-test', gome_mlflow.plugin)], entry_points=False)\n"
        "print('mlflow' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_settings_come_from_the_environment():
    from gome_mlflow import MlflowSettings, flatten

    assert MlflowSettings.from_env({}) is None
    assert MlflowSettings.from_env({"MLFLOW_TRACKING_URI": "http://h"}).experiment == "gome"
    settings = MlflowSettings.from_env(
        {
            "GOME_MLFLOW_TRACKING_URI": "file:///x",
            "MLFLOW_TRACKING_URI": "http://h",
            "GOME_MLFLOW_EXPERIMENT": "e",
            "GOME_MLFLOW_FLUSH_TIMEOUT_S": "5",
        }
    )
    assert (settings.tracking_uri, settings.experiment, settings.flush_timeout_s) == (
        "file:///x",
        "e",
        5.0,
    )
    only_experiment = MlflowSettings.from_env({"GOME_MLFLOW_EXPERIMENT": "e"}, Path("/x"))
    assert only_experiment.tracking_uri == "file:///x/mlruns" and only_experiment.default_store
    assert not settings.default_store
    config = {"a": {"b": 1, "c": [1, 2]}, "v": [{"name": "x"}], "n": None}
    assert dict(flatten(config)) == {"a.b": "1", "a.c": "1,2", "v.0.name": "x"}


class TestTheMlflowPluginConforms(PluginSuite):
    @pytest.fixture
    def plugin(self):
        import gome_mlflow.plugin

        return gome_mlflow.plugin


def test_the_guide_example_reads_a_logged_run(
    mlflow_env, with_mlflow_plugin, toy_task, tmp_path, capsys
):
    _, competition = toy_task
    registry = with_mlflow_plugin(toy=toy_plugin, hostile=hostile_plugin)
    _run(registry, competition, tmp_path / "run", "budget.steps=3")
    docs = (ROOT / "docs" / "mlflow.md").read_text()
    block = re.findall(r"```python\n(.*?)```", docs, flags=re.S)[0]
    assert 'tracking_uri="file:///tmp/gome-mlruns"' in block and '"penguins"' in block
    block = block.replace("file:///tmp/gome-mlruns", mlflow_env).replace('"penguins"', '"toys"')
    exec(compile(block, "mlflow.md", "exec"), {})
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("toy-mae-toy-") and out[0].split()[1:3] == ["gome", "3"]
    assert [line.split()[:2] for line in out[1:]] == [["step", "1"], ["step", "2"], ["step", "3"]]


def _assert_graded(client, run, run_dir):
    graded = json.loads((run_dir / "grading.json").read_text())
    assert run.data.metrics["test_score"] == pytest.approx(graded["score"])
    assert run.data.metrics["any_medal"] == float(graded["any_medal"])
    assert run.data.tags["gome.medal"] == _medal(graded)
    assert "grading.json" in _artifacts(client, run.info.run_id)


def test_gome_run_and_gome_resume_log_the_grading_and_the_resumed_budget(
    mlflow_env, with_mlflow_plugin, tmp_path, capsys
):
    """`gome run`, then `gome resume --set budget.steps=3`, in this process: each grading is
    logged once it is made (no waiting for the process to end), and the resumed budget is on
    the record although MLflow params cannot change."""
    from click.testing import CliRunner

    from gome_core.cli import cli

    with_mlflow_plugin(toy=toy_plugin)
    (tmp_path / "c").mkdir()
    write_mlebench_competition(tmp_path / "c", "toy-mae", raw_data_dir=tmp_path / "d")
    run_dir = tmp_path / "run"
    where = ["--competitions-dir", str(tmp_path / "c"), "--data-dir", str(tmp_path / "d")]
    args = ["run", "--preset", "toy", "--task", "toy-mae", "--steps", "2", "--run-dir"]
    result = CliRunner().invoke(cli, [*args, str(run_dir), *where], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "graded:" in result.output
    client = _client(mlflow_env)
    run = _only_run(client)
    _assert_graded(client, run, run_dir)
    assert run.data.params["budget.steps"] == "2"
    assert not [t for t in run.data.tags if t.startswith("gome.config.")]

    (run_dir / "grading.json").unlink()  # so that the check below sees the resumed run's
    resume = ["resume", str(run_dir), "--set", "budget.steps=3"]
    result = CliRunner().invoke(cli, resume, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    run = _only_run(client)
    _assert_graded(client, run, run_dir)
    assert run.data.params["budget.steps"] == "2"  # as the run started: params cannot change
    assert run.data.tags["gome.config.budget.steps"] == "3"  # as the resumed run ran
    steps = sorted(m.step for m in client.get_metric_history(run.info.run_id, "score"))
    assert steps == [1, 2, 3]

    # The guide's example reads the budget the run last ran with.
    docs = (ROOT / "docs" / "mlflow.md").read_text()
    block = re.findall(r"```python\n(.*?)```", docs, flags=re.S)[0]
    block = block.replace("file:///tmp/gome-mlruns", mlflow_env).replace('"penguins"', '"toys"')
    capsys.readouterr()
    exec(compile(block, "mlflow.md", "exec"), {})
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[1:3] == ["gome", "3"]

    # Resumed again: the run's configuration kept the longer budget, and so does the tag.
    result = CliRunner().invoke(cli, ["resume", str(run_dir)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert _only_run(client).data.tags["gome.config.budget.steps"] == "3"
    # Set back to the first budget: the tag goes, the param holds again.
    back = ["resume", str(run_dir), "--set", "budget.steps=2"]
    result = CliRunner().invoke(cli, back, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert not [t for t in _only_run(client).data.tags if t.startswith("gome.config.")]


def test_a_study_cell_logs_its_grading(mlflow_env, tmp_path):
    """A study cell runs in a worker process that ends with os._exit (no exit handlers), and
    grades its run after the engine has closed: the grading is logged all the same."""
    script = f"""
import os, sys
sys.path.insert(0, {str(ROOT / "contrib")!r})
from pathlib import Path
import gome_mlflow.plugin
from gome_core.plugins import load_plugins, reset_registry
from gome_core.study.cell import CellTask, run_cell
from tests.competitions.conftest import write_mlebench_competition
from tests.engine import toy_plugin

root = Path({str(tmp_path)!r})
(root / "c").mkdir()
write_mlebench_competition(root / "c", "toy-mae", raw_data_dir=root / "d")
plugins = [("toy", toy_plugin)]
if "mlflow" not in {{p.name for p in load_plugins(env={{}}).plugins}}:
    plugins.append(("mlflow", gome_mlflow.plugin))
reset_registry(load_plugins(extra=plugins, env={{}}))
task = CellTask(
    key="toy/x/toy-mae/seed-0",
    cell={{"preset": "toy", "competition": "toy-mae", "seed": 0}},
    preset="toy",
    settings={{"budget": {{"steps": 2}}}},
    fingerprint="f",
    cell_dir=str(root / "cell"),
    competitions_dirs=(str(root / "c"),),
    data_dir=str(root / "d"),
)
summary = run_cell(task)
print(summary["status"], summary.get("traceback", ""), flush=True)
os._exit(0 if summary["status"] == "done" else 1)  # as a forkserver worker ends
"""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    client = _client(mlflow_env)
    run = _only_run(client)
    assert run.data.tags["gome.status"] == "budget"
    _assert_graded(client, run, tmp_path / "cell" / "run")


def test_only_an_experiment_logs_to_a_local_file_store(
    monkeypatch, with_mlflow_plugin, toy_task, tmp_path
):
    """MLflow 3's own default store (sqlite:///mlflow.db) needs SQLAlchemy, which the `mlflow`
    extra does not install: with only the experiment set, gome logs to ./mlruns instead."""
    pytest.importorskip("mlflow.tracking")
    for name in ("MLFLOW_TRACKING_URI", "GOME_MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "")  # recorded, so that teardown removes it
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE")
    monkeypatch.setenv("GOME_MLFLOW_EXPERIMENT", "toys")
    monkeypatch.chdir(tmp_path)
    _, competition = toy_task
    registry = with_mlflow_plugin(toy=toy_plugin, hostile=hostile_plugin)
    outcome = _run(registry, competition, tmp_path / "run", "budget.steps=2")
    assert outcome.steps == 2
    assert not (tmp_path / "mlflow.db").exists()
    run = _only_run(_client((tmp_path / "mlruns").as_uri()))
    assert run.data.tags["gome.status"] == "budget" and run.data.params["budget.steps"] == "2"


def test_grade_run_tells_observers_and_a_failing_one_loses_nothing(
    gome_plugin, toy_task, tmp_path, caplog
):
    """The `run_graded` hook, which the plugin relies on: called by grade_run with the run as its
    directory describes it and the report; an observer that raises is logged, no more."""
    import gome_core

    class Observer:
        def __init__(self):
            self.calls = []

        @gome_core.hookimpl
        def run_graded(self, run, grading):
            self.calls.append((run, dict(grading)))

    class Failing:
        @gome_core.hookimpl
        def run_graded(self, run, grading):
            raise RuntimeError("an observer's bug")

    observer = Observer()
    registry = gome_plugin(toy=toy_plugin, observer=observer)
    store, competition = toy_task
    resolved = resolve(preset="toy", overrides=["budget.steps=2"], registry=registry)
    outcome = build_engine(resolved, competition_ref(competition), run_dir=tmp_path / "run").run()
    report = grade_run(store, competition, outcome, tmp_path / "run")
    assert report == json.loads((tmp_path / "run" / "grading.json").read_text())
    [(run, grading)] = observer.calls
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert (run.run_id, run.run_dir) == (info["run_id"], tmp_path / "run")
    assert run.competition_id == "toy-mae" and run.preset == "toy"
    assert run.config["budget"]["steps"] == 2
    assert grading == report

    # A failing observer registered after it (so called before it) silences nobody.
    gome_plugin(toy=toy_plugin, observer=observer, failing=Failing())
    (tmp_path / "run" / "grading.json").unlink()
    with caplog.at_level(logging.ERROR):
        again = grade_run(store, competition, outcome, tmp_path / "run")
    assert again == json.loads((tmp_path / "run" / "grading.json").read_text())
    assert len(observer.calls) == 2
    assert any("observer hook failed" in r.getMessage() for r in caplog.records)

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from gome_core.config import resolve
from gome_core.engine.launch import build_engine, competition_ref, grade_run, resume_engine
from gome_core.engine.rundir import RunDirectory
from gome_core.journal import Journal
from gome_core.report import render_report
from gome_core.types import LLMRequest, Message


@pytest.fixture
def resumable_competition(toy_competition, monkeypatch):
    """The toy competition, where a resumed run (which finds it by name) looks."""
    _, competition = toy_competition
    monkeypatch.setenv("GOME_COMPETITIONS_DIR", str(competition.competition_dir.parent))
    monkeypatch.setenv("GOME_DATA_DIR", str(competition.data_dir.parent))
    return competition


def _events(run_dir: Path) -> list[dict]:
    return list(Journal.read(run_dir / "journal.jsonl"))


def test_a_run_improves_and_leaves_a_complete_run_directory(
    toy_registry, toy_competition, tmp_path
):
    store, competition = toy_competition
    resolved = resolve(preset="toy", registry=toy_registry)
    engine = build_engine(resolved, competition_ref(competition), run_dir=tmp_path / "run")
    outcome = engine.run()

    assert outcome.status == "budget" and outcome.reason == "steps"
    assert outcome.steps == 6
    run_dir = tmp_path / "run"
    events = _events(run_dir)
    finished = [e for e in events if e["type"] == "step_finished"]
    assert len(finished) == 6
    assert {e["proposal"]["trace"] for e in finished} == {0, 1}
    assert [e["seq"] for e in events] == list(range(len(events)))
    # The best improves monotonically towards a = 2 (MAE 0).
    scores = [e["score"] for e in finished if not e["buggy"]]
    assert min(scores) < scores[0]
    assert outcome.final is not None and outcome.final.score == min(scores)
    final = next(e for e in events if e["type"] == "final_choice")
    assert final["chosen"] == outcome.final.id and len(final["candidates"]) == 2
    assert all(len(c["scores"]) == 2 for c in final["candidates"])  # original + seed 1
    # Files: config, run info, nodes with code/outputs, best link, final submission.
    assert (run_dir / "config.toml").is_file() and (run_dir / "run.json").is_file()
    node_dir = run_dir / "nodes" / outcome.final.id
    assert {"main.py", "a.json", "stdout.txt", "scores.csv", "submission.csv", "node.json"} <= {
        p.name for p in node_dir.iterdir()
    }
    assert (run_dir / "best").resolve() == node_dir.resolve()
    assert (run_dir / "submission.csv").read_text() == (node_dir / "submission.csv").read_text()
    info = json.loads((run_dir / "run.json").read_text())
    assert info["competition"] == "toy-mae" and info["gome_version"]
    report = grade_run(store, competition, outcome, run_dir)
    assert report["valid_submission"] and report["score"] < 1.0
    assert json.loads((run_dir / "grading.json").read_text())["competition_id"] == "toy-mae"


@pytest.mark.parametrize("preset", ["toy", "aide-greedy"])
def test_a_run_resolved_against_its_own_registry_builds_every_part_from_it(
    gome_registry_factory, toy_competition, tmp_path, preset
):
    # The toy parts are in this registry only, not in the process-wide one: the optimizer's own
    # parts (Gome's estimator and implementer, tree search's implementer and ideas) must come
    # from where the configuration was checked.
    from tests.engine import toy_plugin

    registry = gome_registry_factory(toy=toy_plugin, entry_points=True)
    _, competition = toy_competition
    overrides = ["budget.steps=3"]
    if preset == "aide-greedy":
        overrides += ["optimizer.implementer=toy", "optimizer.ideas=toy", "executor.timeout_s=30"]
    resolved = resolve(preset=preset, overrides=overrides, registry=registry)
    with build_engine(resolved, competition_ref(competition), run_dir=tmp_path / "r") as engine:
        outcome = engine.run()
    assert outcome.steps == 3 and outcome.final is not None
    finished = [e for e in _events(tmp_path / "r") if e["type"] == "step_finished"]
    assert all("a.json" in e["node"]["candidate"]["files"] for e in finished)  # the toy's files


def test_the_run_seed_reaches_every_candidate_and_shifts_the_fresh_splits(
    toy_registry, toy_competition, tmp_path
):
    _, competition = toy_competition
    resolved = resolve(preset="toy", overrides=["seed=3", "budget.steps=4"], registry=toy_registry)
    outcome = build_engine(resolved, competition_ref(competition), run_dir=tmp_path / "r").run()
    assert outcome.steps == 4
    events = _events(tmp_path / "r")
    finished = [e for e in events if e["type"] == "step_finished"]
    # Every validation run (the debug run and the full run) saw the run's seed...
    runs = [r["result"] for e in finished for r in e["node"]["reports"] if r.get("result")]
    assert runs and all(r["stdout_tail"].rstrip().endswith("seed 3") for r in runs)
    # ...and the final re-validation ran on seed 3 + 1, not on the seed the run already used.
    assert next(e for e in events if e["type"] == "final_choice")["seeds"] == [4]


@pytest.mark.parametrize("full_run_timeout_s", [60, None])
def test_the_final_re_validation_runs_with_the_full_runs_own_limits(
    toy_registry, toy_competition, tmp_path, full_run_timeout_s
):
    # The full run may take longer than the executor's default time-out; so may its re-runs.
    _, competition = toy_competition
    full_run = (
        f"{{name='full-run', timeout_s={full_run_timeout_s}}}"
        if full_run_timeout_s
        else "'full-run'"
    )
    overrides = [
        "budget.steps=2",
        "executor.timeout_s=1",
        f"validators=['debug-run', {full_run}, 'judge']",
        "optimizer.implementer.slow_seed=1",  # the fresh split's runs take 2 s
        "optimizer.implementer.slow_s=2",
    ]
    resolved = resolve(preset="toy", overrides=overrides, registry=toy_registry)
    outcome = build_engine(resolved, competition_ref(competition), run_dir=tmp_path / "r").run()
    assert outcome.final is not None
    final = next(e for e in _events(tmp_path / "r") if e["type"] == "final_choice")
    assert final["seeds"] == [1] and len(final["candidates"]) == 2
    if full_run_timeout_s:
        assert all(None not in c["scores"] for c in final["candidates"]), final
        assert not any("failures" in c for c in final["candidates"])
    else:  # the executor's 1 s: every fresh split times out, and the record says so
        assert all(c["scores"][1] is None and c["mean"] is None for c in final["candidates"])
        assert all("timed out" in c["failures"]["1"] for c in final["candidates"]), final
        page = render_report(tmp_path / "r")
        assert "on seed 1: timed out after" in page.split('id="final"')[1]


def test_a_resumed_run_links_the_best_its_journal_names(
    toy_registry, resumable_competition, tmp_path
):
    run_dir = tmp_path / "r"
    resolved = resolve(
        preset="toy", overrides=["budget.steps=3", "engine.final_top_k=1"], registry=toy_registry
    )
    with build_engine(resolved, competition_ref(resumable_competition), run_dir=run_dir) as e:
        best = e.run().best
    # Cut off after the journal named the new best, before the link moved to it:
    others = [p.name for p in (run_dir / "nodes").iterdir() if p.name != best.id]
    RunDirectory.open(run_dir).promote(others[0])
    resumed, _, _ = resume_engine(run_dir)
    with resumed:
        resumed.optimizer.start(resumed.context)  # as run() does, before it replays
        assert resumed.replay() == 3
    assert (run_dir / "best").resolve().name == best.id


def test_a_failing_step_does_not_stop_the_run(toy_registry, toy_competition, tmp_path):
    _, competition = toy_competition
    resolved = resolve(
        preset="toy",
        overrides=[
            "optimizer.implementer.fail_at=1",
            "optimizer.traces=1",
            "engine.workers=1",
            "budget.steps=3",
        ],
        registry=toy_registry,
    )
    outcome = build_engine(resolved, competition_ref(competition), run_dir=tmp_path / "r").run()
    assert outcome.steps == 3
    finished = [e for e in _events(tmp_path / "r") if e["type"] == "step_finished"]
    broken = [e for e in finished if e["node"]["error"]]
    assert len(broken) == 1 and "broke on purpose" in broken[0]["node"]["error"]
    # The step failed once its direction was chosen: the journal keeps the direction, so a
    # resumed run remembers the step by it.
    assert broken[0]["node"]["candidate"]["direction"]["chosen"]["statement"]
    assert not finished[-1]["buggy"]


def test_a_candidate_naming_a_file_outside_its_workspace_fails_its_step_only(
    toy_registry, toy_competition, tmp_path
):
    _, competition = toy_competition
    resolved = resolve(
        preset="toy",
        overrides=["optimizer.implementer.stray_at=1", "optimizer.traces=1", "budget.steps=3"],
        registry=toy_registry,
    )
    run_dir = tmp_path / "runs" / "r"
    outcome = build_engine(resolved, competition_ref(competition), run_dir=run_dir).run()
    assert outcome.status == "budget" and outcome.steps == 3
    stray = [e["node"] for e in _events(run_dir) if e["type"] == "step_finished"][1]
    assert "'../../stray.txt' escapes its workspace" in stray["error"]
    assert not list(tmp_path.rglob("stray.txt"))  # neither run nor saved
    assert (run_dir / "nodes" / stray["candidate"]["id"] / "main.py").is_file()


def test_a_broken_candidate_gets_repair_rounds(toy_registry, toy_competition, tmp_path):
    _, competition = toy_competition
    # The first program crashes when it runs: the debug run fails, repair is asked for.
    resolved = resolve(
        preset="toy",
        overrides=[
            "optimizer.traces=1",
            "optimizer.implementer.crash_at=0",
            "engine.workers=1",
            "budget.steps=1",
            "engine.max_repairs=2",
        ],
        registry=toy_registry,
    )
    engine = build_engine(resolved, competition_ref(competition), run_dir=tmp_path / "r")
    outcome = engine.run()
    events = _events(tmp_path / "r")
    repairs = [e for e in events if e["type"] == "repair"]
    assert [e["round"] for e in repairs] == [1]  # the toy implementer's debug write works at once
    assert "ValueError: bad" in "\n".join(repairs[0]["reasons"])
    assert outcome.final is not None and outcome.final.id.endswith("~r1")


RUNNER = textwrap.dedent(
    """
    import signal, sys
    # Ctrl-C raises KeyboardInterrupt even where the tests run as a background job, whose
    # children start with SIGINT ignored (so Python installs no handler of its own).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from gome_core.plugins import load_plugins, reset_registry
    from gome_core.config import resolve
    from gome_core.engine.launch import build_engine, competition_ref, open_competition
    from tests.engine import toy_plugin

    registry = load_plugins(extra=[("toy", toy_plugin)])
    reset_registry(registry)
    competitions, data, run_dir = sys.argv[1:4]
    store, competition = open_competition(
        "toy-mae", competitions_dirs=[competitions], data_dir=data
    )
    overrides = ["budget.steps=8", "optimizer.traces=2", *sys.argv[4:]]
    resolved = resolve(preset="toy", overrides=overrides, registry=registry)
    build_engine(resolved, competition_ref(competition), run_dir=run_dir,
                 sources={"competitions_dirs": [competitions], "data_dir": data}).run()
    """
)


def test_a_run_killed_with_sigkill_resumes_without_losing_steps(
    toy_registry, toy_competition, tmp_path
):
    _, competition = toy_competition
    competitions = str(competition.competition_dir.parent)
    data = str(competition.data_dir.parent)
    run_dir = tmp_path / "killed"
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-c", RUNNER, competitions, data, str(run_dir)],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        journal = run_dir / "journal.jsonl"
        if (
            journal.exists()
            and sum(e["type"] == "step_finished" for e in Journal.read(journal)) >= 3
        ):
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = [e for e in _events(run_dir) if e["type"] == "step_finished"]
    assert 3 <= len(before) < 8

    engine, _, _ = resume_engine(run_dir)
    outcome = engine.run(resumed=True)
    events = _events(run_dir)
    finished = [e for e in events if e["type"] == "step_finished"]
    assert outcome.steps == 8 and len(finished) == 8
    ids = [e["node"]["candidate"]["id"] for e in finished]
    assert len(set(ids)) == 8, ids  # no step lost, none done twice
    assert finished[: len(before)] == before  # what was finished before the kill is kept
    assert any(e["type"] == "run_resumed" and e["steps"] == len(before) for e in events)
    assert (run_dir / "submission.csv").is_file()


def test_ctrl_c_during_the_final_choice_ends_its_runs_and_pauses_the_run(
    toy_registry, toy_competition, tmp_path
):
    _, competition = toy_competition
    run_dir, workspaces = tmp_path / "run", tmp_path / "ws"
    root = Path(__file__).resolve().parents[2]
    stderr_file = tmp_path / "stderr.txt"
    # Re-validation on seed 1 takes a minute; three candidates, two at a time.
    settings = [
        "optimizer.implementer.slow_seed=1",
        "engine.final_top_k=3",
        f"executor.workspace_root={str(workspaces)!r}",
        "executor.keep_workspaces=true",  # counted afterwards
    ]
    with stderr_file.open("w") as err:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                RUNNER,
                str(competition.competition_dir.parent),
                str(competition.data_dir.parent),
                str(run_dir),
                *settings,
            ],
            cwd=root,
            env={**os.environ, "PYTHONPATH": str(root)},
            stdout=subprocess.DEVNULL,
            stderr=err,  # a file, not a pipe nobody reads: it never fills up
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not list(workspaces.glob("*final-seed1*")):
        time.sleep(0.05)
    assert list(workspaces.glob("*final-seed1*")), "the final re-validation never started"
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=180)  # a hang guard only: three slow runs, waited for, end within it
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"the run did not end after Ctrl-C:\n{stderr_file.read_text()[-3000:]}")
    # Ended, not waited for: the runs in flight and the one still queued sleep a minute before
    # they write their scores.
    assert not list(workspaces.glob("*final-seed1*/scores.csv")), stderr_file.read_text()[-3000:]
    events = _events(run_dir)
    assert events[-1]["type"] == "run_paused"
    assert events[-1]["reason"] == "interrupted by the user during the final choice"
    assert not any(e["type"] == "final_choice" for e in events)
    assert len(list(workspaces.glob("*final-seed1*"))) <= 2  # the queued third never started

    # Resumed, the run makes its final choice (here on a quick seed) and finishes.
    engine, _, _ = resume_engine(run_dir, overrides=["engine.final_seeds=[2]"])
    outcome = engine.run(resumed=True)
    events = _events(run_dir)
    assert outcome.final is not None and events[-1]["type"] == "run_finished"
    assert next(e for e in events if e["type"] == "final_choice")["seeds"] == [2]


def test_llm_calls_count_when_their_step_is_cut_off(toy_registry, resumable_competition, tmp_path):
    competition = resumable_competition
    run_dir = tmp_path / "run"
    resolved = resolve(
        preset="toy",
        overrides=[
            "llm=toy-priced",
            "optimizer.estimator.ask_llm=true",
            "optimizer.implementer.slow_seed=0",  # every run of seed 0 takes a minute...
            "budget.hours=0.001",  # ...and the run has 3.6 seconds
        ],
        registry=toy_registry,
    )
    with build_engine(resolved, competition_ref(competition), run_dir=run_dir) as engine:
        outcome = engine.run()
    events = _events(run_dir)
    calls = [e for e in events if e["type"] == "llm_call"]
    assert outcome.steps == 0 and len(calls) == 2  # one direction per trace, both cut off
    assert not [e for e in events if e["type"] == "repair"]  # a run cut off is not broken
    assert outcome.usage.calls == 2 and outcome.usage.usd == pytest.approx(0.02)
    # Resumed, the run starts from what it has spent.
    resumed, _, _ = resume_engine(run_dir, overrides=["budget.hours=1"])
    with resumed:
        assert resumed.replay() == 0
        assert resumed.usage == outcome.usage
    # A resumed run stays on its competition, and a broken run.json is said to be one.
    from gome_core.errors import UsageError

    with pytest.raises(UsageError, match="a resumed run stays on its competition"):
        resume_engine(run_dir, overrides=["task='penguins-mass'"])
    (run_dir / "run.json").write_text("{torn")
    with pytest.raises(UsageError, match="run.json is not valid JSON"):
        resume_engine(run_dir)


def _asking_as_it_starts(engine) -> None:
    """Make the engine's optimizer call the LLM once in ``start``, as a warm-up would."""
    start = engine.optimizer.start

    def start_and_ask(context):
        start(context)
        context.llm.complete(LLMRequest((Message.user("warm up"),), purpose="reasoning"))

    engine.optimizer.start = start_and_ask


def test_calls_made_as_the_optimizer_starts_follow_run_started_and_count_once(
    toy_registry, resumable_competition, tmp_path
):
    competition = resumable_competition
    run_dir = tmp_path / "run"
    one_step = ["llm=toy-priced", "budget.steps=1", "optimizer.traces=1", "engine.final_top_k=1"]
    resolved = resolve(preset="toy", overrides=one_step, registry=toy_registry)
    with build_engine(resolved, competition_ref(competition), run_dir=run_dir) as engine:
        _asking_as_it_starts(engine)
        engine.run()
    resumed, _, _ = resume_engine(run_dir, overrides=["budget.steps=2"])
    with resumed:
        _asking_as_it_starts(resumed)
        outcome = resumed.run()
    events = _events(run_dir)
    assert events[0]["type"] == "run_started"
    journaled = sum(e["usage"]["calls"] for e in events if e["type"] == "llm_call")
    assert journaled == 2 and outcome.usage.calls == 2  # one warm-up per session, counted once


def test_a_session_killed_without_a_word_counts_until_its_last_event(
    toy_registry, resumable_competition, tmp_path
):
    run_dir = tmp_path / "run"
    settings = ["llm=toy-priced", "budget.steps=2", "optimizer.traces=2", "engine.final_top_k=1"]
    resolved = resolve(preset="toy", overrides=settings, registry=toy_registry)
    build_engine(resolved, competition_ref(resumable_competition), run_dir=run_dir).run()
    events = _events(run_dir)
    ended = events[-1]
    assert ended["type"] == "run_finished"
    # A second session that ran 100 s and was killed: its last event, a step that started.
    later = [
        {"type": "run_resuming", "time": ended["time"] + 4},
        {"type": "run_resumed", "time": ended["time"] + 5, "elapsed_s": ended["elapsed_s"]},
        {"type": "step_started", "time": ended["time"] + 105},
    ]
    with open(run_dir / "journal.jsonl", "a", encoding="utf-8") as fh:
        for n, event in enumerate(later, start=len(events)):
            fh.write(json.dumps({"seq": n, "schema": 1, **event}) + "\n")
    # A third session fails to start (its settings do not fit), a fourth warms up and runs: the
    # killed session's 100 s count, the time between sessions does not.
    engine, _, _ = resume_engine(run_dir, overrides=["optimizer.traces=1"])
    with engine, pytest.raises(IndexError):
        engine.run()
    engine, _, _ = resume_engine(run_dir, overrides=["budget.steps=3"])
    with engine:
        _asking_as_it_starts(engine)
        engine.run()
    resumed = [e for e in _events(run_dir) if e["type"] == "run_resumed"][-1]
    assert resumed["elapsed_s"] == pytest.approx(ended["elapsed_s"] + 100, abs=2)
    assert "budget spent" in render_report(run_dir)  # the report reads such a journal


def test_a_resume_whose_settings_do_not_fit_the_saved_steps_changes_nothing(
    toy_registry, resumable_competition, tmp_path
):
    run_dir = tmp_path / "run"
    two_traces = ["budget.steps=2", "optimizer.traces=2", "engine.final_top_k=1"]
    resolved = resolve(preset="toy", overrides=two_traces, registry=toy_registry)
    build_engine(resolved, competition_ref(resumable_competition), run_dir=run_dir).run()
    config = (run_dir / "config.toml").read_text()
    engine, _, _ = resume_engine(run_dir, overrides=["budget.steps=3", "optimizer.traces=1"])
    with engine, pytest.raises(IndexError) as failure:  # the saved steps name trace 1
        engine.run()
    ended = _events(run_dir)[-1]
    assert ended["type"] == "run_start_failed"
    assert ended["reason"].startswith(type(failure.value).__name__)
    assert (run_dir / "config.toml").read_text() == config  # still resumable as it was
    engine, _, _ = resume_engine(run_dir, overrides=["budget.steps=3"])
    with engine:
        assert engine.run().steps == 3
    assert "steps = 3" in (run_dir / "config.toml").read_text()


def test_a_missing_key_stops_the_run_before_its_directory_is_written(
    toy_registry, toy_competition, tmp_path, monkeypatch
):
    from gome_core.errors import UsageError

    _, competition = toy_competition
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    resolved = resolve(preset="toy", overrides=["llm=openai"], registry=toy_registry)
    with pytest.raises(UsageError, match="OPENAI_API_KEY"):
        build_engine(resolved, competition_ref(competition), run_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()

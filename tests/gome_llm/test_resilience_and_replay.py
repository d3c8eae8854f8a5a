"""The LLM-driven loop under faults, and a recorded run replayed offline step for step."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gome_core import resolve_config
from gome_core.engine.launch import build_engine
from gome_core.journal import SCHEMA_VERSION, Journal
from gome_core.testing.llm_server import Slow
from tests.gome_llm.conftest import SECRET


def _journal(run_dir: Path) -> list[dict]:
    return list(Journal.read(run_dir / "journal.jsonl"))  # as resume, reports and studies read it


def _scripted_openai(server) -> list[str]:
    """The settings that point the openai backend at the scripted wire server."""
    return ["llm=openai", "llm.model='scripted-model'", f"llm.base_url={server.openai_url!r}"]


def _run(penguins, run_dir: Path, llm_sets: list[str], steps: int = 2):
    resolved = resolve_config(
        preset="quickstart",
        overrides=[
            *llm_sets,
            f"budget.steps={steps}",
            "budget.hours=10.0",  # the step budget sets the time stage: the same in both runs
            "optimizer.traces=1",
            "engine.workers=1",
            "engine.final_top_k=1",
            # One run per candidate: the debug run adds nothing to what is checked here.
            'validators=["full-run", "judge", "llm-judge"]',
        ],
    )
    engine = build_engine(resolved, penguins, run_dir=run_dir)
    try:
        return engine.run()
    finally:
        engine.close() if hasattr(engine, "close") else None


def _decisions(run_dir: Path) -> list[tuple]:
    """What the agent decided at each step: the change chosen, the code written, the outcome."""
    out = []
    for event in _journal(run_dir):
        if event["type"] == "step_finished":
            node = event["node"]
            candidate = node["candidate"]
            chosen = (candidate.get("direction") or {}).get("chosen", {}).get("statement")
            code = hashlib.sha256(candidate["files"]["main.py"].encode()).hexdigest()
            out.append((candidate["id"], chosen, code, node.get("score"), node.get("error")))
    return out


@pytest.mark.slow
def test_faults_are_retried_repaired_or_fail_one_step_only(
    scripted_server, penguins, tmp_path, monkeypatch
):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    # The first exchange: a rate limit (retried after Retry-After), then three answers that do
    # not fit the schema (two repair rounds, then the step fails); the scripted model after that.
    scripted_server.fail(429, retry_after=0.05)
    for _ in range(3):
        scripted_server.reply(data={"problems": "none"})
    run_dir = tmp_path / "run"
    outcome = _run(
        penguins,
        run_dir,
        [
            *_scripted_openai(scripted_server),
            "llm.repair_rounds=2",
        ],
        steps=3,
    )
    events = _journal(run_dir)
    steps = [e["node"] for e in events if e["type"] == "step_finished"]
    assert len(steps) == 3 and outcome.status in ("completed", "budget")
    assert "LLMSchemaError" in (steps[0]["error"] or "")  # the first step failed...
    assert all(s["error"] is None for s in steps[1:])  # ...the run went on
    assert outcome.final is not None and outcome.submission is not None
    retries = [e for e in events if e["type"] == "llm_retry"]
    repairs = [e for e in events if e["type"] == "llm_repair"]
    assert len(retries) == 1 and retries[0]["status"] == 429
    assert [(e["round"], e["output"]) for e in repairs] == [
        (1, "DiagnosisAnswer"),
        (2, "DiagnosisAnswer"),
    ]
    assert all(e["schema"] == SCHEMA_VERSION for e in events)
    failed_calls = [e for e in events if e["type"] == "llm_call" and e.get("failed")]
    assert len(failed_calls) == 1 and failed_calls[0]["usage"]["calls"] == 3  # paid, counted
    assert outcome.usage.calls == sum(
        e["usage"]["calls"] for e in events if e["type"] == "llm_call"
    )


@pytest.mark.slow
def test_a_recorded_run_replays_offline_to_the_same_decisions(
    scripted_server, penguins, tmp_path, monkeypatch
):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    cassette = tmp_path / "cassette.jsonl"
    recorded = tmp_path / "recorded"
    _run(
        penguins,
        recorded,
        [
            "llm=replay",
            "llm.mode='record'",
            f"llm.cassette={str(cassette)!r}",
            "llm.inner.name='openai'",
            "llm.inner.model='scripted-model'",
            f"llm.inner.base_url={scripted_server.openai_url!r}",
        ],
    )
    served = len(scripted_server.requests)
    assert served >= 6 and SECRET not in cassette.read_text()

    monkeypatch.delenv("OPENAI_API_KEY")
    scripted_server.stop()  # replay needs no server, and no key
    replayed = tmp_path / "replayed"
    _run(penguins, replayed, ["llm=replay", f"llm.cassette={str(cassette)!r}"])
    first, second = _decisions(recorded), _decisions(replayed)
    assert len(first) == 2 and all(error is None for *_, error in first)
    assert second == first


@pytest.mark.slow
@pytest.mark.parametrize("traces", [1, 2])
def test_a_stopped_run_does_not_wait_for_an_answer_in_flight(scripted_server, tmp_path, traces):
    # The first request's answer would take ten minutes; the run is stopped while it waits. With
    # two traces the second waits for the first's choice; once stopped it asks nothing.
    scripted_server.slow(600)
    run_dir = tmp_path / "run"
    out_file = tmp_path / "stdout.txt"
    with out_file.open("w") as out_log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gome_core.cli", "run", "--preset", "quickstart"]
            + ["--task", "penguins-mass", "--llm", "openai:scripted-model", "--steps", "4"]
            + ["--run-dir", str(run_dir), "--set", f"llm.base_url={scripted_server.openai_url!r}"]
            + ["--set", "llm.timeout_s=900", "--set", f"optimizer.traces={traces}"]
            + ["--set", f"engine.workers={traces}"],
            stdout=out_log,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "OPENAI_API_KEY": SECRET},
        )
    deadline = time.monotonic() + 120
    while not scripted_server.requests and time.monotonic() < deadline:
        time.sleep(0.1)
    assert scripted_server.requests, "no request reached the server"
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)  # a hang guard: the answer was ten minutes away
    assert len(scripted_server.requests) == 1 and scripted_server.pending == 0
    assert "run interrupted" in out_file.read_text()
    events = _journal(run_dir)
    assert events[-1]["type"] == "run_paused"
    assert events[-1]["reason"] == "stopped by signal SIGTERM"


def _run_out_of_time(server, penguins, run_dir: Path, hours: float, *sets: str, traces: int = 1):
    """A quickstart run on the scripted server with ``hours`` of time and room for 4 steps."""
    resolved = resolve_config(
        preset="quickstart",
        overrides=[
            *_scripted_openai(server),
            "llm.timeout_s=900",
            "budget.steps=4",
            f"budget.hours={hours}",
            f"optimizer.traces={traces}",
            f"engine.workers={traces}",
            *sets,
        ],
    )
    with build_engine(resolved, penguins, run_dir=run_dir) as engine:
        return engine.run()


def _answer_slowly(server, asks, delay_s) -> list[float]:
    """Answer the requests ``asks`` picks after ``delay_s(seconds since now)`` seconds; the
    list returned fills with the seconds at which each such request came."""
    started, asked_at, answer = time.monotonic(), [], server.handler

    def handler(request):
        if not asks(request):
            return answer(request)
        asked_at.append(time.monotonic() - started)
        return Slow(delay_s(asked_at[-1]), answer(request))

    server.handler = handler
    return asked_at


@pytest.mark.parametrize("traces", [1, 2])
def test_a_run_out_of_time_does_not_wait_for_an_answer_in_flight(
    scripted_server, penguins, tmp_path, monkeypatch, traces
):
    # The first answer would take ten minutes and the run has three seconds. With two traces
    # the second waits for the first's choice; once the time is up it asks nothing.
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    scripted_server.slow(600)
    run_dir = tmp_path / "run"
    started = time.monotonic()
    outcome = _run_out_of_time(scripted_server, penguins, run_dir, 0.001, traces=traces)
    assert time.monotonic() - started < 60  # a hang guard: the answer was ten minutes away
    assert len(scripted_server.requests) == 1 and scripted_server.pending == 0
    assert outcome.status == "budget" and outcome.steps == 0
    assert outcome.reason == "hours", outcome.reason
    assert _journal(run_dir)[-1]["type"] == "run_finished"


@pytest.mark.slow
def test_a_step_being_judged_when_the_time_runs_out_is_finished(
    scripted_server, penguins, tmp_path, monkeypatch
):
    # The judge answers only once the run's time is up: its step was run and scored before,
    # so it is judged, counted and chosen, and no step is developed after the limit.
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    hours = 0.01
    judged_at = _answer_slowly(
        scripted_server,
        lambda request: request.schema_name == "JudgeAnswer",
        lambda at: max(0.0, hours * 3600 + 2 - at),
    )
    run_dir = tmp_path / "run"
    outcome = _run_out_of_time(
        scripted_server,
        penguins,
        run_dir,
        hours,
        "engine.final_top_k=1",
        'validators=["full-run", "judge", "llm-judge"]',
    )
    assert len(judged_at) == 1 and judged_at[0] < hours * 3600, judged_at
    assert outcome.status == "budget" and outcome.reason == "hours" and outcome.steps == 1
    finished = [e["node"] for e in _journal(run_dir) if e["type"] == "step_finished"]
    assert [r["validator"] for r in finished[0]["reports"]][-1] == "llm-judge"
    assert outcome.final is not None and outcome.final.id == finished[0]["candidate"]["id"]
    assert scripted_server.requests[-1].schema_name == "JudgeAnswer"


@pytest.mark.slow
def test_a_step_whose_repair_the_time_limit_cuts_off_is_not_counted(
    scripted_server, penguins, tmp_path, monkeypatch
):
    # The first draft fails its run; the repair's answer would take ten minutes, and the run's
    # time runs out while it waits. The step is not counted (a resumed run redoes it).
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    hours = 0.01
    scripted_server.model.broken_drafts = True
    repair_asked_at = _answer_slowly(
        scripted_server,
        lambda request: "# What to write: debug" in (request.last_user_text or ""),
        lambda at: 600,
    )
    run_dir = tmp_path / "run"
    started = time.monotonic()
    outcome = _run_out_of_time(scripted_server, penguins, run_dir, hours)
    assert time.monotonic() - started < 120  # a hang guard: the answer was ten minutes away
    assert len(repair_asked_at) == 1 and repair_asked_at[0] < hours * 3600, repair_asked_at
    assert outcome.status == "budget" and outcome.reason == "hours" and outcome.steps == 0
    assert not [e for e in _journal(run_dir) if e["type"] == "step_finished"]


@pytest.mark.slow
def test_a_repair_that_drops_the_steps_change_is_not_credited_with_it(
    scripted_server, penguins, tmp_path, monkeypatch
):
    # The first draft fails its debug run; the repaired program leaves its change out and the
    # model says so. The step counts, but for what its code does: the change goes to the
    # memory as failed, and the next diagnosis reads that it was dropped.
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    scripted_server.model.broken_drafts = True
    scripted_server.model.drop_on_repair = True
    run_dir = tmp_path / "run"
    outcome = _run_out_of_time(scripted_server, penguins, run_dir, 10.0, "budget.steps=2")
    assert outcome.steps == 2
    first = next(e["node"] for e in _journal(run_dir) if e["type"] == "step_finished")
    direction = first["candidate"]["direction"]
    assert direction["dropped"]["statement"].startswith("Switch the model family to")
    assert direction["chosen"]["statement"].startswith("Debug: ")
    assert not first["error"] and first["score"] is not None
    diagnoses = [r for r in scripted_server.requests if r.schema_name == "DiagnosisAnswer"]
    dropped = direction["dropped"]["statement"]
    assert any(f"was dropped: {dropped}" in r.last_user_text for r in diagnoses[1:])

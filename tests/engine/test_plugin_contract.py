"""What the engine promises plugins: validator levels, observers, a buggy component, and a run
directory that already holds a run."""

from __future__ import annotations

import threading
import time
import tomllib

import pytest
from gome_treesearch.policies import AideConfig, AideGreedy

import gome_core
from gome_core import Node, RunContext, UsageError, ValidationReport, Validator
from gome_core.config import resolve
from gome_core.engine.launch import build_engine, competition_ref, resume_engine
from gome_core.journal import Journal
from tests.engine import toy_plugin


def _events(run_dir) -> list[dict]:
    return list(Journal.read(run_dir / "journal.jsonl"))


class SlowToJudge(Validator):
    """A late check that fails every candidate and, like many, leaves its report's level unset."""

    level = 5

    def validate(self, node: Node, context: RunContext) -> ValidationReport:
        return ValidationReport.fail("slow-to-judge", "too slow")


class BrokenAfterTwo(AideGreedy):
    """A search whose `ask` has a bug that shows on its third proposal."""

    def ask(self):
        self.asked = getattr(self, "asked", 0) + 1
        if self.asked == 3:
            raise RuntimeError("a bug in ask")
        return super().ask()


class BrokenFinalChoice(AideGreedy):
    """A search whose `best` has a bug that shows only when the final choice asks for several."""

    def best(self, k=1):
        if k > 1:
            raise RuntimeError("a bug in best")
        return super().best(k)


class Wrapping:
    """An observer written as a pluggy wrapper (a generator around the other observers)."""

    def __init__(self) -> None:
        self.seen: list[int] = []

    @gome_core.hookimpl(wrapper=True)
    def journal_event(self, run, event):
        self.seen.append(event["seq"])
        return (yield)


class Watcher:
    """Records what the run hooks see, and on which thread."""

    def __init__(self) -> None:
        self.seqs: list[int] = []
        self.threads: set[str] = set()
        self.finished: list[str] = []
        self.inside = 0
        self.overlapped = False

    @gome_core.hookimpl
    def journal_event(self, run, event):
        self.inside += 1
        self.overlapped |= self.inside > 1
        self.seqs.append(event["seq"])
        self.threads.add(threading.current_thread().name)
        time.sleep(0.02)  # an observer that takes a moment (a tracking server's round trip)
        self.inside -= 1

    @gome_core.hookimpl
    def run_finished(self, run, status):
        self.finished.append(status)


class Broken:
    """An observer with a bug."""

    @gome_core.hookimpl
    def journal_event(self, run, event):
        raise RuntimeError("a bug in an observer")

    @gome_core.hookimpl
    def run_finished(self, run, status):
        raise RuntimeError("a bug in an observer")


class Extras:
    @gome_core.hookimpl
    def register_validators(self, register):
        register(SlowToJudge, name="slow-to-judge")

    @gome_core.hookimpl
    def register_optimizers(self, register):
        register(BrokenAfterTwo, name="broken-after-two", config=AideConfig)
        register(BrokenFinalChoice, name="broken-final-choice", config=AideConfig)


@pytest.fixture
def watcher():
    return Watcher()


@pytest.fixture
def registry(gome_plugin, watcher):
    return gome_plugin(toy=toy_plugin, extras=Extras(), watcher=watcher)


def test_a_late_validator_s_failure_is_not_repaired_though_its_report_gives_no_level(
    registry, toy_competition, tmp_path
):
    _, competition = toy_competition
    resolved = resolve(
        preset="toy",
        overrides=[
            'validators=["full-run", "slow-to-judge"]',
            "engine.max_repairs=2",
            "budget.steps=2",
            "optimizer.traces=1",
        ],
        registry=registry,
    )
    with build_engine(resolved, competition_ref(competition), run_dir=tmp_path / "r") as engine:
        engine.run()
    events = _events(tmp_path / "r")
    assert not [e for e in events if e["type"] == "repair"]
    reports = [e["node"]["reports"] for e in events if e["type"] == "step_finished"]
    assert len(reports) == 2
    # The report carries the validator's own level.
    assert all(r[-1]["validator"] == "slow-to-judge" and r[-1]["level"] == 5 for r in reports)


def test_observers_see_every_event_once_in_journal_order_one_at_a_time(
    registry, watcher, toy_competition, tmp_path
):
    _, competition = toy_competition
    # Two steps in flight emit from their own threads (the toy's LLM calls, its steps).
    resolved = resolve(preset="toy", overrides=["budget.steps=6"], registry=registry)
    with build_engine(resolved, competition_ref(competition), run_dir=tmp_path / "r") as engine:
        engine.run()
    assert watcher.seqs == list(range(len(_events(tmp_path / "r"))))
    assert not watcher.overlapped
    assert len(watcher.threads) > 1  # events came from the steps' threads too
    assert watcher.finished == ["budget"]


def test_an_observer_that_raises_neither_stops_the_run_nor_silences_the_others(
    gome_plugin, watcher, toy_competition, tmp_path
):
    # Registered after the watcher, the broken observer is called before it (pluggy's order).
    registry = gome_plugin(toy=toy_plugin, watcher=watcher, broken=Broken())
    _, competition = toy_competition
    resolved = resolve(preset="toy", overrides=["budget.steps=2"], registry=registry)
    with build_engine(resolved, competition_ref(competition), run_dir=tmp_path / "r") as engine:
        outcome = engine.run()
    assert outcome.steps == 2
    assert watcher.seqs == list(range(len(_events(tmp_path / "r"))))
    assert watcher.finished == ["budget"]


@pytest.mark.parametrize(
    ("optimizer", "overrides", "reason"),
    [
        ("broken-after-two", ["budget.steps=6"], "RuntimeError: a bug in ask"),
        (
            "broken-final-choice",
            ["budget.steps=2", "engine.final_top_k=2"],
            "RuntimeError: a bug in best (during the final choice)",
        ),
    ],
    ids=["ask", "final-choice"],
)
def test_a_bug_in_the_optimizer_ends_the_run_on_the_record_and_is_raised(
    registry, watcher, toy_competition, tmp_path, optimizer, overrides, reason
):
    _, competition = toy_competition
    resolved = resolve(
        preset="aide-greedy",
        overrides=[
            f'optimizer = {{name = "{optimizer}", implementer = "toy", ideas = "toy"}}',
            "executor.timeout_s=30",
            *overrides,
        ],
        registry=registry,
    )
    with build_engine(resolved, competition_ref(competition), run_dir=tmp_path / "r") as engine:
        with pytest.raises(RuntimeError, match=reason.split(": ")[1].split(" (")[0]):
            engine.run()
    last = _events(tmp_path / "r")[-1]
    assert last["type"] == "run_finished" and last["status"] == "failed"
    assert last["reason"] == reason
    assert watcher.finished == ["failed"]


def test_running_an_engine_on_a_run_directory_that_holds_a_run_continues_it(
    registry, toy_competition, tmp_path
):
    _, competition = toy_competition
    run_dir = tmp_path / "r"
    overrides = ["budget.steps=2", "optimizer.traces=1", "engine.workers=1"]
    resolved = resolve(preset="toy", overrides=overrides, registry=registry)
    # Where the competition comes from, so that the run can be found again to resume it.
    sources = {
        "competitions_dirs": [str(competition.competition_dir.parent)],
        "data_dir": str(competition.data_dir.parent),
    }
    ref = competition_ref(competition)
    with build_engine(resolved, ref, run_dir=run_dir, sources=sources) as engine:
        engine.run()
    first = {p.name: (p / "main.py").read_text() for p in (run_dir / "nodes").iterdir()}

    engine, _, _ = resume_engine(run_dir, overrides=["budget.steps=4"])
    with engine:
        outcome = engine.run()  # no flag: the directory's run goes on
    assert outcome.steps == 4
    # The run's configuration keeps the longer budget for the next resume.
    assert tomllib.loads((run_dir / "config.toml").read_text())["budget"]["steps"] == 4
    types = [e["type"] for e in _events(run_dir)]
    assert types.count("run_started") == 1 and types.count("run_resumed") == 1
    after = {p.name: (p / "main.py").read_text() for p in (run_dir / "nodes").iterdir()}
    assert len(after) == 4 and all(after[name] == code for name, code in first.items())

    engine, _, _ = resume_engine(run_dir)
    with engine, pytest.raises(UsageError, match="already holds a run"):
        engine.run(resumed=False)  # starting over would overwrite the saved steps


def test_an_observer_written_as_a_wrapper_is_still_called(gome_plugin, toy_competition, tmp_path):
    wrapping = Wrapping()
    registry = gome_plugin(toy=toy_plugin, wrapping=wrapping)
    _, competition = toy_competition
    resolved = resolve(preset="toy", overrides=["budget.steps=2"], registry=registry)
    with build_engine(resolved, competition_ref(competition), run_dir=tmp_path / "r") as engine:
        engine.run()
    assert wrapping.seen == list(range(len(_events(tmp_path / "r"))))

"""Identical runs are answered with the earlier result (ReusingExecutor and engine.reuse_runs)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from gome_core.config import resolve
from gome_core.engine.launch import build_engine, competition_ref
from gome_core.executors import LocalExecutor, LocalExecutorConfig, ReusingExecutor, run_key
from gome_core.journal import Journal
from gome_core.report import render_report
from gome_core.study.cell import repeated_steps
from gome_core.testing import ExecutorSuite
from gome_core.types import Candidate, ExecutionRequest, ResourceLimits

# Prints something new on every run, so a reused result is told apart from a second run.
NOISY = (
    "import time\nprint(time.time_ns())\nopen('submission/submission.csv', 'w').write('id\\n')\n"
)


@pytest.fixture
def executor(tmp_path):
    inner = LocalExecutor(LocalExecutorConfig(workspace_root=str(tmp_path / "ws"), kill_grace_s=1))
    with ReusingExecutor(inner) as reusing:
        yield reusing


@pytest.fixture
def input_dir(tmp_path):
    folder = tmp_path / "input"
    folder.mkdir()
    (folder / "train.csv").write_text("x\n1\n")
    return folder


def _request(cid: str, code: str = NOISY, input_dir: Path | None = None, **kwargs):
    return ExecutionRequest(Candidate.from_code(cid, code), input_dir=input_dir, **kwargs)


def test_a_repeated_candidate_gets_the_earlier_result(executor, input_dir):
    first = executor.run(_request("a", input_dir=input_dir, label="full"))
    again = executor.run(_request("b", input_dir=input_dir, label="other", owner="trace-3"))
    assert first.ok and first.reused_from is None
    assert again.reused_from == "a"
    assert again.stdout_tail == first.stdout_tail and again.workspace == first.workspace
    assert (again.workspace / "submission" / "submission.csv").is_file()
    assert (executor.runs, executor.reused) == (1, 1)
    assert executor.config.kill_grace_s == 1  # the inner executor's own attributes pass through


@pytest.mark.parametrize(
    "change",
    [
        {"code": NOISY + "# another program\n"},
        {"env": {"GOME_SEED": "1"}},
        {"limits": ResourceLimits(timeout_s=50)},
        {"command": ("python3", "main.py")},
    ],
    ids=["files", "env", "limits", "command"],
)
def test_any_difference_in_what_runs_runs_again(executor, input_dir, change):
    first = executor.run(_request("a", input_dir=input_dir))
    second = executor.run(_request("b", input_dir=input_dir, **change))
    assert second.reused_from is None and second.stdout_tail != first.stdout_tail
    assert executor.runs == 2


def test_changed_input_files_run_again(executor, input_dir):
    executor.run(_request("a", input_dir=input_dir))
    (input_dir / "train.csv").write_text("x\n1\n2\n")
    assert executor.run(_request("b", input_dir=input_dir)).reused_from is None
    plain, other_env = run_key(_request("a")), run_key(_request("a", env={"K": "v"}))
    assert run_key(_request("b")) == plain != other_env


def test_a_failing_exit_is_reused_but_a_time_out_is_not(executor):
    failing = "import sys\nsys.exit(3)\n"
    assert executor.run(_request("a", failing)).exit_code == 3
    again = executor.run(_request("b", failing))
    assert again.exit_code == 3 and again.reused_from == "a"

    slow = "import time\ntime.sleep(30)\n"
    limits = ResourceLimits(timeout_s=0.5)
    assert executor.run(_request("c", slow, limits=limits)).timed_out
    assert executor.run(_request("d", slow, limits=limits)).reused_from is None
    assert executor.runs == 3


def test_identical_requests_in_flight_run_once(executor):
    code = "import time\ntime.sleep(1)\n" + NOISY
    results = {}

    def run(cid: str) -> None:
        results[cid] = executor.run(_request(cid, code))

    threads = [threading.Thread(target=run, args=(f"c{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert executor.runs == 1 and executor.reused == 2
    assert len({r.stdout_tail for r in results.values()}) == 1
    assert sorted(r.reused_from is None for r in results.values()) == [False, False, True]


def test_a_run_whose_workspace_is_gone_runs_again(executor):
    first = executor.run(_request("a"))
    (first.workspace / "submission" / "submission.csv").unlink()
    assert executor.run(_request("b")).reused_from is None


def _full_runs(run_dir: Path) -> list[dict]:
    finished = [e for e in Journal.read(run_dir / "journal.jsonl") if e["type"] == "step_finished"]
    return [
        (e["node"]["candidate"]["id"], r["result"])
        for e in finished
        for r in e["node"]["reports"]
        if r["validator"] == "full-run"
    ]


@pytest.mark.parametrize("reuse", [True, False])
def test_an_agent_that_repeats_itself_runs_its_program_once(
    toy_registry, toy_competition, tmp_path, reuse
):
    _, competition = toy_competition
    overrides = [
        "optimizer.traces=1",
        "optimizer.estimator.stuck=true",
        "budget.steps=3",
        "engine.final_top_k=1",
        f"engine.reuse_runs={str(reuse).lower()}",
    ]
    resolved = resolve(preset="toy", overrides=overrides, registry=toy_registry)
    outcome = build_engine(resolved, competition_ref(competition), run_dir=tmp_path / "r").run()
    assert outcome.steps == 3
    runs = _full_runs(tmp_path / "r")
    first_id = runs[0][0]
    assert len({r["stdout_tail"] for _, r in runs}) == 1  # seeded: the same outcome either way
    expected = [None, first_id, first_id] if reuse else [None, None, None]
    assert [r["reused_from"] for _, r in runs] == expected
    nodes = tmp_path / "r" / "nodes"
    assert len({(nodes / cid / "scores.csv").read_text() for cid, _ in runs}) == 1
    page = render_report(tmp_path / "r")
    assert (f"reused from {first_id} (identical program" in page) is reuse
    # A study counts the two steps that tried nothing new, reused or not.
    assert repeated_steps(Journal.read(tmp_path / "r" / "journal.jsonl")) == 2


class TestReusingExecutorKeepsTheContract(ExecutorSuite):
    """Wrapped, an executor still keeps every promise of the executor contract."""

    @pytest.fixture
    def executor(self, tmp_path):
        inner = LocalExecutor(
            LocalExecutorConfig(workspace_root=str(tmp_path / "ws"), kill_grace_s=0.5)
        )
        with ReusingExecutor(inner) as reusing:
            yield reusing


def test_after_a_gone_workspace_the_new_run_is_the_one_reused(executor):
    first = executor.run(_request("a"))
    (first.workspace / "submission" / "submission.csv").unlink()
    second = executor.run(_request("b"))
    third = executor.run(_request("c"))
    assert second.reused_from is None and third.reused_from == "b"
    assert executor.runs == 2

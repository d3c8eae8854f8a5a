"""`gome run` on a competition outside the package (a user's MLE-bench-layout directory)."""

import json
from pathlib import Path

import pytest

from tests.competitions.conftest import write_mlebench_competition


@pytest.mark.slow
def test_gome_run_on_a_user_competitions_dir(gome, tmp_path):
    competitions, data = tmp_path / "competitions", tmp_path / "data"
    competitions.mkdir()
    write_mlebench_competition(competitions, "toy-mae", raw_data_dir=data)
    run_dir = tmp_path / "run"
    result = gome(
        "run",
        "--preset",
        "quickstart",
        "--task",
        "toy-mae",
        "--steps",
        "2",
        "--traces",
        "1",
        "--competitions-dir",
        str(competitions),
        "--data-dir",
        str(data),
        "--run-dir",
        str(run_dir),
        "--set",
        "engine.final_top_k=1",
        "--set",
        "optimizer.implementer.max_folds=2",
        "--set",
        f"executor.workspace_root={str(tmp_path / 'ws')!r}",
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    # The run closed its executor: the candidates' workspaces are gone, the nodes are kept.
    assert list((tmp_path / "ws").iterdir()) == []
    assert (run_dir / "nodes").is_dir() and any((run_dir / "nodes").iterdir())
    assert "offline reasoner" in result.stderr  # the header says plainly which reasoning ran
    assert "graded: mae" in result.stdout and f"run directory: {run_dir}" in result.stdout
    grading = json.loads((run_dir / "grading.json").read_text())
    assert grading["competition_id"] == "toy-mae" and grading["valid_submission"]
    info = json.loads((run_dir / "run.json").read_text())
    assert info["competition_source"]["competitions_dirs"] == [str(competitions.resolve())]


@pytest.mark.slow
def test_a_killed_run_stops_as_cleanly_as_ctrl_c(tmp_path):
    """SIGTERM (kill, a scheduler, a container stop) ends candidates and saves the state."""
    import os
    import signal
    import subprocess
    import sys
    import time

    run_dir = tmp_path / "run"
    out_file, err_file = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    with out_file.open("w") as out_log, err_file.open("w") as err_log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gome_core.cli",
                "run",
                "--preset",
                "quickstart",
                "--task",
                "penguins-mass",
                "--steps",
                "40",
                "--run-dir",
                str(run_dir),
                "--set",
                f"executor.workspace_root={str(tmp_path / 'ws')!r}",
            ],
            stdout=out_log,
            stderr=err_log,  # files, not pipes nobody reads while the run goes on
            env={**os.environ},
        )
    journal = run_dir / "journal.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if journal.is_file() and '"step_started"' in journal.read_text():
            break
        time.sleep(0.2)
    workspaces_root = tmp_path / "ws"
    while time.monotonic() < deadline:  # until a candidate is running
        if workspaces_root.is_dir() and any(workspaces_root.iterdir()):
            break
        time.sleep(0.2)
    assert any(workspaces_root.iterdir()), "no candidate started"
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    out, err = out_file.read_text(), err_file.read_text()
    assert "run interrupted" in out and f"gome resume {run_dir}" in out, err[-2000:]
    events = [json.loads(line) for line in journal.read_text().splitlines()]
    assert events[-1]["type"] == "run_paused"  # resumable, not finished
    assert events[-1]["reason"] == "stopped by signal SIGTERM"
    # No candidate outlives the run: no process still works in one of its workspaces.
    workspaces = {str(tmp_path / "ws"), str(run_dir)}
    survivors = []
    for proc_dir in Path("/proc").glob("[0-9]*"):
        try:
            cwd = os.readlink(proc_dir / "cwd")
        except OSError:
            continue
        if any(cwd.startswith(w) for w in workspaces):
            survivors.append((proc_dir.name, cwd))
    assert survivors == []

import os
import textwrap
import time

import pytest

from gome_core import Candidate, ExecutionRequest, ResourceLimits
from gome_core.executors.local import LocalExecutor, LocalExecutorConfig, scrubbed_environment


@pytest.fixture
def executor(tmp_path):
    with LocalExecutor(
        LocalExecutorConfig(workspace_root=str(tmp_path / "ws"), kill_grace_s=1)
    ) as ex:
        yield ex


def _run(executor, code, **kwargs):
    candidate = Candidate.from_code("c", textwrap.dedent(code))
    return executor.run(ExecutionRequest(candidate, **kwargs))


def test_success_produces_a_submission_and_reads_input(executor, tmp_path):
    data = tmp_path / "public"
    data.mkdir()
    (data / "train.csv").write_text("id,y\n1,2\n")
    result = _run(
        executor,
        """
        import pathlib
        rows = pathlib.Path("input/train.csv").read_text().splitlines()
        pathlib.Path("submission/submission.csv").write_text("id,y\\n1,0\\n")
        print("rows", len(rows))
    """,
        input_dir=data,
    )
    assert result.ok and result.outcome == "ok"
    assert "rows 2" in result.stdout_tail
    assert "submission/submission.csv" in result.produced
    assert (result.workspace / "main.py").exists() and (result.workspace / "working").is_dir()


def test_failure_keeps_the_error_tail(executor):
    result = _run(executor, "raise SystemExit('boom')")
    assert result.exit_code == 1 and not result.ok
    assert "boom" in result.stderr_tail


def test_timeout_kills_the_whole_tree(executor, tmp_path):
    marker = tmp_path / "grandchild-alive"
    code = f"""
        import os, signal, subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c",
            "import signal, time, pathlib\\n"
            "signal.signal(signal.SIGTERM, signal.SIG_IGN)\\n"
            "while True:\\n"
            "    pathlib.Path({str(marker)!r}).write_text(str(time.time()))\\n"
            "    time.sleep(0.1)\\n"])
        time.sleep(60)
    """
    started = time.monotonic()
    result = _run(executor, code, limits=ResourceLimits(timeout_s=1.5))
    assert result.timed_out and result.outcome == "timeout"
    assert time.monotonic() - started < 15
    time.sleep(0.5)
    stamp = marker.read_text()
    time.sleep(0.5)
    assert marker.read_text() == stamp, "a grandchild ignoring SIGTERM survived the time-out"


def test_secrets_never_reach_the_candidate(executor, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-value")
    monkeypatch.setenv("MY_SERVICE_TOKEN", "tok-secret-value")
    result = _run(executor, "import os; print(sorted(os.environ.items()))")
    assert result.ok
    assert "secret-value" not in result.stdout_tail
    assert "OMP_NUM_THREADS" in result.stdout_tail


def test_secret_looking_extras_are_refused():
    with pytest.raises(ValueError, match="looks like a secret"):
        scrubbed_environment(os.environ, {"ANTHROPIC_API_KEY": "x"})


def test_output_is_capped(executor):
    result = _run(
        executor,
        "import sys\nfor _ in range(2000): sys.stdout.write('x' * 1000 + '\\n')\nprint('END')",
    )
    assert result.ok and result.output_truncated
    assert len(result.stdout_tail.encode()) <= result.output_cap_bytes
    assert result.stdout_tail.rstrip().endswith("END")


def test_a_missing_interpreter_is_an_error_in_the_result(tmp_path):
    config = LocalExecutorConfig(workspace_root=str(tmp_path), python=str(tmp_path / "no-python"))
    with LocalExecutor(config) as ex:
        result = _run(ex, "print(1)")
    assert result.outcome == "error" and "cannot start" in result.error


def test_cancel_ends_runs_in_flight(executor):
    import threading

    results = []
    thread = threading.Thread(
        target=lambda: results.append(_run(executor, "import time; time.sleep(60)"))
    )
    thread.start()
    time.sleep(1.0)
    executor.cancel()
    thread.join(timeout=10)
    assert results and results[0].cancelled and not results[0].ok

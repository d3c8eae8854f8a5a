"""The Python API guide's example runs as written."""

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "python-api.md"


@pytest.mark.slow
def test_the_compose_from_parts_example_runs(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("GOME_DATA_DIR", str(tmp_path / "data"))
    block = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)[0]
    exec(compile(block, str(DOC), "exec"), {})
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "budget 3"
    node_id, score = lines[1].split()
    assert node_id.startswith("t") and float(score) > 0
    assert lines[2].startswith("True ")


@pytest.mark.slow
def test_the_from_a_configuration_example_runs_and_closes_its_executor(
    capsys, tmp_path, monkeypatch
):
    monkeypatch.setenv("GOME_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)  # the run directory goes to ./runs
    block = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)[1]
    assert "with build_engine(" in block
    namespace: dict = {}
    exec(compile(block, str(DOC), "exec"), namespace)
    assert capsys.readouterr().out.splitlines()[-1] == "2"
    # Leaving the block closed the executor: it refuses new runs.
    from gome_core import Candidate, ExecutionRequest

    engine = namespace["engine"]
    request = ExecutionRequest(Candidate.from_code("late", "print(1)"))
    assert engine.executor.run(request).error == "executor closed"

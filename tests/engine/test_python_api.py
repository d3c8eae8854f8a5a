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

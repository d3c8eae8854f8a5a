"""docs/offline.md stays true: its Python example runs and prints what the page says."""

from __future__ import annotations

import re
from pathlib import Path

PAGE = Path(__file__).resolve().parents[2] / "docs" / "offline.md"


def test_the_offline_guide_example_runs_and_prints_what_it_says(capsys):
    text = PAGE.read_text()
    example = re.findall(r"```python\n(.*?)```", text, flags=re.S)[0]
    expected = re.findall(r"prints\n\n```text\n(.*?)```", text, flags=re.S)[0]
    exec(compile(example, str(PAGE), "exec"), {})
    assert capsys.readouterr().out == expected


def test_the_guide_lists_every_setting():
    from attrs import fields
    from gome_offline.config import OfflineConfig

    text = PAGE.read_text()
    for setting in fields(OfflineConfig):
        assert f"| `{setting.name}` |" in text, setting.name

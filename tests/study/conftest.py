from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

SMALL_SPEC = """
[study]
name = "unit"
steps = 2
workers = 2
[grid]
presets = ["gome", "aide-greedy"]
skills = [0.25, 1.0]
competitions = ["penguins-mass", "breast-cancer"]
seeds = [0, 1]
[set]
"engine.final_top_k" = 1
"optimizer.implementer.max_folds" = 2
"""


@pytest.fixture
def registry():
    from gome_core.plugins import get_registry

    return get_registry()


@pytest.fixture
def write_spec(tmp_path: Path):
    def write(text: str = SMALL_SPEC, name: str = "spec.toml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write

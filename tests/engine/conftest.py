from __future__ import annotations

from pathlib import Path

import pytest

from tests.competitions.conftest import write_mlebench_competition
from tests.engine import toy_plugin


@pytest.fixture
def toy_registry(gome_plugin):
    return gome_plugin(toy=toy_plugin)


@pytest.fixture
def toy_competition(tmp_path: Path):
    """A prepared user competition (`toy-mae`: y = 2x, MAE) and its store."""
    from gome_core.engine.launch import open_competition

    competitions, data = tmp_path / "competitions", tmp_path / "data"
    competitions.mkdir()
    write_mlebench_competition(competitions, "toy-mae", raw_data_dir=data)
    store, competition = open_competition(
        "toy-mae", competitions_dirs=[str(competitions)], data_dir=str(data)
    )
    return store, competition

"""Cell functions for the Ray cell runner's tests: module-level, so that Ray workers import them."""

from __future__ import annotations

import os
from typing import Any


def environment_of_a_cell(names: tuple[str, ...]) -> dict[str, Any]:
    """The variables ``names`` as a cell sees them, and where its competitions would be found."""
    from gome_core.competitions.store import CompetitionStore

    store = CompetitionStore.default()
    return {
        "env": {name: os.environ.get(name) for name in names},
        "data_dir": str(store.data_dir),
        "competitions_dirs": [str(d) for d in store.competitions_dirs],
    }

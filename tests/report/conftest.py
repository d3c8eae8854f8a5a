"""Real runs of the (hostile) toy agent for report tests: built once per session, then read."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gome_core.config import resolve
from gome_core.engine.launch import build_engine, competition_ref, grade_run, open_competition
from gome_core.plugins import load_plugins, reset_registry
from tests.competitions.conftest import write_mlebench_competition
from tests.engine import toy_plugin
from tests.report import hostile_plugin


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "browser: loads pages in headless Chromium (skipped when none is installed)"
    )


@pytest.fixture(scope="session")
def report_runs(tmp_path_factory) -> dict[str, Path]:
    """``{"gome": RUN_DIR, "tree": RUN_DIR}``: a graded 2-trace Gome run (9 steps, an LLM call
    per step, one step that breaks, one that crashes) and an AIRA evolutionary run (12 steps).
    Read-only: copy one before changing it."""
    root = tmp_path_factory.mktemp("report-runs")
    competitions, data = root / "competitions", root / "data"
    competitions.mkdir()
    write_mlebench_competition(competitions, "toy-mae", raw_data_dir=data)
    store, competition = open_competition(
        "toy-mae", competitions_dirs=[str(competitions)], data_dir=str(data)
    )
    registry = load_plugins(
        extra=[("toy", toy_plugin), ("hostile", hostile_plugin)], entry_points=True, env={}
    )
    # Components build their sub-components from the process-wide registry.
    reset_registry(registry)
    try:
        return _make_runs(root, store, competition, registry)
    finally:
        reset_registry(None)


def _make_runs(root: Path, store, competition, registry) -> dict[str, Path]:
    runs = {}
    gome = resolve(
        preset="toy",
        overrides=[
            "optimizer.estimator=hostile",
            "optimizer.implementer=hostile",
            "optimizer.implementer.fail_at=1",
            "optimizer.implementer.crash_at=3",
            "llm=scripted",
            "budget.steps=9",
        ],
        registry=registry,
    )
    engine = build_engine(gome, competition_ref(competition), run_dir=root / "gome")
    outcome = engine.run()
    grade_run(store, competition, outcome, root / "gome")
    runs["gome"] = root / "gome"
    tree = resolve(
        preset="aira-evo",
        overrides=[
            "optimizer.implementer=hostile",
            "optimizer.ideas=hostile",
            "budget.steps=12",
            "engine.workers=2",
            "executor.timeout_s=30",
        ],
        registry=registry,
    )
    build_engine(tree, competition_ref(competition), run_dir=root / "tree").run()
    runs["tree"] = root / "tree"
    return runs


@pytest.fixture
def copy_run(tmp_path):
    """Copy a run directory into this test's tmp_path (to damage or extend it)."""

    def copy(source: Path, name: str = "run") -> Path:
        target = tmp_path / name
        shutil.copytree(source, target, symlinks=True)
        return target

    return copy

"""Each ablation preset demonstrably switches off its part: the journal shows what reasoning saw."""

import pytest

from gome_core.config import resolve
from gome_core.engine.launch import build_engine, competition_ref
from gome_core.journal import Journal
from gome_core.plugins import get_registry

# One run per candidate (no debug run) and two folds: what is under test is what reasoning saw.
STEPS = [
    "budget.steps=3",
    "optimizer.implementer.max_folds=2",
    "engine.final_top_k=1",
    "executor.timeout_s=60",
    'validators=["full-run", "judge"]',
]


def _run(preset, competition, run_dir, extra=()):
    resolved = resolve(preset=preset, overrides=[*STEPS, *extra], registry=get_registry())
    build_engine(resolved, competition_ref(competition), run_dir=run_dir).run()
    return list(Journal.read(run_dir / "journal.jsonl"))


def _reasoning(events):
    return [e for e in events if e["type"] == "reasoning"]


@pytest.mark.slow
def test_ablations_switch_off_their_part(toy_competition, tmp_path):
    _, competition = toy_competition

    full = _reasoning(
        _run("gome", competition, tmp_path / "full", ["optimizer.traces=2", "engine.workers=2"])
    )
    assert {e["trace"] for e in full} == {0, 1}
    assert all(e["direction"]["problems"] for e in full)  # structured: problems diagnosed
    assert all(e["direction"]["chosen"]["scores"] for e in full)  # and hypotheses scored
    assert any(sum(e["seen"][k] for k in ("successes", "failures", "cross_trace")) for e in full)

    no_memory = _reasoning(
        _run(
            "gome-no-memory",
            competition,
            tmp_path / "nomem",
            ["optimizer.traces=2", "engine.workers=2"],
        )
    )
    assert len(no_memory) >= 3
    assert all(
        e["seen"][k] == 0 for e in no_memory for k in ("successes", "failures", "cross_trace")
    )

    no_reasoning = _reasoning(
        _run(
            "gome-no-reasoning",
            competition,
            tmp_path / "noreason",
            ["optimizer.traces=1", "engine.workers=1", "budget.steps=2"],
        )
    )
    assert no_reasoning and all(
        not e["direction"]["problems"] and e["direction"]["chosen"]["scores"] is None
        for e in no_reasoning
    )

    single = _reasoning(
        _run("gome-single-trace", competition, tmp_path / "single", ["budget.steps=2"])
    )
    assert {e["trace"] for e in single} == {0}
